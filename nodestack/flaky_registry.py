"""An ECR stand-in that fails: a TCP proxy in front of the registry stand-in that answers the first FAILURES
manifest requests with 503 Service Unavailable, as a registry does while it cannot serve, and passes every
other connection through. FAILURES -1: every manifest request fails.

Run as ``python -m nodestack.flaky_registry LISTEN_PORT REGISTRY_PORT FAILURES`` in the node's namespace."""

from __future__ import annotations

import asyncio
import sys

UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#: A manifest request's line: what `docker pull` asks first for an image, by tag or digest.
MANIFESTS = b"/manifests/"


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy ``reader`` to ``writer`` until the end of the stream, then close ``writer``."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def serve(listen_port: int, registry_port: int, failures: int) -> None:
    """Proxy 127.0.0.1:``listen_port`` to the registry on 127.0.0.1:``registry_port``, failing as asked."""
    failed = 0

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal failed
        line = await reader.readline()
        if MANIFESTS in line and (failures < 0 or failed < failures):
            failed += 1
            # The stand-in's log: a failed boot's report shows what was refused.
            print(f"503 ({failed}): {line.decode(errors='replace').strip()}", flush=True)
            writer.write(UNAVAILABLE)
            await writer.drain()
            writer.close()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", registry_port)
        upstream_writer.write(line)
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(connection, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


def main() -> None:
    """Serve until stopped."""
    listen_port, registry_port, failures = map(int, sys.argv[1:4])
    asyncio.run(serve(listen_port, registry_port, failures))


if __name__ == "__main__":
    main()
