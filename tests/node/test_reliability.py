"""The node stack under load while gunicorn reloads, loses a worker, or the whole stack is stopped.

test_lifecycle.py covers SIGTERM to gunicorn alone and an nginx reload; these add gunicorn's own reload,
a worker killed outright, and the stop `docker stop` gives both containers.
"""

from __future__ import annotations

import os
import re
import signal
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from nodestack.gunicorn import Gunicorn, start_gunicorn
from nodestack.nginx import Nginx, render_env, start_nginx
from nodestack.paths import DOCKER
from nodestack.process import wait_until
from tests.node.support import Load, refused, socket_refused

TESTS = Path(__file__).parent
WORKERS = 2
CLIENTS = 4


@dataclass
class Stack:
    gunicorn: Gunicorn
    nginx: Nginx


def _stack(workdir: Path, gunicorn: Gunicorn) -> Iterator[Stack]:
    nginx = start_nginx(render_env(workdir, "edge", gunicorn.upstream), workdir)
    try:
        yield Stack(gunicorn, nginx)
    finally:
        nginx.process.stop(signal.SIGQUIT)
        gunicorn.process.stop()


@pytest.fixture
def stack(workdir: Path) -> Iterator[Stack]:
    """A gunicorn and an nginx of this test's own, free to be signalled."""
    yield from _stack(workdir, start_gunicorn(workdir, env={"WEB_CONCURRENCY": str(WORKERS)}))


def full_strength(gunicorn: Gunicorn, gone: set[int]) -> bool:
    """gunicorn runs its full count of booted workers, none of them from ``gone``."""
    workers = gunicorn.worker_pids()
    return len(workers) == WORKERS and not workers & gone and workers == gunicorn.booted_worker_pids()


def test_gunicorn_reload_under_load_loses_no_request(stack: Stack) -> None:
    old_workers = stack.gunicorn.worker_pids()
    assert len(old_workers) == WORKERS
    with Load(stack.nginx, clients=CLIENTS) as load:
        wait_until(lambda: load.total >= 100, "load to start")
        # HUP: the master starts new workers, then stops the old ones gracefully.
        stack.gunicorn.process.popen.send_signal(signal.SIGHUP)
        wait_until(lambda: full_strength(stack.gunicorn, old_workers), "old workers to be replaced")
        reloaded_at = load.total
        wait_until(lambda: load.total >= reloaded_at + 100, "load after the reload")
    assert set(load.outcomes) == {"200"}, load.outcomes


def test_a_killed_worker_is_replaced_and_costs_at_most_its_requests(stack: Stack) -> None:
    victim = min(stack.gunicorn.worker_pids())
    with Load(stack.nginx, clients=CLIENTS) as load:
        wait_until(lambda: load.total >= 100, "load to start")
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: full_strength(stack.gunicorn, {victim}), "the master to replace the worker")
        replaced_at = load.total
        wait_until(lambda: load.total >= replaced_at + 100, "load after the replacement")
    failed = {outcome: n for outcome, n in load.outcomes.items() if outcome != "200"}
    # Only requests the dead worker was serving can fail; with CLIENTS clients each waiting for its
    # answer, that is at most CLIENTS. nginx answers 502 for those it has no answer to yet, and cuts off
    # one whose headers it has already passed on: gunicorn writes a response's headers and its body in
    # two writes, and a worker killed between them leaves a truncated 200 (requests:
    # ChunkedEncodingError). nginx retries requests it sent on a kept-alive connection the worker had
    # left idle.
    assert set(failed) <= {"502", "ChunkedEncodingError"}, load.outcomes
    assert sum(failed.values()) <= CLIENTS, load.outcomes
    stack.gunicorn.process.check_running()


def stop_signal(stage: str) -> signal.Signals:
    """The signal `docker stop` sends a container of this Dockerfile stage (STOPSIGNAL, else SIGTERM)."""
    stages = re.split(r"^FROM ", (DOCKER / "Dockerfile").read_text(), flags=re.MULTILINE)
    (body,) = [text for text in stages if re.match(rf"\S+ AS {stage}\n", text)]
    found = re.search(r"^STOPSIGNAL (\w+)$", body, flags=re.MULTILINE)
    return signal.Signals[found.group(1)] if found else signal.SIGTERM


@pytest.fixture
def held_stack(workdir: Path) -> Iterator[tuple[Stack, Path]]:
    """A stack whose app has ``/held``: a request in flight until the test releases it."""
    markers = workdir / f"markers-{uuid.uuid4().hex}"
    markers.mkdir()
    gunicorn = start_gunicorn(
        workdir, app="slow_app:app", env={"HELD_MARKER_DIR": str(markers)}, pythonpath=(TESTS,)
    )
    for stack in _stack(workdir, gunicorn):
        yield stack, markers


def test_stopping_the_stack_finishes_in_flight_requests_and_refuses_new_ones(
    held_stack: tuple[Stack, Path],
) -> None:
    stack, markers = held_stack
    request_id = uuid.uuid4().hex
    with ThreadPoolExecutor(max_workers=1) as pool:
        in_flight = pool.submit(
            requests.get,
            f"{stack.nginx.https_url}/held?id={request_id}",
            headers={"Host": "localhost", "Connection": "close"},
            verify=stack.nginx.cafile,
            timeout=60,
        )
        wait_until((markers / f"{request_id}.started").exists, "the request to reach the app")

        # What `docker stop` does to the two containers of a node.
        stack.nginx.process.popen.send_signal(stop_signal("proxy"))
        stack.gunicorn.process.popen.send_signal(stop_signal("app"))
        # Both stop listening at once: a new client is refused outright, not reset or left hanging...
        wait_until(lambda: refused(stack.nginx.https_port), "nginx to stop listening")
        wait_until(lambda: refused(stack.gunicorn.port), "gunicorn to stop listening")
        wait_until(lambda: socket_refused(stack.gunicorn.socket), "gunicorn to stop listening on its socket")
        assert not in_flight.done()
        # ...while the request in flight goes on, and completes once the app lets it go.
        (markers / f"{request_id}.release").touch()
        response = in_flight.result()
    assert response.status_code == 200
    assert response.json() == {"released": True}
    assert stack.nginx.process.popen.wait(timeout=35) == 0
    assert stack.gunicorn.process.popen.wait(timeout=35) == 0
