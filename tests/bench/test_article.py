"""bench/article.py and bench/naive_app.py: the configuration "Nginx as a Reverse Proxy for Flask" prints,
run with only the listed edits, and the naive baseline, both serving the dynamic route from the run's
database on the servers' core."""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bench.article import (
    EDITS,
    GUNICORN_CONF,
    NGINX_CONF,
    PRINTED,
    SERVER_CONF,
    Edit,
    article_stack,
    printed_workers,
)
from bench.cores import CORES
from bench.database import database
from bench.loadgen import tree_pids
from bench.stacks import DYNAMIC, naive
from nodestack.postgres import Postgres
from tests.bench.test_cores import allowed


@pytest.mark.parametrize("edit", EDITS, ids=lambda edit: f"{edit.file}: {edit.printed}")
def test_each_edit_finds_its_printed_text_once(edit: Edit) -> None:
    assert (PRINTED / edit.file).read_text().count(edit.printed) == 1


def test_the_printed_server_block_and_gunicorn_conf_are_kept_as_printed() -> None:
    server = (PRINTED / SERVER_CONF).read_text()
    gunicorn = (PRINTED / GUNICORN_CONF).read_text()

    assert "listen 443 ssl http2;" in server
    assert "proxy_pass http://127.0.0.1:5001;" in server
    assert "workers = (2 * cpu_count()) + 1" in gunicorn
    assert "import" not in gunicorn
    assert "worker_connections 768;" in (PRINTED / NGINX_CONF).read_text()


def test_an_edit_shows_its_fields_by_name() -> None:
    (proxy,) = [edit for edit in EDITS if edit.printed.startswith("proxy_pass")]

    assert proxy.shown == "proxy_pass http://127.0.0.1:GUNICORN;"


@pytest.fixture(scope="module")
def seeded(workdir: Path) -> Iterator[Postgres]:
    with database(workdir) as postgres:
        yield postgres


def unverified() -> ssl.SSLContext:
    """The article's stack makes its own certificate for the run."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_the_article_configuration_serves_the_app_and_its_files_on_the_servers_core(
    workdir: Path, seeded: Postgres
) -> None:
    with article_stack(workdir, database=seeded.app_env()) as stack:
        with urllib.request.urlopen(stack.https(DYNAMIC), context=unverified(), timeout=10) as answer:
            note = answer.read()
        static = (workdir / "static" / "css" / "site.css").read_bytes()
        with urllib.request.urlopen(
            stack.https("/static/css/site.css"), context=unverified(), timeout=10
        ) as got:
            served = got.read()
        nginx, gunicorn = tree_pids(stack.nginx.pid), tree_pids(stack.gunicorn.pid)
        affinities = {allowed(pid) for pid in [*nginx, *gunicorn]}

    assert b'"title":"benchmark"' in note
    assert served == static
    assert len(nginx) == 1 + CORES.nginx_workers
    assert len(gunicorn) == 1 + printed_workers()
    assert affinities == {",".join(str(core) for core in sorted(CORES.server))}


def test_the_naive_app_reads_and_writes_with_a_connection_per_request(
    workdir: Path, seeded: Postgres
) -> None:
    with naive(workdir, seeded.app_env()) as exposed:
        found = requests.get(exposed.url(DYNAMIC), timeout=10)
        missing = requests.get(exposed.url("/api/notes/999999"), timeout=10)
        written = requests.post(exposed.url("/api/notes"), json={"title": "t", "body": "b"}, timeout=10)
        read_back = requests.get(exposed.url(f"/api/notes/{written.json()['id']}"), timeout=10)
        workers = tree_pids(exposed.process.pid)

    assert found.status_code == 200
    assert found.json()["title"] == "benchmark"
    assert missing.status_code == 404
    assert written.status_code == 201
    assert read_back.json()["title"] == "t"
    assert len(workers) == 1 + CORES.gunicorn_workers
