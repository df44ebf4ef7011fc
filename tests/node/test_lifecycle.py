"""Shutdown and reload: in-flight requests finish, nothing is lost."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from nodestack.gunicorn import Gunicorn, start_gunicorn
from nodestack.nginx import Nginx, render_env, start_nginx
from nodestack.process import wait_until
from tests.node.support import Load, refused, socket_refused

TESTS = Path(__file__).parent


@pytest.fixture
def markers(workdir: Path) -> Path:
    path = workdir / f"markers-{uuid.uuid4().hex}"
    path.mkdir()
    return path


@pytest.fixture
def held_gunicorn(workdir: Path, markers: Path) -> Iterator[Gunicorn]:
    """gunicorn serving the app plus ``/held``, a request that lasts until the test releases it."""
    server = start_gunicorn(
        workdir, app="slow_app:app", env={"HELD_MARKER_DIR": str(markers)}, pythonpath=(TESTS,)
    )
    yield server
    server.process.stop(signal.SIGKILL)


def test_sigterm_lets_the_in_flight_request_finish(held_gunicorn: Gunicorn, markers: Path) -> None:
    request_id = uuid.uuid4().hex
    with ThreadPoolExecutor(max_workers=1) as pool:
        # Connection: close, so the worker need not wait out the idle keep-alive (5 s) before exiting.
        in_flight = pool.submit(
            requests.get,
            f"{held_gunicorn.url}/held?id={request_id}",
            headers={"Connection": "close"},
            timeout=60,
        )
        wait_until((markers / f"{request_id}.started").exists, "the request to reach the app")

        held_gunicorn.process.popen.send_signal(signal.SIGTERM)
        # New connections are refused while the request is still in flight...
        wait_until(lambda: refused(held_gunicorn.port), "gunicorn to stop listening")
        wait_until(lambda: socket_refused(held_gunicorn.socket), "gunicorn to stop listening on its socket")
        assert not in_flight.done()
        # ...and once the app lets it go, it completes.
        (markers / f"{request_id}.release").touch()
        response = in_flight.result()
    assert response.status_code == 200
    assert response.json() == {"released": True}
    assert held_gunicorn.process.popen.wait(timeout=35) == 0


@pytest.fixture
def own_nginx(workdir: Path, gunicorn: Gunicorn) -> Iterator[Nginx]:
    server = start_nginx(render_env(workdir, "edge", gunicorn.upstream, NGINX_WORKER_PROCESSES="2"), workdir)
    yield server
    server.process.stop()


def test_nginx_reload_under_load_loses_no_request(own_nginx: Nginx) -> None:
    old_workers = own_nginx.worker_pids()
    with Load(own_nginx) as load:
        wait_until(lambda: load.total >= 100, "load to start")
        own_nginx.process.popen.send_signal(signal.SIGHUP)
        # The reload is done when none of the old workers is left; keep the load on for a while after.
        wait_until(lambda: not old_workers & own_nginx.worker_pids(), "old nginx workers to exit")
        reloaded_at = load.total
        wait_until(lambda: load.total >= reloaded_at + 100, "load after the reload")
    assert own_nginx.worker_pids().isdisjoint(old_workers)
    assert set(load.outcomes) == {"200"}, load.outcomes
