"""Helpers the node stack's tests share: clients under load, refused connections, gunicorn's access log."""

from __future__ import annotations

import re
import socket
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import requests

from nodestack.gunicorn import Gunicorn
from nodestack.nginx import Nginx
from nodestack.paths import REPO
from nodestack.process import wait_until


def readme_settings(heading: str) -> dict[str, str]:
    """The README's settings table under ``heading``: each variable its rows name, with the text of its row's
    default column (shared by the variables one row names)."""
    section = (REPO / "README.md").read_text().split(f"\n{heading}\n", 1)[1].split("\n#", 1)[0]
    settings: dict[str, str] = {}
    for row in section.splitlines():
        if row.startswith("| `"):
            names, default = row.split(" | ")[:2]
            settings |= dict.fromkeys(re.findall(r"`([A-Z_]+)`", names), default)
    return settings


def refused(port: int) -> bool:
    """Nothing accepts on 127.0.0.1:``port``: the connection is refused outright."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True


def socket_refused(path: Path) -> bool:
    """Nothing accepts on the unix socket ``path``: gone (gunicorn removes it on stop) or not listening."""
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(1)
        try:
            client.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return True
        return False


class Load:
    """Clients sending requests in a loop until stopped; every outcome counted."""

    def __init__(self, nginx: Nginx, clients: int = 4, limit: int = 5000) -> None:
        self.nginx = nginx
        self.limit = limit
        self.outcomes: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def _run(self) -> None:
        with requests.Session() as session:
            while not self.stopped.is_set() and self.total < self.limit:
                try:
                    # A new connection per request: on reload the old workers close their idle
                    # keep-alive connections, and a request racing that close on a reused connection is
                    # the client's to retry (RFC 9112, 9.3.1). What must never fail is a connection
                    # nginx accepted, or one it should have accepted.
                    status = session.get(
                        f"{self.nginx.https_url}/api/status",
                        headers={"Host": "localhost", "Connection": "close"},
                        verify=self.nginx.cafile,
                        timeout=10,
                    ).status_code
                    outcome = str(status)
                except requests.RequestException as error:
                    outcome = type(error).__name__
                with self.lock:
                    self.outcomes[outcome] += 1

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.outcomes.values())

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(timeout=30)


@dataclass
class AppLog:
    """gunicorn's access log, to tell whether a request reached the app."""

    gunicorn: Gunicorn

    def reached_app(self, marker: str) -> bool:
        """Whether a request whose URL carried ``marker`` reached the app.

        A request straight to gunicorn is logged after everything sent before it, so once it shows up,
        an absent ``marker`` means that request never reached gunicorn.
        """
        barrier = f"barrier-{uuid.uuid4().hex}"
        requests.get(f"{self.gunicorn.url}/healthz?{barrier}", timeout=5).raise_for_status()
        wait_until(lambda: barrier in self.gunicorn.access_log.read_text(), "gunicorn's access log")
        return marker in self.gunicorn.access_log.read_text()
