"""infra/user_data.py: the node's script, checked by shellcheck, its `retry` run by bash for real."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from appserver.environment import SOCKET
from infra import user_data
from infra.config import PROJECT
from infra.scaling import HEALTH_CHECK_GRACE_SECONDS
from tests.infra.support import APP, PROXY, REGISTRY, node


def docker_run(script: str, name: str) -> str:
    """The `docker run` command of one container, continuation lines joined."""
    joined = script.replace("\\\n", " ")
    (line,) = [
        line for line in joined.splitlines() if line.startswith("docker run") and f"--name {name}" in line
    ]
    return line


_FUNCTION = re.compile(r"^(?P<name>\w+)\(\) \{\n(?P<body>.*?)^\}\n", re.M | re.S)
_CAPTURED = re.compile(r"^\w+=\$\((?P<command>.*)\)$")
NETWORK_STEPS = (
    "dnf install",
    "http://169.254.169.254/latest/api/token",
    "http://169.254.169.254/latest/meta-data/instance-id",
    "aws ecr get-login-password",
    'docker pull "$APP_IMAGE"',
    'docker pull "$PROXY_IMAGE"',
)
"""What a first boot fetches over the network: the package mirror, IMDS, ECR."""
STUBS = {
    # Fails (status 7) its first $1 runs, then prints a token; counts its runs in ./runs.
    "flaky": "echo run >> runs; (($(wc -l < runs) > $1)) || exit 7; echo token",
    # Records the pause in ./pauses instead of waiting it out.
    "sleep": 'echo "$1" >> pauses',
    # The ECR login's commands, recorded in ./calls: aws fails its first run, docker records its stdin.
    "aws": 'echo "aws $*" >> calls; (($(grep -c ^aws calls) > 1)) || exit 255; printf password',
    "docker": '{ echo "docker $*"; cat; echo; } >> calls',
}
"""Commands first on PATH for `run_shipped`, each run in the test's tmp_path."""


def commands(script: str) -> tuple[list[str], list[str]]:
    """The script's commands, continuation lines joined and a called function's body in place of its call:
    (those run under `retry`, the others)."""
    functions: dict[str, str] = {}

    def define(match: re.Match[str]) -> str:
        functions[match["name"]] = match["body"]
        return ""

    main = _FUNCTION.sub(define, script.replace("\\\n", " "))
    retried: list[str] = []
    others: list[str] = []
    for line in map(str.strip, main.splitlines()):
        captured = _CAPTURED.match(line)
        command = captured["command"] if captured else line
        under_retry = command.startswith("retry ")
        command = command.removeprefix("retry ")
        body = functions.get(command.split(" ")[0], command)
        (retried if under_retry else others).append(" ".join(body.split()))
    return retried, others


