"""Fixtures that run the node stack for real: gunicorn and nginx on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from nodestack.gunicorn import Gunicorn, start_gunicorn
from nodestack.images import Engine, build_images, docker_engine
from nodestack.nginx import Nginx, render_env, start_nginx
from nodestack.node import Registry, pushed
from nodestack.postgres import Postgres
from tests.node.support import AppLog


@pytest.fixture(scope="session")
def gunicorn(workdir: Path) -> Iterator[Gunicorn]:
    # With its access log, which AppLog reads (off by default: nginx's records every request).
    # The sample app links static files through the manifest the build step wrote in the workdir.
    env = {"GUNICORN_ACCESS_LOG": "on", "STATIC_MANIFEST": str(workdir / "static" / "manifest.json")}
    server = start_gunicorn(workdir, env=env)
    yield server
    server.process.stop()


def _nginx(workdir: Path, mode: str, upstream: Gunicorn, **overrides: str) -> Iterator[Nginx]:
    server = start_nginx(render_env(workdir, mode, upstream.upstream, **overrides), workdir)
    yield server
    server.process.stop()


@pytest.fixture(scope="session")
def edge(workdir: Path, gunicorn: Gunicorn) -> Iterator[Nginx]:
    """nginx in edge mode: the ports 80 and 443 of "Nginx as a Reverse Proxy for Flask", on free loopback
    ports."""
    yield from _nginx(workdir, "edge", gunicorn)


@pytest.fixture(scope="session")
def alb(workdir: Path, gunicorn: Gunicorn) -> Iterator[Nginx]:
    """nginx in behind-alb mode where loopback is the trusted proxy (stands in for the ALB in the VPC)."""
    yield from _nginx(workdir, "behind-alb", gunicorn, TRUSTED_PROXY_CIDRS="127.0.0.0/8")


@pytest.fixture(scope="session")
def alb_untrusted_peer(workdir: Path, gunicorn: Gunicorn) -> Iterator[Nginx]:
    """nginx in behind-alb mode trusting only 10.0.0.0/16: our loopback client is an untrusted peer."""
    yield from _nginx(workdir, "behind-alb", gunicorn, TRUSTED_PROXY_CIDRS="10.0.0.0/16,fd00::/8")


@pytest.fixture(scope="session")
def app_log(gunicorn: Gunicorn) -> AppLog:
    return AppLog(gunicorn)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """A Docker engine: the one found here, or one started for the session and stopped after it."""
    with docker_engine() as found:
        yield found


@pytest.fixture(scope="session")
def images(engine: Engine, postgres: Postgres) -> dict[str, str]:
    """The image id of each docker/Dockerfile target, built with BuildKit (on stand-in bases by default),
    the app image shipping the test cluster's CA as its database CA bundle."""
    return build_images(engine, database_ca=postgres.ca)


@pytest.fixture(scope="session")
def ecr(engine: Engine, images: dict[str, str]) -> Iterator[Registry]:
    """The images pushed once to a registry's storage, which each booted node's ECR stand-in serves."""
    with pushed(engine, images) as registry:
        yield registry


@pytest.fixture
def client() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
