"""A Spot node's drain, on a node booted from the user data rendered with it (infra/spot_drain.py): IMDS
announces an interruption, the node leaves its target group (the ELB stand-in, nodestack/aws_elb.py, records
the call), waits while the load balancer drains it, and stops both containers; a request in flight through
nginx completes, and all of it ends well within EC2's two-minute notice."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator

import pytest

from infra import spot_drain
from nodestack import aws_elb
from nodestack import node as boot
from nodestack.images import Engine
from nodestack.paths import REPO
from nodestack.process import wait_until
from tests.node.test_boot import answers_health_check, slow_client

NOTICE = {"action": "terminate", "time": "2026-12-06T10:02:00Z"}


@pytest.fixture(scope="module")
def node(engine: Engine, images: dict[str, str], ecr: boot.Registry) -> Iterator[boot.Node]:
    assert os.geteuid() == 0, "network namespaces and a dockerd need root (CI runs the tests as root)"
    with boot.booted_node(engine, images, registry=ecr, spot=True) as booted:
        wait_until(lambda: answers_health_check(booted), "the Spot node to answer the health check",
                   boot.SERVICE_TIMEOUT)  # fmt: skip
        yield booted


def running(node: boot.Node, name: str) -> bool:
    return bool(json.loads(node.engine.run("inspect", "--format", "{{json .State.Running}}", name)))


def elb_calls(node: boot.Node, action: str) -> list[tuple[float, list[str]]]:
    return [(at, argv) for at, argv in aws_elb.calls(node.ready.target_group) if argv[1] == action]


def test_the_boot_starts_the_drain_last_and_it_waits_for_a_notice(node: boot.Node) -> None:
    steps = [name for name, _ in boot.step_durations(node.boot_output)]
    assert steps[-2:] == ["run-proxy", "spot-drain"]
    # No notice yet: IMDS answers 404, and the node stays in its target group, serving.
    assert not elb_calls(node, "deregister-targets")
    polled = '"GET /latest/meta-data/spot/instance-action HTTP/1.1" 404'
    wait_until(lambda: polled in node.ready.log("imds"), "the drain's first poll", boot.SERVICE_TIMEOUT)


def test_an_interruption_notice_drains_the_node_and_stops_it_within_the_notice(node: boot.Node) -> None:
    # A request in flight through nginx, from the ALB, when the notice comes.
    client = subprocess.Popen(slow_client(node, "proxy"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=REPO)  # fmt: skip
    assert client.stdin is not None
    assert client.stdout is not None
    try:
        assert client.stdout.readline().strip() == "in flight"
        node.ready.announce_interruption(NOTICE)
        announced = time.monotonic()

        # The node leaves its target group, by its instance id and nginx's port.
        wait_until(lambda: bool(elb_calls(node, "deregister-targets")), "the node to deregister", 30)
        ((deregistered, argv),) = elb_calls(node, "deregister-targets")
        assert argv[argv.index("--target-group-arn") + 1] == boot.TARGET_GROUP_ARN
        assert argv[argv.index("--targets") + 1] == f"Id={boot.INSTANCE_ID},Port={boot.HTTPS_PORT}"
        assert argv[argv.index("--region") + 1] == boot.REGION

        # While the ALB drains the target, the node asks how the drain goes and keeps both containers up.
        wait_until(lambda: bool(elb_calls(node, "describe-target-health")), "the node to watch its drain", 30)
        assert running(node, "proxy")
        assert running(node, "app")

        # The request in flight completes; with it done, the ALB's drain ends.
        client.stdin.write("finish\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == "200"
        (node.ready.target_group / "drained").touch()
        drained = time.monotonic()

        def stopped() -> bool:
            return not running(node, "proxy") and not running(node, "app")

        wait_until(stopped, "both containers to stop", spot_drain.NOTICE_SECONDS)
        ended = time.monotonic()
    finally:
        client.kill()
    # Stopped cleanly (nginx and gunicorn ended by themselves, not by docker's SIGKILL, exit 137) ...
    for name in ("proxy", "app"):
        assert node.engine.run("inspect", "--format", "{{.State.ExitCode}}", name).strip() == "0"
    # ... after the drain had ended, in order, and well within the notice.
    log = (node.scratch / "state" / "spot-drain.log").read_text()
    assert f"{spot_drain.NOTICE_LINE}: {json.dumps(NOTICE)}" in log
    assert "spot drain: target unused, stopping proxy and app" in log
    assert announced < deregistered < drained < ended
    assert ended - announced < spot_drain.NOTICE_SECONDS / 2
    # The drain read the notice as root through the IMDS guard, which refuses every other user.
    assert '"GET /latest/meta-data/spot/instance-action HTTP/1.1" 200' in node.ready.log("imds")
