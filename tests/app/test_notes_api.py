"""The notes API through nginx and gunicorn (the shipped configs) on a real PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from nodestack.nginx import Nginx
from nodestack.postgres import Postgres


def call(
    nginx: Nginx, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
) -> requests.Response:
    return requests.request(
        method,
        f"{nginx.https_url}{path}",
        headers={"Host": "localhost", **(headers or {})},
        verify=nginx.cafile,
        timeout=10,
        **kwargs,
    )


def test_a_note_is_written_read_listed_and_deleted(app_edge: Nginx, migrated: Postgres) -> None:
    title = f"note {uuid.uuid4().hex}"
    created = call(app_edge, "POST", "/api/notes", json={"title": f"  {title} ", "body": "hello"})
    assert created.status_code == 201
    note = created.json()
    assert (note["title"], note["body"]) == (title, "hello")
    assert created.headers["Location"] == f"/api/notes/{note['id']}"
    assert call(app_edge, "GET", created.headers["Location"]).json() == note
    listed = call(app_edge, "GET", "/api/notes", params={"limit": "100"}).json()["notes"]
    assert listed[0] == note
    assert call(app_edge, "DELETE", f"/api/notes/{note['id']}").status_code == 204
    assert call(app_edge, "GET", f"/api/notes/{note['id']}").status_code == 404
    assert call(app_edge, "DELETE", f"/api/notes/{note['id']}").status_code == 404


def test_pages_go_back_in_time_by_id(app_edge: Nginx, migrated: Postgres) -> None:
    ids = [call(app_edge, "POST", "/api/notes", json={"title": f"page {n}"}).json()["id"] for n in range(3)]
    page = call(app_edge, "GET", "/api/notes", params={"limit": "2", "before": str(ids[-1])}).json()["notes"]
    assert [note["id"] for note in page] == [ids[1], ids[0]]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": 7}, "title"),
        ({"title": "ok", "body": ["not", "text"]}, "body"),
        ({"title": "ok", "colour": "red"}, "colour"),
    ],
)
def test_bad_input_gets_422_naming_the_field(
    app_edge: Nginx, migrated: Postgres, payload: dict[str, object], field: str
) -> None:
    response = call(app_edge, "POST", "/api/notes", json=payload)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid input"
    assert list(response.json()["fields"]) == [field]


def test_a_body_that_is_not_a_json_object_gets_400(app_edge: Nginx, migrated: Postgres) -> None:
    for body in ("not json", "[1, 2]"):
        response = call(
            app_edge, "POST", "/api/notes", data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        assert list(response.json()["fields"]) == ["request"]


@pytest.mark.parametrize(
    ("query", "field"), [("limit=0", "limit"), ("limit=many", "limit"), ("before=-1", "before"), ("x=1", "x")]
)
def test_bad_query_gets_422_naming_the_parameter(
    app_edge: Nginx, migrated: Postgres, query: str, field: str
) -> None:
    response = call(app_edge, "GET", f"/api/notes?{query}")
    assert response.status_code == 422
    assert list(response.json()["fields"]) == [field]


def test_an_id_beyond_bigint_is_404_not_500(app_edge: Nginx, migrated: Postgres) -> None:
    assert call(app_edge, "GET", f"/api/notes/{2**63}").status_code == 404


def test_readiness_checks_the_database_and_liveness_does_not(app_edge: Nginx, migrated: Postgres) -> None:
    assert call(app_edge, "GET", "/readyz").json() == {"status": "ready", "database": "ok"}
    assert call(app_edge, "GET", "/healthz").json() == {"status": "ok"}
