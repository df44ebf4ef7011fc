"""The secrets a planned stack's nodes read at boot, for the plan to name: the parameters and secrets are the
user's, so the plan neither creates nor reads them (no API call of a deployment touches them: the program
only grants the nodes' role their ARNs, and the nodes fetch them when they boot)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from offline.moto_mocks import Created

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"


def read_at_boot(created: Sequence[Created]) -> list[str]:
    """`NAME <- service ARN[ key]` for each secret a launch template's user data references."""
    lines = []
    for template in (c for c in created if c.typ == LAUNCH_TEMPLATE):
        script = base64.b64decode(str(template.inputs.get("userData", ""))).decode()
        if "<<'REFERENCES'\n" not in script:
            continue
        document = script.split("<<'REFERENCES'\n", 1)[1].split("\n", 1)[0]
        for secret in json.loads(document)["secrets"]:
            key = f" key {secret['jsonKey']}" if "jsonKey" in secret else ""
            lines.append(f"  {template.name}: {secret['name']} <- {secret['service']} {secret['arn']}{key}")
    return lines
