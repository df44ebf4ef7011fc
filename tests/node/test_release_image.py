"""The release image as Lambda runs it: its own entry point (the runtime interface client) polls a stand-in
of Lambda's runtime API (nodestack/lambda_runtime.py), which hands it one release; the handler runs the
app's release command against a real PostgreSQL over TLS, and the stand-in records its answer."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from typing import Any

import pytest

from nodestack.images import Engine
from nodestack.lambda_runtime import Invocation, runtime_api
from nodestack.postgres import APP_ROLE, Postgres
from tests.node.test_images import HARDENED, database

#: A release's answer is back within this: the handler migrates an empty database in seconds.
ANSWER_WITHIN = 120.0
IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/app/release@sha256:{'c' * 64}"


def invoke(engine: Engine, image: str, postgres: Postgres, name: str, command: list[str]) -> Invocation:
    """One release, ``command``, run by the image under the stand-in, against database ``name``."""
    event = {"image": IMAGE, "command": command}
    deadline_ms = int((time.time() + ANSWER_WITHIN) * 1000)
    with runtime_api(event, deadline_ms) as (address, invocation):
        container = engine.run(
            "run", "--detach", *HARDENED, *database(postgres), "--env", f"DATABASE_NAME={name}",
            "--env", f"AWS_LAMBDA_RUNTIME_API={address}", "--env", "APP_SECRET_REFERENCES=[]",
            "--env", "AWS_LAMBDA_FUNCTION_NAME=release", "--env", "AWS_REGION=us-east-1", image,
        ).strip()  # fmt: skip
        try:
            answered = invocation.answered.wait(ANSWER_WITHIN)
            logs = subprocess.run(
                [engine.client, "logs", container],
                capture_output=True,
                text=True,
                env=engine.env(),
                check=False,
            )
            assert answered, f"no answer from the release image:\n{logs.stdout}{logs.stderr}"
        finally:
            engine.run("rm", "--force", container)
    return invocation


@pytest.fixture
def empty_database(postgres: Postgres) -> str:
    name = f"release_{uuid.uuid4().hex[:8]}"
    postgres.psql(f"CREATE DATABASE {name} OWNER {APP_ROLE}")
    return name


def tables(postgres: Postgres, name: str) -> set[str]:
    rows = postgres.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database=name)
    return set(rows.split())


def test_a_release_migrates_an_empty_database_and_answers(
    engine: Engine, images: dict[str, str], postgres: Postgres, empty_database: str
) -> None:
    invocation = invoke(engine, images["release"], postgres, empty_database, ["python", "release.py"])
    assert invocation.outcome == "response", invocation.body
    body: dict[str, Any] = invocation.body or {}
    assert body["image"] == IMAGE
    assert body["command"] == ["python", "release.py"]
    assert {"alembic_version", "notes"} <= tables(postgres, empty_database)


def test_a_failed_release_answers_an_error_with_the_commands_output(
    engine: Engine, images: dict[str, str], postgres: Postgres, empty_database: str
) -> None:
    failing = ["python", "-c", "import sys; print('migrating 0002'); sys.exit(3)"]
    invocation = invoke(engine, images["release"], postgres, empty_database, failing)
    assert invocation.outcome == "error", invocation.body
    message = json.dumps(invocation.body)
    assert "exited with 3" in message
    assert "migrating 0002" in message
    assert tables(postgres, empty_database) == set()


def test_the_release_images_packages_are_complete(engine: Engine, images: dict[str, str]) -> None:
    # Installed with --no-deps: each package's requirements must be pinned too.
    checked = engine.run("run", "--rm", "--entrypoint", "python", images["release"], "-m", "pip", "check")
    assert "No broken requirements found" in checked
