"""infra/node_secrets.py and the app's side of infra/user_data.py: settings as the app container's `--env`,
the secrets step and its unit, the 16 KB EC2 allows. tests/node/test_app_secrets.py runs the step."""

from __future__ import annotations

import ast
import base64
import gzip
import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from infra import app_environment, node_secrets, user_data
from infra.app_environment import Fetch
from infra.config import SPOT_MAX_APP_SECRETS
from infra.spot_drain import SpotDrain, longest_deregistration_delay
from tests.infra.support import node
from tests.infra.test_user_data import docker_run

PARAMETER = "arn:aws:ssm:us-east-1:123456789012:parameter/app/prod/secret-key"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-0a1b2c3d-AbC123"  # noqa: S105 - an ARN
FETCHES = (
    Fetch(name="SECRET_KEY", service="ssm", arn=PARAMETER),
    Fetch(name="DATABASE_PASSWORD", service="secretsmanager", arn=SECRET, json_key="password"),
)


def heredoc(script: str, delimiter: str) -> str:
    """The text of the script's here-document ending at `delimiter`."""
    return script.split(f"<<'{delimiter}'", 1)[1].split("\n", 1)[1].split(f"\n{delimiter}\n", 1)[0]


def unit_lines() -> list[str]:
    return [line for line in node_secrets.unit().splitlines() if line and not line.startswith("#")]


def test_settings_reach_the_app_container_only_quoted_for_the_shell() -> None:
    script = user_data.render(node(app_settings={"LOG_FORMAT": "json", "GREETING": "hello 'world' $HOME"}))
    app, proxy = docker_run(script, "app"), docker_run(script, "proxy")
    options = shlex.split(app)
    assert options[options.index("LOG_FORMAT=json") - 1] == "--env"
    assert options[options.index("GREETING=hello 'world' $HOME") - 1] == "--env"
    assert "LOG_FORMAT" not in proxy
    assert "GREETING" not in proxy
    assert app.endswith('"$APP_IMAGE"')


def test_without_secrets_the_user_data_has_no_secrets_step() -> None:
    script = user_data.render(node(app_settings={"LOG_FORMAT": "json"}))
    assert node_secrets.UNIT not in script
    assert app_environment.SECRETS_FILE_VARIABLE not in script


def test_the_app_gets_the_directory_read_only_and_the_files_path_never_a_value() -> None:
    script = user_data.render(node(app_secrets=FETCHES))
    app, proxy = docker_run(script, "app"), docker_run(script, "proxy")
    mount = f"type=bind,source={node_secrets.HOST_DIR},target={node_secrets.CONTAINER_DIR},readonly"
    assert f'--mount "{mount}"' in app
    assert f"--env APP_SECRETS_FILE={node_secrets.CONTAINER_DIR}/env.json" in app
    assert node_secrets.HOST_DIR not in proxy
    # The directory, not the file: a fetch replaces the file (rename), which a file's bind mount would miss.
    assert not mount.startswith(f"type=bind,source={node_secrets.HOST_DIR}/")


def test_the_secrets_are_fetched_after_docker_starts_and_before_the_app_runs() -> None:
    script = user_data.render(node(app_secrets=FETCHES))
    started = script.index(f"systemctl enable --now {node_secrets.UNIT}\n")
    assert script.index("systemctl enable --now docker\n") < started < script.index("docker run")
    references = json.loads(heredoc(script, "REFERENCES"))
    assert references == {
        "file": "/run/app-secrets/env.json",
        "uid": 1001,
        "secrets": [
            {"name": "SECRET_KEY", "service": "ssm", "arn": PARAMETER},
            {"name": "DATABASE_PASSWORD", "service": "secretsmanager", "arn": SECRET, "jsonKey": "password"},
        ],
    }


