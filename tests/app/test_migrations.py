"""The release command and the migrations, on a real PostgreSQL: from an empty database to head and back."""

from __future__ import annotations

from nodestack.postgres import APP_DATABASE, Postgres
from tests.app.conftest import release

TABLES = "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'"


def tables(postgres: Postgres) -> str:
    return postgres.psql(TABLES, database=APP_DATABASE)


def test_from_an_empty_database_to_head_and_back_down(postgres: Postgres) -> None:
    postgres.psql("CREATE DATABASE empty_check OWNER notes")
    try:
        env = {"DATABASE_NAME": "empty_check"}
        assert postgres.psql(TABLES, database="empty_check") == ""
        upgraded = release(postgres, env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        assert postgres.psql(TABLES, database="empty_check") == "alembic_version,notes"
        assert postgres.psql("SELECT version_num FROM alembic_version", database="empty_check") == "0001"
        columns = postgres.psql(
            "SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) "
            "FROM information_schema.columns WHERE table_name = 'notes'",
            database="empty_check",
        )
        assert columns == "id:bigint,title:character varying,body:text,created_at:timestamp with time zone"
        down = release(postgres, "-m", "alembic", "downgrade", "base", env=env)
        assert down.returncode == 0, down.stderr
        assert postgres.psql(TABLES, database="empty_check") == "alembic_version"
        assert postgres.psql("SELECT count(*) FROM alembic_version", database="empty_check") == "0"
    finally:
        postgres.psql("DROP DATABASE empty_check")


def test_the_release_command_does_nothing_at_head(migrated: Postgres) -> None:
    before = tables(migrated)
    again = release(migrated)
    assert again.returncode == 0, again.stderr
    assert "Running upgrade" not in again.stderr
    assert tables(migrated) == before == "alembic_version,notes"


def test_the_release_command_fails_with_the_reason_when_the_database_refuses(postgres: Postgres) -> None:
    done = release(postgres, env={"DATABASE_PASSWORD": "wrong"})
    assert done.returncode == 1
    assert 'password authentication failed for user "notes"' in done.stderr


def test_the_release_command_needs_a_database(postgres: Postgres) -> None:
    done = release(postgres, env={"DATABASE_HOST": ""})
    assert done.returncode == 1
    assert done.stderr.strip().endswith("migrations: DATABASE_HOST is not set: no database to migrate")


def test_an_older_release_leaves_a_newer_schema_as_it_is(migrated: Postgres) -> None:
    # A rollback: the database carries a revision only a newer release knows.
    before = tables(migrated)
    migrated.psql("UPDATE alembic_version SET version_num = 'ffffffffffff'", database=APP_DATABASE)
    try:
        rolled_back = release(migrated)
        assert rolled_back.returncode == 0, rolled_back.stderr
        assert "newer than this release's migrations" in rolled_back.stdout
        assert tables(migrated) == before
        assert (
            migrated.psql("SELECT version_num FROM alembic_version", database=APP_DATABASE) == "ffffffffffff"
        )
    finally:
        migrated.psql("UPDATE alembic_version SET version_num = '0001'", database=APP_DATABASE)
