"""A booted node stopped and started again, as Auto Scaling stops an instance it keeps in a warm pool and
starts it on a scale-out: cloud-init runs the user data at the first boot only, so what comes back is what
systemd starts at boot (the units the user data enabled) and what docker's restart policy restarts.

The stop: dockerd stops the containers, as at an instance's shutdown, and the node's memory is lost (the
secrets' tmpfs, the guard's iptables rule). The start: the enabled units in systemd's order, through the same
stand-ins as the boot (nodestack/node.py, ``Node.power_off`` and ``Node.power_on``)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bench.node_report import parse_timestamp
from infra import node_secrets, user_data
from nodestack import node as boot
from nodestack.images import Engine

SECRETS_FILE = f"{node_secrets.HOST_DIR}/{node_secrets.FILE_NAME}"


@dataclass(frozen=True)
class Cycle:
    """What the node showed before its stop, while stopped, and after its start."""

    node: boot.Node
    cold_seconds: float
    """From the user data's start to the first 200 the ALB got."""
    warm_seconds: float
    """From the start of the stopped node to the first 200 the ALB got."""
    containers_before: dict[str, str]
    containers_after: dict[str, str]
    started_after: dict[str, float]
    powered_on: float
    stopped_probe: int
    stopped_secrets: bool
    stopped_guard: bool
    ecr_calls_before: int
    secrets_calls_before: int


def containers(node: boot.Node) -> dict[str, str]:
    """Each container's id, by name."""
    lines = node.engine.run("ps", "--all", "--no-trunc", "--format", "{{.Names}} {{.ID}}").split("\n")
    return dict(line.split() for line in lines if line.strip())


def started_at(node: boot.Node) -> dict[str, float]:
    """When each of the node's containers last started (dockerd's clock, the host's)."""
    return {
        name: parse_timestamp(node.engine.run("inspect", "--format", "{{.State.StartedAt}}", name))
        for name in ("app", "proxy")
    }


def guard_present(node: boot.Node) -> bool:
    """Whether the node's network refuses IMDS to non-root users (the guard's rule is in OUTPUT)."""
    rules = node.names.exec(node.names.node, "iptables", "--wait", "--list-rules", "OUTPUT").stdout
    return f"-d {user_data.IMDS_ADDRESS}/32" in rules and "REJECT" in rules


def secrets_present(node: boot.Node) -> bool:
    """Whether the node's secrets file exists, as the node's processes see it (its mount namespace)."""
    holder = (node.scratch / "state" / "mounts.pid").read_text().strip()
    return os.path.exists(f"/proc/{holder}/root{SECRETS_FILE}")


def secret_reads(node: boot.Node) -> int:
    """How many reads the secrets' stand-in answered (one line each in its log)."""
    log = node.scratch / "state" / "secrets-calls"
    return len(log.read_text().splitlines()) if log.exists() else 0


@pytest.fixture(scope="module")
def cycle(engine: Engine, images: dict[str, str], ecr: boot.Registry) -> Iterator[Cycle]:
    assert os.geteuid() == 0, "network namespaces and a dockerd need root (CI runs the tests as root)"
    with boot.booted_node(engine, images, registry=ecr) as node:
        answered, _, _ = node.first_200()
        cold = answered - (node.scratch / "user-data.sh").stat().st_mtime
        before = containers(node)
        ecr_calls, secrets_calls = node.ready.calls("aws"), secret_reads(node)
        node.power_off()
        stopped = (node.probe(), secrets_present(node), guard_present(node))
        powered_on = time.time()
        node.power_on()
        answered, _, _ = node.first_200()
        yield Cycle(
            node=node, cold_seconds=cold, warm_seconds=answered - powered_on, containers_before=before,
            containers_after=containers(node), started_after=started_at(node), powered_on=powered_on,
            stopped_probe=stopped[0], stopped_secrets=stopped[1], stopped_guard=stopped[2],
            ecr_calls_before=ecr_calls, secrets_calls_before=secrets_calls,
        )  # fmt: skip


def test_a_stopped_node_serves_nothing_and_keeps_nothing_in_memory(cycle: Cycle) -> None:
    # What the start below brings back was gone: no answer, no secrets' file, no guard.
    assert cycle.stopped_probe != 200
    assert not cycle.stopped_secrets
    assert not cycle.stopped_guard


def test_the_same_containers_come_back_by_their_restart_policy(cycle: Cycle) -> None:
    assert cycle.containers_after == cycle.containers_before
    assert set(cycle.containers_after) == {"app", "proxy"}
    assert all(started > cycle.powered_on for started in cycle.started_after.values())
    policy = "{{.HostConfig.RestartPolicy.Name}}"
    assert cycle.node.engine.run("inspect", "--format", policy, "app", "proxy").split() == ["always"] * 2


def test_the_start_runs_no_user_data_no_ecr_login_and_no_pull(cycle: Cycle) -> None:
    # The aws stand-in's ECR calls: none since the stop; the images were on the disk.
    assert cycle.node.ready.calls("aws") == cycle.ecr_calls_before
    images = cycle.node.engine.run("image", "ls", "--quiet").split()
    assert len(images) == 2


def test_the_guard_and_the_secrets_come_back_before_the_app(cycle: Cycle) -> None:
    assert guard_present(cycle.node)
    assert secrets_present(cycle.node)
    # Fetched again at this boot, by app-secrets.service, which runs before docker.service.
    assert secret_reads(cycle.node) > cycle.secrets_calls_before
    environ = cycle.node.engine.run("exec", "app", "cat", "/proc/1/environ").split("\0")
    assert f"SECRET_KEY={boot.SECRET_KEY}" in environ


def test_a_warm_start_serves_sooner_than_a_cold_boot(cycle: Cycle) -> None:
    print(f"cold boot to first 200: {cycle.cold_seconds:.2f} s; warm start: {cycle.warm_seconds:.2f} s")
    assert 0 < cycle.warm_seconds < cycle.cold_seconds
