"""gunicorn's server hooks for the app image: the queue watch at each request, the libraries the master
shares with its workers, and the signals of a worker that has just been forked."""

from __future__ import annotations

import gc
import importlib
import importlib.util
import signal
import time
from collections.abc import Sequence
from typing import Protocol

from appserver.queue_watch import FileLike, QueueWatch, accept_queue_waiting


class Log(Protocol):
    """The part of gunicorn's logger the hooks use."""

    def debug(self, msg: str, *args: object) -> None:
        """Log a debug line."""


class Worker(Protocol):
    """The part of a gunicorn worker the hooks use."""

    @property
    def log(self) -> Log:
        """The worker's logger."""
        ...

    @property
    def sockets(self) -> Sequence[FileLike]:
        """The listening sockets the worker accepts from."""
        ...


class Request(Protocol):
    """The part of a gunicorn request the hooks use."""

    method: str | None
    path: str | None

    def force_close(self) -> None:
        """Close the connection after this request's response (``Connection: close``)."""


def share_with_workers(modules: tuple[str, ...]) -> None:
    """Import ``modules`` in the master and freeze what it holds, before it forks the workers.

    A forked worker shares the master's memory until it writes to a page. Each worker importing its own
    copy of the libraries writes every page of it; and the garbage collector, scanning objects it tracks,
    writes to each one's header. ``gc.freeze()`` moves the master's objects where the collector never
    scans them, so the workers keep sharing those pages: the imported libraries, gunicorn's own and the
    standard library's (docs/benchmarks.md, sections 2 and 5).

    Of what these libraries bind at import, a request uses two lock classes that stay the thread module's
    (gevent patches after the fork), werkzeug's routing map's and jinja2's template cache's: each is held
    around a few dict and list operations, never across I/O, so no greenlet waits on one (read in flask 3.1,
    werkzeug 3.1 and jinja2 3.1). sqlalchemy 2.1's and pydantic 2.14's module-level locks (mapper
    configuration, collection instrumentation, lambda caching, model rebuilds) guard work in memory too,
    and their pools and queues are made in the worker, from the patched thread module. A new image, not a
    HUP, changes these libraries.
    """
    # An app without one of them (not a Flask app) shares the rest.
    present = [name for name in modules if importlib.util.find_spec(name) is not None]
    if not present:
        return
    for name in present:
        importlib.import_module(name)
    gc.freeze()


class ServerHooks:
    """The hooks gunicorn.conf.py gives gunicorn, for a queue limit of ``keepalive_queue_seconds`` (None:
    never close kept connections) and the ``shared_libraries`` the master imports."""

    def __init__(self, *, keepalive_queue_seconds: float | None, shared_libraries: tuple[str, ...]) -> None:
        # Made in the master; each forked worker watches its own copy.
        self.queue_watch = None if keepalive_queue_seconds is None else QueueWatch(keepalive_queue_seconds)
        self.shared_libraries = shared_libraries

    def pre_request(self, worker: Worker, req: Request) -> None:
        """gunicorn's own hook (a debug line per request), and a connection closed once the queue backs up
        (queue_watch.py)."""
        worker.log.debug("%s %s", req.method, req.path)
        if self.queue_watch is not None and self.queue_watch.backed_up(
            accept_queue_waiting(worker.sockets), time.monotonic()
        ):
            req.force_close()

    def when_ready(self, server: object) -> None:
        """Listening, before the first workers are forked: see ``share_with_workers``."""
        share_with_workers(self.shared_libraries)

    @staticmethod
    def worker_exit(server: object, worker: object) -> None:
        """Give the master's objects back to the garbage collector before the worker's interpreter shuts
        down. Frozen, they escape the collections it runs then and are torn down after the modules they
        call into are emptied: under gevent, logging's handler callbacks then print "Exception ignored"
        tracebacks."""
        gc.unfreeze()

    @staticmethod
    def post_fork(server: object, worker: object) -> None:
        """Until a new worker installs its own handlers it has the master's, which only queue signals in the
        master's memory: a TERM sent while it boots would be lost, and the stop would wait out
        ``graceful_timeout`` while that worker still accepts. Let such a TERM end it at once."""
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
