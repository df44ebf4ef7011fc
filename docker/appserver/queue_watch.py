"""The queue watch: whether connections have waited in gunicorn's accept queue for too long.

A kept connection's next request is read in the same turn of a gevent worker's loop that accepts one new
connection, so under overload the connections nginx keeps (``NGINX_UPSTREAM_KEEPALIVE``) are served again and
again while the rest wait in the accept queue. Once the queue has held connections for
``GUNICORN_KEEPALIVE_QUEUE_MS``, each response closes its connection (``hooks.ServerHooks.pre_request``), so
every request takes its turn in the queue, as gthread's workers do when full; when the queue empties,
connections are kept again. Measured under overload and at normal load in docs/benchmarks.md, sections 4
and 2.
"""

from __future__ import annotations

from collections.abc import Iterable

# Bound at import, in the master (gunicorn.conf.py imports this module): a gevent worker replaces the select
# module's functions with its own.
from select import POLLIN, poll
from typing import Protocol


class FileLike(Protocol):
    """A listening socket, as ``poll`` takes it."""

    def fileno(self) -> int:
        """The socket's file descriptor."""
        ...


def accept_queue_waiting(listeners: Iterable[FileLike | int]) -> bool:
    """Whether a connection waits in any of ``listeners``' accept queues: a listening socket polls
    readable while its queue holds one."""
    listening = poll()
    for listener in listeners:
        listening.register(listener, POLLIN)
    return bool(listening.poll(0))


class QueueWatch:
    """One worker's view of its accept queue, taken at each request it serves: whether the queue has held
    connections at every look for ``limit`` seconds."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.since: float | None = None

    def backed_up(self, waiting: bool, now: float) -> bool:
        """Record one look (``waiting``: a connection waits, at monotonic time ``now``); whether the queue
        has now held connections at every look for ``limit`` seconds."""
        if not waiting:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return now - self.since >= self.limit
