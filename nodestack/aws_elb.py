"""A stand-in for the AWS CLI's two Elastic Load Balancing calls a Spot node's drain makes, answering as the
CLI does, from a target group's state in a directory:

- ``aws elbv2 deregister-targets --region R --target-group-arn ARN --targets Id=I,Port=P``: the target
  starts draining; no output, exit 0 (the API returns an empty result).
- ``aws elbv2 describe-target-health ... --query 'TargetHealthDescriptions[0].TargetHealth.State' --output
  text``: ``healthy`` until deregistered, then ``draining`` until the load balancer has drained the target
  (the file ``drained``, which the test writes once the requests in flight have ended), then ``unused``
  (ELB API Reference, `TargetHealth`: `draining`, `Target.DeregistrationInProgress`; `unused`,
  `Target.NotRegistered`).

Every call's arguments go to ``calls``, one JSON list per line, with the time (``time.monotonic``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from nodestack.paths import REPO

STATE_QUERY = "TargetHealthDescriptions[0].TargetHealth.State"


def standin(state: Path) -> str:
    """The text of an executable ``aws`` answering from the target group's ``state`` directory."""
    return (
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO)!r})\n"
        "from pathlib import Path\nfrom nodestack.aws_elb import main\n"
        f"sys.exit(main(Path({str(state)!r}), sys.argv[1:]))\n"
    )


def calls(state: Path) -> list[tuple[float, list[str]]]:
    """Each call made so far: when, and its arguments."""
    log = state / "calls"
    if not log.exists():
        return []
    return [(entry["at"], entry["argv"]) for entry in map(json.loads, log.read_text().splitlines())]


def target_state(state: Path) -> str:
    """The target's state as describe-target-health reports it."""
    if not (state / "deregistered").exists():
        return "healthy"
    return "unused" if (state / "drained").exists() else "draining"


def main(state: Path, argv: list[str]) -> int:
    """Answer one command line as the CLI would."""
    with (state / "calls").open("a") as log:
        log.write(json.dumps({"at": time.monotonic(), "argv": argv}) + "\n")
    if argv[:2] == ["elbv2", "deregister-targets"]:
        (state / "deregistered").touch()
        return 0
    if argv[:2] == ["elbv2", "describe-target-health"] and STATE_QUERY in argv:
        print(target_state(state))
        return 0
    print(f"aws stand-in: unexpected: {' '.join(argv)}", file=sys.stderr)
    return 2
