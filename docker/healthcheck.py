"""The app container's health check: ``GET /healthz`` from gunicorn at its first bind address.

Reads the address as gunicorn.conf.py does, with ``appserver.settings.load`` from the environment
(``GUNICORN_BIND``): a unix socket by default, which the image has no curl for and urllib cannot reach.
Exits 0 on a 200, else 1 with the reason, which docker keeps in the container's health log.
"""

from __future__ import annotations

import http.client
import os
import socket
import sys

from appserver.settings import load

TIMEOUT_SECONDS = 2.0


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        """Connect to the unix socket instead of a host and port."""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def connection(address: str, timeout: float = TIMEOUT_SECONDS) -> http.client.HTTPConnection:
    """A connection to a gunicorn bind address: ``unix:/path`` or ``HOST:PORT`` (``[v6]:PORT``)."""
    if address.startswith("unix:"):
        return UnixHTTPConnection(address.removeprefix("unix:"), timeout)
    host, _, port = address.rpartition(":")
    return http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)


def check(address: str) -> str | None:
    """None if ``/healthz`` at ``address`` answers 200, else what went wrong."""
    client = connection(address)
    try:
        client.request("GET", "/healthz")
        response = client.getresponse()
    except OSError as error:
        return f"{address}: {error}"
    finally:
        client.close()
    if response.status != 200:
        return f"{address}: /healthz answered {response.status}"
    return None


def main() -> int:
    """Check gunicorn's first bind address: 0 if healthy, else 1 with the reason on stderr."""
    problem = check(load(os.environ).bind[0])
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
