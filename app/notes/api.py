"""The notes API and the readiness route: the routes that need the database."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for
from pydantic import ValidationError
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from notes.models import Note
from notes.schemas import ListQuery, NewNote, field_errors

ENGINE = "notes.engine"
"""Where the app keeps its engine (``app.extensions``); absent when no database is configured."""
#: The largest id PostgreSQL's bigint holds: a larger one in a URL names no note.
MAX_ID = 2**63 - 1
#: What a client should wait before retrying while the database is unavailable, in seconds.
RETRY_AFTER = "5"

NOTES = Note.metadata.tables[Note.__tablename__]
#: A note's write: one statement the server commits as it runs it (autocommit), so a write is one round
#: trip instead of BEGIN, INSERT and COMMIT's three, and built once instead of per request
#: (docs/benchmarks.md, section 8).
INSERT_NOTE = insert(NOTES).returning(*NOTES.c)

bp = Blueprint("notes", __name__)


class NoDatabase(Exception):
    """The app runs without a database (no ``DATABASE_HOST``)."""


def engine() -> Engine:
    """The engine of this worker; raises ``NoDatabase`` when none is configured."""
    found: Engine | None = current_app.extensions.get(ENGINE)
    if found is None:
        raise NoDatabase
    return found


def problem(status: int, error: str, **extra: Any) -> tuple[Response, int]:
    """A JSON error answer."""
    return jsonify(error=error, **extra), status


def invalid(error: ValidationError) -> tuple[Response, int]:
    """422 naming each bad field."""
    return problem(422, "invalid input", fields=field_errors(error))


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Readiness: whether this worker can reach the database now (a round trip through its pool)."""
    try:
        with engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except NoDatabase:
        return jsonify(status="ready", database="not configured"), 200
    except (OperationalError, InterfaceError, PoolTimeout):
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ready", database="ok"), 200


@bp.post("/api/notes")
def create_note() -> tuple[Response, int]:
    """Write a note; 201 once it is committed (durable), with its URL in ``Location``."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return problem(400, "invalid input", fields={"request": "expected a JSON object (application/json)"})
    try:
        new = NewNote.model_validate(payload)
    except ValidationError as error:
        return invalid(error)
    with engine().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        answer = Note.row_json(connection.execute(INSERT_NOTE, new.model_dump()).one())
    response = jsonify(answer)
    response.headers["Location"] = url_for("notes.get_note", note_id=answer["id"])
    return response, 201


@bp.get("/api/notes")
def list_notes() -> tuple[Response, int]:
    """The newest notes first, ``limit`` at most, older than the id ``before`` when given."""
    try:
        query = ListQuery.model_validate(request.args.to_dict())
    except ValidationError as error:
        return invalid(error)
    statement = select(Note).order_by(Note.id.desc()).limit(query.limit)
    if query.before is not None:
        statement = statement.where(Note.id < query.before)
    with Session(engine()) as session:
        notes = [note.to_json() for note in session.scalars(statement)]
    return jsonify(notes=notes), 200


@bp.get("/api/notes/<int:note_id>")
def get_note(note_id: int) -> tuple[Response, int]:
    """One note, or 404."""
    with Session(engine()) as session:
        note = session.get(Note, note_id) if note_id <= MAX_ID else None
        if note is None:
            return problem(404, "no such note")
        return jsonify(note.to_json()), 200


@bp.delete("/api/notes/<int:note_id>")
def delete_note(note_id: int) -> tuple[Response | str, int]:
    """Delete a note: 204, or 404 when there is none."""
    with Session(engine()) as session, session.begin():
        note = session.get(Note, note_id) if note_id <= MAX_ID else None
        if note is None:
            return problem(404, "no such note")
        session.delete(note)
    return "", 204


def no_database(_: NoDatabase) -> tuple[Response, int]:
    """The notes routes without a database: 503, saying so."""
    return problem(503, "no database configured")


def unavailable(_: Exception) -> tuple[Response, int]:
    """The database is unreachable or the pool is exhausted: 503 with Retry-After, never a 500."""
    response, status = problem(503, "database unavailable")
    response.headers["Retry-After"] = RETRY_AFTER
    return response, status


def register(app: Flask, database: Engine | None) -> None:
    """The routes and their error answers on ``app``, with ``database`` (None: no database)."""
    if database is not None:
        app.extensions[ENGINE] = database
    app.register_blueprint(bp)
    app.register_error_handler(NoDatabase, no_database)
    for error in (OperationalError, InterfaceError, PoolTimeout):
        app.register_error_handler(error, unavailable)
