"""``make local``: the node stack natively, with the configs the images ship (``python -m nodestack.local``).

gunicorn serves the sample app (``wsgi:app`` in app/) on the unix socket ``.local/gunicorn.sock``; nginx (edge
mode) proxies to it and answers on ``http://127.0.0.1:$HTTP_PORT`` and ``https://127.0.0.1:$HTTPS_PORT`` for
the site name ``localhost``, with a self-signed certificate made on first run. Both log to this terminal.
Ctrl-C, SIGTERM or a closed terminal (SIGHUP) stops both gracefully; when either stops on its own, the other
is stopped too.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from nodestack import gunicorn, nginx
from nodestack.paths import APP, REPO
from nodestack.process import Process, healthy, running, spawn

RUN = REPO / ".local"
#: How long the stack may take to answer its health check over TLS.
HEALTHY_WITHIN = 30.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequested(BaseException):
    """A stop signal arrived: stop both servers, then exit with success."""


def _request_stop(signum: int, _: FrameType | None) -> None:
    # A second Ctrl-C while the servers stop is ignored: the graceful stop finishes.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise StopRequested(signal.Signals(signum).name)


@dataclass(frozen=True)
class Ports:
    """nginx's ports, ``HTTP_PORT`` (redirects) and ``HTTPS_PORT``, as given: render.sh checks them."""

    http: str
    https: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Ports:
        """Both ports from ``environ``, 8080 and 8443 when unset (render.sh's defaults)."""
        return cls(http=environ.get("HTTP_PORT", "8080"), https=environ.get("HTTPS_PORT", "8443"))


def _start(run: Path, ports: Ports, stack: ExitStack) -> tuple[Process, Process]:
    """Fresh static files (the image's build step, on a copy) and a fresh nginx runtime directory, then
    gunicorn on ``run/gunicorn.sock`` and nginx in front of it, each in a session of its own and stopped
    when ``stack`` closes (nginx first)."""
    for stale in (run / "static", run / "nginx"):
        shutil.rmtree(stale, ignore_errors=True)
    run.mkdir(exist_ok=True)
    nginx.prepare_static(run)
    socket = run / "gunicorn.sock"
    # The sample app links its static files by the hashed names the build step just wrote.
    manifest = {"STATIC_MANIFEST": str(run / "static" / "manifest.json")}
    app_env = {**gunicorn.bind_env(f"unix:{socket}"), **gunicorn.app_env(), **manifest}
    app = spawn("gunicorn", gunicorn.command(), app_env, APP, None, own_session=True)
    stack.enter_context(running(app))
    proxy_env = nginx.loopback_env(
        run, "edge", f"unix:{socket}", http_port=ports.http, https_port=ports.https, runtime=run / "nginx"
    )
    proxy = spawn("nginx", nginx.command(), proxy_env, run, None, own_session=True)
    stack.enter_context(running(proxy))
    stack.callback(print, "stopping nginx and gunicorn", file=sys.stderr)
    return app, proxy


def _ended(servers: tuple[Process, ...]) -> Process | None:
    """The first of ``servers`` that has exited, if any."""
    return next((server for server in servers if server.popen.poll() is not None), None)


def _exit_status(process: Process) -> int:
    """A shell's exit status for the process: its own, or 128 + the signal that ended it."""
    code = process.popen.returncode
    return 128 - code if code < 0 else code


def _wait_healthy(servers: tuple[Process, ...], url: str, cafile: Path) -> bool:
    """Whether ``url`` answers 200 within ``HEALTHY_WITHIN`` seconds, each server still running."""
    deadline = time.monotonic() + HEALTHY_WITHIN
    while not healthy(url, cafile):
        if _ended(servers) is not None or time.monotonic() > deadline:
            print(f"the node stack did not become healthy at {url}", file=sys.stderr)
            return False
        time.sleep(0.2)
    return True


def serve(run: Path, ports: Ports) -> int:
    """Run the stack until a stop signal (StopRequested) or until either server exits: then stop both,
    and exit with that server's status (1 if the stack never became healthy)."""
    with ExitStack() as stack:
        servers = _start(run, ports, stack)
        cafile = run / "tls" / "localhost.crt"
        if not _wait_healthy(servers, f"https://127.0.0.1:{ports.https}/healthz", cafile):
            return 1
        redirects = f"(http://localhost:{ports.http}/ redirects there)"
        print(f"Node stack up: https://localhost:{ports.https}/  {redirects}")
        print(f"Self-signed certificate: {cafile}. Ctrl-C to stop.", flush=True)
        while (ended := _ended(servers)) is None:
            time.sleep(0.2)
        return _exit_status(ended)


def main() -> int:
    """``make local``."""
    ports = Ports.from_env(os.environ)
    for sig in STOP_SIGNALS:
        signal.signal(sig, _request_stop)
    try:
        return serve(RUN, ports)
    except StopRequested:
        return 0


if __name__ == "__main__":
    sys.exit(main())
