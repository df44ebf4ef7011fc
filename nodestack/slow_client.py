"""A client whose request stays in flight until told to finish it, for checks of a graceful stop.

``python -m nodestack.slow_client (--unix PATH | --tls HOST:PORT --source ADDRESS) --host NAME``: connects
(over TLS, the handshake done), sends a POST to /api/upload with its headers and half its body, prints
``in flight`` and waits for a line on stdin; then sends the rest and prints the response's status code."""

from __future__ import annotations

import argparse
import socket
import ssl
import sys

BODY_BYTES = 64 * 1024
TIMEOUT_SECONDS = 60.0


def connect(args: argparse.Namespace) -> socket.socket:
    """A connection to the server, over TLS unverified (as the ALB's to its targets) or a unix socket."""
    if args.unix:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT_SECONDS)
        sock.connect(args.unix)
        return sock
    host, _, port = args.tls.rpartition(":")
    raw = socket.create_connection((host, int(port)), TIMEOUT_SECONDS, source_address=(args.source, 0))
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context.wrap_socket(raw, server_hostname=args.host)


def status_of(sock: socket.socket) -> int:
    """The status code of the response read from ``sock``."""
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"the connection closed before a status line: {head!r}")
        head += chunk
    return int(head.split(b" ", 2)[1])


def main() -> None:
    """Send half the request, wait for stdin's word, send the rest, print the status code."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--unix")
    parser.add_argument("--tls")
    parser.add_argument("--source")
    parser.add_argument("--host", required=True)
    args = parser.parse_args()
    half = BODY_BYTES // 2
    with connect(args) as sock:
        sock.sendall(
            f"POST /api/upload HTTP/1.1\r\nHost: {args.host}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {BODY_BYTES}\r\nConnection: close\r\n\r\n".encode()
            + b"x" * half
        )
        print("in flight", flush=True)
        sys.stdin.readline()
        sock.sendall(b"x" * (BODY_BYTES - half))
        print(status_of(sock), flush=True)


if __name__ == "__main__":
    main()
