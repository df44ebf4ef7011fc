"""Section 4's timeouts: the requests wrk never saw answered, counted from nginx's access log."""

from __future__ import annotations

import socket
import ssl
import threading
import time
import uuid
from pathlib import Path
from typing import cast

from bench.profiles import QUICK
from bench.sections import scale
from bench.sections.scale import (
    QUEUE_OFF_CONFIG,
    SHIPPED,
    unanswered_late,
)
from bench.stacks import DYNAMIC
from nodestack.nginx import Nginx, render_env, start_nginx
from nodestack.process import running
from nodestack.standins import QuietHandler, UnixUpstream, serving
from tests.bench.results import run, scale_result

#: How long the client waits for an answer that never comes before it closes its connection.
HELD = 1.5


class SilentUpstream(UnixUpstream):
    """An upstream on a unix socket that reads each request and never answers it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _Handler)
        self.received = threading.Event()
        self.released = threading.Event()


class _Handler(QuietHandler):
    server: SilentUpstream

    def do_GET(self) -> None:
        self.server.received.set()
        self.server.released.wait(timeout=30)


def held_and_dropped(nginx: Nginx, upstream: SilentUpstream) -> None:
    """One request that nginx passes on and never answers, its connection closed by the client after
    ``HELD`` seconds, as wrk closes its connections when its run ends."""
    context = ssl.create_default_context(cafile=nginx.cafile)
    with (
        socket.create_connection(("127.0.0.1", nginx.https_port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        tls.sendall(f"GET {DYNAMIC} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        assert upstream.received.wait(timeout=10)
        time.sleep(HELD)  # the wait being measured, not a synchronisation


def test_a_request_held_past_the_timeout_and_never_answered_is_counted(workdir: Path) -> None:
    upstream = SilentUpstream(workdir / f"upstream-{uuid.uuid4().hex[:8]}.sock")
    with serving(upstream):
        nginx = start_nginx(render_env(workdir, "edge", f"unix:{upstream.server_address}"), workdir)
        with running(nginx.process):
            held_and_dropped(nginx, upstream)
        upstream.released.set()

    assert unanswered_late(nginx, DYNAMIC, HELD - 0.5) == 1
    assert unanswered_late(nginx, DYNAMIC, HELD + 1.5) == 0
    assert unanswered_late(nginx, "/api", HELD - 0.5) == 0


def test_answered_requests_and_other_paths_are_not_counted(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    line = '127.0.0.1 "-" [25/Nov/2026:06:00:00 +0000] "localhost" "GET {} HTTP/1.1" {} 0 rt={} urt=- "-"\n'
    log.write_text(
        line.format(DYNAMIC, 499, "24.050")
        + line.format(DYNAMIC, 200, "25.000")
        + line.format(DYNAMIC, 499, "3.900")
        + line.format(DYNAMIC + "/x", 499, "24.000")
        + line.format("/static/css/site.css", 499, "24.000")
    )
    nginx = cast(Nginx, type("FakeNginx", (), {"env": {"NGINX_ACCESS_LOG": str(log)}})())

    assert unanswered_late(nginx, DYNAMIC, 20) == 1


def test_section_4_names_each_runs_unanswered_requests_and_the_keep_alive_comparison() -> None:
    result = scale_result({(SHIPPED, "dynamic"): 3, (QUEUE_OFF_CONFIG, "dynamic"): 8993})

    text = "\n".join(scale.section(result, QUICK).body)

    assert f"{SHIPPED}: dynamic 3," in text
    assert f"{QUEUE_OFF_CONFIG}: dynamic 8,993." in text
    assert f"{SHIPPED}: static 0," in text
    for config, timeouts in ((SHIPPED, 3), (QUEUE_OFF_CONFIG, 8993)):
        assert f"{config}: {run(50_000).rps:,.0f} requests/s, p50 " in text
        assert f"ms, {timeouts:,} timeouts (answered late or never)" in text
