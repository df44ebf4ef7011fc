"""The release phase in Lambda: the app's release command (its migrations), run once per release.

Lambda's runtime interface client (awslambdaric, the release image's entry point) calls ``handler`` with the
invocation's input, ``{"image": ..., "command": [...]}`` (infra/release.py). The command runs in the app's
directory with the function's environment (the app's plain settings) and the app's secrets, read here from
SSM and Secrets Manager with the function's role: ``APP_SECRET_REFERENCES`` names them, as the nodes' fetch
program gets them. Its output goes to the function's log; when it fails, its last lines go into the error
`pulumi up` shows, and the deployment stops before any node takes the release.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess  # nosec B404 - runs the app's own release command, given by the deployment
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

REFERENCES = "APP_SECRET_REFERENCES"
APP_DIR = "/app"
OUTPUT_TAIL = 4000
"""Characters of the command's output the error carries: Lambda caps a function error's payload at 6 MB,
Pulumi shows it whole, and the full output is in the function's log."""
DEADLINE_MARGIN_MS = 5000
"""Time kept back from Lambda's timeout to report a command that ran out of it."""


class ReleaseFailed(Exception):
    """The release command failed: its command line, exit status and last lines of output."""


class SecretUnavailable(Exception):
    """A secret the release needs could not be read: names the variable and its ARN, never a value."""


Client = Callable[[str, str], Any]
"""A boto3 client factory: ``client(service, region)``."""


def _value(reference: Mapping[str, str], client: Client) -> str:
    """One secret's value, read by ARN in its own region."""
    name, service, arn = reference["name"], reference["service"], reference["arn"]
    region = arn.split(":")[3]
    if service == "ssm":
        answer = client("ssm", region).get_parameters(Names=[arn], WithDecryption=True)
        found = answer["Parameters"]
        if not found or found[0]["Type"] != "SecureString":
            raise SecretUnavailable(f"{name}: {arn} is not a SecureString parameter here")
        return str(found[0]["Value"])
    secret = client("secretsmanager", region).get_secret_value(SecretId=arn)
    if "SecretString" not in secret:
        raise SecretUnavailable(f"{name}: {arn} holds no text")
    key = reference.get("jsonKey")
    if key is None:
        return str(secret["SecretString"])
    document = json.loads(secret["SecretString"])
    if key not in document:
        raise SecretUnavailable(f"{name}: {arn} has no key {key!r}")
    return str(document[key])


def secrets(references: Sequence[Mapping[str, str]], client: Client) -> dict[str, str]:
    """Each referenced variable and its value."""
    return {reference["name"]: _value(reference, client) for reference in references}


@dataclass
class Finished:
    """How the command ended: its exit status (None: cut off at the deadline), and its output's last part."""

    status: int | None
    tail: str


def run(command: Sequence[str], env: Mapping[str, str], timeout: float, cwd: str) -> Finished:
    """The release command, in the app's directory. Each line of its output and errors goes to the function's
    log as it comes, so a command Lambda kills has logged all it said; the last part is kept for the error."""
    tail: deque[str] = deque()
    kept = 0
    with subprocess.Popen(  # noqa: S603  # nosec B603 - the deployment's command, no shell
        list(command), cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        timer = threading.Timer(timeout, process.kill)
        timer.start()
        try:
            for line in process.stdout or ():
                sys.stdout.write(line)
                tail.append(line)
                kept += len(line)
                while kept - len(tail[0]) >= OUTPUT_TAIL:
                    kept -= len(tail.popleft())
            status = process.wait()
        finally:
            timed_out = not timer.is_alive()
            timer.cancel()
    return Finished(None if timed_out else status, "".join(tail)[-OUTPUT_TAIL:])


def release(
    event: Mapping[str, Any], env: Mapping[str, str], client: Client, timeout: float, cwd: str = APP_DIR
) -> dict[str, Any]:
    """Run one release: the environment with its secrets, the command, its verdict. The answer holds no
    output: the provider keeps it in the stack's state, and the function's log has it whole."""
    command = [str(part) for part in event["command"]]
    references = json.loads(env.get(REFERENCES, "[]"))
    environment = {**{k: v for k, v in env.items() if k != REFERENCES}, **secrets(references, client)}
    described = shlex.join(command)
    finished = run(command, environment, timeout, cwd)
    if finished.status is None:
        raise ReleaseFailed(f"{described} ran out of Lambda's time ({timeout:.0f} s):\n{finished.tail}")
    if finished.status != 0:
        raise ReleaseFailed(f"{described} exited with {finished.status}:\n{finished.tail}")
    return {"image": event.get("image"), "command": command, "status": 0}


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Lambda's entry point."""
    import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 - in the release image only

    def client(service: str, region: str) -> Any:
        return boto3.client(service, region_name=region)

    timeout = (context.get_remaining_time_in_millis() - DEADLINE_MARGIN_MS) / 1000
    return release(event, os.environ, client, timeout)
