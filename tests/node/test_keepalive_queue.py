"""GUNICORN_KEEPALIVE_QUEUE_MS: once connections have waited in the accept queue that long, gunicorn closes
each connection after its response, so the connections nginx keeps stop jumping the queue."""

from __future__ import annotations

import http.client
import re
import socket
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from appserver.environment import BadSetting, gunicorn_keepalive_queue_seconds
from appserver.hooks import ServerHooks
from appserver.queue_watch import QueueWatch, accept_queue_waiting
from nodestack.gunicorn import Gunicorn, start_gunicorn
from nodestack.process import running

#: The default limit (tested below).
DEFAULT_SECONDS = 1.0
LIMIT_MS = 50
#: Long enough past the limit that a close that should not come would have come.
QUIET_SECONDS = 4 * LIMIT_MS / 1000


def test_the_default_waits_a_second() -> None:
    assert gunicorn_keepalive_queue_seconds({}) == DEFAULT_SECONDS


def test_milliseconds_or_off() -> None:
    assert gunicorn_keepalive_queue_seconds({"GUNICORN_KEEPALIVE_QUEUE_MS": "250"}) == 0.25
    assert gunicorn_keepalive_queue_seconds({"GUNICORN_KEEPALIVE_QUEUE_MS": "off"}) is None


def test_the_hooks_watch_the_queue_for_the_limit_or_not_when_off() -> None:
    watch = ServerHooks(keepalive_queue_seconds=0.25, shared_libraries=()).queue_watch
    assert watch is not None
    assert watch.limit == 0.25
    assert ServerHooks(keepalive_queue_seconds=None, shared_libraries=()).queue_watch is None


@pytest.mark.parametrize("value", ["0", "-5", "1.5", "1s", "OFF", "never", "\u00b2"])
def test_bad_limit_is_named(value: str) -> None:
    expected = f"GUNICORN_KEEPALIVE_QUEUE_MS='{value}': expected milliseconds (a whole number >= 1) or off"
    with pytest.raises(BadSetting, match=re.escape(expected)):
        gunicorn_keepalive_queue_seconds({"GUNICORN_KEEPALIVE_QUEUE_MS": value})


def test_the_queue_must_hold_connections_at_every_look_for_the_whole_limit() -> None:
    watch = QueueWatch(1.0)
    # (connections waiting at this look, its time, whether the queue counts as backed up)
    looks = [
        (True, 10.0, False),
        (True, 10.5, False),
        (True, 11.0, True),
        (True, 11.2, True),
        (False, 11.3, False),
        (True, 11.4, False),
        (True, 12.3, False),
        (True, 12.4, True),
    ]
    assert [watch.backed_up(waiting, now) for waiting, now, _ in looks] == [up for _, _, up in looks]


def test_a_listener_with_a_connection_to_accept_is_waiting() -> None:
    waiting = accept_queue_waiting
    with (
        closing(socket.create_server(("127.0.0.1", 0))) as first,
        closing(socket.create_server(("127.0.0.1", 0))) as second,
    ):
        assert not waiting([first, second])
        with socket.create_connection(second.getsockname()):
            assert waiting([first, second])
            assert not waiting([first])
            second.accept()[0].close()
            assert not waiting([first, second])


@contextmanager
def one_connection_gunicorn(workdir: Path, limit: str) -> Iterator[Gunicorn]:
    """One gevent worker that holds one connection per listener: while a client keeps its connection, the
    next one waits in the accept queue."""
    server = start_gunicorn(
        workdir,
        env={
            "WEB_CONCURRENCY": "1",
            "GUNICORN_WORKER_CONNECTIONS": "1",
            "GUNICORN_KEEPALIVE_QUEUE_MS": limit,
        },
    )
    with running(server.process):
        yield server


def connection_header(kept: http.client.HTTPConnection) -> str | None:
    kept.request("GET", "/healthz")
    response = kept.getresponse()
    response.read()
    assert response.status == 200
    return response.getheader("Connection")


def answers_while(kept: http.client.HTTPConnection, seconds: float) -> tuple[list[str | None], float]:
    """Requests on ``kept`` until one is answered with Connection: close or ``seconds`` have passed: the
    answers' Connection headers and the time taken."""
    start = time.monotonic()
    headers = [connection_header(kept)]
    while headers[-1] == "keep-alive" and time.monotonic() - start < seconds:
        headers.append(connection_header(kept))
    return headers, time.monotonic() - start


def queue_behind(server: Gunicorn) -> socket.socket:
    """A connection the worker cannot accept yet, with its request sent."""
    queued = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    queued.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    return queued


def test_a_backed_up_queue_closes_the_kept_connection_then_is_served(workdir: Path) -> None:
    with one_connection_gunicorn(workdir, str(LIMIT_MS)) as server:
        kept = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        assert connection_header(kept) == "keep-alive"
        with queue_behind(server) as queued:
            headers, seconds = answers_while(kept, 10)
            assert headers[-1] == "close"
            assert set(headers[:-1]) <= {"keep-alive"}
            assert seconds >= LIMIT_MS / 1000
            assert queued.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")


@pytest.mark.parametrize(
    ("limit", "queue", "quiet"),
    [
        (str(LIMIT_MS), False, QUIET_SECONDS),
        # Past the default limit too, so that "off" is not taken for the default.
        ("off", True, DEFAULT_SECONDS + QUIET_SECONDS),
    ],
)
def test_kept_connections_stay_without_a_queue_or_when_off(
    workdir: Path, limit: str, queue: bool, quiet: float
) -> None:
    with one_connection_gunicorn(workdir, limit) as server:
        kept = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        assert connection_header(kept) == "keep-alive"  # connected first: the worker holds it
        queued = queue_behind(server) if queue else None
        headers, _ = answers_while(kept, quiet)
        assert set(headers) == {"keep-alive"}
        kept.close()
        if queued is not None:
            with queued:
                assert queued.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")
