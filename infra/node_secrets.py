"""The node's side of the app's secrets: the fetch program, its references and its systemd unit, as the user
data writes them. Pure: text in, text out; no value of a secret is ever here, only where each one is.

When: app-secrets.service runs the fetch at every boot, before docker.service, so the app container (and its
restarts by docker's restart policy, which reuse the file) start with the values AWS held at that boot. Its
timer runs it again every REFRESH_MINUTES, so the file follows a rotation (RDS rotates a managed master
password every 7 days by default) within minutes: the app's environment keeps its start's values, and an app
re-reads the file (appserver.secrets.current) when a credential stops working. README, "Rotation".
"""

from __future__ import annotations

import ast
import base64
import gzip
import json
from collections.abc import Sequence
from pathlib import Path

from infra.app_environment import SECRETS_FILE_VARIABLE, Fetch

UNIT = "app-secrets.service"
TIMER = "app-secrets.timer"
REFRESH_MINUTES = 5
"""How often a node fetches again: RDS's managed rotation finishes within a minute, and new connections fail
with the old password until the file has the new one. 10 nodes and one secret: ~90,000 GetSecretValue calls a
month, $0.45 at $0.05 per 10,000."""
PROGRAM = "/usr/local/sbin/fetch-app-secrets"
REFERENCES = "/usr/local/etc/app-secrets.json"
"""What to fetch: names and ARNs, no values (the user data carries the same)."""
HOST_DIR = "/run/app-secrets"
"""On the node's /run, a tmpfs on Amazon Linux 2023 (systemd mounts it): the values never reach a disk."""
CONTAINER_DIR = "/run/secrets/app"
"""Where the app container sees that directory, read-only."""
FILE_NAME = "env.json"
APP_UID = 1001
"""The app image's user (docker/Dockerfile `USER 1001`): the file's owner, mode 0400."""
SOURCE = Path(__file__).with_name("fetch_app_secrets.py")


def _is_text(statement: ast.stmt) -> bool:
    """Whether a statement is a bare string: a docstring, or an attribute's."""
    return (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
    )


def program() -> str:
    """The fetch program as the node runs it: its code without docstrings or comments (the source,
    infra/fetch_app_secrets.py, keeps them)."""
    module = ast.parse(SOURCE.read_text())
    for node in ast.walk(module):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            kept = [statement for statement in body if not _is_text(statement)]
            setattr(node, "body", kept or [ast.Pass()])  # noqa: B010 - every node type with a body
    return (
        f"#!/usr/bin/python3\n# infra/fetch_app_secrets.py, without its docstrings\n{ast.unparse(module)}\n"
    )


def packed() -> str:
    """`program()` gzipped (no timestamp: the same program gives the same user data) in base64 lines."""
    return base64.encodebytes(gzip.compress(program().encode(), 9, mtime=0)).decode()


def _secrets(fetches: Sequence[Fetch]) -> list[dict[str, str]]:
    return [
        {
            "name": f.name,
            "service": f.service,
            "arn": f.arn,
            **({"jsonKey": f.json_key} if f.json_key is not None else {}),
        }
        for f in fetches
    ]


def secret_references(fetches: Sequence[Fetch]) -> str:
    """Each variable's reference, as JSON: what the release function reads its secrets by."""
    return json.dumps(_secrets(fetches), sort_keys=True, separators=(",", ":"))


def references(fetches: Sequence[Fetch]) -> str:
    """The fetch program's input: where to write, for whom, and each variable's reference."""
    document = {"file": f"{HOST_DIR}/{FILE_NAME}", "uid": APP_UID, "secrets": _secrets(fetches)}
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def unit() -> str:
    """The oneshot unit that fetches at every boot, before docker starts the containers."""
    return f"""[Unit]
Description=Fetch the app's secrets into {HOST_DIR} (memory), readable by uid {APP_UID} only
Wants=network-online.target
After=network-online.target
# Before docker, which restarts the app at boot: its container finds this boot's values. WantedBy, not
# RequiredBy: restarting this unit to rotate must not restart docker and every container with it.
Before=docker.service

[Service]
# Not RemainAfterExit: the timer starts it again, which a unit that stays active would ignore.
Type=oneshot
ExecStart=/usr/bin/python3 {PROGRAM} {REFERENCES}
# The fetch's own lines (references, never values) reach the console log, as the user data's do.
StandardOutput=journal+console

[Install]
WantedBy=docker.service
"""


def timer() -> str:
    """The timer that fetches again every REFRESH_MINUTES, from the last run (boot's or its own)."""
    return f"""[Unit]
Description=Fetch the app's secrets again every {REFRESH_MINUTES} minutes (rotation)

[Timer]
# As systemd-tmpfiles-clean.timer does for its oneshot: after boot, then after each run.
OnBootSec={REFRESH_MINUTES}min
OnUnitActiveSec={REFRESH_MINUTES}min
# Nodes booted together do not all ask at once.
RandomizedDelaySec=30s

[Install]
WantedBy=timers.target
"""


def docker_options() -> list[str]:
    """The app container's options: the directory read-only, and the variable naming the file in it."""
    return [
        f'--mount "type=bind,source={HOST_DIR},target={CONTAINER_DIR},readonly"',
        f"--env {SECRETS_FILE_VARIABLE}={CONTAINER_DIR}/{FILE_NAME}",
    ]


def script(fetches: Sequence[Fetch]) -> str:
    """The user data's step: write the references, the program and the unit, then run it once now."""
    if not fetches:
        return ""
    return f"""# The app's secrets: references only (names and ARNs). app-secrets.service fetches their values
# at every boot, as root, into {HOST_DIR} on memory (infra/node_secrets.py); it retries its calls.
cat > {REFERENCES} <<'REFERENCES'
{references(fetches)}
REFERENCES
# The program (infra/fetch_app_secrets.py) compressed: EC2 takes 16 KB of user data in all.
base64 --decode <<'PROGRAM' | gunzip > {PROGRAM}
{packed()}PROGRAM
chmod 0755 {PROGRAM}
cat > /etc/systemd/system/{UNIT} <<'UNIT'
{unit()}UNIT
cat > /etc/systemd/system/{TIMER} <<'UNIT'
{timer()}UNIT
systemctl daemon-reload
systemctl enable --now {UNIT}
systemctl enable --now {TIMER}

"""
