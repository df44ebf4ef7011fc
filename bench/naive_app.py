"""The benchmarks' baseline: the naive app "Nginx as a Reverse Proxy for Flask" starts from.

``POST /api/notes`` writes a note and ``GET /api/notes/<id>`` reads one the way a first Flask app does: a
new database connection per request (``psycopg.connect``, TLS verified against the same CA and the same
``DATABASE_*`` as the sample app), one statement on the sample app's table (the INSERT committed), the
connection closed. No pool, no ORM; the same table, the same payload, the same answers (201 with the note,
200 with it, 404) as the sample app's routes. Served by gunicorn's defaults (sync workers) exposed
directly, as the article's baseline is (``bench.stacks.naive``).
"""

from __future__ import annotations

import os

import psycopg
from flask import Flask, Response, jsonify, request

app = Flask(__name__)


def connect() -> psycopg.Connection[tuple[object, ...]]:
    """A new connection, from the sample app's ``DATABASE_*`` settings."""
    env = os.environ
    return psycopg.connect(
        host=env["DATABASE_HOST"],
        port=env["DATABASE_PORT"],
        dbname=env["DATABASE_NAME"],
        user=env["DATABASE_USER"],
        password=env["DATABASE_PASSWORD"],
        sslmode=env["DATABASE_SSLMODE"],
        sslrootcert=env["DATABASE_SSLROOTCERT"],
    )


@app.post("/api/notes")
def create_note() -> tuple[Response, int]:
    """Write a note; 201 once it is committed, 400 without a title."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("title"), str):
        return jsonify(error="invalid input"), 400
    title, body = payload["title"], payload.get("body", "")
    # A connection of its own, closed at the end of the block: what the pool replaces.
    with connect() as connection:
        ((note_id, created_at),) = connection.execute(
            "INSERT INTO notes (title, body) VALUES (%s, %s) RETURNING id, created_at", (title, body)
        ).fetchall()
        connection.commit()
    return jsonify(id=note_id, title=title, body=body, created_at=str(created_at)), 201


@app.get("/api/notes/<int:note_id>")
def get_note(note_id: int) -> tuple[Response, int]:
    """One note, or 404."""
    with connect() as connection:
        found = connection.execute(
            "SELECT id, title, body, created_at FROM notes WHERE id = %s", (note_id,)
        ).fetchone()
    if found is None:
        return jsonify(error="no such note"), 404
    found_id, title, body, created_at = found
    return jsonify(id=found_id, title=title, body=body, created_at=str(created_at)), 200
