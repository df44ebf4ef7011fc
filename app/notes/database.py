"""The database: connection settings from the environment, one SQLAlchemy engine (with its pool) per worker.

The driver is psycopg 3. Under gunicorn's gevent workers it waits for the server through the standard
library's (patched) ``select``, so a slow query yields to the worker's other requests: psycopg picks that
wait function as it is imported, and the engine imports it in the worker, after gevent has patched
(tests/app/test_gevent.py holds it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event

#: libpq's sslmode values; the production default verifies the server's certificate and name.
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_SSLMODE = "verify-full"
#: Seconds libpq waits for a connection (and the pool for a free one): a database that is gone answers
#: /readyz and the notes routes with 503 within this, instead of holding requests.
CONNECT_TIMEOUT = 5
#: Connections each worker may hold, opened as its requests need them and then kept. A gevent worker serves
#: many requests at once; those beyond the pool wait for a connection up to CONNECT_TIMEOUT. No overflow:
#: the pool closes an overflow connection as soon as it is returned, so under steady load each worker kept
#: connecting (TLS, SCRAM, a blocking name lookup, a server process) for the same peak of connections
#: (the writes benchmark's load, bench/sections/writes.py, with 5 + 5 and with 10 + 0).
POOL_SIZE = 10
MAX_OVERFLOW = 0
#: Connections older than this are replaced (the server or a proxy may close idle ones first).
POOL_RECYCLE_SECONDS = 1800


class BadDatabaseSetting(ValueError):
    """A ``DATABASE_*`` value the app cannot connect with; the message names the variable and the value."""


@dataclass(frozen=True, kw_only=True)
class DatabaseSettings:
    """Where the database is and how to reach it, from ``DATABASE_*``."""

    host: str
    port: int
    name: str
    user: str | None
    password: str | None
    sslmode: str
    sslrootcert: str | None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DatabaseSettings | None:
        """The settings ``env`` gives; None when ``DATABASE_HOST`` is unset or empty (no database)."""
        host = env.get("DATABASE_HOST")
        if not host:
            return None
        raw_port = env.get("DATABASE_PORT") or "5432"
        if not raw_port.isdecimal() or not 1 <= int(raw_port) <= 65535:
            raise BadDatabaseSetting(f"DATABASE_PORT={raw_port!r}: expected a port, 1 to 65535")
        sslmode = env.get("DATABASE_SSLMODE") or DEFAULT_SSLMODE
        if sslmode not in SSLMODES:
            raise BadDatabaseSetting(f"DATABASE_SSLMODE={sslmode!r}: expected one of {', '.join(SSLMODES)}")
        return cls(
            host=host,
            port=int(raw_port),
            name=env.get("DATABASE_NAME") or "app",
            user=env.get("DATABASE_USER") or None,
            password=env.get("DATABASE_PASSWORD") or None,
            sslmode=sslmode,
            sslrootcert=env.get("DATABASE_SSLROOTCERT") or None,
        )

    def url(self) -> URL:
        """The SQLAlchemy URL (its ``repr`` hides the password)."""
        query = {
            "sslmode": self.sslmode,
            "connect_timeout": str(CONNECT_TIMEOUT),
            "application_name": "notes",
        }
        if self.sslrootcert:
            query["sslrootcert"] = self.sslrootcert
        return URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.name,
            query=query,
        )


SECRETS_FILE = "APP_SECRETS_FILE"
"""The node's secrets file (JSON, NAME to value), which it keeps current as secrets rotate."""


def current_credentials(env: Mapping[str, str]) -> dict[str, str]:
    """The user and password as the node's secrets file holds them now, for a connection opened now.

    RDS rotates a managed master password in place (every 7 days by default) and the node rewrites the file
    within minutes; the environment keeps the values of the process's start. Without the file, or while it
    cannot be read, the environment's values stand."""
    path = env.get(SECRETS_FILE)
    if not path:
        return {}
    try:
        values = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    wanted = {"user": "DATABASE_USER", "password": "DATABASE_PASSWORD"}  # nosec B105 - variable names
    return {param: str(values[name]) for param, name in wanted.items() if name in values}


def make_engine(settings: DatabaseSettings, env: Mapping[str, str] = os.environ) -> Engine:
    """An engine with a pool that checks each connection before lending it (``pool_pre_ping``): after the
    database restarts, the first request gets a new connection instead of an error. Each new connection
    takes the credentials the node's secrets file holds at that moment."""
    engine = create_engine(
        settings.url(),
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        pool_timeout=CONNECT_TIMEOUT,
        pool_recycle=POOL_RECYCLE_SECONDS,
        pool_pre_ping=True,
    )

    @event.listens_for(engine, "do_connect")
    def fresh_credentials(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        cparams.update(current_credentials(env))

    return engine
