"""infra/user_data.py's IMDS guard, run for real: the unit file the rendered user data writes, started the way
systemd starts it, inside network namespaces of the test's own, against a stand-in IMDS.

Two namespaces joined by a veth pair: `node` runs the guard and the clients, `imds` serves 169.254.169.254.
As on EC2, IMDS's address is not the client's, so the refusal goes back to the node's own address (were
169.254.169.254 local to the client's namespace, the refusal would be addressed to it and refused in turn:
the client would wait for its timeout). Nothing is sent anywhere else: the namespaces have no other link.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra import user_data
from nodestack.paths import DOCKER
from nodestack.process import Process, wait_until

REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
SETTINGS = user_data.NodeSettings(
    region="us-east-1",
    app_image=f"{REGISTRY}/web/app@sha256:{'a' * 64}",
    proxy_image=f"{REGISTRY}/web/proxy@sha256:{'b' * 64}",
    log_group="/web/node",
    vpc_cidr="10.0.0.0/16",
    server_name="app.example.com",
    https_port=8443,
)
NODE_ADDRESS = "169.254.0.2"
"""The node's end of the link: link-local like IMDS's, so neither side needs a route."""
CREDENTIALS_PATH = "/latest/meta-data/iam/security-credentials/node-role"
CLIENT_TIMEOUT = 5.0
REFUSED_WITHIN = 1.0
"""Seconds: a REJECT answers at once, where a DROP would leave the client to its timeout."""
# Runs as root in the node namespace, imports all it needs, then becomes `uid` (the containers' processes
# have no supplementary groups) and asks IMDS for the role's credentials; prints the outcome as JSON.
CLIENT = """
import encodings.idna, http.client, json, os, sys, time
uid, url_path, timeout = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
if uid:
    os.setgroups([]); os.setgid(uid); os.setuid(uid)
started = time.monotonic()
try:
    connection = http.client.HTTPConnection(sys.argv[4], 80, timeout=timeout)
    connection.request("GET", url_path)
    outcome = {"status": connection.getresponse().status}
except OSError as error:
    outcome = {"error": type(error).__name__}
print(json.dumps({**outcome, "seconds": time.monotonic() - started}))
"""


def container_uids() -> set[int]:
    """The USER of each target of docker/Dockerfile: the uids of the containers' processes on the node."""
    return {int(uid) for uid in re.findall(r"^USER\s+(\d+)\s*$", (DOCKER / "Dockerfile").read_text(), re.M)}


def shipped_unit() -> str:
    """The guard's unit file, as the rendered user data writes it (a quoted here-document)."""
    script = user_data.render(SETTINGS)
    path = re.escape(f"/etc/systemd/system/{user_data.IMDS_GUARD_UNIT}")
    written = re.search(rf"^cat > {path} <<'(?P<end>\w+)'\n(?P<body>.*?)^(?P=end)$", script, re.M | re.S)
    assert written is not None, f"the user data does not write {user_data.IMDS_GUARD_UNIT}"
    return written["body"]


def directives(unit: str) -> dict[str, list[str]]:
    """`Section.Key` to its values in order (systemd takes some keys more than once); comments skipped."""
    found: dict[str, list[str]] = {}
    section = ""
    for raw in unit.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        found.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return found


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


