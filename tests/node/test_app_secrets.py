"""The user data's secrets step, run for real: bash runs the step as infra/user_data.py renders it, the
unit it writes is started as systemd would start it, and the fetch program asks an `aws` stand-in that
answers as the CLI does (nodestack/aws_secrets.py). Checked: the file's place (tmpfs), mode, owner and
content, and that no value reaches the step's output (under `set -x`), the console log, or the argv or
environment of any process (every execve, traced by strace).

Runs as root in a private mount namespace, with a tmpfs over each directory the step writes (/run included),
so nothing of the host's changes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session  # type: ignore[import-untyped]

from infra import node_secrets, user_data
from infra.app_environment import Fetch
from nodestack import aws_secrets
from tests.infra.support import node

ACCOUNT = "123456789012"
KEY_ARN = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/prod/secret-key"
PEM_ARN = f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/app/prod/signing-key"
DB_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:rds!db-0a1b2c3d-AbC123"
TOKEN_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:app/prod/api-token-Xy9Z8w"
VALUES = {
    "SECRET_KEY": "k3y-7f1e9a0b2c4d6e8f-only-in-ssm",
    "SIGNING_KEY": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-only-in-ssm\n"
    "-----END PRIVATE KEY-----",
    "DB_PASSWORD": "pa55-w0rd-9c2d41e7-only-in-secrets-manager",
    "API_TOKEN": "t0ken-5b8e02aa13-only-in-secrets-manager",
}
DB_USERNAME = "app_user_only_in_the_secret"
STORE = {
    "parameters": {
        KEY_ARN: {"Name": "/app/prod/secret-key", "Type": "SecureString", "Value": VALUES["SECRET_KEY"]},
        PEM_ARN: {"Name": "/app/prod/signing-key", "Type": "SecureString", "Value": VALUES["SIGNING_KEY"]},
        f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/prod/plain": {
            "Name": "/app/prod/plain",
            "Type": "String",
            "Value": "plain-value-0e1f",
        },
    },
    "secrets": {
        DB_ARN: {
            "Name": "rds!db-0a1b2c3d",
            "SecretString": json.dumps({"username": DB_USERNAME, "password": VALUES["DB_PASSWORD"]}),
        },
        TOKEN_ARN: {"Name": "app/prod/api-token", "SecretString": VALUES["API_TOKEN"]},
    },
}
FETCHES = (
    Fetch(name="SECRET_KEY", service="ssm", arn=KEY_ARN),
    Fetch(name="SIGNING_KEY", service="ssm", arn=PEM_ARN),
    Fetch(name="DB_PASSWORD", service="secretsmanager", arn=DB_ARN, json_key="password"),
    Fetch(name="API_TOKEN", service="secretsmanager", arn=TOKEN_ARN),
)
SYSTEMCTL = """#!/bin/bash
# Stand-in for systemctl: `enable --now` of the secrets unit runs its ExecStart as systemd would (as root,
# with the unit's environment: none), and fails when it fails.
set -euo pipefail
echo "systemctl $*" >> {calls}
case "$*" in
    daemon-reload | "enable --now {timer}") ;;
    "enable --now {unit}")
        line=$(grep '^ExecStart=' /etc/systemd/system/{unit})
        read -ra argv <<<"${{line#ExecStart=}}"
        env -i PATH="$PATH" "${{argv[@]}}" ;;
    *) echo "systemctl stand-in: unexpected: $*" >&2; exit 1 ;;
esac
"""
# Runs the step in the namespace, then reports what it left in /run, which goes with the namespace.
INNER = """set -u
for directory in /etc/systemd/system /usr/local/sbin /usr/local/etc /run; do
    mount -t tmpfs secrets-test "$directory"
done
strace -f -qq -v -s 1000000 -e trace=execve -o {trace} bash -x {step} > {out} 2> {err}
echo $? > {status}
# The timer's runs: the unit's ExecStart again, after the store changed (a rotation), then once more.
if [[ -s {rotated} ]]; then
    cp {rotated} {store}
    for run in 1 2; do
        line=$(grep '^ExecStart=' /etc/systemd/system/{unit})
        read -ra argv <<<"${{line#ExecStart=}}"
        env -i PATH="$PATH" "${{argv[@]}}" > {scratch}/refresh-$run 2>&1
        echo $? >> {scratch}/refresh-status
    done
fi
if [[ -e {file} ]]; then
    stat -c '%a %u %g' {file} > {file_stat}
    stat -c '%a %u %g' {directory} > {directory_stat}
    stat -f -c '%T' {file} > {filesystem}
    cat {file} > {content}
