"""The sample app plus one route that holds a database connection in a slow query (``pg_sleep``)."""

from __future__ import annotations

from flask import Response, jsonify, request
from sqlalchemy import text

from notes import create_app
from notes.api import engine

app = create_app()


@app.get("/slow-query")
def slow_query() -> Response:
    """``SELECT pg_sleep(seconds)`` on a pooled connection: the worker waits on the server meanwhile."""
    seconds = float(request.args.get("seconds", "1"))
    with engine().connect() as connection:
        connection.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": seconds})
    return jsonify(slept=seconds)
