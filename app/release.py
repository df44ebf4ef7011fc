"""The release command: migrate the database to this image's schema (``alembic upgrade head``).

Run once per release, before any node of the release serves: ``python release.py`` in the app image (its
working directory, /app), with the same ``DATABASE_*`` environment as the app. Exits 0 when the schema is
at head (also when it already was), 1 with Alembic's error otherwise. Migrations hold a PostgreSQL advisory
lock (migrations/env.py), so two runs never migrate at once. Old and new nodes serve side by side during a
rollout: write migrations in expand/contract steps (docs/your-app.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from notes.database import DatabaseSettings, make_engine

HERE = Path(__file__).resolve().parent


def alembic_config() -> Config:
    """The app's Alembic configuration (alembic.ini beside this file)."""
    return Config(str(HERE / "alembic.ini"))


def main(argv: list[str]) -> int:
    """``upgrade head``; no arguments are taken."""
    if argv:
        print("usage: python release.py", file=sys.stderr)
        return 64
    config = alembic_config()
    ahead = newer_than_this_release(config)
    if ahead:
        # A rollback to an older release: its code must run on the newer schema, as expand/contract
        # migrations allow; downgrading here would drop what the newer release wrote.
        print(f"release: the database is at {', '.join(ahead)}, newer than this release's migrations; "
              "leaving the schema as it is")  # fmt: skip
        return 0
    command.upgrade(config, "head")
    return 0


def newer_than_this_release(config: Config) -> list[str]:
    """The database's revisions this release's migrations do not know: a newer release wrote them. None
    without a database: the migrations say so themselves."""
    settings = DatabaseSettings.from_env(os.environ)
    if settings is None:
        return []
    known = {revision.revision for revision in ScriptDirectory.from_config(config).walk_revisions()}
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    return sorted(set(current) - known)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
