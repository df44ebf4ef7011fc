"""Alembic's environment: migrations run on one connection from ``DATABASE_*``, under a lock.

Only online migrations (a live database). The connection holds a PostgreSQL advisory lock for the whole
run, so two release runs at once (two deploys racing) run one after the other: the second finds the
schema at head and does nothing.
"""

from __future__ import annotations

import logging.config
import os

from alembic import context
from sqlalchemy import Connection, text

from notes.database import DatabaseSettings, make_engine
from notes.models import Base

#: The advisory lock's key: any fixed number no other code of the app locks (b"notes" as an integer).
MIGRATION_LOCK = 0x6E6F746573

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def run(connection: Connection) -> None:
    """Migrate over ``connection`` while holding the migration lock."""
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
    try:
        context.configure(
            connection=connection, target_metadata=Base.metadata, transaction_per_migration=True
        )
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        connection.commit()


def main() -> None:
    """Run the migrations on the connection the caller gave (tests), or on one made from the environment."""
    given: Connection | None = config.attributes.get("connection")
    if given is not None:
        run(given)
        return
    settings = DatabaseSettings.from_env(os.environ)
    if settings is None:
        raise SystemExit("migrations: DATABASE_HOST is not set: no database to migrate")
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("migrations: offline mode (--sql) is not supported; run against the database")
main()