fi
"""


@dataclass(frozen=True)
class Run:
    """What the step did: its status, output and error (with `set -x`), every execve, the CLI calls."""

    status: int
    output: str
    trace: str
    aws_calls: list[list[str]]
    scratch: Path

    def read(self, name: str) -> str:
        """A report the namespace wrote before it went."""
        return (self.scratch / name).read_text() if (self.scratch / name).exists() else ""


def step(fetches: tuple[Fetch, ...]) -> str:
    """The secrets step of the rendered user data, from its first line to the unit's start."""
    script = user_data.render(node(app_secrets=fetches))
    start = script.index("# The app's secrets")
    end = script.index(f"systemctl enable --now {node_secrets.UNIT}\n") + len(
        f"systemctl enable --now {node_secrets.UNIT}\n"
    )
    return "set -euo pipefail\n" + script[start:end]


def run_step(
    scratch: Path,
    fetches: tuple[Fetch, ...] = FETCHES,
    failures: int = 0,
    rotated: dict[str, Any] | None = None,
) -> Run:
    """The step run by bash as root in a mount namespace of its own, with the stand-ins first on PATH."""
    assert os.geteuid() == 0, "mount namespaces and chown need root (CI runs the tests as root)"
    strace = shutil.which("strace")
    assert strace is not None, "strace is required (apt-get install strace; make system installs it)"
    bin_dir = scratch / "bin"
    bin_dir.mkdir()
    (scratch / "store.json").write_text(json.dumps(STORE))
    (scratch / "rotated.json").write_text(json.dumps(rotated) if rotated is not None else "")
    standins = {
        "aws": aws_secrets.standin(scratch / "store.json", scratch / "aws-calls", failures),
        "systemctl": SYSTEMCTL.format(
            calls=scratch / "systemctl-calls", unit=node_secrets.UNIT, timer=node_secrets.TIMER
        ),
    }
    for name, text in standins.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (scratch / "step.sh").write_text(step(fetches))
    target = f"{node_secrets.HOST_DIR}/{node_secrets.FILE_NAME}"
    inner = INNER.format(
        trace=scratch / "trace",
        step=scratch / "step.sh",
        out=scratch / "out",
        err=scratch / "err",
        status=scratch / "status",
        file=target,
        directory=node_secrets.HOST_DIR,
        file_stat=scratch / "file-stat",
        directory_stat=scratch / "directory-stat",
        filesystem=scratch / "filesystem",
        content=scratch / "content",
        rotated=scratch / "rotated.json",
        store=scratch / "store.json",
        unit=node_secrets.UNIT,
        scratch=scratch,
    )
    env = {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8"}
    subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-c", inner],
        env=env,
        check=True,
        timeout=120,
    )
    calls = scratch / "aws-calls"
    return Run(
        status=int((scratch / "status").read_text()),
        output=(scratch / "out").read_text() + (scratch / "err").read_text(),
        trace=(scratch / "trace").read_text(),
        aws_calls=[json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else [],
        scratch=scratch,
    )


def leaked(run: Run, secrets: list[str]) -> list[str]:
    """The secrets, or lines of them, found in the step's output or in any execve's argv or environment."""
    pieces = {piece for secret in secrets for piece in [secret, *secret.splitlines()] if len(piece) > 8}
    return sorted(p for p in pieces if p in run.output or p in run.trace)


def test_the_step_writes_the_values_for_the_app_only_on_memory_and_shows_none(tmp_path: Path) -> None:
    run = run_step(tmp_path)
    assert run.status == 0, run.output
    assert json.loads(run.read("content")) == VALUES
    assert run.read("file-stat").split() == ["400", str(node_secrets.APP_UID), str(node_secrets.APP_UID)]
    assert run.read("directory-stat").split() == ["500", str(node_secrets.APP_UID), str(node_secrets.APP_UID)]
    assert run.read("filesystem").strip() == "tmpfs"
    assert DB_USERNAME not in run.read("content"), "only the key asked for leaves the secret"
    assert not leaked(run, [*VALUES.values(), DB_USERNAME]), run.output
    assert '"/usr/bin/python3", "/usr/local/sbin/fetch-app-secrets"' in run.trace, "strace saw no fetch"
    # The console log names what was written, by variable.
    assert "wrote 4 secret(s) for uid 1001: API_TOKEN, DB_PASSWORD, SECRET_KEY, SIGNING_KEY" in run.output


def test_the_cli_is_asked_by_arn_in_each_items_region_with_decryption(tmp_path: Path) -> None:
    run = run_step(tmp_path)
    assert run.status == 0, run.output
    ssm = ["ssm", "get-parameters", "--region"]
    secret = ["secretsmanager", "get-secret-value", "--region", "us-east-1", "--secret-id"]
    json_output = ["--output", "json"]
    assert sorted(run.aws_calls) == sorted(
        [
            [*ssm, "eu-west-1", "--with-decryption", "--names", PEM_ARN, *json_output],
            [*ssm, "us-east-1", "--with-decryption", "--names", KEY_ARN, *json_output],
            [*secret, DB_ARN, *json_output],
            [*secret, TOKEN_ARN, *json_output],
        ]
    )


def test_unreachable_services_are_tried_again_after_the_user_datas_pauses(tmp_path: Path) -> None:
    run = run_step(tmp_path, failures=2)
    assert run.status == 0, run.output
    # The program's own pauses (it sleeps 2 s, then 4 s), as the user data's retry makes them.
    assert run.output.count("Could not connect to the endpoint URL") == 2
    assert "attempt 1 of 6 failed (255), again in 2 s: aws ssm get-parameters" in run.output
    assert "attempt 2 of 6 failed (255), again in 4 s: aws ssm get-parameters" in run.output
    assert json.loads(run.read("content")) == VALUES


def test_a_missing_parameter_fails_the_step_naming_it_and_writes_nothing(tmp_path: Path) -> None:
    missing = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/prod/typo"
    run = run_step(tmp_path, (*FETCHES, Fetch(name="TYPO", service="ssm", arn=missing)))
    assert run.status != 0
    assert f"fetch-app-secrets: no such parameter: {missing}" in run.output
    assert run.read("content") == ""
    assert not leaked(run, list(VALUES.values()))


def test_a_plain_string_parameter_is_refused(tmp_path: Path) -> None:
    plain = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/prod/plain"
    run = run_step(tmp_path, (Fetch(name="PLAIN", service="ssm", arn=plain),))
    assert run.status != 0
    assert f"parameter {plain} is a String: make it a SecureString" in run.output
    assert "plain-value-0e1f" not in run.output + run.trace


def test_a_missing_secret_or_json_key_fails_naming_the_reference_only(tmp_path: Path) -> None:
    run = run_step(tmp_path, (Fetch(name="DB_HOST", service="secretsmanager", arn=DB_ARN, json_key="host"),))
    assert run.status != 0
    assert f"DB_HOST: key 'host' of secret {DB_ARN}: no such key holding a string or a number" in run.output
    assert not leaked(run, [VALUES["DB_PASSWORD"], DB_USERNAME])


def test_the_program_refuses_a_directory_on_disk(tmp_path: Path) -> None:
    references = tmp_path / "references.json"
    references.write_text(
        json.dumps({"file": str(tmp_path / "out" / "env.json"), "uid": 1001, "secrets": []})
    )
    done = subprocess.run(
        [sys.executable, str(node_secrets.SOURCE), str(references)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "not memory: refusing to write it there" in done.stderr
    assert not (tmp_path / "out" / "env.json").exists()


def test_the_standin_answers_with_the_members_of_botocores_output_shapes() -> None:
    session = botocore.session.get_session()
    ssm = session.get_service_model("ssm").operation_model("GetParameters").output_shape
    answer = aws_secrets.get_parameters(
        STORE,
        ["ssm", "get-parameters", "--region", "us-east-1", "--with-decryption", "--names", KEY_ARN, "/x"],
    )
    assert set(answer) <= set(ssm.members)
    assert set(answer["Parameters"][0]) <= set(ssm.members["Parameters"].member.members)
    assert answer["InvalidParameters"] == ["/x"]
    secrets = session.get_service_model("secretsmanager").operation_model("GetSecretValue").output_shape
    value = aws_secrets.get_secret_value(
        STORE, ["secretsmanager", "get-secret-value", "--region", "us-east-1", "--secret-id", TOKEN_ARN]
    )
    assert value is not None
    assert set(value) <= set(secrets.members)


def test_the_timers_runs_follow_a_rotation_and_stay_quiet_between_rotations(tmp_path: Path) -> None:
    rotated_password = "n3w-pa55-w0rd-after-rotation-77aa"  # noqa: S105 - the stand-in's value
    store = json.loads(json.dumps(STORE))
    store["secrets"][DB_ARN]["SecretString"] = json.dumps(
        {"username": DB_USERNAME, "password": rotated_password}
    )
    run = run_step(tmp_path, rotated=store)
    assert run.status == 0, run.output
    assert run.read("refresh-status").split() == ["0", "0"]
    assert json.loads(run.read("content")) == {**VALUES, "DB_PASSWORD": rotated_password}
    assert run.read("file-stat").split() == ["400", str(node_secrets.APP_UID), str(node_secrets.APP_UID)]
    # The rotation's run says what it wrote; the next, with nothing new, says nothing.
    assert "wrote 4 secret(s) for uid 1001" in run.read("refresh-1")
    assert run.read("refresh-2") == ""
    assert rotated_password not in run.read("refresh-1")
