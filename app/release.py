"""The release command: migrate the database to this image's schema (``alembic upgrade head``).

Run once per release, before any node of the release serves: ``python release.py`` in the app image (its
working directory, /app), with the same ``DATABASE_*`` environment as the app. Exits 0 when the schema is
at head (also when it already was), 1 with Alembic's error otherwise. Migrations hold a PostgreSQL advisory
lock (migrations/env.py), so two runs never migrate at once. Old and new nodes serve side by side during a
rollout: write migrations in expand/contract steps (docs/your-app.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).resolve().parent


def alembic_config() -> Config:
    """The app's Alembic configuration (alembic.ini beside this file)."""
    return Config(str(HERE / "alembic.ini"))


def main(argv: list[str]) -> int:
    """``upgrade head``; no arguments are taken."""
    if argv:
        print("usage: python release.py", file=sys.stderr)
        return 64
    command.upgrade(alembic_config(), "head")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
