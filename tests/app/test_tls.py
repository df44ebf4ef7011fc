"""TLS is required by the server, and the app verifies it: hostssl only in pg_hba.conf, and the app's
``sslmode=verify-full`` against the CA that issued the server's certificate for its name."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from nodestack.postgres import APP_DATABASE, APP_PASSWORD, APP_ROLE, Postgres, make_certificates


def connect(postgres: Postgres, **options: str) -> psycopg.Connection[tuple[object, ...]]:
    """A connection as the app's role to ``localhost``, with libpq ``options`` (sslmode...)."""
    conninfo = make_conninfo(
        "",
        host="localhost",
        port=postgres.port,
        dbname=APP_DATABASE,
        user=APP_ROLE,
        password=APP_PASSWORD,
        connect_timeout=5,
        **options,
    )
    return psycopg.connect(conninfo)


def test_the_app_settings_connect_over_verified_tls(postgres: Postgres) -> None:
    env = postgres.app_env()
    with connect(postgres, sslmode=env["DATABASE_SSLMODE"], sslrootcert=env["DATABASE_SSLROOTCERT"]) as conn:
        (used,) = conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() or (
            None,
        )
        assert used is True
        assert conn.info.pgconn.ssl_in_use


def test_a_connection_without_tls_is_refused(postgres: Postgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        connect(postgres, sslmode="disable")


def test_a_server_certificate_from_another_ca_is_refused(postgres: Postgres) -> None:
    other_ca, _, _ = make_certificates(postgres.root / "other-ca")
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        connect(postgres, sslmode="verify-full", sslrootcert=str(other_ca))


def test_a_name_the_certificate_does_not_give_is_refused(postgres: Postgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="does not match host name"):
        psycopg.connect(
            host="127.0.0.2",
            hostaddr="127.0.0.1",
            port=postgres.port,
            dbname=APP_DATABASE,
            user=APP_ROLE,
            password=APP_PASSWORD,
            sslmode="verify-full",
            sslrootcert=str(postgres.ca),
            connect_timeout=5,
        )
