"""The run's database: one throwaway PostgreSQL cluster on the servers' cores, with the sample app's schema
and the note the dynamic route reads."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.cores import CORES
from bench.stacks import DYNAMIC
from nodestack.paths import APP
from nodestack.postgres import APP_DATABASE, Postgres, remove, start_postgres

#: Every stack of sections 1 and 2 runs at once, each gunicorn worker with a pool of its own: more than
#: PostgreSQL's default of 100 connections.
MAX_CONNECTIONS = "500"
#: The note ``DYNAMIC`` reads: the first row of a new table (a fixed statement, no input in it).
SEED = "INSERT INTO notes (title, body) VALUES ('benchmark', 'What the dynamic route reads.') RETURNING id"


def count_notes(postgres: Postgres) -> int:
    """The rows in the notes table."""
    return int(postgres.psql("SELECT count(*) FROM notes", database=APP_DATABASE))


def seed_note(postgres: Postgres) -> None:
    """Write the note ``DYNAMIC`` reads; fail if it did not get the id the route names."""
    note_id = postgres.psql(SEED, database=APP_DATABASE)
    if f"/api/notes/{note_id}" != DYNAMIC:
        raise RuntimeError(f"the seeded note has id {note_id}; the dynamic route reads {DYNAMIC}")


@contextmanager
def database(workdir: Path) -> Iterator[Postgres]:
    """A throwaway cluster (TLS required over TCP) on the servers' cores, with the sample app's schema,
    migrated by its release command as the release phase runs it, and the note the dynamic route reads."""
    postgres = start_postgres(workdir, cpus=CORES.server, settings={"max_connections": MAX_CONNECTIONS})
    try:
        subprocess.run(
            [sys.executable, "release.py"],
            cwd=APP,
            env={**os.environ, **postgres.app_env()},
            capture_output=True,
            check=True,
            timeout=60,
        )
        seed_note(postgres)
        yield postgres
    finally:
        remove(postgres)
