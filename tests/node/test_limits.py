"""Request size and rate limits are enforced by nginx before the app is involved."""

from __future__ import annotations

import math
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from infra.user_data import SOMAXCONN
from nodestack.gunicorn import Gunicorn
from nodestack.nginx import Nginx, render_env, start_nginx
from tests.node.support import AppLog

MB = 1024 * 1024


def listen_backlog(*selection: str) -> int:
    """The accept queue the kernel gave the one listening socket ``ss -lH <selection>`` lists (Send-Q)."""
    listing = subprocess.run(["ss", "-lH", *selection], capture_output=True, text=True, check=True)
    (line,) = listing.stdout.splitlines()
    fields = line.split()
    return int(fields[fields.index("LISTEN") + 2])


def test_every_listener_gets_the_accept_queue_the_nodes_kernel_cap_allows(
    edge: Nginx, alb: Nginx, gunicorn: Gunicorn
) -> None:
    # Both servers ask for the node's net.core.somaxconn; the kernel grants at most this machine's.
    granted = min(SOMAXCONN, int(Path("/proc/sys/net/core/somaxconn").read_text()))
    assert listen_backlog("-tn", f"sport = :{edge.https_port}") == granted
    assert listen_backlog("-tn", f"sport = :{alb.https_port}") == granted
    # nginx's way to gunicorn, and the TCP port the tests use to bypass nginx.
    assert listen_backlog("-x", "src", str(gunicorn.socket)) == granted
    assert listen_backlog("-tn", f"sport = :{gunicorn.port}") == granted


def upload(nginx: Nginx, size: int, marker: str) -> requests.Response:
    return requests.post(
        f"{nginx.https_url}/api/upload?{marker}",
        headers={"Host": "localhost"},
        data=b"\0" * size,
        verify=nginx.cafile,
        timeout=30,
    )


def test_11_mb_body_is_413_and_never_reaches_the_app(edge: Nginx, app_log: AppLog) -> None:
    marker = f"big-{uuid.uuid4().hex}"
    assert upload(edge, 11 * MB, marker).status_code == 413
    assert not app_log.reached_app(marker)


def test_9_mb_body_is_accepted_and_reaches_the_app(edge: Nginx, app_log: AppLog) -> None:
    marker = f"ok-{uuid.uuid4().hex}"
    response = upload(edge, 9 * MB, marker)
    assert response.status_code == 200
    assert response.json() == {"received_bytes": 9 * MB}
    assert app_log.reached_app(marker)


@pytest.fixture
def strict_alb(workdir: Path, gunicorn: Gunicorn) -> Iterator[Nginx]:
    """behind-alb nginx with a tight limit: 1 request/s per client, bursts of 5."""
    env = render_env(
        workdir,
        "behind-alb",
        gunicorn.upstream,
        TRUSTED_PROXY_CIDRS="127.0.0.0/8",
        RATE_LIMIT="1",
        RATE_LIMIT_BURST="5",
    )
    server = start_nginx(env, workdir)
    yield server
    server.process.stop()


def burst(nginx: Nginx, client_ip: str, count: int, path: str = "/api/status") -> Counter[int]:
    with requests.Session() as session:
        return Counter(
            session.get(
                f"{nginx.https_url}{path}",
                headers={"Host": "localhost", "X-Forwarded-For": client_ip},
                verify=nginx.cafile,
                timeout=5,
            ).status_code
            for _ in range(count)
        )


def test_burst_over_the_rate_limit_gets_429(strict_alb: Nginx) -> None:
    started = time.monotonic()
    statuses = burst(strict_alb, "203.0.113.10", 20)
    seconds = time.monotonic() - started
    # 1 request plus a burst of 5 pass at once, then 1 more for each second the burst lasted (the rate,
    # whatever this machine's speed); the rest are refused.
    assert 6 <= statuses[200] <= 6 + math.ceil(seconds), (statuses, seconds)
    assert statuses[429] == 20 - statuses[200]


def test_rate_limit_is_per_real_client_not_per_alb(strict_alb: Nginx) -> None:
    assert burst(strict_alb, "203.0.113.20", 20)[429] > 0
    # Same peer (the "ALB"), another client behind it: a bucket of its own.
    assert burst(strict_alb, "203.0.113.21", 3) == Counter({200: 3})


def test_health_checks_are_not_rate_limited(strict_alb: Nginx) -> None:
    assert burst(strict_alb, "10.0.1.5", 30, path="/healthz") == Counter({200: 30})
