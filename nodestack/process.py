"""Server processes (start, wait until ready, stop), free loopback ports and scratch directories."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

STARTUP_TIMEOUT = 20.0

_HANDED_OUT: set[int] = set()
_HANDING_OUT = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now and that this process has not handed
    out before: the kernel may offer a port again once its probe socket is closed, and stacks started
    at once (bench.stacks.concurrently) must not both take it."""
    with _HANDING_OUT:
        while True:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
            if port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port


def world_readable_tempdir(prefix: str) -> Path:
    """A temporary directory nginx's unprivileged workers can traverse (when run as root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def wait_until(predicate: Callable[[], object], what: str, timeout: float = STARTUP_TIMEOUT) -> None:
    """Poll ``predicate()`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def healthy(url: str, cafile: Path | None = None) -> bool:
    """Whether ``url`` answers 200 within a second (over TLS, trusting ``cafile``, once it exists)."""
    try:
        context = None if cafile is None else ssl.create_default_context(cafile=str(cafile))
        with urllib.request.urlopen(url, timeout=1, context=context) as response:  # noqa: S310 - our own URL
            return bool(response.status == 200)
    except OSError:
        return False


def port_open(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Process:
    """A started server process and where its output goes (``None``: this process's stdout and stderr)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path | None

    @property
    def pid(self) -> int:
        """The server's process id (a master's, whose children are its workers)."""
        return self.popen.pid

    def output(self) -> str:
        """What the process has written so far to its log."""
        return "" if self.log is None else self.log.read_text(errors="replace")

    def check_running(self) -> None:
        """Raise, with its output, if the process has exited."""
        code = self.popen.poll()
        if code is not None:
            raise RuntimeError(f"{self.name} exited with {code}:\n{self.output()}")

    def wait_ready(self, ready: Callable[[], bool], what: str, timeout: float = STARTUP_TIMEOUT) -> None:
        """Wait until ``ready()``; if the process exits or ``timeout`` passes first, kill it and raise."""

        def up() -> bool:
            self.check_running()
            return ready()

        try:
            wait_until(up, what, timeout)
        except (TimeoutError, RuntimeError):
            self.stop(signal.SIGKILL)
            raise

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 35.0) -> int:
        """Send ``sig`` and wait for the exit (killing after ``timeout`` seconds); the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def on_cpus(argv: list[str], cpus: frozenset[int] | None) -> list[str]:
    """``argv`` run on ``cpus`` only (all of this process's when None): util-linux's taskset sets the
    affinity and execs it, so the process keeps its pid and its children inherit the affinity."""
    if cpus is None:
        return argv
    return ["taskset", "--cpu-list", ",".join(str(cpu) for cpu in sorted(cpus)), *argv]


def spawn(
    name: str,
    argv: list[str],
    env: Mapping[str, str],
    cwd: Path,
    log: Path | None,
    *,
    own_session: bool = False,
    cpus: frozenset[int] | None = None,
) -> Process:
    """Start ``argv`` with ``env`` over this process's environment, its output to ``log`` (or inherited),
    on ``cpus`` (``on_cpus``).

    ``own_session``: in a session of its own, so a terminal's Ctrl-C reaches only this process, which
    stops the server gracefully instead of the SIGINT cutting into its workers."""
    with ExitStack() as files:
        sink = None if log is None else files.enter_context(log.open("wb"))
        popen = subprocess.Popen(  # noqa: S603 - argv names our own scripts and servers
            on_cpus(argv, cpus),
            cwd=cwd,
            env={**os.environ, **env},
            stdout=sink,
            stderr=None if sink is None else subprocess.STDOUT,
            start_new_session=own_session,
        )
    return Process(name=name, popen=popen, log=log)


def child_pids(pid: int) -> set[int]:
    """The direct children of process ``pid`` (a master's workers)."""
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


#: The signals that stop each server gracefully (requests in flight finish) and at once.
GRACEFUL = {"nginx": signal.SIGQUIT, "gunicorn": signal.SIGTERM}
AT_ONCE = {"nginx": signal.SIGTERM, "gunicorn": signal.SIGQUIT}


@contextmanager
def running(*processes: Process, at_once: bool = False) -> Iterator[None]:
    """Stop the processes on exit: gracefully (nginx with QUIT, gunicorn with TERM), or ``at_once`` (nginx
    with TERM, gunicorn with QUIT: its gevent workers do not wait the second their loop takes to notice)
    when nothing in flight matters, as between benchmark runs."""
    signals = AT_ONCE if at_once else GRACEFUL
    try:
        yield
    finally:
        for process in processes:
            process.stop(signals.get(process.name, signal.SIGTERM))
