"""psycopg cooperates with gunicorn's gevent worker: one worker's slow query does not hold up its other
requests, and its concurrent requests share the worker's pool."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from nodestack.gunicorn import Gunicorn
from nodestack.postgres import APP_DATABASE, Postgres
from notes.database import MAX_OVERFLOW, POOL_SIZE

SLOW_SECONDS = 3.0


def get(server: Gunicorn, path: str) -> tuple[int, float]:
    """The status of ``GET path`` straight to gunicorn, and when it answered (monotonic)."""
    status = requests.get(f"{server.url}{path}", timeout=30).status_code
    return status, time.monotonic()


def test_a_slow_query_does_not_hold_up_the_workers_other_requests(
    app_server: Gunicorn, migrated: Postgres
) -> None:
    # One worker serves everything here (WEB_CONCURRENCY=1).
    assert len(app_server.worker_pids()) == 1
    with ThreadPoolExecutor(max_workers=8) as pool:
        slow = pool.submit(get, app_server, f"/slow-query?seconds={SLOW_SECONDS}")
        # Once the slow query holds its connection in the server...
        deadline = time.monotonic() + 10
        query = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'"
        while migrated.psql(query) != "1":
            assert time.monotonic() < deadline, "the slow query never started"
        started = time.monotonic()
        # ...the same worker answers queries on other pooled connections, and requests without any.
        quick = [
            pool.submit(get, app_server, path) for path in ["/api/notes?limit=1", "/readyz", "/healthz"] * 2
        ]
        answered = [future.result() for future in quick]
        slow_status, slow_done = slow.result()
    assert slow_status == 200
    assert all(status == 200 for status, _ in answered)
    # A blocking driver would have queued them all behind the slow query.
    assert max(done for _, done in answered) < slow_done
    assert max(done for _, done in answered) - started < SLOW_SECONDS / 2


def test_concurrent_writes_share_the_pool_and_all_land(app_server: Gunicorn, migrated: Postgres) -> None:
    marker = f"pool-{time.monotonic_ns()}"

    def post(n: int) -> int:
        url = f"{app_server.url}/api/notes"
        return requests.post(url, json={"title": f"{marker}-{n}"}, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(post, range(60)))
    assert statuses == [201] * 60
    # The marker is ours (a number), not input.
    count = f"SELECT count(*) FROM notes WHERE title LIKE '{marker}-%'"  # noqa: S608
    assert migrated.psql(count, database=APP_DATABASE) == "60"
    # The worker's connections: never more than its pool and overflow.
    connections = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'notes'"
    assert 1 <= int(migrated.psql(connections)) <= POOL_SIZE + MAX_OVERFLOW
