"""A throwaway PostgreSQL cluster for the tests: Debian's server, in a temporary directory, TLS required.

``start_postgres`` runs ``initdb`` and then ``postgres`` in the foreground (a ``Process``, as gunicorn and
nginx are here), listening on a unix socket in its directory (trusted: the tests' own administration) and
on loopback TCP, where pg_hba.conf admits TLS connections only (``hostssl``, SCRAM passwords): the server's
certificate is issued for ``localhost`` by a CA the harness makes, so the app connects as in production,
``sslmode=verify-full`` against a root certificate. As root, the server runs as ``nobody`` (postgres refuses
to run as root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from nodestack.process import Process, free_port, on_cpus

#: Debian installs the server's programs here, one directory per major version, not on PATH.
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
#: The account the server runs as when the tests run as root.
UNPRIVILEGED = "nobody"
#: The role and database the app uses, and its password (a throwaway cluster's).
APP_ROLE = "notes"
APP_DATABASE = "notes"
APP_PASSWORD = "notes-test-password"  # noqa: S105 - a throwaway test cluster's, never deployed
#: The name the server's certificate is issued for: what the app verifies (``sslmode=verify-full``).
SERVER_NAME = "localhost"


def binaries() -> Path:
    """The newest installed server's bin directory (initdb, postgres, pg_isready)."""
    found = sorted(DEBIAN_BINARIES.glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    if not found:
        raise RuntimeError("no PostgreSQL server: install Debian's postgresql (make system does)")
    return found[-1].parent


def _as_server_user() -> tuple[int, int] | None:
    """The uid and gid to run the server as: ``UNPRIVILEGED`` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    account = pwd.getpwnam(UNPRIVILEGED)
    return account.pw_uid, account.pw_gid


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)  # noqa: S603, S607


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate and key for ``SERVER_NAME`` (and 127.0.0.1) that it signed: the
    CA's certificate, the server's, its key."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
        "-subj", "/CN=notes test CA", "-keyout", "ca.key", "-out", "ca.crt", cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", f"/CN={SERVER_NAME}", "-keyout", "server.key", "-out", "server.csr", cwd=directory,
    )  # fmt: skip
    (directory / "server.ext").write_text(f"subjectAltName=DNS:{SERVER_NAME},IP:127.0.0.1\n")
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "server.ext", "-out", "server.crt", cwd=directory,
    )  # fmt: skip
    return directory / "ca.crt", directory / "server.crt", directory / "server.key"


HBA = """\
# The harness's own administration over the unix socket; TLS alone over TCP.
local all all trust
hostssl all all 127.0.0.1/32 scram-sha-256
"""


@dataclass
class Postgres:
    """A running throwaway cluster."""

    root: Path
    port: int
    ca: Path
    process: Process
    #: The CPUs the server runs on (all when None).
    cpus: frozenset[int] | None = None

    @property
    def socket_dir(self) -> Path:
        """The directory of the server's unix socket (libpq's ``host`` for it)."""
        return self.root / "run"

    def app_env(self, **overrides: str) -> dict[str, str]:
        """The app's ``DATABASE_*`` for this cluster: TCP to ``localhost``, TLS verified against its CA."""
        return {
            "DATABASE_HOST": SERVER_NAME,
            "DATABASE_PORT": str(self.port),
            "DATABASE_NAME": APP_DATABASE,
            "DATABASE_USER": APP_ROLE,
            "DATABASE_PASSWORD": APP_PASSWORD,
            "DATABASE_SSLMODE": "verify-full",
            "DATABASE_SSLROOTCERT": str(self.ca),
            **overrides,
        }

    def psql(self, sql: str, database: str = "postgres") -> str:
        """``sql`` run over the socket as the superuser: its rows, unaligned."""
        done = subprocess.run(  # noqa: S603 - the server's own client, fixed arguments
            [
                str(binaries() / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql,
            ],
            capture_output=True,
            text=True,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"psql: {sql}: {done.stderr}")
        return done.stdout.strip()

    def accepting(self) -> bool:
        """Whether the server accepts connections (``pg_isready`` over the socket)."""
        done = subprocess.run(  # noqa: S603 - the server's own client, fixed arguments
            [str(binaries() / "pg_isready"), "-q", "-h", str(self.socket_dir), "-p", str(self.port)],
            check=False,
        )
        return done.returncode == 0

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Stop the server: SIGINT is postgres's fast shutdown (clients cut off, a checkpoint written);
        SIGQUIT its immediate one, which leaves recovery to the next start, as a crash does."""
        return self.process.stop(sig, timeout=30)

    def restart(self) -> None:
        """Start the server again on the same data, port and certificates, and wait until it accepts."""
        self.process = _serve(self.root, self.port, self.cpus)
        self.process.wait_ready(self.accepting, "postgres to accept connections again")


def _serve(root: Path, port: int, cpus: frozenset[int] | None) -> Process:
    log = root / "postgres.log"
    ids = _as_server_user()
    with log.open("ab") as sink:
        popen = subprocess.Popen(  # noqa: S603 - the server's own binary, fixed arguments
            on_cpus([
                str(binaries() / "postgres"), "-D", str(root / "data"), "-p", str(port),
                "-k", str(root / "run"), "-c", "listen_addresses=127.0.0.1",
            ], cpus),
            stdout=sink,
            stderr=subprocess.STDOUT,
            user=None if ids is None else ids[0],
            group=None if ids is None else ids[1],
            extra_groups=None if ids is None else [],
        )  # fmt: skip
    return Process(name="postgres", popen=popen, log=log)


def _chown(path: Path, ids: tuple[int, int] | None) -> None:
    if ids is not None:
        for item in [path, *path.rglob("*")]:
            os.chown(item, *ids)


def start_postgres(
    workdir: Path, *, cpus: frozenset[int] | None = None, settings: Mapping[str, str] | None = None
) -> Postgres:
    """A new cluster under ``workdir``/postgres-PORT: initdb, certificates, TLS-only TCP, ``settings``
    added to postgresql.conf, started on ``cpus`` (all when None); the app's role and database created
    (owned by the role, as on RDS the master user's database is)."""
    port = free_port()
    root = workdir / f"postgres-{port}"
    (root / "run").mkdir(parents=True)
    root.chmod(0o755)
    ca, certificate, key = make_certificates(root / "tls")
    ids = _as_server_user()
    _chown(root, ids)
    key.chmod(0o600)
    password_file = root / "password"
    password_file.write_text("unused-superuser-password\n")
    _chown(password_file, ids)
    subprocess.run(  # noqa: S603 - the server's own binary, fixed arguments
        [
            str(binaries() / "initdb"), "-D", str(root / "data"), "-U", "postgres", "-E", "UTF8",
            "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=reject", f"--pwfile={password_file}",
            "--no-sync",
        ],
        capture_output=True,
        check=True,
        user=None if ids is None else ids[0],
        group=None if ids is None else ids[1],
        extra_groups=None if ids is None else [],
    )  # fmt: skip
    (root / "data" / "pg_hba.conf").write_text(HBA)
    with (root / "data" / "postgresql.conf").open("a") as conf:
        conf.write(
            "ssl = on\n"
            f"ssl_cert_file = '{certificate}'\n"
            f"ssl_key_file = '{key}'\n"
            "password_encryption = 'scram-sha-256'\n"
            + "".join(f"{name} = {value}\n" for name, value in (settings or {}).items())
        )
    server = Postgres(root=root, port=port, ca=ca, process=_serve(root, port, cpus), cpus=cpus)
    server.process.wait_ready(server.accepting, "postgres to accept connections")
    server.psql(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'")
    server.psql(f"CREATE DATABASE {APP_DATABASE} OWNER {APP_ROLE}")
    return server


def remove(server: Postgres) -> None:
    """Stop the server (fast shutdown) and delete its directory."""
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)
