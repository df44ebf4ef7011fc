"""The instances' user data: a pure function from the node's settings to a bash script."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from infra import node_secrets, spot_drain
from infra.app_environment import Fetch
from infra.spot_drain import SpotDrain

APP_STOP_TIMEOUT_SECONDS = 45
"""docker's grace before SIGKILL: above gunicorn's graceful_timeout (30 s) and nginx's in-flight requests."""
SOMAXCONN = 16384
"""The kernel's cap on a listen backlog. gunicorn (docker/appserver/settings.py `BACKLOG`) and nginx
(render.sh's `NGINX_BACKLOG`) ask for this many, tested equal, so that a burst of connections waits to be
accepted instead of being refused (a full unix socket refuses at once, and nginx answers 502)."""
SOCKET_VOLUME = "gunicorn-socket"
"""The docker volume that carries gunicorn's unix socket from the app container to the proxy's."""
SOCKET_DIR = "/run/gunicorn"
"""Where both containers mount it: the directory of gunicorn's default socket and nginx's default UPSTREAM."""
IMDS_ADDRESS = "169.254.169.254"
"""The instance metadata service's IPv4 endpoint, the one the guard refuses. Its IPv6 endpoint (fd00:ec2::254)
stays off: the launch template leaves http_protocol_ipv6 at its default, disabled (EC2 User Guide,
"Configure the Instance Metadata Service options")."""
IMDS_GUARD_UNIT = "imds-guard.service"
"""The unit that refuses IMDS to every user but root; docker.service requires it and starts after it."""
RETRY_PAUSES_SECONDS = (2, 4, 8, 16, 30)
"""The pauses between the tries of a network step (`retry`), doubling, capped at 30 s: on a first deploy the
NAT route and the role's grants can be seconds old (IAM User Guide, "Changes that I make are not always
immediately visible"), and a package mirror or ECR can answer a transient error."""
RETRY_ATTEMPTS = len(RETRY_PAUSES_SECONDS) + 1
USER_DATA_LIMIT = 16384
"""EC2 refuses user data over 16 KB, before base64 (EC2 User Guide, "Run commands when you launch an EC2
instance with user data input")."""
IMDS_TIMEOUT_SECONDS = 2
"""curl's bound on one request to IMDS, which answers on the instance's own link: twice the AWS SDKs' default
(metadata_service_timeout, 1 s). Without it, a metadata service that never answers holds the boot forever."""
IMAGE_COMMANDS = {
    "docker": "docker",
    "iptables": "iptables-nft",
    "aws": "awscli-2",
    "curl": "curl-minimal",
    "python3": "python3",
}
"""What the script runs, by command, and the AL2023 package that provides it. The ECS-optimized AL2023 AMI
(infra/compute.py) has Docker; the script installs only a command the image lacks, and says which. The IMDS
guard's iptables comes from iptables-nft on AL2023, on the nf_tables backend (aws/eks-hybrid#37,
dev-sec/cis-dil-benchmark#156)."""
ECS_AGENT_UNIT = "ecs.service"
"""The ECS-optimized AMI's container agent (ecs-init), enabled on the image: masked, since no ECS cluster
runs these nodes and the agent would try to register with one."""
BOOT_STEPS = (
    "sysctl",
    "packages",
    "ecs-agent",
    "imds-guard",
    "docker",
    "instance-id",
    "ecr-login",
    "pull-app",
    "pull-proxy",
    "secrets",
    "run-app",
    "run-proxy",
    "spot-drain",
)
"""The boot's steps in order, each timed (`step_function`); `secrets` only when the app has secrets,
`spot-drain` only on a Spot group's nodes."""
STEP_LINE = "user data: step {name} took {seconds} s"
"""The line each boot step ends with (`step_function`), its seconds to the millisecond."""
_IMDS_GUARD_RULE = f"OUTPUT --destination {IMDS_ADDRESS}/32 --match owner ! --uid-owner 0 --jump REJECT"
_BY_DIGEST = re.compile(r"^(?P<registry>[a-z0-9.-]+(:\d+)?)/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$")


