"""Stand-in servers for checks of nginx and the health check: an upstream on a unix socket, quiet handlers."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from socketserver import BaseRequestHandler, BaseServer, ThreadingMixIn, UnixStreamServer


class Replying(BaseHTTPRequestHandler):
    """An http.server handler with one way to answer: a status, headers and a body of known length."""

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """Send ``status``, ``headers`` and ``body``."""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class QuietHandler(Replying):
    """An http.server handler that logs nothing: stand-in servers' checks read their answers, not a log."""

    def log_message(self, *_: object) -> None:
        """Quiet."""


class UnixUpstream(ThreadingMixIn, UnixStreamServer):
    """A stand-in upstream on a unix socket, a thread per connection, that nginx's workers may reach."""

    daemon_threads = True

    def __init__(self, path: Path, handler: type[BaseRequestHandler]) -> None:
        super().__init__(str(path), handler)
        # nginx's workers run as nobody when run as root: connecting needs write permission.
        os.chmod(path, 0o666)  # noqa: S103 - a stand-in's socket in a scratch directory


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