def run_shipped(tmp_path: Path, call: str) -> subprocess.CompletedProcess[str]:
    """`call` after the functions the rendered user data defines, under its shell options, with `STUBS`."""
    functions = {match["name"]: match[0] for match in _FUNCTION.finditer(user_data.render(node()))}
    assert "retry" in functions, "the user data defines no retry function"
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name, text in STUBS.items():
        (stubs / name).write_text(f"#!/bin/bash\n{text}\n")
        (stubs / name).chmod(0o755)
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "REGION": "us-east-1", "REGISTRY": REGISTRY}
    argv = ["bash", "-c", "set -euo pipefail\n" + "".join(functions.values()) + call]
    return subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=30
    )


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_the_script_passes_shellcheck(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck is not None, "shellcheck is required (apt-get install shellcheck)"
    script = tmp_path / "user-data.sh"
    script.write_text(user_data.render(node()))
    result = subprocess.run(
        [shellcheck, "--shell=bash", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_each_network_step_runs_under_retry_and_docker_run_does_not() -> None:
    script = user_data.render(node())
    retried, others = commands(script)
    for step in NETWORK_STEPS:
        assert any(step in command for command in retried), step
        assert not any(step in command for command in others), step
    # The whole pipeline, retried as one: a failed get-login-password is tried again with its docker login.
    assert any("get-login-password" in command and "docker login" in command for command in retried)
    assert not any(command.startswith("docker run") for command in retried)
    assert len([command for command in others if command.startswith("docker run")]) == 2
    assert script.index("\nretry() {") < script.index("dnf install")


def test_retry_returns_once_a_flaky_step_succeeds(tmp_path: Path) -> None:
    result = run_shipped(tmp_path, "retry flaky 2")
    assert result.returncode == 0, result.stderr
    assert len(lines(tmp_path / "runs")) == 3
    # Only the step's output on stdout: `imds_token=$(retry curl ...)` captures it.
    assert result.stdout == "token\n"
    assert len(result.stderr.splitlines()) == 2, result.stderr


def test_retry_gives_up_after_its_bound_reporting_each_failure(tmp_path: Path) -> None:
    result = run_shipped(tmp_path, "retry flaky 99")
    assert result.returncode == 7, result.stderr
    assert len(lines(tmp_path / "runs")) == user_data.RETRY_ATTEMPTS
    failures = result.stderr.splitlines()
    assert len(failures) == user_data.RETRY_ATTEMPTS, result.stderr
    for attempt, failure in enumerate(failures, start=1):
        assert f"attempt {attempt} of {user_data.RETRY_ATTEMPTS} failed (exit 7)" in failure, failure
    # The rendered pauses, none after the last attempt.
    assert [int(pause) for pause in lines(tmp_path / "pauses")] == list(user_data.RETRY_PAUSES_SECONDS)


def test_retry_pauses_grow_and_end_well_inside_the_health_check_grace() -> None:
    pauses = user_data.RETRY_PAUSES_SECONDS
    assert all(earlier < later for earlier, later in itertools.pairwise(pauses))
    # The node keeps most of the grace to install, pull and start its containers before the ALB's verdict.
    assert sum(pauses) <= HEALTH_CHECK_GRACE_SECONDS / 4


def test_a_failed_ecr_password_is_fetched_again_and_never_reaches_docker_login(tmp_path: Path) -> None:
    result = run_shipped(tmp_path, "retry ecr_login")
    assert result.returncode == 0, result.stderr
    assert lines(tmp_path / "calls") == [
        "aws ecr get-login-password --region us-east-1",
        "aws ecr get-login-password --region us-east-1",
        f"docker login --username AWS --password-stdin {REGISTRY}",
        "password",
    ]
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_images_are_pulled_and_run_by_digest_after_an_ecr_login() -> None:
    script = user_data.render(node())
    assert f"readonly APP_IMAGE={APP}" in script
    assert f"readonly PROXY_IMAGE={PROXY}" in script
    login = script.index("docker login --username AWS --password-stdin")
    assert login < script.index('docker pull "$APP_IMAGE"') < script.index('docker pull "$PROXY_IMAGE"')
    assert f"readonly REGISTRY={REGISTRY}" in script
    assert docker_run(script, "app").endswith('"$APP_IMAGE"')
    assert docker_run(script, "proxy").endswith('"$PROXY_IMAGE"')


def test_both_containers_share_the_host_network_restart_and_log_to_cloudwatch() -> None:
    script = user_data.render(node())
    common = script[script.index("common=(") : script.index(")", script.index("common=("))]
    for option in (
        "--network host",
        "--restart always",
        "--stop-timeout 45",
        "--log-driver awslogs",
        '"awslogs-group=$LOG_GROUP"',
    ):
        assert option in common
    assert f"readonly LOG_GROUP=/{PROJECT}/prod/node" in script
    for name in ("app", "proxy"):
        assert '"${common[@]}"' in docker_run(script, name)
        assert f'awslogs-stream=$instance_id/{name}"' in docker_run(script, name)


def test_nginx_reaches_gunicorn_through_a_socket_volume_it_cannot_write() -> None:
    script = user_data.render(node())
    assert "readonly SOCKET_VOLUME=gunicorn-socket" in script
    app, proxy = docker_run(script, "app"), docker_run(script, "proxy")
    assert f'--mount "type=volume,source=$SOCKET_VOLUME,target={user_data.SOCKET_DIR}" ' in app
    assert f'--mount "type=volume,source=$SOCKET_VOLUME,target={user_data.SOCKET_DIR},readonly" ' in proxy
    # The directory of gunicorn's default socket, which is nginx's default upstream.
    assert os.path.dirname(SOCKET) == user_data.SOCKET_DIR


def test_nginx_runs_behind_the_alb_trusting_the_vpc_only() -> None:
    proxy = docker_run(user_data.render(node(vpc_cidr="10.1.0.0/16", server_name="app.example.com")), "proxy")
    assert "--env NGINX_MODE=behind-alb" in proxy
    assert "--env TRUSTED_PROXY_CIDRS=10.1.0.0/16" in proxy
    assert "--env SERVER_NAME=app.example.com" in proxy
    assert "--env HTTPS_PORT=8443" in proxy
    assert "--env" not in docker_run(user_data.render(node()), "app")


def test_docker_starts_on_boot_and_metadata_uses_imdsv2() -> None:
    script = user_data.render(node())
    assert "systemctl enable --now docker" in script
    assert "X-aws-ec2-metadata-token-ttl-seconds" in script
    assert script.startswith("#!/bin/bash\n")
    assert "set -euo pipefail" in script


def test_the_imds_guard_is_installed_and_started_before_docker() -> None:
    # tests/node/test_imds_guard.py runs the unit itself.
    script = user_data.render(node())
    # The guard's /usr/sbin/iptables on AL2023 comes from iptables-nft, should the image lack it.
    assert user_data.IMAGE_COMMANDS["iptables"] == "iptables-nft"
    unit = f"/etc/systemd/system/{user_data.IMDS_GUARD_UNIT}"
    written = script.index(f"cat > {unit} <<")
    started = script.index(f"systemctl enable --now {user_data.IMDS_GUARD_UNIT}\n")
    assert script.index("dnf install") < written < started
    assert started < script.index("systemctl enable --now docker\n") < script.index("docker run")


def packages_run(tmp_path: Path, lacking: set[str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The packages step on an image with every command of IMAGE_COMMANDS but ``lacking``, its PATH nothing
    but those commands and a dnf that records its arguments: (the run, dnf's calls)."""
    image = tmp_path / "image"
    image.mkdir()
    for command in [*(set(user_data.IMAGE_COMMANDS) - lacking), "dnf"]:
        (image / command).write_text('#!/bin/bash\necho "$*" >> "${0%/*}/../dnf-calls"\n')
        (image / command).chmod(0o755)
    script = "set -euo pipefail\n" + user_data.retry_function() + user_data.packages_step()
    # bash by its path: the PATH below holds only the image's commands.
    result = subprocess.run(
        [shutil.which("bash") or "bash", "-c", script], env={"PATH": str(image)},
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    return result, lines(tmp_path / "dnf-calls")


def test_an_image_with_every_command_the_boot_runs_installs_nothing(tmp_path: Path) -> None:
    result, calls = packages_run(tmp_path, lacking=set())
    assert result.returncode == 0, result.stderr
    assert calls == []
    assert result.stderr == ""


def test_only_the_packages_of_the_commands_the_image_lacks_are_installed_and_named(tmp_path: Path) -> None:
    result, calls = packages_run(tmp_path, lacking={"aws", "iptables"})
    assert result.returncode == 0, result.stderr
    assert calls == ["install -y iptables-nft awscli-2"]
    assert "user data: not on this image, installing: iptables-nft awscli-2" in result.stderr


def test_the_ecs_agent_is_masked_before_docker_starts() -> None:
    script = user_data.render(node())
    masked = script.index(f"systemctl mask --now {user_data.ECS_AGENT_UNIT}\n")
    assert masked < script.index("systemctl enable --now docker\n")


def test_each_step_reports_its_wall_time_in_order(tmp_path: Path) -> None:
    script = user_data.render(node())
    started = re.findall(r"^step ([a-z-]+)$", script, re.M)
    assert started == list(user_data.boot_steps(node()))
    assert script.rstrip().endswith("\nstep")
    # The function itself, on bash's clock: one line per step ended, the seconds to the millisecond.
    run = subprocess.run(
        ["bash", "-c", user_data.step_function() + "step one; sleep 0.2; step two; step"],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    first, second = run.stdout.splitlines()
    one = re.fullmatch(r"user data: step one took (\d+\.\d{3}) s", first)
    assert one is not None
    assert 0.2 <= float(one[1]) < 5
    assert re.fullmatch(r"user data: step two took 0\.\d{3} s", second)


def test_a_failed_boot_names_the_step_it_failed_in(tmp_path: Path) -> None:
    head = user_data.render(node()).split("readonly REGION", 1)[0]
    run = subprocess.run(
        ["bash", "-c", head + user_data.step_function() + "step pull-app\nfalse\n"],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    assert run.returncode == 1
    assert "user data: boot failed at line" in run.stderr
    assert "(exit 1) in step pull-app: false" in run.stderr


def test_values_are_quoted_for_the_shell() -> None:
    script = user_data.render(node(server_name="app.example.com www.example.com"))
    assert "--env SERVER_NAME='app.example.com www.example.com'" in script


@pytest.mark.parametrize(
    "image",
    [
        f"{REGISTRY}/{PROJECT}/prod/app:latest",
        f"{REGISTRY}/{PROJECT}/prod/app@sha256:abc",
        "app",
    ],
)
def test_images_not_pinned_by_a_full_digest_are_refused(image: str) -> None:
    with pytest.raises(ValueError, match="expected a reference by digest"):
        user_data.render(node(app_image=image))


def test_images_from_two_registries_are_refused() -> None:
    other = PROXY.replace("123456789012", "210987654321")
    with pytest.raises(ValueError, match="expected one registry"):
        user_data.render(node(proxy_image=other))