@dataclass(frozen=True, kw_only=True)
class NginxRateLimit:
    """nginx's per-client limit on one node (render.sh's `RATE_LIMIT` and `RATE_LIMIT_BURST`)."""

    per_second: int
    """Requests a second one client address may make to this node, sustained."""
    burst: int
    """Requests above that rate nginx answers at once before it refuses with 429."""


RENDER_DEFAULT_RATE_LIMIT = NginxRateLimit(per_second=20, burst=40)
"""render.sh's defaults, tested equal: a node alone at the WAF's default rate (infra/firewall.py)."""


@dataclass(frozen=True, kw_only=True)
class NodeSettings:
    """What one node needs to run the node stack."""

    region: str
    app_image: str
    """The `app` image by digest: `<registry>/<repository>@sha256:<hex>`."""
    proxy_image: str
    """The `proxy` image by digest, from the same registry."""
    log_group: str
    """The CloudWatch log group both containers log to."""
    vpc_cidr: str
    """Where the ALB connects from: the only peers nginx believes X-Forwarded-For/-Proto from."""
    server_name: str
    """The names nginx answers to (the domain, or the ALB's DNS name)."""
    https_port: int
    """nginx's TLS port, the target group's port."""
    rate_limit: NginxRateLimit = RENDER_DEFAULT_RATE_LIMIT
    """nginx's per-node limit, the inner line behind the web ACL's fleet-wide one."""
    app_settings: Mapping[str, str] = field(default_factory=dict)
    """Plain environment variables of the app container (not secret: they are in this script)."""
    app_secrets: tuple[Fetch, ...] = ()
    """Where the app's secrets are; the node fetches their values at boot (infra/node_secrets.py)."""
    spot_drain: SpotDrain | None = None
    """On a group with Spot capacity: the target group the node leaves on an interruption notice."""


def boot_steps(node: NodeSettings) -> tuple[str, ...]:
    """The steps the script for ``node`` times, in order."""
    optional = {"secrets": bool(node.app_secrets), "spot-drain": node.spot_drain is not None}
    return tuple(step for step in BOOT_STEPS if optional.get(step, True))


def registry_of(image: str) -> str:
    """The registry host of an image referenced by digest; refuses tags, which can move."""
    match = _BY_DIGEST.match(image)
    if match is None:
        raise ValueError(f"image {image!r}: expected a reference by digest, <registry>/<name>@sha256:<hex>")
    return match["registry"]


def imds_guard_unit() -> str:
    """The IMDS guard's unit file: one iptables rule, set before docker.service starts, at every boot.

    The containers share the host's network namespace (--network host), so the launch template's hop
    limit of 1 does not keep them from the role's credentials (ECS Developer Guide, "Host network mode").
    """
    return f"""[Unit]
Description=Refuse the instance metadata service ({IMDS_ADDRESS}) to every user but root
# Before docker, which requires this unit: no container starts unguarded, after a reboot either.
Before=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
# Every non-root uid, not only the images' 1001: a container's USER may change. root keeps IMDS for
# dockerd's awslogs driver, the user data's ECR login, the SSM agent. REJECT: refused clients fail at once.
# Delete, then insert: a restart leaves one rule. No ExecStop: stopping this unit keeps IMDS refused.
ExecStartPre=-/usr/sbin/iptables --wait --delete {_IMDS_GUARD_RULE}
ExecStart=/usr/sbin/iptables --wait --insert {_IMDS_GUARD_RULE}

[Install]
RequiredBy=docker.service
"""


def uncommented(unit: str) -> str:
    """A unit file without its comment lines: EC2's 16 KB of user data go to what runs (the comments stay
    in this module)."""
    return "".join(line for line in unit.splitlines(keepends=True) if not line.startswith("#"))


