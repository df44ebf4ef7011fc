"""Start the node stack's real processes (gunicorn, nginx) on free loopback ports, and stop them.

Used by the tests and the benchmarks. Everything runs with the configs the images ship: gunicorn with
``docker/gunicorn.conf.py``, nginx rendered by ``docker/nginx/render.sh`` from its templates.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from socketserver import BaseRequestHandler, BaseServer, ThreadingMixIn, UnixStreamServer

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
RENDER = DOCKER / "nginx" / "render.sh"
PRECOMPRESS = DOCKER / "nginx" / "precompress.sh"
STARTUP_TIMEOUT = 20.0
#: The proxy image's command (docker/Dockerfile's CMD, tested equal): nginx in the foreground with the
#: configuration render.sh wrote in NGINX_RUNTIME_DIR.
PROXY_COMMAND = ["sh", "-c", "exec nginx -e stderr -c \"$NGINX_RUNTIME_DIR/nginx.conf\" -g 'daemon off;'"]


_HANDED_OUT: set[int] = set()
_HANDING_OUT = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now and that this process has not handed
    out before: the kernel may offer a port again once its probe socket is closed, and stacks started
    at once (bench.scenarios.concurrently) must not both take it."""
    with _HANDING_OUT:
        while True:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port


def world_readable_tempdir(prefix: str) -> Path:
    """A temporary directory nginx's unprivileged workers can traverse (when the tests run as root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def wait_until(predicate: object, what: str, timeout: float = STARTUP_TIMEOUT) -> None:
    """Poll ``predicate()`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def _healthy(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1, context=context) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Process:
    """A started server process and where its output goes."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def check_running(self) -> None:
        code = self.popen.poll()
        if code is not None:
            raise RuntimeError(f"{self.name} exited with {code}:\n{self.output()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 35.0) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def child_pids(pid: int) -> set[int]:
    """The direct children of process ``pid`` (a master's workers)."""
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


#: Any wall clock time since 2001 is above this; a monotonic clock (time since boot) stays below it.
_WALL_CLOCK_FLOOR = 1e9


def _heartbeat_mtime(pid: int) -> float:
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with suppress(OSError):
            # gunicorn.conf.py puts the heartbeat files on /dev/shm; we only read their times.
            if os.readlink(fd).startswith("/dev/shm/wgunicorn-"):  # noqa: S108
                return fd.stat().st_mtime
    return _WALL_CLOCK_FLOOR


def _up(process: Process, ready: Callable[[], bool]) -> bool:
    """Whether a started server is ready; raises at once if it has exited instead."""
    process.check_running()
    return ready()


def _spawn(name: str, argv: list[str], env: Mapping[str, str], cwd: Path, log: Path) -> Process:
    with log.open("wb") as sink:
        popen = subprocess.Popen(
            argv, cwd=cwd, env={**os.environ, **env}, stdout=sink, stderr=subprocess.STDOUT
        )
    return Process(name=name, popen=popen, log=log)


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
    app: str = "run:app",
    env: Mapping[str, str] | None = None,
    pythonpath: tuple[Path, ...] = (),
    python: str = sys.executable,
) -> Gunicorn:
    """Start gunicorn with ``docker/gunicorn.conf.py`` on a unix socket (nginx's way in, as on a node) and a
    free TCP port (for load and checks that bypass nginx), and wait until /healthz answers.

    ``python`` runs serve.py, which runs the gunicorn installed next to it: the environment it names is the
    one gunicorn and the app import from."""
    port = free_port()
    log_dir = workdir / f"gunicorn-{port}"
    log_dir.mkdir()
    sock = log_dir / "gunicorn.sock"
    settings = {
        "GUNICORN_BIND": f"unix:{sock},127.0.0.1:{port}",
        # As root, nginx's workers run as nobody: the shipped srw-rw---- socket (its user and group
        # only) would refuse them. On a node both containers run as user 1001.
        **({"GUNICORN_CMD_ARGS": "--umask=0o111"} if os.geteuid() == 0 else {}),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_LOG_DIR": str(log_dir),
        "PYTHONPATH": os.pathsep.join(str(p) for p in (DOCKER, *pythonpath)),
        **(env or {}),
    }
    argv = [python, str(DOCKER / "serve.py"), app]
    process = _spawn("gunicorn", argv, settings, DOCKER, log_dir / "stdout.log")
    server = Gunicorn(process=process, port=port, socket=sock, access_log=log_dir / "access.log")
    try:
        wait_until(lambda: _up(process, lambda: _healthy(f"{server.url}/healthz")), "gunicorn")
        # Every worker booted, not just the one that answered: a worker still booting would lose a
        # SIGTERM sent now (see booted_worker_pids) and keep serving on its copy of the listener.
        workers = int(settings["WEB_CONCURRENCY"])
        wait_until(lambda: len(server.booted_worker_pids()) == workers, "every gunicorn worker to boot")
    except (TimeoutError, RuntimeError):
        process.stop(signal.SIGKILL)
        raise
    return server


def prepare_static(workdir: Path) -> Path:
    """The image's build step on a copy of docker/static: the files and their .gz twins."""
    static = workdir / "static"
    shutil.copytree(DOCKER / "static", static)
    subprocess.run([str(PRECOMPRESS), str(static)], check=True)
    for path in [static, *static.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return static


def render_env(workdir: Path, mode: str, upstream: str, **overrides: str) -> dict[str, str]:
    """render.sh's environment for an nginx on free loopback ports."""
    http_port, https_port = free_port(), free_port()
    runtime = Path(overrides.get("NGINX_RUNTIME_DIR", workdir / f"nginx-{mode}-{https_port}"))
    return {
        "NGINX_MODE": mode,
        "SERVER_NAME": "localhost",
        "LISTEN_ADDRESS": "127.0.0.1",
        "HTTP_PORT": str(http_port),
        "HTTPS_PORT": str(https_port),
        "PUBLIC_HTTPS_PORT": str(https_port),
        "UPSTREAM": upstream,
        "STATIC_ROOT": str(workdir / "static"),
        "NGINX_RUNTIME_DIR": str(runtime),
        "NGINX_ACCESS_LOG": str(runtime / "access.log"),
        "NGINX_ERROR_LOG": str(runtime / "error.log"),
        "NGINX_WORKER_PROCESSES": "1",
        "TLS_SELF_SIGNED": "true",
        "TLS_CERT": str(workdir / "tls" / "localhost.crt"),
        "TLS_KEY": str(workdir / "tls" / "localhost.key"),
        "RATE_LIMIT": "1000",
        "RATE_LIMIT_BURST": "1000",
        **overrides,
    }


@dataclass
class Nginx:
    """nginx rendered by render.sh and started as the image starts it."""

    process: Process
    env: dict[str, str]
    cafile: str = field(init=False)

    def __post_init__(self) -> None:
        self.cafile = self.env["TLS_CERT"]

    @property
    def http_port(self) -> int:
        return int(self.env["HTTP_PORT"])

    @property
    def https_port(self) -> int:
        return int(self.env["HTTPS_PORT"])

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)

    def worker_pids(self) -> set[int]:
        return child_pids(self.process.pid)


def start_nginx(env: dict[str, str], workdir: Path, *, render: Path = RENDER) -> Nginx:
    """Render and start nginx as the proxy image does: ``render.sh`` (its entrypoint) running
    ``PROXY_COMMAND`` (its command).

    ``render`` may name a ``render.sh`` in a copy of ``docker/nginx/`` with edited templates.
    """
    argv = [str(render), *PROXY_COMMAND]
    process = _spawn("nginx", argv, env, workdir, workdir / f"nginx-{env['HTTPS_PORT']}.log")
    server = Nginx(process=process, env=env)
    try:
        wait_until(
            lambda: _up(process, lambda: _port_open(server.https_port)),
            f"nginx on {server.https_port}",
        )
    except (TimeoutError, RuntimeError):
        process.stop(signal.SIGKILL)
        raise
    return server


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class QuietHandler(BaseHTTPRequestHandler):
    """An http.server handler that logs nothing: stand-in servers' tests read their answers, not a log."""

    def log_message(self, *_: object) -> None:
        """Quiet."""


class UnixUpstream(ThreadingMixIn, UnixStreamServer):
    """A stand-in upstream on a unix socket, a thread per connection, that nginx's workers may reach."""

    daemon_threads = True

    def __init__(self, path: Path, handler: type[BaseRequestHandler]) -> None:
        super().__init__(str(path), handler)
        # nginx's workers run as nobody when the tests run as root: connecting needs write permission.
        os.chmod(path, 0o666)  # noqa: S103 - a test socket in a scratch directory


@contextmanager
def serving(server: BaseServer) -> Iterator[None]:
    """``server`` answering from a background thread until the block ends, then shut down and closed."""
    thread = threading.Thread(target=server.serve_forever)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@contextmanager
def running(*processes: Process) -> Iterator[None]:
    """Stop the processes on exit (nginx gracefully with QUIT, gunicorn with TERM)."""
    try:
        yield
    finally:
        for process in processes:
            process.stop(signal.SIGQUIT if process.name == "nginx" else signal.SIGTERM)
