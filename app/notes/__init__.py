"""The sample Flask application served by gunicorn behind nginx: a notes API on PostgreSQL.

``create_app()`` builds the app; ``wsgi:app`` (see ``wsgi.py``) is what the node stack serves. The database
comes from ``DATABASE_*`` (``notes.database``); without ``DATABASE_HOST`` the app still starts, and the
notes routes answer 503 ``{"error": "no database configured"}``.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy import Engine

from notes import api
from notes.assets import link_hashed_names, load_manifest
from notes.database import DatabaseSettings, make_engine

#: Largest request body the app accepts. nginx refuses bigger bodies first (client_max_body_size 10M);
#: this is the same limit, kept here so gunicorn exposed by mistake is not an open upload sink.
MAX_CONTENT_LENGTH = 10 * 1024 * 1024

log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None, *, database: Engine | None = None) -> Flask:
    """Build the application.

    ``config`` overrides the defaults (tests pass ``{"TESTING": True}``). ``database`` is the engine to use;
    by default one made from ``DATABASE_*``, or none without ``DATABASE_HOST``. Static files are linked by
    the hashed names in ``STATIC_MANIFEST`` (default: the manifest the image's build step writes in
    static/). The client's address and scheme behind nginx are the node stack's business: it believes the
    trusted proxy's ``X-Forwarded-*`` headers before the app sees the request.
    """
    app = Flask(__name__, static_folder="../static", static_url_path="/static")
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        APP_VERSION=os.environ.get("APP_VERSION", "dev"),
        JSON_SORT_KEYS=False,
    )
    if config is not None:
        app.config.update(config)
    if database is None:
        settings = DatabaseSettings.from_env(os.environ)
        database = make_engine(settings) if settings is not None else None
    api.register(app, database)
    manifest = os.environ.get("STATIC_MANIFEST") or str(Path(app.static_folder or "static") / "manifest.json")
    link_hashed_names(app, load_manifest(Path(manifest)))

    hostname = socket.gethostname()

    @app.get("/")
    def index() -> str:
        return render_template("index.html", version=app.config["APP_VERSION"])

    @app.get("/healthz")
    def healthz() -> Response:
        # Liveness only: no database, no downstream call. If this answers, the worker can serve.
        response = jsonify(status="ok")
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/api/status")
    def status() -> Response:
        return jsonify(service="flask-app", version=app.config["APP_VERSION"], host=hostname)

    @app.get("/api/request-info")
    def request_info() -> Response:
        # What the app believes about the client after the proxy headers were (or were not) trusted.
        info = {
            "remote_addr": request.remote_addr,
            "scheme": request.scheme,
            "host": request.host,
            "request_id": request.headers.get("X-Request-ID"),
        }
        log.info("request-info remote_addr=%s scheme=%s", info["remote_addr"], info["scheme"])
        return jsonify(info)

    @app.post("/api/upload")
    def upload() -> Response:
        body = request.get_data(cache=False)
        return jsonify(received_bytes=len(body))

    return app
