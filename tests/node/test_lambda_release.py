"""docker/appserver/lambda_release.py: the release command run with the app's secrets, read as the AWS API
answers (botocore's Stubber checks each request and response against the service's model)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.stub import Stubber  # type: ignore[import-untyped]

from appserver import lambda_release

ACCOUNT = "123456789012"
PARAMETER = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/prod/secret-key"
DATABASE = f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:rds!db-0a1b2c3d-AbCdEf"
REFERENCES = [
    {"name": "SECRET_KEY", "service": "ssm", "arn": PARAMETER},
    {"name": "DATABASE_PASSWORD", "service": "secretsmanager", "arn": DATABASE, "jsonKey": "password"},
]
#: Prints what the command was given: a value, a setting, and whether the references leaked through.
SHOW = "import json, os; print(json.dumps({k: os.environ.get(k) for k in ('SECRET_KEY', 'DATABASE_PASSWORD', 'DATABASE_HOST', 'APP_SECRET_REFERENCES')}))"  # noqa: E501


class Clients:
    """boto3 clients with stubbed answers, by service and region; each call is checked against the model."""

    def __init__(self) -> None:
        self.stubbers: dict[tuple[str, str], Stubber] = {}

    def __call__(self, service: str, region: str) -> Any:
        return self.stubbed(service, region).client

    def stubbed(self, service: str, region: str) -> Stubber:
        if (service, region) not in self.stubbers:
            client = boto3.client(
                service,
                region_name=region,
                aws_access_key_id="test",
                aws_secret_access_key="test",  # noqa: S106
            )
            self.stubbers[(service, region)] = Stubber(client)
            self.stubbers[(service, region)].activate()
        return self.stubbers[(service, region)]


@pytest.fixture
def clients() -> Iterator[Clients]:
    made = Clients()
    yield made
    for stubber in made.stubbers.values():
        stubber.assert_no_pending_responses()


def answer_parameter(clients: Clients, kind: str = "SecureString") -> None:
    clients.stubbed("ssm", "us-east-1").add_response(
        "get_parameters",
        {"Parameters": [{"Name": "/app/prod/secret-key", "Type": kind, "Value": "s3cr3t", "ARN": PARAMETER}]},
        {"Names": [PARAMETER], "WithDecryption": True},
    )


def answer_database(clients: Clients, document: dict[str, str]) -> None:
    clients.stubbed("secretsmanager", "eu-west-1").add_response(
        "get_secret_value",
        {"ARN": DATABASE, "Name": "rds!db-0a1b2c3d", "SecretString": json.dumps(document)},
        {"SecretId": DATABASE},
    )


def event(*command: str) -> dict[str, Any]:
    return {
        "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app@sha256:{'c' * 64}",
        "command": list(command),
    }


def environment() -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "DATABASE_HOST": "db.internal",
        lambda_release.REFERENCES: json.dumps(REFERENCES),
    }


def test_the_command_gets_the_settings_and_the_secrets_by_arn_in_their_regions(
    clients: Clients, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answer_parameter(clients)
    answer_database(clients, {"username": "postgres", "password": "pw"})
    done = lambda_release.release(
        event(sys.executable, "-c", SHOW), environment(), clients, 30, str(tmp_path)
    )
    # The command's output goes to the function's log (stdout); the answer, kept in state, holds none.
    given = json.loads(capsys.readouterr().out)
    assert done == {"image": event()["image"], "command": [sys.executable, "-c", SHOW], "status": 0}
    assert given == {
        "SECRET_KEY": "s3cr3t",
        "DATABASE_PASSWORD": "pw",
        "DATABASE_HOST": "db.internal",
        "APP_SECRET_REFERENCES": None,
    }


def test_a_failed_command_fails_the_release_with_its_status_and_last_output(
    clients: Clients, tmp_path: Path
) -> None:
    answer_parameter(clients)
    answer_database(clients, {"username": "postgres", "password": "pw"})
    failing = "; ".join(
        [
            "import sys",
            "print('applying 0002_notes')",
            "print('relation notes exists', file=sys.stderr)",
            "sys.exit(3)",
        ]
    )
    with pytest.raises(lambda_release.ReleaseFailed) as failed:
        lambda_release.release(
            event(sys.executable, "-c", failing), environment(), clients, 30, str(tmp_path)
        )
    message = str(failed.value)
    assert "exited with 3" in message
    assert "applying 0002_notes" in message
    assert "relation notes exists" in message


def test_a_command_that_outlives_lambdas_time_fails_the_release(clients: Clients, tmp_path: Path) -> None:
    answer_parameter(clients)
    answer_database(clients, {"username": "postgres", "password": "pw"})
    hanging = "import threading; print('waiting for the lock', flush=True); threading.Event().wait()"
    # What it said before it was cut off is in the error, as it is in the log.
    with pytest.raises(
        lambda_release.ReleaseFailed, match=r"ran out of Lambda's time (?s:.*)waiting for the lock"
    ):
        lambda_release.release(
            event(sys.executable, "-c", hanging), environment(), clients, 0.5, str(tmp_path)
        )


@pytest.mark.parametrize(
    ("kind", "document", "problem"),
    [
        ("String", {"password": "pw"}, "is not a SecureString"),
        ("SecureString", {"username": "postgres"}, "has no key 'password'"),
    ],
)
def test_a_secret_that_is_not_there_stops_the_release_naming_it_not_its_value(
    clients: Clients, tmp_path: Path, kind: str, document: dict[str, str], problem: str
) -> None:
    answer_parameter(clients, kind)
    if kind == "SecureString":
        answer_database(clients, document)
    with pytest.raises(lambda_release.SecretUnavailable, match=problem) as failed:
        lambda_release.release(event("true"), environment(), clients, 30, str(tmp_path))
    assert "s3cr3t" not in str(failed.value)
