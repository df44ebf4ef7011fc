"""gunicorn settings: the seed article's, made correct for a container behind nginx.

Every value can be overridden from the environment so one image serves every stack. gunicorn executes
this file; the helpers are plain functions so the tests can load and check them.
"""

from __future__ import annotations

import gc
import importlib
import ipaddress
import os
import signal
import time
from collections.abc import Iterable, Mapping

# Bound now, in the master: a gevent worker replaces the select module's functions with its own.
from select import POLLIN, poll
from typing import Any


def available_cpus() -> int:
    """CPUs this process may run on: the affinity mask (cgroup cpusets, ``taskset``), not the host count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS has no sched_getaffinity
        return os.cpu_count() or 1


class BadSetting(SystemExit):
    """A setting from the environment that gunicorn cannot run with. A SystemExit, not a ValueError:
    gunicorn reports an exception raised in its config file with a traceback ("Failed to read config
    file"); this ends it with the message alone on stderr, exit status 1."""

    def __init__(self, message: str) -> None:
        super().__init__(f"gunicorn.conf.py: {message}")


def _positive_int(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadSetting(f"{key}={raw!r}: expected a whole number >= 1") from None
    if value < 1:
        raise BadSetting(f"{key}={raw!r}: expected a whole number >= 1")
    return value


def worker_count(env: Mapping[str, str], cpus: int) -> int:
    """``WEB_CONCURRENCY`` if set, else the seed's rule of thumb ``2 * CPUs + 1``. Set but empty is refused:
    gunicorn parses the variable itself too (serve.py), and an empty one ends it."""
    if env.get("WEB_CONCURRENCY") == "":
        raise BadSetting("WEB_CONCURRENCY='': expected a whole number >= 1")
    return _positive_int(env, "WEB_CONCURRENCY", 2 * cpus + 1)


SOCKET = "/run/gunicorn/gunicorn.sock"
"""Where gunicorn listens by default: a unix socket in a directory only the node stack's user (1001) can
enter, shared with the proxy container (infra/user_data.py). nginx reaches it; nothing else can."""
#: The kernel's limit on a unix socket's path (sun_path, 108 bytes with its terminating NUL).
MAX_SOCKET_PATH = 107


def _bind_address(raw: str) -> str:
    if raw.startswith("unix:"):
        path = raw.removeprefix("unix:")
        if not path.startswith("/"):
            raise BadSetting(f"GUNICORN_BIND: {raw!r}: expected an absolute path after 'unix:'")
        if len(os.fsencode(path)) > MAX_SOCKET_PATH:
            raise BadSetting(
                f"GUNICORN_BIND: {raw!r}: a unix socket's path is at most {MAX_SOCKET_PATH} bytes"
            )
        return raw
    host, _, port = raw.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise BadSetting(f"GUNICORN_BIND: {raw!r}: expected unix:/absolute/path or HOST:PORT (port 1-65535)")
    return raw


def binds(env: Mapping[str, str]) -> list[str]:
    """``GUNICORN_BIND``: comma-separated ``unix:/path`` or ``HOST:PORT`` addresses [``unix:SOCKET``]."""
    raw = env.get("GUNICORN_BIND") or f"unix:{SOCKET}"
    return [_bind_address(entry.strip()) for entry in raw.split(",")]


WORKER_CLASSES = ("gevent", "sync", "gthread")


def worker_class_from(env: Mapping[str, str]) -> str:
    """The worker class; gevent unless ``GUNICORN_WORKER_CLASS`` picks one of ``WORKER_CLASSES``."""
    value = env.get("GUNICORN_WORKER_CLASS", "gevent")
    if value not in WORKER_CLASSES:
        raise BadSetting(f"GUNICORN_WORKER_CLASS={value!r}: expected one of {', '.join(WORKER_CLASSES)}")
    return value


def _switch(env: Mapping[str, str], key: str, default: str) -> bool:
    """An ``on``/``off`` setting: whether ``key`` (unset or empty: ``default``) is on."""
    value = env.get(key) or default
    if value not in ("on", "off"):
        raise BadSetting(f"{key}={value!r}: expected on or off")
    return value == "on"


def access_log_on(env: Mapping[str, str]) -> bool:
    """``GUNICORN_ACCESS_LOG``: ``off`` (the default) or ``on``."""
    return _switch(env, "GUNICORN_ACCESS_LOG", "off")


def log_targets(env: Mapping[str, str]) -> tuple[str | None, str]:
    """Access and error log: stdout/stderr (for the container's log driver) unless ``GUNICORN_LOG_DIR``
    names a directory, then the seed's ``access.log`` and ``error.log`` in it. No access log unless
    ``GUNICORN_ACCESS_LOG`` is on."""
    log_dir = env.get("GUNICORN_LOG_DIR")
    access = os.path.join(log_dir, "access.log") if log_dir else "-"
    error = os.path.join(log_dir, "error.log") if log_dir else "-"
    return (access if access_log_on(env) else None), error


LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def log_level(env: Mapping[str, str]) -> str:
    """``GUNICORN_LOG_LEVEL``: one of ``LOG_LEVELS``, in any case [``info``]. gunicorn itself silently takes
    any other word for ``info``."""
    value = env.get("GUNICORN_LOG_LEVEL") or "info"
    if value.lower() not in LOG_LEVELS:
        raise BadSetting(f"GUNICORN_LOG_LEVEL={value!r}: expected one of {', '.join(LOG_LEVELS)}")
    return value.lower()


KEEPALIVE_QUEUE_MS = 1000


def trusted_proxies(env: Mapping[str, str]) -> str:
    """``FORWARDED_ALLOW_IPS``, checked by gunicorn's rule (its ``validate_string_to_addr_list``, which this
    file cannot import: importing gunicorn's config module parses ``WEB_CONCURRENCY`` with ``int()``):
    comma-separated IP addresses or networks with no host bits set, or ``*``. gunicorn's own message for a
    bad one names the value, not the variable."""
    raw = env.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
    try:
        for entry in [part.strip() for part in raw.strip().split(",") if part]:
            if entry != "*":
                ipaddress.ip_network(entry)
    except ValueError as error:
        raise BadSetting(
            f"FORWARDED_ALLOW_IPS={raw!r}: {error}; expected comma-separated IP addresses or networks "
            "such as 127.0.0.1,::1 or 10.0.0.0/16, or *"
        ) from None
    return raw


def keepalive_queue_seconds(env: Mapping[str, str]) -> float | None:
    """``GUNICORN_KEEPALIVE_QUEUE_MS``: how long connections may wait in the accept queue before workers
    stop keeping connections alive, in milliseconds [``KEEPALIVE_QUEUE_MS``]; ``off``: never."""
    raw = env.get("GUNICORN_KEEPALIVE_QUEUE_MS") or str(KEEPALIVE_QUEUE_MS)
    if raw == "off":
        return None
    if not raw.isdecimal() or int(raw) < 1:
        raise BadSetting(
            f"GUNICORN_KEEPALIVE_QUEUE_MS={raw!r}: expected milliseconds (a whole number >= 1) or off"
        )
    return int(raw) / 1000


def accept_queue_waiting(listeners: Iterable[Any]) -> bool:
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
        if not waiting:
            self.since = None
            return False
        if self.since is None:
            self.since = now
        return now - self.since >= self.limit


#: The libraries every worker imports before it serves (the app's framework and what it imports), which
#: the master imports once before forking them.
SHARED_LIBRARIES = ("flask",)


def shared_libraries(env: Mapping[str, str]) -> tuple[str, ...]:
    """``GUNICORN_SHARED_LIBRARIES``: ``on`` (the default), the master imports ``SHARED_LIBRARIES`` for the
    workers to share; ``off``, each worker imports its own."""
    return SHARED_LIBRARIES if _switch(env, "GUNICORN_SHARED_LIBRARIES", "on") else ()


def share_with_workers(modules: tuple[str, ...]) -> None:
    """Import ``modules`` in the master and freeze what it holds, before it forks the workers.

    A forked worker shares the master's memory until it writes to a page. Each worker importing its own
    copy of the libraries writes every page of it; and the garbage collector, scanning objects it tracks,
    writes to each one's header. ``gc.freeze()`` moves the master's objects where the collector never
    scans them, so the workers keep sharing those pages: the imported libraries, gunicorn's own and the
    standard library's.
    """
    if not modules:
        return
    for name in modules:
        importlib.import_module(name)
    gc.freeze()


def tmp_dir() -> str | None:
    """The heartbeat file on tmpfs: on a disk-backed /tmp, fchmod can block a worker (gunicorn FAQ)."""
    return "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - tmpfs, gunicorn's documented choice


# nginx proxies to a unix socket: no TCP port for any other process on the host to reach. Against TCP over
# loopback: +6% requests/s through nginx in the published run, +4%, +13% and +11% in the three runs before
# (docs/benchmarks.md, section 2: the median of six alternating rounds each).
bind = binds(os.environ)
# The socket is srw-rw----: connecting needs write permission on it, and only its user and group have it.
umask = 0o117
workers = worker_count(os.environ, available_cpus())
worker_class = worker_class_from(os.environ)
# gevent: concurrent connections per worker. gthread: threads per worker.
worker_connections = _positive_int(os.environ, "GUNICORN_WORKER_CONNECTIONS", 1000)
threads = _positive_int(os.environ, "GUNICORN_THREADS", 4 if worker_class == "gthread" else 1)

# With gevent, timeout is a worker heartbeat (a worker blocked this long is killed), not a request limit;
# nginx's proxy_read_timeout (90 s) bounds requests.
timeout = 120
# nginx keeps idle upstream connections for 4 s (upstream keepalive_timeout), less than these 5 s, so
# nginx never sends a request on a connection gunicorn is closing.
keepalive = 5
# SIGTERM: stop accepting, let in-flight requests finish for up to this long. Below the container stop
# timeout the instance user data sets (docker run --stop-timeout 45).
graceful_timeout = 30
# Recycle workers to bound slow leaks; jitter (10 %) keeps them from restarting together. A worker's
# restart costs a fork and the app's import, and its requests wait meanwhile: at 2000 a worker under load
# restarted every few seconds and the p99 through nginx was higher: 1,196 against 27 ms in the published run,
# 57 against 27 and 392 against 18 ms in the two runs before (docs/benchmarks.md, section 3).
max_requests = _positive_int(os.environ, "GUNICORN_MAX_REQUESTS", 50000)
max_requests_jitter = max_requests // 10
# Connections nginx opens while every worker is busy wait here, in the kernel's accept queue, instead of
# being refused: a gevent worker accepts one connection per turn of its loop, so a burst outruns it, and
# with gunicorn's default 2048 the overflow became 504s at 10,000 connections. The kernel caps this at
# net.core.somaxconn, which the node's user data raises to match (infra/user_data.py).
backlog = _positive_int(os.environ, "GUNICORN_BACKLOG", 16384)
worker_tmp_dir = tmp_dir()
# nginx's access log records every request (status, bytes, request and upstream times, X-Request-ID), so
# gunicorn writes none by default, as gunicorn itself ships. Its logging of each request (Python's logging
# module) cost a worker 737 against 655 us of CPU per request through nginx, +11% requests/s without it
# in the published run (+15%, +17% and +25% in the three runs before; docs/benchmarks.md, section 2).
# GUNICORN_ACCESS_LOG=on writes it.
accesslog, errorlog = log_targets(os.environ)
loglevel = log_level(os.environ)
access_log_format = '%(h)s %({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(M)sms "%({x-request-id}i)s" "%(a)s"'
# Only the local nginx may set X-Forwarded-Proto/-For: gunicorn and the app's TrustedProxyFix believe a
# unix socket's peer, and over TCP only these addresses.
forwarded_allow_ips = trusted_proxies(os.environ)
# No runtime control socket: the container is managed by signals, and $HOME may not be writable.
control_socket_disable = True
# Not preload_app: a gevent worker monkey-patches the standard library when it starts, after the fork, so an
# app imported in the master would keep what it made at import (a lock, an SSL context, a client) unpatched.
# The master imports only SHARED_LIBRARIES (when_ready below). Of what they bind at import, a request uses
# two lock classes that stay the thread module's, werkzeug's routing map's and jinja2's template cache's:
# each is held around a few dict and list operations, never across I/O, so no greenlet waits on one (read in
# flask 3.1, werkzeug 3.1 and jinja2 3.1). Each worker still imports the app, and a HUP reloads its code; not
# the libraries, which only a new image changes. After the published run's section 2, gunicorn's master and
# 5 workers held 89 MB PSS sharing, 121 MB with each worker importing its own (docs/benchmarks.md, 2 and 5).
preload_app = False
shared = shared_libraries(os.environ)


# A kept connection's next request is read in the same turn of a gevent worker's loop that accepts one
# new connection, so under overload the connections nginx keeps (NGINX_UPSTREAM_KEEPALIVE) are served
# again and again while the rest wait in the accept queue. Once the queue has held connections for
# GUNICORN_KEEPALIVE_QUEUE_MS, each response closes its connection (Connection: close), so every request
# takes its turn in the queue, as gthread's workers do when full; when the queue empties, connections are
# kept again. At 10,000 connections in the published run: 6,218 requests waited more than 20 s and were
# never answered with this off (172 and 8,320 in the two runs before), none with it (docs/benchmarks.md,
# section 4). At 64 connections the rounds put it on either side of even: -10% requests/s in the published
# run, -7% and +4% in the two runs before (section 2).
queue_limit = keepalive_queue_seconds(os.environ)
queue_watch = None if queue_limit is None else QueueWatch(queue_limit)


def pre_request(worker: Any, req: Any) -> None:
    """gunicorn's own hook (a debug line per request), and a connection closed once the queue backs up."""
    worker.log.debug("%s %s", req.method, req.path)
    if queue_watch is not None and queue_watch.backed_up(
        accept_queue_waiting(worker.sockets), time.monotonic()
    ):
        req.force_close()


def when_ready(server: Any) -> None:
    """Listening, before the first workers are forked: see ``share_with_workers``."""
    share_with_workers(shared)


def worker_exit(server: Any, worker: Any) -> None:
    """Give the master's objects back to the garbage collector before the worker's interpreter shuts down.
    Frozen, they escape the collections it runs then and are torn down after the modules they call into
    are emptied: under gevent, logging's handler callbacks then print "Exception ignored" tracebacks."""
    gc.unfreeze()


def post_fork(server: Any, worker: Any) -> None:
    """Until a new worker installs its own handlers it has the master's, which only queue signals in the
    master's memory: a TERM sent while it boots would be lost, and the stop would wait out
    graceful_timeout (30 s, measured) while that worker still accepts. Let such a TERM end it at once."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
