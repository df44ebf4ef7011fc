"""gunicorn's settings for the app image: the ones "Nginx as a Reverse Proxy for Flask" gives, made correct
for a container behind nginx, each overridable from the environment so one image serves every stack.

``GunicornSettings`` names each field as gunicorn names the setting; ``gunicorn.conf.py`` hands them over.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from appserver import environment
from appserver.environment import BadSetting

#: The libraries every worker imports before it serves (the app's framework and what it imports), which
#: the master imports once before forking them (hooks.ServerHooks.when_ready), when the app has them: the
#: sample app's web framework, ORM and validation. Not a database driver: psycopg picks its wait function as
#: it is imported, a blocking one unless gevent has patched select by then, which happens in each worker
#: after the fork (sqlalchemy imports its dialect's driver only when an engine is made, in the worker).
SHARED_LIBRARIES = ("flask", "sqlalchemy", "pydantic")
#: What gunicorn loads in each worker: the app ``WSGI_APP`` names, behind the node stack's proxy fix.
NODE_STACK_APP = "appserver.wsgi:application"
#: gunicorn's heartbeat directory when it exists: tmpfs, where fchmod never blocks a worker on a disk
#: (gunicorn FAQ).
TMPFS = "/dev/shm"  # noqa: S108 - tmpfs, gunicorn's documented choice
#: gunicorn's accept queue: the node's net.core.somaxconn (infra/user_data.py SOMAXCONN) and nginx's listen
#: backlog (render.sh's NGINX_BACKLOG) are the same number, tested equal.
BACKLOG = 16384
ACCESS_LOG_FORMAT = '%(h)s %({x-forwarded-for}i)s "%(r)s" %(s)s %(b)s %(M)sms "%({x-request-id}i)s" "%(a)s"'


def available_cpus() -> int:
    """CPUs this process may run on: the affinity mask (cgroup cpusets, ``taskset``), not the host count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS has no sched_getaffinity
        return os.cpu_count() or 1


