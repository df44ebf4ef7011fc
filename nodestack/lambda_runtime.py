"""A stand-in for Lambda's runtime API, which a function's image polls for its invocations (Lambda Developer
Guide, "Using the Lambda runtime API for custom runtimes"): it hands out one invocation, then records what
the function answered, a response or an error.

The release image runs under it as Lambda runs it: its own entry point (the runtime interface client), with
``AWS_LAMBDA_RUNTIME_API`` naming this server."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from nodestack.standins import QuietHandler

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:release"


@dataclass
class Invocation:
    """One invocation: the event handed out, and the function's answer once it came."""

    event: dict[str, Any]
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    outcome: str | None = None
    """``response`` or ``error``."""
    body: dict[str, Any] | None = None
    answered: threading.Event = field(default_factory=threading.Event)


def handler(invocation: Invocation, deadline_ms: int) -> type[QuietHandler]:
    """The runtime API's routes for one invocation; a second poll waits, as Lambda's does between events."""

    class RuntimeApi(QuietHandler):
        def do_GET(self) -> None:
            if self.path != f"{PREFIX}/invocation/next":
                self.reply(404)
                return
            if invocation.answered.is_set():
                # The function polls again once it has answered: Lambda holds it until the next event.
                threading.Event().wait()
            self.reply(
                200,
                json.dumps(invocation.event).encode(),
                {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                    "Content-Type": "application/json",
                },
            )

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            for outcome in ("response", "error"):
                if self.path == f"{PREFIX}/invocation/{invocation.request_id}/{outcome}":
                    invocation.outcome, invocation.body = outcome, body
                    self.reply(202)
                    invocation.answered.set()
                    return
            if self.path == f"{PREFIX}/init/error":
                invocation.outcome, invocation.body = "init-error", body
                self.reply(202)
                invocation.answered.set()
                return
            self.reply(404)

    return RuntimeApi


@contextmanager
def runtime_api(event: dict[str, Any], deadline_ms: int) -> Iterator[tuple[str, Invocation]]:
    """The stand-in on 127.0.0.1, its ``host:port`` (``AWS_LAMBDA_RUNTIME_API``) and the invocation."""
    invocation = Invocation(event)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(invocation, deadline_ms))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", invocation
    finally:
        server.shutdown()
        server.server_close()
