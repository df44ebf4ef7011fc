"""Fixtures that run the node stack for real: gunicorn and nginx on free loopback ports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.node.stack import (
    Gunicorn,
    Nginx,
    render_env,
    start_gunicorn,
    start_nginx,
    wait_until,
)


@pytest.fixture(scope="session")
def gunicorn(workdir: Path) -> Iterator[Gunicorn]:
    # With its access log, which AppLog reads (off by default: nginx's records every request).
    server = start_gunicorn(workdir, env={"GUNICORN_ACCESS_LOG": "on"})
    yield server
    server.process.stop()


def _nginx(workdir: Path, mode: str, upstream: Gunicorn, **overrides: str) -> Iterator[Nginx]:
    server = start_nginx(render_env(workdir, mode, upstream.upstream, **overrides), workdir)
    yield server
    server.process.stop()


@pytest.fixture(scope="session")
def edge(workdir: Path, gunicorn: Gunicorn) -> Iterator[Nginx]:
    """nginx in edge mode: ports 80/443 of the seed, on free loopback ports."""
    yield from _nginx(workdir, "edge", gunicorn)


@pytest.fixture(scope="session")
def alb(workdir: Path, gunicorn: Gunicorn) -> Iterator[Nginx]:
    """nginx in behind-alb mode where loopback is the trusted proxy (stands in for the ALB in the VPC)."""
    yield from _nginx(workdir, "behind-alb", gunicorn, TRUSTED_PROXY_CIDRS="127.0.0.0/8")


@pytest.fixture(scope="session")
def alb_untrusted_peer(workdir: Path, gunicorn: Gunicorn) -> Iterator[Nginx]:
    """nginx in behind-alb mode trusting only 10.0.0.0/16: our loopback client is an untrusted peer."""
    yield from _nginx(workdir, "behind-alb", gunicorn, TRUSTED_PROXY_CIDRS="10.0.0.0/16,fd00::/8")


@dataclass
class AppLog:
    """gunicorn's access log, to tell whether a request reached the app."""

    gunicorn: Gunicorn

    def reached_app(self, marker: str) -> bool:
        """Whether a request whose URL carried ``marker`` reached the app.

        A request straight to gunicorn is logged after everything sent before it, so once it shows up,
        an absent ``marker`` means that request never reached gunicorn.
        """
        barrier = f"barrier-{uuid.uuid4().hex}"
        requests.get(f"{self.gunicorn.url}/healthz?{barrier}", timeout=5).raise_for_status()
        wait_until(lambda: barrier in self.gunicorn.access_log.read_text(), "gunicorn's access log")
        return marker in self.gunicorn.access_log.read_text()


@pytest.fixture(scope="session")
def app_log(gunicorn: Gunicorn) -> AppLog:
    return AppLog(gunicorn)


@pytest.fixture
def client() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
