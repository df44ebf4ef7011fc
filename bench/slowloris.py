"""Slow clients (slowloris): hold connections open, each sending a request header one line at a time.

Prints ``ready`` once every connection is open and has started its request, then keeps them open for
``--seconds`` (or until SIGTERM), reopening any the server closes, as a real attacker does. Last line of
output: a JSON report (opened, closed_by_server, held at the end). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import ssl
import sys

HOST = "127.0.0.1"
#: Seconds between two header lines: well inside any per-read timeout, so only a total header timeout
#: (nginx's client_header_timeout) ends the request.
TRICKLE_SECONDS = 2.0


class Counts:
    """What happened to the connections: opened, closed by the server, held now and at the end."""

    def __init__(self) -> None:
        self.opened = 0
        self.closed_by_server = 0
        self.held = 0
        self.held_at_end = 0


async def _one(port: int, context: ssl.SSLContext | None, counts: Counts, started: asyncio.Event) -> None:
    while True:
        try:
            reader, writer = await asyncio.open_connection(HOST, port, ssl=context)
        except OSError:
            await asyncio.sleep(TRICKLE_SECONDS)
            continue
        counts.opened += 1
        counts.held += 1
        try:
            writer.write(b"GET /api/status HTTP/1.1\r\nHost: localhost\r\n")
            await writer.drain()
            started.set()
            line = 0
            while not reader.at_eof():
                await asyncio.sleep(TRICKLE_SECONDS)
                line += 1
                writer.write(f"X-Slow-{line}: {line}\r\n".encode())
                await writer.drain()
        except (OSError, ssl.SSLError):
            pass
        finally:
            counts.held -= 1
            writer.close()
        counts.closed_by_server += 1


async def _main(port: int, count: int, seconds: float, tls: bool) -> Counts:
    context = None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # our own self-signed benchmark certificate
    counts = Counts()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    events = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(_one(port, context, counts, event)) for event in events]
    async with asyncio.timeout(seconds):
        await asyncio.gather(*(event.wait() for event in events))
        print("ready", flush=True)
        await stop.wait()
    counts.held_at_end = counts.held
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return counts


def main(argv: list[str]) -> None:
    """The command line: hold `--count` slow connections to `--port` for `--seconds`; print the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--tls", action="store_true")
    args = parser.parse_args(argv)
    report: dict[str, int | str]
    try:
        counts = asyncio.run(_main(args.port, args.count, args.seconds, args.tls))
        report = {
            "opened": counts.opened,
            "closed_by_server": counts.closed_by_server,
            "held_at_end": counts.held_at_end,
        }
    except TimeoutError:
        report = {"error": "time limit reached"}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
