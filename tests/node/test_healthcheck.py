"""docker/healthcheck.py, the app image's HEALTHCHECK, against a real gunicorn."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from nodestack.gunicorn import Gunicorn
from nodestack.paths import DOCKER
from nodestack.standins import QuietHandler, serving


def healthcheck(bind: str) -> subprocess.CompletedProcess[str]:
    """Run the check as the image does (``python /opt/nodestack/healthcheck.py``)."""
    return subprocess.run(
        [sys.executable, "healthcheck.py"],
        cwd=DOCKER,
        env={**os.environ, "GUNICORN_BIND": bind},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def test_healthy_over_the_socket(gunicorn: Gunicorn) -> None:
    result = healthcheck(gunicorn.upstream)
    assert (result.returncode, result.stderr) == (0, "")


def test_the_first_bind_address_is_checked(gunicorn: Gunicorn) -> None:
    assert healthcheck(f"127.0.0.1:{gunicorn.port},unix:/nonexistent/gunicorn.sock").returncode == 0
    result = healthcheck(f"unix:/nonexistent/gunicorn.sock,127.0.0.1:{gunicorn.port}")
    assert result.returncode == 1
    missing = "unix:/nonexistent/gunicorn.sock: [Errno 2] No such file or directory"
    assert result.stderr == f"unhealthy: {missing}\n"


class Failing(QuietHandler):
    def do_GET(self) -> None:
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def failing_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    with serving(server):
        yield server.server_address[1]


def test_an_answer_other_than_200_is_unhealthy(failing_server: int) -> None:
    result = healthcheck(f"127.0.0.1:{failing_server}")
    assert result.returncode == 1
    assert result.stderr == f"unhealthy: 127.0.0.1:{failing_server}: /healthz answered 503\n"
