"""The database goes away and comes back: readiness fails (503, never a 500) and recovers, and every write
the app acknowledged is still there."""

from __future__ import annotations

import signal
import uuid

import requests

from nodestack.gunicorn import Gunicorn
from nodestack.postgres import APP_DATABASE, Postgres
from nodestack.process import wait_until


def test_readiness_fails_then_recovers_and_acknowledged_writes_survive(
    app_server: Gunicorn, migrated: Postgres
) -> None:
    marker = f"durable-{uuid.uuid4().hex}"
    acknowledged = []
    for n in range(5):
        response = requests.post(f"{app_server.url}/api/notes", json={"title": f"{marker}-{n}"}, timeout=10)
        assert response.status_code == 201
        acknowledged.append(response.json()["id"])

    # Immediate shutdown: no checkpoint, the server recovers from its write-ahead log, as after a crash.
    migrated.stop(signal.SIGQUIT)
    try:
        ready = requests.get(f"{app_server.url}/readyz", timeout=15)
        assert (ready.status_code, ready.json()) == (
            503,
            {"status": "unavailable", "database": "unreachable"},
        )
        write = requests.post(f"{app_server.url}/api/notes", json={"title": "lost?"}, timeout=15)
        assert write.status_code == 503
        assert write.headers["Retry-After"] == "5"
        assert requests.get(f"{app_server.url}/healthz", timeout=5).status_code == 200
    finally:
        migrated.restart()

    wait_until(lambda: requests.get(f"{app_server.url}/readyz", timeout=15).status_code == 200, "readiness")
    # The marker is ours (a uuid), not input.
    kept = f"SELECT string_agg(id::text, ',' ORDER BY id) FROM notes WHERE title LIKE '{marker}-%'"  # noqa: S608
    assert migrated.psql(kept, database=APP_DATABASE) == ",".join(map(str, acknowledged))
    listed = requests.get(f"{app_server.url}/api/notes", params={"limit": "100"}, timeout=10).json()["notes"]
    assert {note["id"] for note in listed} >= set(acknowledged)