def retry_function() -> str:
    """`retry COMMAND...`: runs COMMAND until it succeeds, `RETRY_ATTEMPTS` times at most; writes each failure
    to stderr (the console log) and returns the last one's status."""
    pauses, total = " ".join(map(str, RETRY_PAUSES_SECONDS)), sum(RETRY_PAUSES_SECONDS)
    return f"""\
# {RETRY_ATTEMPTS} tries, at most {total} s of pauses: a retried boot ends inside the ASG's grace period.
# Its arguments go to the console log: no secret may be one of them.
retry() {{
    local attempt status pause pauses=({pauses})
    for ((attempt = 1; ; attempt++)); do
        "$@" && return 0
        status=$?
        pause=${{pauses[attempt - 1]:-}}
        if [[ -z $pause ]]; then
            echo "retry: attempt $attempt of {RETRY_ATTEMPTS} failed (exit $status), giving up: $*" >&2
            return "$status"
        fi
        echo "retry: attempt $attempt of {RETRY_ATTEMPTS} failed (exit $status), again in $pause s: $*" >&2
        sleep "$pause"
    done
}}
"""


def step_function() -> str:
    """`step NAME`: ends the step under way with its `STEP_LINE` and starts NAME; `step` alone ends the last.
    bash's own clock (EPOCHREALTIME, microseconds), so timing costs no command."""
    line = STEP_LINE.format(name="%s", seconds="%d.%03d")
    return f"""\
step_name='' step_started=0
step() {{
    local now=${{EPOCHREALTIME/./}} took
    took=$((now - step_started))
    [[ -z $step_name ]] || printf '{line}\\n' "$step_name" $((took / 1000000)) $((took / 1000 % 1000))
    step_name=${{1:-}} step_started=$now
}}
"""


def packages_step() -> str:
    """Installs, with `retry`, the package of each of `IMAGE_COMMANDS` the image lacks, and names them; on the
    ECS-optimized AMI nothing is missing and nothing is installed."""
    needs = " ".join(f"{command}:{package}" for command, package in IMAGE_COMMANDS.items())
    return f"""\
missing=()
for need in {needs}; do
    command -v "${{need%%:*}}" >/dev/null || missing+=("${{need#*:}}")
done
if ((${{#missing[@]}})); then
    echo "user data: not on this image, installing: ${{missing[*]}}" >&2
    retry dnf install -y "${{missing[@]}}"
fi
"""


