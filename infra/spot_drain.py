"""The node's side of Spot capacity: on a Spot interruption notice, the node leaves the target group, waits
while the ALB drains it, then stops both containers, all within EC2's two-minute notice. Pure: text out.

How the node learns of the notice: it asks IMDS for `spot/instance-action` every `POLL_SECONDS`, as EC2
recommends (EC2 User Guide, "Spot Instance interruption notices"); the item is absent (404) until EC2 marks
the instance for interruption. Chosen over the EventBridge event, which would need a function and a way into
the node for each stack, and over the group's termination lifecycle, which a Spot interruption does not wait
for (Auto Scaling guide, "Lifecycle hooks": a hook "does not prevent an instance from terminating" when
Spot capacity is reclaimed). A rebalance recommendation is the group's to act on (capacity rebalancing): it
launches a replacement, then terminates this node the usual way, deregistering it first.

The order: DeregisterTargets (the ALB sends no new request), DescribeTargetHealth until the target is
`unused` (the ALB has finished or dropped its in-flight requests, at most its deregistration delay), then
`docker stop` of both containers at once (nginx and gunicorn each finish what they hold). The program runs as
root, the only user the IMDS guard lets reach IMDS and the role's credentials.
"""

from __future__ import annotations

import base64
import gzip
import shlex
from dataclasses import dataclass

UNIT = "spot-drain.service"
PROGRAM = "/usr/local/sbin/spot-drain"
NOTICE_SECONDS = 120
"""EC2's warning before it interrupts a Spot instance (EC2 User Guide, "Spot Instance interruption
notices")."""
POLL_SECONDS = 5
"""How often the node asks IMDS for a notice (EC2's recommendation), and the ELB API for its target's
state."""
CALLS_SECONDS = 10
"""The IMDS requests (2 s each at most) and the two ELB calls between the notice and the drain's wait."""
STOP_SECONDS = 35
"""`docker stop --time` in the drain: above gunicorn's graceful_timeout (30 s), so the app finishes its
requests; below the containers' usual 45 s, which the notice has no room for once the ALB has drained."""
CONTAINERS = ("proxy", "app")
"""Stopped together: docker's CLI stops the containers it is given in parallel."""
NOTICE_LINE = "spot drain: interruption notice"
"""The first line the drain prints, with the notice, to the journal and the console."""


def longest_deregistration_delay() -> int:
    """The longest target-group deregistration delay the notice leaves room for: detection, the calls, the
    ALB's drain and a poll to see it end, then the containers' stop."""
    return NOTICE_SECONDS - POLL_SECONDS - CALLS_SECONDS - POLL_SECONDS - STOP_SECONDS


@dataclass(frozen=True, kw_only=True)
class SpotDrain:
    """What the node's drain needs: its target group, the port it is registered on, the group's drain."""

    target_group_arn: str
    port: int
    """The target's port (nginx's TLS port): DeregisterTargets names the target by id and port."""
    deregistration_delay_seconds: int
    """The target group's: the longest the ALB drains, so the longest the node waits for it."""

    def __post_init__(self) -> None:
        longest = longest_deregistration_delay()
        if not 0 <= self.deregistration_delay_seconds <= longest:
            raise ValueError(
                f"deregistration delay {self.deregistration_delay_seconds} s: a Spot node drains within "
                f"{NOTICE_SECONDS} s only with a delay of at most {longest} s"
            )


def program(drain: SpotDrain, *, region: str, imds_timeout_seconds: int) -> str:
    """The drain, as the node runs it (`PROGRAM`)."""
    q = shlex.quote
    wait = drain.deregistration_delay_seconds + POLL_SECONDS
    return f"""#!/bin/bash
# infra/spot_drain.py: on a Spot interruption notice, leave the target group, let the ALB drain, stop.
set -uo pipefail
readonly TARGET_GROUP={q(drain.target_group_arn)} REGION={q(region)}
imds() {{
    local token
    token=$(curl -fsS --max-time {imds_timeout_seconds} -X PUT \\
        -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token) || return
    curl -fsS --max-time {imds_timeout_seconds} -H "X-aws-ec2-metadata-token: $token" \\
        "http://169.254.169.254/latest/meta-data/$1"
}}
elb() {{
    aws elbv2 "$1" --region "$REGION" --target-group-arn "$TARGET_GROUP" --targets "$target" "${{@:2}}"
}}
# 404 until EC2 marks this instance for interruption.
until notice=$(imds spot/instance-action 2>/dev/null); do sleep {POLL_SECONDS}; done
echo "{NOTICE_LINE}: $notice"
until instance_id=$(imds instance-id); do sleep 1; done
target="Id=$instance_id,Port={drain.port}"
elb deregister-targets || echo "spot drain: deregister-targets failed; waiting out the drain anyway" >&2
# unused: deregistered, its requests finished or dropped by the ALB ({wait} s at most: delay and a poll).
deadline=$((SECONDS + {wait}))
while ((SECONDS < deadline)); do
    state=$(elb describe-target-health --query 'TargetHealthDescriptions[0].TargetHealth.State' --output text)
    [[ $state == unused ]] && break
    sleep {POLL_SECONDS}
done
echo "spot drain: target ${{state:-unknown}}, stopping {" and ".join(CONTAINERS)}"
docker stop --time {STOP_SECONDS} {" ".join(CONTAINERS)}
"""


def unit() -> str:
    """The service that runs the drain from boot to the notice, as root."""
    return f"""[Unit]
Description=On a Spot interruption notice, leave the target group, drain, stop the containers
After=docker.service

[Service]
ExecStart={PROGRAM}
Restart=on-failure
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
"""


def script(drain: SpotDrain | None, *, region: str, imds_timeout_seconds: int) -> str:
    """The user data's step: write the drain (gzipped: EC2 takes 16 KB of user data in all) and its unit,
    start it. Empty without Spot."""
    if drain is None:
        return ""
    text = program(drain, region=region, imds_timeout_seconds=imds_timeout_seconds)
    packed = base64.encodebytes(gzip.compress(text.encode(), 9, mtime=0)).decode()
    return f"""base64 --decode <<'PROGRAM' | gunzip > {PROGRAM}
{packed}PROGRAM
chmod 0755 {PROGRAM}
cat > /etc/systemd/system/{UNIT} <<'UNIT'
{unit()}UNIT
systemctl daemon-reload
systemctl enable --now {UNIT}
"""