@dataclass(frozen=True)
class Link:
    """Two namespaces: `node`, where the guard and the clients run, and `imds`, which serves IMDS."""

    node: str
    imds: str

    def in_node(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run("ip", "netns", "exec", self.node, *argv, check=check)

    def start_guard(self, unit: str) -> None:
        """ExecStartPre then ExecStart, as systemd runs a oneshot unit: a `-` command may fail."""
        commands = directives(unit)
        for line in commands.get("Service.ExecStartPre", []) + commands["Service.ExecStart"]:
            may_fail = line.startswith("-")
            argv = shlex.split(line.removeprefix("-"))
            assert argv[0].startswith("/"), f"{line!r}: a prefix or a relative path this test does not run"
            result = self.in_node(*argv, check=False)
            assert may_fail or result.returncode == 0, f"{line!r} failed: {result.stderr}"

    def fetch_credentials(self, uid: int) -> dict[str, object]:
        """What a process of `uid` on the node gets when it asks IMDS for the role's credentials."""
        result = self.in_node(
            sys.executable,
            "-c",
            CLIENT,
            str(uid),
            CREDENTIALS_PATH,
            str(CLIENT_TIMEOUT),
            user_data.IMDS_ADDRESS,
        )
        answer: dict[str, object] = json.loads(result.stdout)
        return answer


@pytest.fixture
def link() -> Iterator[Link]:
    assert os.geteuid() == 0, "network namespaces need root (CI runs the tests as root)"
    suffix = uuid.uuid4().hex[:8]
    namespaces = Link(node=f"imds-guard-node-{suffix}", imds=f"imds-guard-imds-{suffix}")
    created: list[str] = []
    try:
        for name in (namespaces.node, namespaces.imds):
            run("ip", "netns", "add", name)
            created.append(name)
            run("ip", "-n", name, "link", "set", "lo", "up")
        node_end, imds_end = f"n{suffix}", f"i{suffix}"
        peer = ("peer", imds_end, "netns", namespaces.imds)
        run("ip", "link", "add", node_end, "netns", namespaces.node, "type", "veth", *peer)
        for name, device, address in (
            (namespaces.node, node_end, f"{NODE_ADDRESS}/16"),
            (namespaces.imds, imds_end, f"{user_data.IMDS_ADDRESS}/16"),
        ):
            run("ip", "-n", name, "address", "add", address, "dev", device)
            run("ip", "-n", name, "link", "set", device, "up")
        yield namespaces
    finally:
        for name in created:
            run("ip", "netns", "delete", name, check=False)


@pytest.fixture
def imds(link: Link, tmp_path: Path) -> Iterator[Process]:
    """A stand-in IMDS: an HTTP server run by root in the `imds` namespace, serving the role's credentials."""
    root = tmp_path / "imds"
    credentials = root / CREDENTIALS_PATH.lstrip("/")
    credentials.parent.mkdir(parents=True)
    credentials.write_text('{"Code": "Success"}\n')
    server_argv = [sys.executable, "-m", "http.server", "80", "--bind", user_data.IMDS_ADDRESS]
    log = tmp_path / "imds.log"
    with log.open("wb") as output:
        popen = subprocess.Popen(
            ["ip", "netns", "exec", link.imds, *server_argv, "--directory", str(root)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Process("imds", popen, log)
    try:

        def listening() -> bool:
            server.check_running()
            ss = run("ip", "netns", "exec", link.imds, "ss", "-Hltn", f"src {user_data.IMDS_ADDRESS}:80")
            return bool(ss.stdout.strip())

        wait_until(listening, "the stand-in IMDS to listen")
        yield server
    finally:
        server.stop(timeout=5)


def test_the_unit_is_a_oneshot_that_docker_requires_and_starts_after() -> None:
    unit = directives(shipped_unit())
    assert "docker.service" in " ".join(unit["Unit.Before"]).split()
    assert "docker.service" in " ".join(unit["Install.RequiredBy"]).split()
    assert unit["Service.Type"] == ["oneshot"]
    # Active after its commands exit, so docker.service's requirement stays met.
    assert unit["Service.RemainAfterExit"] == ["yes"]


@pytest.mark.usefixtures("imds")
def test_the_containers_users_are_refused_at_once_and_root_is_answered(link: Link) -> None:
    uids = container_uids()
    assert uids, "docker/Dockerfile names no USER"
    assert 0 not in uids, "a container running as root would pass the guard"
    # Without the guard the containers' users reach IMDS: a refusal below is the guard's doing.
    for uid in uids:
        assert link.fetch_credentials(uid)["status"] == 200

    link.start_guard(shipped_unit())

    for uid in uids:
        refused = link.fetch_credentials(uid)
        assert refused.get("error") == "ConnectionRefusedError", refused
        assert isinstance(refused["seconds"], float), refused
        assert refused["seconds"] < REFUSED_WITHIN, refused
    assert link.fetch_credentials(0)["status"] == 200


@pytest.mark.usefixtures("imds")
def test_starting_the_guard_again_leaves_one_rule(link: Link) -> None:
    unit = shipped_unit()
    link.start_guard(unit)
    link.start_guard(unit)
    rules = link.in_node("iptables", "--list-rules", "OUTPUT").stdout
    assert len([rule for rule in rules.splitlines() if user_data.IMDS_ADDRESS in rule]) == 1, rules
    for uid in container_uids():
        assert link.fetch_credentials(uid).get("error") == "ConnectionRefusedError"
