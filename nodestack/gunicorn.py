"""gunicorn serving an app with the shipped config: ``docker/serve.py``, the app image's command."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from nodestack.paths import APP, DOCKER, SERVE
from nodestack.process import Process, child_pids, free_port, healthy, spawn

#: gunicorn.conf.py's worker count when WEB_CONCURRENCY is unset (tested against it); start_gunicorn
#: runs ``WORKERS`` unless told otherwise.
DEFAULT_WORKERS = 2 * len(os.sched_getaffinity(0)) + 1
WORKERS = 2

#: Any wall clock time since 2001 is above this; a monotonic clock (time since boot) stays below it.
_WALL_CLOCK_FLOOR = 1e9


def command(python: str = sys.executable) -> list[str]:
    """The app image's command, which serves the app ``WSGI_APP`` names (``app_env``). ``python`` runs
    serve.py, which runs the gunicorn installed next to it: the environment it names is the one gunicorn and
    the app import from."""
    return [python, str(SERVE)]


def app_env(app: str = "wsgi:app", *pythonpath: Path) -> dict[str, str]:
    """The environment the image gives gunicorn for serving ``app`` from the working directory (the image's
    /app, here the sample app's directory): the node stack's modules, and ``pythonpath``, on PYTHONPATH."""
    return {"WSGI_APP": app, "PYTHONPATH": os.pathsep.join(str(p) for p in (DOCKER, *pythonpath))}


def bind_env(*addresses: str) -> dict[str, str]:
    """gunicorn's environment for listening on ``addresses`` (``unix:PATH`` or ``HOST:PORT``)."""
    return {
        "GUNICORN_BIND": ",".join(addresses),
        # As root, nginx's workers run as nobody: the shipped srw-rw---- socket (its user and group
        # only) would refuse them. On a node both containers run as user 1001.
        **({"GUNICORN_CMD_ARGS": "--umask=0o111"} if os.geteuid() == 0 else {}),
    }


def _heartbeat_mtime(pid: int) -> float:
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with suppress(OSError):
            # gunicorn.conf.py puts the heartbeat files on /dev/shm; we only read their times.
            if os.readlink(fd).startswith("/dev/shm/wgunicorn-"):  # noqa: S108
                return fd.stat().st_mtime
    return _WALL_CLOCK_FLOOR


@dataclass
class Gunicorn:
    """gunicorn serving an app with the shipped config."""

    process: Process
    port: int
    socket: Path
    access_log: Path

    @property
    def url(self) -> str:
        """Straight to gunicorn over TCP, bypassing nginx."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def upstream(self) -> str:
        """render.sh's ``UPSTREAM`` for it: its unix socket, as on a node."""
        return f"unix:{self.socket}"

    def worker_pids(self) -> set[int]:
        """The master's children: its workers."""
        return child_pids(self.process.pid)

    def booted_worker_pids(self) -> set[int]:
        """Workers past their boot, serving: their heartbeat file has been touched once.

        A worker's signal handlers are installed during its boot; before that it has the master's, which
        only queue a signal, so a SIGTERM sent to a booting worker is lost (the stop then waits out
        ``graceful_timeout``). The master creates the heartbeat file (in ``worker_tmp_dir``) with a wall
        clock time; the worker's first heartbeat, in its run loop, sets it to ``time.monotonic()``.
        """
        return {pid for pid in self.worker_pids() if _heartbeat_mtime(pid) < _WALL_CLOCK_FLOOR}


def start_gunicorn(
    workdir: Path,
    *,
    app: str = "wsgi:app",
    env: Mapping[str, str] | None = None,
    pythonpath: tuple[Path, ...] = (),
    python: str = sys.executable,
    cpus: frozenset[int] | None = None,
) -> Gunicorn:
    """Start gunicorn serving ``app`` (``WSGI_APP``) from the sample app's directory, as the image does from
    /app, with ``docker/gunicorn.conf.py`` on a unix socket (nginx's way in, as on a node) and a
    free TCP port (for load and checks that bypass nginx), on ``cpus`` (all when None), and wait until
    /healthz answers."""
    port = free_port()
    log_dir = workdir / f"gunicorn-{port}"
    log_dir.mkdir()
    sock = log_dir / "gunicorn.sock"
    settings = {
        **bind_env(f"unix:{sock}", f"127.0.0.1:{port}"),
        "WEB_CONCURRENCY": str(WORKERS),
        "GUNICORN_LOG_DIR": str(log_dir),
        **app_env(app, *pythonpath),
        **(env or {}),
    }
    process = spawn("gunicorn", command(python), settings, APP, log_dir / "stdout.log", cpus=cpus)
    server = Gunicorn(process=process, port=port, socket=sock, access_log=log_dir / "access.log")
    process.wait_ready(lambda: healthy(f"{server.url}/healthz"), "gunicorn")
    # Every worker booted, not just the one that answered: a worker still booting would lose a
    # SIGTERM sent now (see booted_worker_pids) and keep serving on its copy of the listener.
    workers = int(settings["WEB_CONCURRENCY"])
    process.wait_ready(lambda: len(server.booted_worker_pids()) == workers, "every gunicorn worker to boot")
    return server
