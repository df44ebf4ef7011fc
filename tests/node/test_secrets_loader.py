"""docker/appserver/secrets.py: the file the node wrote becomes the environment gunicorn and the app start
with; a file that cannot be used stops the container with one line naming the path, never a value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from appserver.secrets import VARIABLE, SecretsFileError, current, load
from infra import app_environment, node_secrets
from nodestack.paths import DOCKER

VALUE = "pa55-w0rd-9c2d41e7"
# Runs the image's command with os.execv replaced: prints the environment gunicorn would have been given.
AT_EXEC = """
import json, os, sys
sys.path.insert(0, os.getcwd())
import serve
def execv(path, argv):
    print(json.dumps(dict(os.environ)))
    sys.exit(0)
os.execv = execv
serve.main(["run:app"])
"""


def test_the_variable_and_file_are_the_ones_the_node_gives() -> None:
    assert VARIABLE == app_environment.SECRETS_FILE_VARIABLE
    assert node_secrets.FILE_NAME == "env.json"


def test_without_the_variable_nothing_is_read() -> None:
    env: dict[str, str] = {"PATH": "/usr/bin"}
    assert load(env) == []
    assert env == {"PATH": "/usr/bin"}


def test_the_files_secrets_join_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"DB_PASSWORD": VALUE, "SECRET_KEY": "k"}))
    env = {VARIABLE: str(path)}
    assert load(env) == ["DB_PASSWORD", "SECRET_KEY"]
    assert env["DB_PASSWORD"] == VALUE


def test_current_reads_the_file_again_after_the_node_refreshed_it(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"DB_PASSWORD": VALUE}))
    env = {VARIABLE: str(path)}
    load(env)
    path.write_text(json.dumps({"DB_PASSWORD": "rotated"}))
    assert current(env) == {"DB_PASSWORD": "rotated"}
    assert env["DB_PASSWORD"] == VALUE
    assert current({}) == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read it (No such file or directory)"),
        ("{not json", "not a JSON object"),
        (json.dumps(["x"]), "expected an object of NAME: string"),
        (json.dumps({"lower": "x"}), "expected an object of NAME: string"),
        (json.dumps({"PORT": 5432}), "expected an object of NAME: string"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_naming_the_path(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "env.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SecretsFileError) as error:
        load({VARIABLE: str(path)})
    assert str(error.value) == f"{VARIABLE}={path}: {message}"


def test_the_image_command_hands_gunicorn_the_secrets(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"DB_PASSWORD": VALUE}))
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_") and k != "WEB_CONCURRENCY"
    }
    done = subprocess.run(
        [sys.executable, "-c", AT_EXEC],
        cwd=DOCKER,
        env={**environ, VARIABLE: str(path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["DB_PASSWORD"] == VALUE


def test_the_image_command_stops_with_one_line_when_the_file_is_missing(tmp_path: Path) -> None:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_") and k != "WEB_CONCURRENCY"
    }
    done = subprocess.run(
        [sys.executable, str(DOCKER / "serve.py"), "run:app"],
        cwd=DOCKER,
        env={**environ, VARIABLE: str(tmp_path / "absent.json")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert (
        done.stderr
        == f"serve.py: {VARIABLE}={tmp_path / 'absent.json'}: cannot read it (No such file or directory)\n"
    )
