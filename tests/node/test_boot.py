"""A node booted from the rendered user data (infra/user_data.py), probed from the load balancer's namespace.

The stand-ins, only where AWS is (nodestack/node.py tells how each behaves): IMDSv2 (nodestack/imds.py),
ECR (Debian's docker-registry), `aws ecr get-login-password`, CloudWatch Logs (moto in server mode), `dnf`
and `systemctl` (Docker is installed already). The images are the session's, built from docker/."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra import user_data
from nodestack import node as boot
from nodestack.images import Engine
from nodestack.process import wait_until

#: The containers' user (docker/Dockerfile's USER).
UNPRIVILEGED = 1001
#: nginx's client_max_body_size (docker/nginx/nginx.conf.template) is 10 MiB.
TOO_BIG = 10 * 1024 * 1024 + 1
#: The client address the ALB appends to X-Forwarded-For (TEST-NET-2, RFC 5737).
CLIENT = "198.51.100.7"
SECURITY_HEADERS = ("strict-transport-security", "x-content-type-options", "x-frame-options",
                    "content-security-policy", "referrer-policy")  # fmt: skip
#: awslogs sends a batch every 5 s (Docker docs, "Amazon CloudWatch Logs logging driver").
LOGS_WITHIN = 30.0


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def alb_request(node: boot.Node, path: str, *args: str, source: str = boot.ALB_ADDRESS) -> Answer:
    """``path`` asked over HTTPS of the node's target port, from the ALB's namespace, from ``source``.

    Unverified TLS, as the ALB's: it does not check its targets' certificates (ELB guide, "Target groups
    for your Application Load Balancers", routing configuration)."""
    scratch = node.scratch
    url = f"https://{boot.NODE_ADDRESS}:{boot.HTTPS_PORT}{path}"
    result = node.names.exec(
        node.names.alb, "curl", "--silent", "--show-error", "--insecure", "--max-time", "10",
        "--interface", source, "--dump-header", str(scratch / "headers"), "--output", str(scratch / "body"),
        "--write-out", "%{http_code}", *args, url,
    )  # fmt: skip
    lines = (scratch / "headers").read_text().splitlines()[1:]
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines) if v}
    return Answer(int(result.stdout), headers, (scratch / "body").read_bytes())


@pytest.fixture(scope="module")
def node(engine: Engine, images: dict[str, str]) -> Iterator[boot.Node]:
    assert os.geteuid() == 0, "network namespaces and a dockerd need root (CI runs the tests as root)"
    with boot.booted_node(engine, images) as booted:

        def healthy() -> bool:
            for name in ("app", "proxy"):
                running = json.loads(
                    booted.engine.run("inspect", "--format", "{{json .State.Running}}", name)
                )
                assert running, booted.engine.run("logs", name)
            try:
                return alb_request(booted, "/healthz").status == 200
            except (subprocess.CalledProcessError, RuntimeError):
                return False

        wait_until(healthy, "the booted node to answer the health check", boot.SERVICE_TIMEOUT)
        yield booted


def test_the_user_data_pulls_by_digest_from_the_registry(node: boot.Node) -> None:
    for name, image in (("app", node.settings.app_image), ("proxy", node.settings.proxy_image)):
        assert node.engine.run("inspect", "--format", "{{.Config.Image}}", name).strip() == image
    assert "Login Succeeded" in node.boot_output


def test_the_health_check_answers_over_https_by_address(node: boot.Node) -> None:
    # The ALB's health check sends the target's address as Host.
    answer = alb_request(node, "/healthz", "--header", f"Host: {boot.NODE_ADDRESS}:{boot.HTTPS_PORT}")
    assert answer.status == 200


def test_a_page_carries_the_security_headers(node: boot.Node) -> None:
    answer = alb_request(node, "/", "--header", f"Host: {boot.SERVER_NAME}")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert set(SECURITY_HEADERS) <= answer.headers.keys()


