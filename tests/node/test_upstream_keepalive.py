"""NGINX_UPSTREAM_KEEPALIVE: nginx reuses its connections to the upstream, or opens one per request."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from nodestack.nginx import render_env, start_nginx
from nodestack.standins import QuietHandler, UnixUpstream, serving

REQUESTS = 5


class CountingUpstream(UnixUpstream):
    """An HTTP/1.1 upstream on a unix socket that counts the connections it accepts."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, _Handler)
        self.accepted = 0

    def get_request(self) -> tuple[socket.socket, Any]:
        request = super().get_request()
        self.accepted += 1
        return request


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


@pytest.fixture
def upstream(workdir: Path) -> Iterator[CountingUpstream]:
    path = workdir / f"upstream-{uuid.uuid4().hex[:8]}.sock"
    server = CountingUpstream(path)
    with serving(server):
        yield server
    path.unlink()


@pytest.mark.parametrize(("setting", "connections"), [(None, 1), ("0", REQUESTS)])
def test_nginx_keeps_its_upstream_connection_unless_told_not_to(
    workdir: Path, upstream: CountingUpstream, setting: str | None, connections: int
) -> None:
    overrides = {} if setting is None else {"NGINX_UPSTREAM_KEEPALIVE": setting}
    nginx = start_nginx(render_env(workdir, "edge", f"unix:{upstream.server_address}", **overrides), workdir)
    try:
        with requests.Session() as session:
            for _ in range(REQUESTS):
                response = session.get(
                    f"{nginx.https_url}/api/status",
                    headers={"Host": "localhost"},
                    verify=nginx.cafile,
                    timeout=5,
                )
                assert response.status_code == 200
    finally:
        nginx.process.stop()
    assert upstream.accepted == connections
