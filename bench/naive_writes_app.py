"""The writes benchmark's baseline: the naive app "Nginx as a Reverse Proxy for Flask" starts from.

``POST /api/notes`` writes a note the way a first Flask app does: a new database connection per request
(``psycopg.connect``, TLS verified against the same CA and the same ``DATABASE_*`` as the sample app),
one INSERT into the sample app's table, a commit, the connection closed. No pool, no ORM; the same table,
the same payload, the same answer (201 with the note) as the sample app's route. Served by gunicorn's
defaults (sync workers) exposed directly, as the article's baseline is (``bench/sections/writes.py``).
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
