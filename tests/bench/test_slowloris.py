"""bench/slowloris.py, run as section 3 runs it (bench/loadgen.py's `slow_clients`): each client holds its
connection, opens another when the server closes it, and the last line reports what happened."""

from __future__ import annotations

import threading
from socketserver import StreamRequestHandler, ThreadingTCPServer

from bench.loadgen import slow_clients
from nodestack.process import wait_until
from nodestack.standins import serving


class Server(ThreadingTCPServer):
    """A loopback server that counts the connections it accepts and holds each, or closes it once its
    request has started."""

    daemon_threads = True

    def __init__(self, *, closes: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.closes = closes
        self.accepted = 0
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(StreamRequestHandler):
    server: Server

    def handle(self) -> None:
        with self.server.lock:
            self.server.accepted += 1
        self.rfile.readline()
        if self.server.closes:
            return
        while self.rfile.readline():  # each header line the client trickles, until it hangs up
            pass


def test_connections_the_server_holds_stay_open_until_the_clients_stop() -> None:
    server = Server(closes=False)
    with serving(server), slow_clients(server.port, count=3, seconds=30, tls=False) as clients:
        wait_until(lambda: server.accepted == 3, "the server to accept every connection")
    assert clients.report == {"opened": 3, "closed_by_server": 0, "held_at_end": 3}


def test_connections_the_server_closes_are_opened_again() -> None:
    server = Server(closes=True)
    with serving(server), slow_clients(server.port, count=2, seconds=30, tls=False) as clients:
        wait_until(lambda: server.accepted >= 4, "each client to open a second connection")
    assert clients.report is not None
    assert clients.report["opened"] >= 4
    assert clients.report["closed_by_server"] >= 2
    assert clients.report["opened"] == clients.report["closed_by_server"] + clients.report["held_at_end"]
