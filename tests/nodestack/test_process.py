"""nodestack/process.py: free ports handed out once, server processes waited for and stopped."""

from __future__ import annotations

import signal
import socket
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from nodestack import process


class ProbeSocket:
    """A socket whose kernel-chosen port comes from ``offered``."""

    offered: Iterator[int]

    def __enter__(self) -> ProbeSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def bind(self, address: tuple[str, int]) -> None:
        return None

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", next(self.offered))


def test_a_port_handed_out_once_is_not_handed_out_again(monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel may offer a port again once the probe socket is closed.
    ProbeSocket.offered = iter([40001, 40001, 40002, 40001, 40002, 40003])
    monkeypatch.setattr(socket, "socket", ProbeSocket)
    monkeypatch.setattr(process, "_HANDED_OUT", set())

    assert [process.free_port() for _ in range(3)] == [40001, 40002, 40003]


def test_a_server_that_exits_while_starting_fails_with_its_output(tmp_path: Path) -> None:
    started = process.spawn("server", ["sh", "-c", "echo no config; exit 3"], {}, tmp_path, tmp_path / "log")

    with pytest.raises(RuntimeError, match=r"server exited with 3:\nno config"):
        started.wait_ready(lambda: False, "the server")


def test_a_server_never_ready_is_killed_when_the_wait_times_out(tmp_path: Path) -> None:
    argv = [
        sys.executable,
        "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
    ]
    started = process.spawn("server", argv, {}, tmp_path, tmp_path / "log")

    with pytest.raises(TimeoutError, match="waiting for the server"):
        started.wait_ready(lambda: False, "the server", timeout=0.5)
    assert started.popen.returncode == -signal.SIGKILL


def printed_ready(server: process.Process) -> bool:
    return "ready" in server.output()


@pytest.mark.parametrize(
    ("at_once", "signals"),
    [(False, [signal.SIGQUIT, signal.SIGTERM]), (True, [signal.SIGTERM, signal.SIGQUIT])],
    ids=["gracefully", "at-once"],
)
def test_running_stops_nginx_and_gunicorn_with_their_signals(
    tmp_path: Path, at_once: bool, signals: list[int]
) -> None:
    # Each reports the signal that stopped it in its exit status.
    script = (
        "import signal, sys, time\n"
        "for sig in (signal.SIGQUIT, signal.SIGTERM):\n"
        "    signal.signal(sig, lambda number, _: sys.exit(number))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    servers = [
        process.spawn(name, [sys.executable, "-c", script], {}, tmp_path, tmp_path / f"{name}.log")
        for name in ("nginx", "gunicorn")
    ]
    for server in servers:
        server.wait_ready(partial(printed_ready, server), server.name)

    with process.running(*servers, at_once=at_once):
        pass

    assert [server.popen.returncode for server in servers] == signals
