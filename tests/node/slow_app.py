"""The real app plus one slow route, to hold a request in flight while the tests signal gunicorn."""

from __future__ import annotations

import os
import time
from pathlib import Path

from flask import Response, jsonify, request

from app import create_app

app = create_app()


@app.get("/slow")
def slow() -> Response:
    # Tell the test the request is in flight, then take a while (gevent makes the sleep cooperative).
    Path(os.environ["SLOW_MARKER_DIR"], request.args["id"]).touch()
    time.sleep(float(request.args.get("seconds", "3")))
    return jsonify(done=True)
