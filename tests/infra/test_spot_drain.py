"""infra/spot_drain.py: the drain fits EC2's two-minute notice, and the user data installs it on Spot nodes
only, last, once both containers run. tests/node/test_spot_drain.py runs it on a booted node."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra import spot_drain, user_data
from infra.spot_drain import SpotDrain
from tests.infra.support import node

TARGET_GROUP = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-nginx-1a2b3c4/0123456789abcdef"
)
DRAIN = SpotDrain(target_group_arn=TARGET_GROUP, port=8443, deregistration_delay_seconds=60)


def test_detection_calls_drain_and_stop_fit_the_notice_at_the_longest_delay() -> None:
    longest = spot_drain.longest_deregistration_delay()
    worst = (
        spot_drain.POLL_SECONDS
        + spot_drain.CALLS_SECONDS
        + longest
        + spot_drain.POLL_SECONDS
        + spot_drain.STOP_SECONDS
    )
    assert worst <= spot_drain.NOTICE_SECONDS
    # gunicorn finishes its requests within its graceful_timeout (30 s) before docker's stop runs out.
    assert spot_drain.STOP_SECONDS > 30


def test_a_delay_the_notice_leaves_no_room_for_is_refused() -> None:
    longest = spot_drain.longest_deregistration_delay()
    with pytest.raises(ValueError, match=f"at most {longest} s"):
        SpotDrain(target_group_arn=TARGET_GROUP, port=8443, deregistration_delay_seconds=longest + 1)


def test_the_drain_and_the_user_data_with_it_pass_shellcheck(tmp_path: Path) -> None:
    program = tmp_path / "spot-drain"
    program.write_text(spot_drain.program(DRAIN, region="us-east-1", imds_timeout_seconds=2))
    script = tmp_path / "user-data.sh"
    script.write_text(user_data.render(node(spot_drain=DRAIN)))
    result = subprocess.run(
        ["shellcheck", str(program), str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_only_a_spot_node_installs_the_drain_last_after_both_containers() -> None:
    assert spot_drain.PROGRAM not in user_data.render(node())
    assert "spot-drain" not in user_data.boot_steps(node())
    spot = node(spot_drain=DRAIN)
    assert user_data.boot_steps(spot)[-2:] == ("run-proxy", "spot-drain")
    script = user_data.render(spot)
    assert script.index("--name proxy") < script.index(f"systemctl enable --now {spot_drain.UNIT}")
    # The unit starts with docker at a later boot, as root (no User=): only root may reach IMDS.
    unit = spot_drain.unit()
    assert "After=docker.service" in unit
    assert "User=" not in unit