def render(node: NodeSettings) -> str:
    """The user data script: Docker from the image, log in to ECR, pull both images by digest, run them.

    nginx (the proxy container, on the host's network for the target group's port) reaches gunicorn
    through a unix socket in a docker volume both containers mount, the proxy read-only; no TCP port of
    gunicorn's is open to the host. Both restart always and log to CloudWatch through the awslogs
    driver, one stream per instance and container. Before docker starts, a systemd unit refuses the
    instance metadata service to every user but root (`imds_guard_unit`). Each step that goes to the
    network (dnf, IMDS, ECR) runs under `retry_function`; `docker run` does not: the images are local by
    then, and a second try would meet the name of the container the first one left. Each step prints its
    wall time (`step_function`).
    """
    registry = registry_of(node.app_image)
    if registry_of(node.proxy_image) != registry:
        raise ValueError(f"images {node.app_image!r} and {node.proxy_image!r}: expected one registry")
    q = shlex.quote
    app_options = "".join(
        f"    {option} \\\n"
        for option in (
            *(f"--env {q(f'{name}={value}')}" for name, value in node.app_settings.items()),
            *(node_secrets.docker_options() if node.app_secrets else ()),
        )
    )
    secrets_step = f"step secrets\n{node_secrets.script(node.app_secrets)}" if node.app_secrets else ""
    drain = spot_drain.script(node.spot_drain, region=node.region, imds_timeout_seconds=IMDS_TIMEOUT_SECONDS)
    drain_step = f"\nstep spot-drain\n{drain}" if drain else ""
    script = f"""#!/bin/bash
# Rendered by infra/user_data.py: the node stack (gunicorn + Flask, nginx) on this instance.
set -euo pipefail
# A failed step ends the boot with this line in the console log and /var/log/cloud-init-output.log, where
# cloud-init sends a user script's output; the instance then fails its health checks and is replaced.
trap 'echo "user data: boot failed at line $LINENO (exit $?) in step ${{step_name:-}}: $BASH_COMMAND" >&2' ERR

readonly REGION={q(node.region)}
readonly REGISTRY={q(registry)}
readonly APP_IMAGE={q(node.app_image)}
readonly PROXY_IMAGE={q(node.proxy_image)}
readonly LOG_GROUP={q(node.log_group)}
# gunicorn's socket directory (docker/appserver/environment.py SOCKET). A new volume starts as a copy of the
# images' {SOCKET_DIR}: user 1001, mode 0750.
readonly SOCKET_VOLUME={SOCKET_VOLUME}

{retry_function()}
{step_function()}
step sysctl
# Room in the accept queues (gunicorn's backlog) for a burst of connections; containers on the host
# network share the host's setting.
echo 'net.core.somaxconn = {SOMAXCONN}' > /etc/sysctl.d/90-node-stack.conf
sysctl --quiet --load /etc/sysctl.d/90-node-stack.conf

step packages
{packages_step()}
step ecs-agent
# No ECS cluster: the agent's start, queued for after cloud-init, is cancelled, at every boot.
systemctl mask --now {ECS_AGENT_UNIT}

step imds-guard
# IMDS for root only, before docker and so before any container, at every boot (imds_guard_unit).
cat > /etc/systemd/system/{IMDS_GUARD_UNIT} <<'UNIT'
{uncommented(imds_guard_unit())}UNIT
systemctl daemon-reload
systemctl enable --now {IMDS_GUARD_UNIT}

step docker
systemctl enable --now docker

step instance-id
# IMDSv2: a session token first (the launch template refuses token-less requests).
imds_token=$(retry curl -fsS --max-time {IMDS_TIMEOUT_SECONDS} -X PUT \\
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' http://169.254.169.254/latest/api/token)
# The token in a function's body, not in retry's arguments, which the console log shows.
fetch_instance_id() {{
    curl -fsS --max-time {IMDS_TIMEOUT_SECONDS} -H "X-aws-ec2-metadata-token: $imds_token" \\
        http://169.254.169.254/latest/meta-data/instance-id
}}
instance_id=$(retry fetch_instance_id)

# Retried whole: a failed get-login-password returns before docker login reads an empty password.
ecr_login() {{
    local password
    password=$(aws ecr get-login-password --region "$REGION") || return
    printf '%s' "$password" | docker login --username AWS --password-stdin "$REGISTRY"
}}
step ecr-login
retry ecr_login
step pull-app
retry docker pull "$APP_IMAGE"
step pull-proxy
retry docker pull "$PROXY_IMAGE"

{secrets_step}step run-app
common=(
    --detach
    --network host
    --restart always
    --stop-timeout {APP_STOP_TIMEOUT_SECONDS}
    --cap-drop ALL
    --security-opt no-new-privileges
    --log-driver awslogs
    --log-opt "awslogs-region=$REGION"
    --log-opt "awslogs-group=$LOG_GROUP"
)

docker run "${{common[@]}}" --name app \\
    --log-opt "awslogs-stream=$instance_id/app" \\
    --mount "type=volume,source=$SOCKET_VOLUME,target={SOCKET_DIR}" \\
{app_options}    "$APP_IMAGE"

step run-proxy
docker run "${{common[@]}}" --name proxy \\
    --log-opt "awslogs-stream=$instance_id/proxy" \\
    --mount "type=volume,source=$SOCKET_VOLUME,target={SOCKET_DIR},readonly" \\
    --env NGINX_MODE=behind-alb \\
    --env TRUSTED_PROXY_CIDRS={q(node.vpc_cidr)} \\
    --env SERVER_NAME={q(node.server_name)} \\
    --env HTTPS_PORT={node.https_port} \\
    --env RATE_LIMIT={node.rate_limit.per_second} \\
    --env RATE_LIMIT_BURST={node.rate_limit.burst} \\
    "$PROXY_IMAGE"
{drain_step}step
"""
    if len(script.encode()) > USER_DATA_LIMIT:
        raise ValueError(
            f"the user data is {len(script.encode())} bytes, over EC2's {USER_DATA_LIMIT}: fewer or shorter "
            "appSettings or appSecrets"
        )
    return script
