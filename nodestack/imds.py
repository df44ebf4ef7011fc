"""A stand-in instance metadata service that answers as IMDSv2 does: a session token first (PUT
/latest/api/token), then metadata only for requests that carry it; token-less requests get 401 (EC2 User
Guide, "Use the Instance Metadata Service to access instance metadata", IMDSv2 required).

Run as ``python -m nodestack.imds ADDRESS INSTANCE_ID ROLE [TOKEN_FAILURES [NOTICE]]`` in the namespace that
holds ADDRESS. TOKEN_FAILURES: the first so many token requests get 503 Service Unavailable; -1: none is ever
answered (the connection stays open, silent), as a metadata service that has stopped answering. NOTICE: a
file whose content, once it exists, is the Spot interruption notice at `spot/instance-action`; until then
that item is absent (404), as on an instance EC2 has not marked (EC2 User Guide, "Spot Instance interruption
notices")."""

from __future__ import annotations

import json
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from nodestack.standins import Replying

# A path and header names, no secret among them.
TOKEN_PATH = "/latest/api/token"  # noqa: S105
TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"  # noqa: S105
TOKEN_HEADER = "X-aws-ec2-metadata-token"  # noqa: S105
CREDENTIALS_PATH = "/latest/meta-data/iam/security-credentials/"
INSTANCE_ACTION_PATH = "/latest/meta-data/spot/instance-action"


def metadata(instance_id: str, role: str) -> dict[str, str]:
    """The paths this stand-in serves: the instance's id and its role's (made-up) credentials, in the shape
    the AWS SDKs read (EC2 User Guide, "Retrieve security credentials from instance metadata")."""
    credentials = {
        "Code": "Success",
        "LastUpdated": "2026-01-01T00:00:00Z",
        "Type": "AWS-HMAC",
        "AccessKeyId": "ASIASTANDINSTANDIN00",
        "SecretAccessKey": "standin-secret-access-key",
        "Token": "standin-session-token",
        # Far ahead: the SDKs refresh credentials that are about to expire.
        "Expiration": "2099-01-01T00:00:00Z",
    }
    return {
        "/latest/meta-data/instance-id": instance_id,
        CREDENTIALS_PATH: role,
        CREDENTIALS_PATH + role: json.dumps(credentials),
    }


def handler(
    instance_id: str, role: str, token_failures: int = 0, notice: Path | None = None
) -> type[BaseHTTPRequestHandler]:
    """A request handler that serves ``metadata`` to token holders, failing token requests as asked, and
    the content of ``notice`` at `spot/instance-action` once that file exists."""
    served = metadata(instance_id, role)
    tokens: set[str] = set()
    failed = 0
    never = threading.Event()

    # Each request goes to stderr, the stand-in's log: a failed boot's report shows what was asked.
    class Imds(Replying):
        def _answer(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
            self.reply(status, body.encode(), {"Content-Type": "text/plain", **(headers or {})})

        def do_PUT(self) -> None:
            nonlocal failed
            if token_failures < 0:
                never.wait()
            if failed < token_failures:
                failed += 1
                self._answer(503, "")
                return
            if self.path != TOKEN_PATH or not self.headers.get(TOKEN_TTL_HEADER):
                self._answer(400, "")
                return
            token = secrets.token_urlsafe(32)
            tokens.add(token)
            # The token's TTL comes back in a header, as IMDS sends it: aws-sdk-go reads it and, without it,
            # drops the token and asks without one.
            self._answer(200, token, {TOKEN_TTL_HEADER: self.headers[TOKEN_TTL_HEADER]})

        def do_GET(self) -> None:
            if self.headers.get(TOKEN_HEADER) not in tokens:
                self._answer(401, "")
                return
            body = served.get(self.path)
            if self.path == INSTANCE_ACTION_PATH and notice is not None and notice.exists():
                body = notice.read_text()
            self._answer(404, "") if body is None else self._answer(200, body)

    return Imds


def main() -> None:
    """Serve on ADDRESS:80 until stopped."""
    address, instance_id, role = sys.argv[1:4]
    token_failures = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    notice = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    server = ThreadingHTTPServer((address, 80), handler(instance_id, role, token_failures, notice))
    server.serve_forever()


if __name__ == "__main__":
    main()
