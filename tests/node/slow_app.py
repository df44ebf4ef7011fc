"""The real app plus one held route, to keep a request in flight while the tests signal gunicorn."""

from __future__ import annotations

import os
import time
from pathlib import Path

from flask import Response, jsonify, request

from notes import create_app

app = create_app()
HOLD_LIMIT_SECONDS = 30.0


@app.get("/held")
def held() -> Response:
    """Tell the test the request is in flight (``<id>.started``), then answer once the test creates
    ``<id>.release`` (gevent makes the polling sleep cooperative). Bounded, so nothing hangs."""
    markers = Path(os.environ["HELD_MARKER_DIR"])
    request_id = request.args["id"]
    (markers / f"{request_id}.started").touch()
    release = markers / f"{request_id}.release"
    deadline = time.monotonic() + HOLD_LIMIT_SECONDS
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return jsonify(released=release.exists())
