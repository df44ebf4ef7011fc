"""A rotated database password: each new connection takes what the node's secrets file holds now."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from nodestack.postgres import Postgres
from notes.database import SECRETS_FILE, DatabaseSettings, make_engine


def test_a_new_connection_uses_the_password_the_file_holds_now(postgres: Postgres, tmp_path: Path) -> None:
    right = postgres.app_env()["DATABASE_PASSWORD"]
    secrets = tmp_path / "env.json"
    # The process started with a password that has since been rotated away; the file has the new one.
    env = {**postgres.app_env(DATABASE_PASSWORD="rotated-away"), SECRETS_FILE: str(secrets)}  # noqa: S106
    settings = DatabaseSettings.from_env(env)
    assert settings is not None
    secrets.write_text(json.dumps({"DATABASE_PASSWORD": right}))
    engine = make_engine(settings, env)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
        engine.dispose()
        # Rotated again, and the file not yet refreshed: a new connection fails, with the file's value.
        secrets.write_text(json.dumps({"DATABASE_PASSWORD": "not-yet-refreshed"}))
        with pytest.raises(OperationalError, match="password authentication failed"), engine.connect():
            pass
    finally:
        engine.dispose()


def test_without_the_file_the_environments_password_stands(postgres: Postgres) -> None:
    settings = DatabaseSettings.from_env(postgres.app_env())
    assert settings is not None
    engine = make_engine(settings, postgres.app_env())
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