def test_a_static_file_comes_from_its_gz_twin_with_the_security_headers(node: boot.Node) -> None:
    host = ("--header", f"Host: {boot.SERVER_NAME}")
    plain = alb_request(node, "/static/css/site.css", *host)
    gzipped = alb_request(node, "/static/css/site.css", *host, "--header", "Accept-Encoding: gzip")
    assert (plain.status, gzipped.status) == (200, 200)
    assert "content-encoding" not in plain.headers
    assert gzipped.headers["content-encoding"] == "gzip"
    assert set(SECURITY_HEADERS) <= plain.headers.keys()
    assert set(SECURITY_HEADERS) <= gzipped.headers.keys()


@pytest.mark.parametrize(
    ("source", "believed"), [(boot.ALB_ADDRESS, CLIENT), (boot.OUTSIDE_ADDRESS, boot.OUTSIDE_ADDRESS)],
    ids=["from-the-alb", "from-outside-the-vpc"],
)  # fmt: skip
def test_x_forwarded_for_is_believed_only_from_the_vpc(node: boot.Node, source: str, believed: str) -> None:
    answer = alb_request(
        node, "/api/request-info", "--header", f"Host: {boot.SERVER_NAME}",
        "--header", f"X-Forwarded-For: {CLIENT}", source=source,
    )  # fmt: skip
    assert answer.status == 200
    assert json.loads(answer.body)["remote_addr"] == believed


def test_a_body_over_10_mib_is_refused_with_413(node: boot.Node, tmp_path: Path) -> None:
    body = tmp_path / "body"
    body.write_bytes(b"x" * TOO_BIG)
    answer = alb_request(
        node, "/api/upload", "--header", f"Host: {boot.SERVER_NAME}", "--data-binary", f"@{body}",
        "--header", "Content-Type: application/octet-stream",
    )  # fmt: skip
    assert answer.status == 413


def test_both_containers_log_to_the_log_group(node: boot.Node) -> None:
    streams = {name: f"{boot.INSTANCE_ID}/{name}" for name in ("app", "proxy")}

    # One request through the proxy, so that its log has a line of ours too.
    alb_request(node, "/healthz")

    def arrived() -> bool:
        try:
            return all(node.log_events(stream) for stream in streams.values())
        except (subprocess.CalledProcessError, RuntimeError):
            return False

    wait_until(arrived, "both containers' logs in moto", LOGS_WITHIN)
    assert any("Using worker: gevent" in message for message in node.log_events(streams["app"]))


def test_the_containers_user_is_refused_imds_and_root_is_answered(node: boot.Node) -> None:
    url = f"http://{user_data.IMDS_ADDRESS}/latest/api/token"
    token = ("--request", "PUT", "--header", "X-aws-ec2-metadata-token-ttl-seconds: 60", url)
    # Inside the app container, as its image's user, on the node's network.
    refused = subprocess.run(
        [node.engine.client, "exec", "app", "python3", "-c",
         f"import os, urllib.request as u; print(os.getuid());"
         f"u.urlopen(u.Request({url!r}, method='PUT', "
         f"headers={{'X-aws-ec2-metadata-token-ttl-seconds': '60'}}), timeout=5)"],
        capture_output=True, text=True, env=node.engine.env(), check=False,
    )  # fmt: skip
    assert refused.stdout.strip() == str(UNPRIVILEGED)
    assert "Connection refused" in refused.stderr, refused.stderr
    answered = node.names.exec(node.names.node, "curl", "--silent", "--fail", "--max-time", "5", *token)
    assert answered.stdout


def test_an_app_killed_with_sigkill_is_restarted_by_its_restart_policy(node: boot.Node) -> None:
    # Last in this module: the node answers 502 until docker has restarted the app. The main process is
    # killed by its pid, from outside docker, as the kernel's OOM killer kills it.
    count, pid = node.engine.run("inspect", "--format", "{{.RestartCount}} {{.State.Pid}}", "app").split()
    os.kill(int(pid), signal.SIGKILL)

    def restarted_and_healthy() -> bool:
        if int(node.engine.run("inspect", "--format", "{{.RestartCount}}", "app")) <= int(count):
            return False
        try:
            return alb_request(node, "/healthz").status == 200
        except RuntimeError:
            return False

    wait_until(restarted_and_healthy, "docker to restart the killed app", boot.SERVICE_TIMEOUT)
