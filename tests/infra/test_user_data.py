"""infra/user_data.py: the node's script, checked by shellcheck for real."""

from __future__ import annotations

import os
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest

from infra import user_data
from tests.node.stack import DOCKER

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
APP = f"{REGISTRY}/flask-nginx-aws/prod/app@sha256:{'a' * 64}"
PROXY = f"{REGISTRY}/flask-nginx-aws/prod/proxy@sha256:{'b' * 64}"


def node(**changes: object) -> user_data.NodeSettings:
    values: dict[str, object] = {
        "region": "us-east-1",
        "app_image": APP,
        "proxy_image": PROXY,
        "log_group": "/flask-nginx-aws/prod/node",
        "vpc_cidr": "10.0.0.0/16",
        "server_name": "app.example.com",
        "https_port": 8443,
    }
    values.update(changes)
    return user_data.NodeSettings(**values)  # type: ignore[arg-type]


def docker_run(script: str, name: str) -> str:
    """The `docker run` command of one container, continuation lines joined."""
    joined = script.replace("\\\n", " ")
    (line,) = [
        line for line in joined.splitlines() if line.startswith("docker run") and f"--name {name}" in line
    ]
    return line


def test_the_script_passes_shellcheck(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck is not None, "shellcheck is required (apt-get install shellcheck)"
    script = tmp_path / "user-data.sh"
    script.write_text(user_data.render(node()))
    result = subprocess.run(
        [shellcheck, "--shell=bash", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


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
    assert "readonly LOG_GROUP=/flask-nginx-aws/prod/node" in script
    for name in ("app", "proxy"):
        assert '"${common[@]}"' in docker_run(script, name)
        assert f'awslogs-stream=$instance_id/{name}"' in docker_run(script, name)


def test_nginx_reaches_gunicorn_through_a_socket_volume_it_cannot_write() -> None:
    script = user_data.render(node())
    assert "readonly SOCKET_VOLUME=gunicorn-socket" in script
    app, proxy = docker_run(script, "app"), docker_run(script, "proxy")
    assert '--mount "type=volume,source=$SOCKET_VOLUME,target=/run/gunicorn" ' in app
    assert '--mount "type=volume,source=$SOCKET_VOLUME,target=/run/gunicorn,readonly" ' in proxy
    # The directory of gunicorn's default socket, which is nginx's default upstream.
    socket = runpy.run_path(str(DOCKER / "gunicorn.conf.py"))["SOCKET"]
    assert os.path.dirname(socket) == user_data.SOCKET_DIR


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
    (install,) = [line.split() for line in script.splitlines() if line.startswith("dnf install")]
    assert "iptables-nft" in install  # the guard's /usr/sbin/iptables on AL2023
    unit = f"/etc/systemd/system/{user_data.IMDS_GUARD_UNIT}"
    written = script.index(f"cat > {unit} <<")
    started = script.index(f"systemctl enable --now {user_data.IMDS_GUARD_UNIT}\n")
    assert script.index(" ".join(install)) < written < started
    assert started < script.index("systemctl enable --now docker\n") < script.index("docker run")


def test_values_are_quoted_for_the_shell() -> None:
    script = user_data.render(node(server_name="app.example.com www.example.com"))
    assert "--env SERVER_NAME='app.example.com www.example.com'" in script


@pytest.mark.parametrize(
    "image",
    [
        f"{REGISTRY}/flask-nginx-aws/prod/app:latest",
        f"{REGISTRY}/flask-nginx-aws/prod/app@sha256:abc",
        "app",
    ],
)
def test_images_by_tag_are_refused(image: str) -> None:
    with pytest.raises(ValueError, match="expected a reference by digest"):
        user_data.render(node(app_image=image))


def test_images_from_two_registries_are_refused() -> None:
    other = PROXY.replace("123456789012", "210987654321")
    with pytest.raises(ValueError, match="expected one registry"):
        user_data.render(node(proxy_image=other))