@dataclass(frozen=True, kw_only=True)
class GunicornSettings:
    """Every setting gunicorn.conf.py gives gunicorn. Those with ``init=False`` are fixed: no variable
    changes them."""

    # nginx proxies to a unix socket: no TCP port for any other process on the host to reach
    # (docs/benchmarks.md, section 2).
    bind: tuple[str, ...]
    workers: int
    worker_class: str
    # gevent: concurrent connections per worker. gthread: threads per worker.
    worker_connections: int
    threads: int
    # Recycle workers to bound slow leaks. A worker's restart costs a fork and the app's import, and its
    # requests wait meanwhile, so it stays rare under load (docs/benchmarks.md, section 3).
    max_requests: int
    # Connections nginx opens while every worker is busy wait here, in the kernel's accept queue, instead of
    # being refused: a gevent worker accepts one connection per turn of its loop, so a burst outruns it
    # (docs/benchmarks.md, section 7). The kernel caps it at net.core.somaxconn, which the node's user data
    # raises to BACKLOG.
    backlog: int
    # nginx's access log records every request (status, bytes, times, X-Request-ID), so gunicorn writes none
    # by default, as gunicorn ships; its logging of each request costs CPU (docs/benchmarks.md, section 2).
    accesslog: str | None
    errorlog: str
    loglevel: str
    # Only the local nginx may set X-Forwarded-Proto/-For: gunicorn and the proxy fix in front of the app
    # (appserver.proxy) believe a unix socket's peer, and over TCP only these addresses.
    forwarded_allow_ips: str
    worker_tmp_dir: str | None
    #: GUNICORN_KEEPALIVE_QUEUE_MS in seconds, or None when off (queue_watch.py); not a gunicorn setting.
    keepalive_queue_seconds: float | None
    #: What the master imports for its workers to share (hooks.py); not a gunicorn setting.
    shared_libraries: tuple[str, ...]
    #: WSGI_APP, the app's callable that NODE_STACK_APP wraps; not a gunicorn setting.
    app: str

    # The app's own callable is loaded and wrapped by appserver.wsgi; gunicorn is told only that module.
    wsgi_app: str = field(default=NODE_STACK_APP, init=False)
    # The socket is srw-rw----: connecting needs write permission on it, and only its user and group have it.
    umask: int = field(default=0o117, init=False)
    # With gevent, timeout is a worker heartbeat (a worker blocked this long is killed), not a request limit;
    # nginx's proxy_read_timeout bounds requests.
    timeout: int = field(default=120, init=False)
    # Longer than nginx keeps idle upstream connections (its upstream keepalive_timeout), so nginx never
    # sends a request on a connection gunicorn is closing.
    keepalive: int = field(default=5, init=False)
    # SIGTERM: stop accepting, let in-flight requests finish for up to this long. Below the container stop
    # timeout the instance user data sets (docker run --stop-timeout).
    graceful_timeout: int = field(default=30, init=False)
    access_log_format: str = field(default=ACCESS_LOG_FORMAT, init=False)
    # No runtime control socket: the container is managed by signals, and $HOME may not be writable.
    control_socket_disable: bool = field(default=True, init=False)
    # Not preload_app: a gevent worker monkey-patches the standard library when it starts, after the fork,
    # so an app imported in the master would keep what it made at import (a lock, an SSL context, a client)
    # unpatched. The master imports only SHARED_LIBRARIES (hooks.share_with_workers says why that is safe),
    # and a HUP still reloads the app's code (docs/benchmarks.md, sections 2 and 5).
    preload_app: bool = field(default=False, init=False)

    @property
    def max_requests_jitter(self) -> int:
        """A tenth of ``max_requests``: workers recycled at random counts do not restart together."""
        return self.max_requests // 10

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, cpus: int, tmpfs: bool) -> GunicornSettings:
        """The settings ``env`` gives on a machine with ``cpus`` CPUs (``tmpfs``: whether ``TMPFS``
        exists). Raises ``BadSetting`` for the first variable it cannot run with, in the order above."""
        bind = environment.gunicorn_bind(env)
        # "Nginx as a Reverse Proxy for Flask"'s rule of thumb, 2 * CPUs + 1 (docs/benchmarks.md, sections 2
        # and 4).
        workers = environment.web_concurrency(env, 2 * cpus + 1)
        worker_class = environment.gunicorn_worker_class(env)
        worker_connections = environment.positive_int(env, "GUNICORN_WORKER_CONNECTIONS", 1000)
        # More than one thread would silently turn sync workers into gthread ones.
        threads = environment.positive_int(env, "GUNICORN_THREADS", 4 if worker_class == "gthread" else 1)
        max_requests = environment.positive_int(env, "GUNICORN_MAX_REQUESTS", 50000)
        backlog = environment.positive_int(env, "GUNICORN_BACKLOG", BACKLOG)
        accesslog, errorlog = log_targets(env)
        return cls(
            bind=bind,
            workers=workers,
            worker_class=worker_class,
            worker_connections=worker_connections,
            threads=threads,
            max_requests=max_requests,
            backlog=backlog,
            accesslog=accesslog,
            errorlog=errorlog,
            loglevel=environment.gunicorn_log_level(env),
            forwarded_allow_ips=environment.forwarded_allow_ips(env),
            worker_tmp_dir=TMPFS if tmpfs else None,
            keepalive_queue_seconds=environment.gunicorn_keepalive_queue_seconds(env),
            shared_libraries=(
                SHARED_LIBRARIES if environment.switch(env, "GUNICORN_SHARED_LIBRARIES", "on") else ()
            ),
            app=environment.wsgi_app(env),
        )


def log_targets(env: Mapping[str, str]) -> tuple[str | None, str]:
    """Access and error log: stdout/stderr (for the container's log driver) unless ``GUNICORN_LOG_DIR``
    names a directory, then the article's ``access.log`` and ``error.log`` in it. No access log unless
    ``GUNICORN_ACCESS_LOG`` is on (off by default)."""
    log_dir = env.get("GUNICORN_LOG_DIR")
    access = os.path.join(log_dir, "access.log") if log_dir else "-"
    error = os.path.join(log_dir, "error.log") if log_dir else "-"
    return (access if environment.switch(env, "GUNICORN_ACCESS_LOG", "off") else None), error


def load(env: Mapping[str, str]) -> GunicornSettings:
    """The settings gunicorn runs with here, from ``env`` and this process's CPUs.

    A bad value ends the process with one line naming it (exit status 1), before gunicorn listens: as a
    SystemExit, since gunicorn reports any other exception raised in its config file with a traceback
    ("Failed to read config file").
    """
    try:
        return GunicornSettings.from_env(env, cpus=available_cpus(), tmpfs=os.path.isdir(TMPFS))
    except BadSetting as bad:
        raise SystemExit(f"gunicorn.conf.py: {bad}") from None
