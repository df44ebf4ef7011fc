"""A stand-in for the AWS CLI's two secret reads, answering as the CLI does (its JSON output, its error lines,
its exit statuses), from a store of parameters and secrets in a JSON file:

- ``aws ssm get-parameters --region R --with-decryption --names N... --output json``: each name or ARN found
  in R is in ``Parameters`` (Name, Type, Value, Version, LastModifiedDate, ARN, DataType), the others in
  ``InvalidParameters``, exit 0 (Systems Manager API Reference, GetParameters).
- ``aws secretsmanager get-secret-value --region R --secret-id ARN --output json``: ARN, Name, VersionId,
  SecretString, VersionStages, CreatedDate; an unknown secret is ResourceNotFoundException, exit 254 (the
  CLI's status for an error the service returned: AWS CLI User Guide, "Return codes").

The first ``failures`` calls fail as the CLI does when the endpoint cannot be reached (exit 255). Every call's
arguments go to a log, one JSON list per line, for the tests to read. The member names are botocore's output
shapes (tests/node/test_app_secrets.py checks them against the service models).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from nodestack.paths import REPO

UNREACHABLE = 'Could not connect to the endpoint URL: "https://{service}.{region}.amazonaws.com/"'
NOT_FOUND = (
    "\nAn error occurred (ResourceNotFoundException) when calling the GetSecretValue operation: "
    "Secrets Manager can't find the specified secret.\n"
)
DATE = "2026-01-01T00:00:00.000000+00:00"


def standin(store: Path, calls: Path, failures: int = 0) -> str:
    """The text of an executable ``aws`` answering from ``store``, logging to ``calls``."""
    return (
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(REPO)!r})\n"
        "from pathlib import Path\nfrom nodestack.aws_secrets import main\n"
        f"sys.exit(main(Path({str(store)!r}), Path({str(calls)!r}), {failures}, sys.argv[1:]))\n"
    )


def _option(argv: list[str], name: str) -> list[str]:
    """The values after ``--name``, up to the next option."""
    if name not in argv:
        return []
    values = []
    for value in argv[argv.index(name) + 1 :]:
        if value.startswith("--"):
            break
        values.append(value)
    return values


def _in_region(arn: str, region: str) -> bool:
    return arn.split(":")[3] == region


def get_parameters(store: dict[str, Any], argv: list[str]) -> dict[str, Any]:
    """GetParameters: by name or ARN, in the call's region; a SecureString decrypted only on request."""
    region, decrypt = _option(argv, "--region")[0], "--with-decryption" in argv
    found, invalid = [], []
    for wanted in _option(argv, "--names"):
        match = [
            (arn, p)
            for arn, p in store.get("parameters", {}).items()
            if _in_region(arn, region) and wanted in (arn, p["Name"])
        ]
        if not match:
            invalid.append(wanted)
            continue
        arn, parameter = match[0]
        value = parameter["Value"]
        if parameter["Type"] == "SecureString" and not decrypt:
            value = "AQICAHh" + "x" * 40
        found.append(
            {
                "Name": parameter["Name"],
                "Type": parameter["Type"],
                "Value": value,
                "Version": 1,
                "LastModifiedDate": DATE,
                "ARN": arn,
                "DataType": "text",
            }
        )
    return {"Parameters": found, "InvalidParameters": invalid}


def get_secret_value(store: dict[str, Any], argv: list[str]) -> dict[str, Any] | None:
    """GetSecretValue: the secret's current version, by ARN in the call's region; None when unknown."""
    region, (wanted,) = _option(argv, "--region")[0], _option(argv, "--secret-id")
    secret = store.get("secrets", {}).get(wanted) if _in_region(wanted, region) else None
    if secret is None:
        return None
    return {
        "ARN": wanted,
        "Name": secret["Name"],
        "VersionId": "0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "SecretString": secret["SecretString"],
        "VersionStages": ["AWSCURRENT"],
        "CreatedDate": DATE,
    }


def main(store_path: Path, calls: Path, failures: int, argv: list[str]) -> int:
    """Answer one command line as the CLI would."""
    with calls.open("a") as log:
        log.write(json.dumps(argv) + "\n")
    made = len(calls.read_text().splitlines())
    service = argv[0] if argv else ""
    region = (_option(argv, "--region") or ["us-east-1"])[0]
    if made <= failures:
        print(UNREACHABLE.format(service=service, region=region), file=sys.stderr)
        return 255
    store = json.loads(store_path.read_text())
    if argv[:2] == ["ssm", "get-parameters"]:
        print(json.dumps(get_parameters(store, argv), indent=4))
        return 0
    if argv[:2] == ["secretsmanager", "get-secret-value"]:
        answer = get_secret_value(store, argv)
        if answer is None:
            print(NOT_FOUND, file=sys.stderr)
            return 254
        print(json.dumps(answer, indent=4))
        return 0
    print(f"aws stand-in: unexpected: {' '.join(argv)}", file=sys.stderr)
    return 2
