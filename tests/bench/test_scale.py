"""Section 4's timeouts: the requests wrk never saw answered, counted from nginx's access log."""

from __future__ import annotations

import socket
import ssl
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest

from bench.report import interpretation, targets
from bench.scenarios import (
    DYNAMIC,
    FEWER_WORKERS_CONFIG,
    LATE,
    QUEUE_OFF_CONFIG,
    QUICK,
    SCALE_ROUTES,
    SHIPPED,
    Section,
    scale_label,
    unanswered_late,
)
from nodestack.nginx import Nginx, render_env, start_nginx
from nodestack.process import running
from nodestack.standins import QuietHandler, UnixUpstream, serving
from tests.bench.results import run

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


def scale_section(late: dict[str, int]) -> Section:
    """Section 4 with made-up runs: no errors and no late answers anywhere, ``late`` unanswered ones
    (``{config}:{route}`` to count)."""
    section = Section("scale", "4.")
    runs = [(config, route) for config in (SHIPPED, FEWER_WORKERS_CONFIG) for route, _ in SCALE_ROUTES]
    for config, route in [*runs, (QUEUE_OFF_CONFIG, "dynamic")]:
        section.results.append(replace(run(50_000), label=scale_label(config, route)))
        section.figures |= {
            f"{config}:{route}_errors": 0,
            f"{config}:{route}_timeouts": 0,
            f"{config}:{route}{LATE}": late.get(f"{config}:{route}", 0),
        }
    return section


def test_requests_never_answered_fail_the_target_though_wrk_counted_no_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("server_cpu_ratio", "spread", "p99_lower"):
        monkeypatch.setattr(f"bench.report.{name}", lambda *_: 1)
    monkeypatch.setattr("bench.report.plain_http", lambda *_: "")
    passing = {
        "static_ratio": 30.0,
        "dynamic_ratio": 0.9,
        "dynamic_p99_nginx": 1.0,
        "dynamic_p99_direct": 2.0,
        **{f"slow_{wc}_nginx_{kind}": 0.0 for wc in ("gevent", "sync") for kind in ("p99", "errors")},
        **{f"{SHIPPED}:{route}_end:pss": 300 * 1024 for route, _ in SCALE_ROUTES},
    }
    by_key = {key: Section(key, key, figures=passing) for key in ("static", "dynamic", "slow", "memory")}
    by_key["scale"] = scale_section({f"{SHIPPED}:dynamic": 8993})

    verdicts = {target.what: target for target in targets(by_key, QUICK)}

    n = f"{QUICK.scale_connections:,} connections"
    assert verdicts[f"{n}, static route: no errors, no timeouts"].met
    dynamic = verdicts[f"{n}, dynamic route: no errors, no timeouts"]
    assert not dynamic.met
    late = QUICK.scale_timeout
    assert f"0 answered after {late} s, 8993 never answered after {late} s" in dynamic.measured
    assert [target.what for target in verdicts.values() if not target.met] == [dynamic.what]


def test_section_4_names_each_runs_unanswered_requests_and_the_keep_alive_comparison() -> None:
    scale = scale_section({f"{SHIPPED}:dynamic": 3, f"{QUEUE_OFF_CONFIG}:dynamic": 8993})

    text = "\n".join(interpretation(scale, {"scale": scale}, QUICK))

    assert f"{scale_label(SHIPPED, 'dynamic')} 3," in text
    assert f"{scale_label(QUEUE_OFF_CONFIG, 'dynamic')} 8,993." in text
    assert f"{scale_label(SHIPPED, 'static')} 0," in text
    for config, timeouts in ((SHIPPED, 3), (QUEUE_OFF_CONFIG, 8993)):
        assert f"{config}: {run(50_000).rps:,.0f} requests/s, p50 " in text
        assert f"ms, {timeouts:,} timeouts (answered late or never)" in text
