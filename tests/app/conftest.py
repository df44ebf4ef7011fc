"""The sample app against a real PostgreSQL: a throwaway cluster (TLS required over TCP), the schema
migrated by the release command, and the app served by the shipped gunicorn and nginx."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodestack.gunicorn import Gunicorn, start_gunicorn
from nodestack.nginx import Nginx, render_env, start_nginx
from nodestack.paths import APP
from nodestack.postgres import Postgres

TESTS = Path(__file__).resolve().parent


def release(
    postgres: Postgres, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A command in the app's directory with the app's environment, as the release phase runs it in the
    image: by default the release command itself, ``python release.py``."""
    return subprocess.run(
        [sys.executable, *(args or ("release.py",))],
        cwd=APP,
        env={**os.environ, **postgres.app_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def migrated(postgres: Postgres) -> Postgres:
    """The cluster with the schema at head (the release command run; it does nothing when it is)."""
    done = release(postgres)
    assert done.returncode == 0, done.stderr
    return postgres


@pytest.fixture(scope="session")
def app_server(workdir: Path, postgres: Postgres) -> Iterator[Gunicorn]:
    """gunicorn with one gevent worker serving the sample app (and a slow-query route) on the cluster,
    linking static files through the manifest the build step wrote in the workdir."""
    assert release(postgres).returncode == 0
    env = {
        **postgres.app_env(),
        "WEB_CONCURRENCY": "1",
        "STATIC_MANIFEST": str(workdir / "static" / "manifest.json"),
    }
    server = start_gunicorn(workdir, app="slow_query_app:app", env=env, pythonpath=(TESTS,))
    yield server
    server.process.stop()


@pytest.fixture(scope="session")
def app_edge(workdir: Path, app_server: Gunicorn) -> Iterator[Nginx]:
    """nginx in edge mode in front of it."""
    server = start_nginx(render_env(workdir, "edge", app_server.upstream), workdir)
    yield server
    server.process.stop()
