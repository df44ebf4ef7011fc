"""Fetch the app's secrets into a file only the app's user can read, on memory-backed storage.

Runs on the node as root (the IMDS guard keeps the role's credentials from every other user), at every boot,
before docker (app-secrets.service, infra/node_secrets.py), with the node's python3 (Amazon Linux 2023's 3.9:
cloud-init needs it). Usage: fetch-app-secrets REFERENCES.json. The references name each variable and where
its value is (an SSM parameter's or a Secrets Manager secret's ARN); the values come back on the AWS CLI's
stdout, a pipe, and go to the file only: never to an argument, the environment of a command, or the output.
"""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404 - runs the AWS CLI with references only, never values
import sys
import time
from typing import Any

PAUSES = (2, 4, 8, 16, 30)
"""Between the tries of a call, as the user data's `retry`: a new role's grants take seconds to apply."""
CALL_TIMEOUT = 60
"""Seconds one AWS CLI call may take; a call that hangs counts as a failed try."""
MEMORY_FILESYSTEMS = ("tmpfs", "ramfs")
SSM_BATCH = 10
"""GetParameters takes at most 10 names (Systems Manager API Reference, GetParameters)."""


class Refused(Exception):
    """Why the secrets cannot be written; names a variable or a reference, never a value."""


def say(line: str) -> None:
    """One line on stderr, which the unit sends to the journal and the console."""
    print(f"fetch-app-secrets: {line}", file=sys.stderr, flush=True)


def aws(argv: list[str]) -> Any:
    """`aws ARGV --output json`, tried again after each pause; its JSON answer."""
    attempts = len(PAUSES) + 1
    for attempt in range(1, attempts + 1):
        try:
            # The AWS CLI AL2023 ships, from PATH as the user data's other calls; references only in argv.
            done = subprocess.run(  # noqa: S603  # nosec B603 B607
                ["aws", *argv, "--output", "json"],  # noqa: S607
                capture_output=True,
                timeout=CALL_TIMEOUT,
                check=False,
            )
            status = str(done.returncode)
        except subprocess.TimeoutExpired:
            status = "timeout"
        else:
            if done.returncode == 0:
                return json.loads(done.stdout)
            # The CLI's error message: the call and the reference, no value (a failed call returns none).
            sys.stderr.write(done.stderr.decode(errors="replace"))
        described = " ".join(argv)
        if attempt == attempts:
            raise Refused(f"attempt {attempt} of {attempts} failed ({status}), giving up: aws {described}")
        pause = PAUSES[attempt - 1]
        say(f"attempt {attempt} of {attempts} failed ({status}), again in {pause} s: aws {described}")
        time.sleep(pause)
    raise AssertionError("unreachable")


def ssm_values(wanted: list[dict[str, str]]) -> dict[str, str]:
    """The SecureString values of these parameters, by ARN (asked by ARN: AWS answers each with its ARN)."""
    values: dict[str, str] = {}
    arns = sorted({w["arn"] for w in wanted})
    for region in sorted({arn.split(":")[3] for arn in arns}):
        in_region = [arn for arn in arns if arn.split(":")[3] == region]
        for start in range(0, len(in_region), SSM_BATCH):
            batch = in_region[start : start + SSM_BATCH]
            answer = aws(
                ["ssm", "get-parameters", "--region", region, "--with-decryption", "--names", *batch]
            )
            if answer.get("InvalidParameters"):
                raise Refused(f"no such parameter: {', '.join(answer['InvalidParameters'])}")
            for parameter in answer.get("Parameters", []):
                kind = parameter.get("Type")
                if kind != "SecureString":
                    raise Refused(f"parameter {parameter.get('ARN')} is a {kind}: make it a SecureString")
                values[parameter["ARN"]] = parameter["Value"]
    missing = [arn for arn in arns if arn not in values]
    if missing:
        raise Refused(f"no answer for parameter {', '.join(missing)}")
    return values


def secret_strings(wanted: list[dict[str, str]]) -> dict[str, str]:
    """The current SecretString of each secret, by ARN, each asked once."""
    strings: dict[str, str] = {}
    for arn in sorted({w["arn"] for w in wanted}):
        answer = aws(
            ["secretsmanager", "get-secret-value", "--region", arn.split(":")[3], "--secret-id", arn]
        )
        if not isinstance(answer.get("SecretString"), str):
            raise Refused(f"secret {arn} has no SecretString (a binary secret): store text")
        strings[arn] = answer["SecretString"]
    return strings


def value_of(reference: dict[str, str], ssm: dict[str, str], secrets: dict[str, str]) -> str:
    """One variable's value: the parameter's, the secret's string, or one key of the secret's JSON object."""
    if reference["service"] == "ssm":
        return ssm[reference["arn"]]
    text, key = secrets[reference["arn"]], reference.get("jsonKey")
    if key is None:
        return text
    where = f"{reference['name']}: key {key!r} of secret {reference['arn']}"
    try:
        document = json.loads(text)
    except ValueError:
        raise Refused(f"{where}: the secret is not a JSON object") from None
    value = document.get(key) if isinstance(document, dict) else None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Refused(f"{where}: no such key holding a string or a number")
    return value if isinstance(value, str) else json.dumps(value)


def filesystem_of(path: str) -> str:
    """The type of the filesystem `path` is on: the longest mount point above it in /proc/self/mounts."""
    best, kind = "", ""
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            point = fields[1].replace("\\040", " ")
            inside = path == point or path.startswith(point.rstrip("/") + "/")
            if inside and len(point) >= len(best):
                best, kind = point, fields[2]
    return kind


def write(path: str, values: dict[str, str], uid: int) -> bool:
    """`values` as a JSON object in `path`, mode 0400, owned by `uid`, replaced whole (rename): a container
    that starts meanwhile reads the old file or the new one, never half of one. False when the file holds
    these values already (the timer's runs between rotations): nothing is written."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o500, exist_ok=True)
    kind = filesystem_of(os.path.realpath(directory))
    if kind not in MEMORY_FILESYSTEMS:
        raise Refused(
            f"{directory} is on {kind or 'an unknown filesystem'}, not memory: refusing to write it there"
        )
    os.chown(directory, uid, uid)
    os.chmod(directory, 0o500)
    content = json.dumps(values, sort_keys=True).encode()
    if os.path.exists(path):
        with open(path, "rb") as current:
            if current.read() == content:
                return False
    staging = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
    try:
        os.fchown(descriptor, uid, uid)
        os.write(descriptor, content)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(staging, path)
    return True


def main(argv: list[str]) -> int:
    """Fetch every reference of the file `argv[0]` names and write them out; 0, or 1 with one line why."""
    with open(argv[0]) as file:
        config = json.load(file)
    references: list[dict[str, str]] = config["secrets"]
    try:
        ssm = ssm_values([r for r in references if r["service"] == "ssm"])
        secrets = secret_strings([r for r in references if r["service"] == "secretsmanager"])
        values = {r["name"]: value_of(r, ssm, secrets) for r in references}
        changed = write(config["file"], values, int(config["uid"]))
    except Refused as refused:
        say(str(refused))
        return 1
    if changed:
        say(f"wrote {len(values)} secret(s) for uid {config['uid']}: {', '.join(sorted(values))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