def test_the_unit_runs_at_every_boot_before_docker_without_binding_docker_to_it() -> None:
    lines = unit_lines()
    assert "Type=oneshot" in lines
    # A unit that stays active would ignore its timer.
    assert not any(line.startswith("RemainAfterExit") for line in lines)
    assert "Before=docker.service" in lines
    assert "After=network-online.target" in lines
    assert "WantedBy=docker.service" in lines
    # Requires/RequiredBy would restart docker, and every container, with each rotation's restart.
    assert not any(line.startswith(("Requires", "RequiredBy", "BindsTo", "PartOf")) for line in lines)
    assert f"ExecStart=/usr/bin/python3 {node_secrets.PROGRAM} {node_secrets.REFERENCES}" in lines
    assert "StandardOutput=journal+console" in lines


def test_the_timer_fetches_again_every_few_minutes_after_boot_and_each_run() -> None:
    lines = [line for line in node_secrets.timer().splitlines() if line and not line.startswith("#")]
    assert "OnBootSec=5min" in lines
    assert "OnUnitActiveSec=5min" in lines
    assert "WantedBy=timers.target" in lines
    script = user_data.render(node(app_secrets=FETCHES))
    unit_started = script.index(f"systemctl enable --now {node_secrets.UNIT}\n")
    assert (
        unit_started
        < script.index(f"systemctl enable --now {node_secrets.TIMER}\n")
        < script.index("docker run")
    )


def test_the_program_the_node_runs_is_the_source_without_its_docstrings() -> None:
    shipped = node_secrets.program()
    source = node_secrets.SOURCE.read_text()
    assert ast.dump(ast.parse(shipped)) != ast.dump(ast.parse(source))
    assert "Refused" in shipped
    assert '"""' not in shipped
    assert len(shipped) < len(source) * 3 // 4
    # Amazon Linux 2023's python3 is 3.9: the program must parse there.
    ast.parse(shipped, feature_version=(3, 9))
    packed = heredoc(user_data.render(node(app_secrets=FETCHES)), "PROGRAM")
    assert gzip.decompress(base64.b64decode(packed)).decode() == shipped


def test_the_script_with_settings_and_secrets_passes_shellcheck(tmp_path: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck is not None, "shellcheck is required (apt-get install shellcheck)"
    script = tmp_path / "user-data.sh"
    script.write_text(user_data.render(node(app_settings={"LOG_FORMAT": "json"}, app_secrets=FETCHES)))
    result = subprocess.run(
        [shellcheck, "--shell=bash", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


TARGET_GROUPS = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup"


def test_the_most_secrets_and_settings_config_allows_fit_ec2s_16_kb() -> None:
    long_arn = (
        f"arn:aws:ssm:us-east-1:123456789012:parameter/{'organisation/application/environment/' * 2}key"
    )
    fetches = tuple(
        Fetch(name=f"SECRET_NUMBER_{i:02d}", service="ssm", arn=f"{long_arn}-{i}")
        for i in range(app_environment.MAX_SECRETS)
    )
    per_setting = app_environment.SETTINGS_MAX_BYTES // 8
    settings = {f"SETTING_{i}": "v" * (per_setting - len(f"SETTING_{i}=")) for i in range(8)}
    script = user_data.render(node(app_settings=settings, app_secrets=fetches))
    assert len(script.encode()) <= user_data.USER_DATA_LIMIT
    # A Spot node also carries its drain, naming a target group of the longest name (32 characters), with
    # the secrets config allows with spot and the database's two.
    drain = SpotDrain(
        target_group_arn=f"{TARGET_GROUPS}/{'t' * 32}/{'0' * 16}",
        port=8443,
        deregistration_delay_seconds=longest_deregistration_delay(),
    )
    spot = node(app_settings=settings, app_secrets=fetches[: SPOT_MAX_APP_SECRETS + 2], spot_drain=drain)
    assert len(user_data.render(spot).encode()) <= user_data.USER_DATA_LIMIT


def test_user_data_over_16_kb_is_refused_before_ec2_refuses_it() -> None:
    fetches = tuple(
        Fetch(name=f"S{i}", service="ssm", arn=f"arn:aws:ssm:us-east-1:123456789012:parameter/{'x' * 900}{i}")
        for i in range(12)
    )
    with pytest.raises(ValueError, match="over EC2's 16384"):
        user_data.render(node(app_secrets=fetches))
