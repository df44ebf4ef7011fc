"""The sample app on its own (Flask's test client): routes and limits."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from notes import MAX_CONTENT_LENGTH, create_app


@pytest.fixture
def app() -> Flask:
    return create_app({"TESTING": True, "APP_VERSION": "1.2.3"})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_index_loads_css_and_js_from_static(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    body = response.get_data(as_text=True)
    assert 'href="/static/css/site.css"' in body
    assert 'src="/static/js/site.js"' in body
    assert "version 1.2.3" in body


def test_healthz_is_liveness_and_not_cached(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_status_gives_the_service_and_its_version(client: FlaskClient) -> None:
    response = client.get("/api/status")
    assert response.status_code == 200
    payload = response.get_json()
    assert payload["version"] == "1.2.3"
    assert payload["service"] == "flask-app"


def test_upload_within_limit_is_received_whole(client: FlaskClient) -> None:
    response = client.post("/api/upload", data=b"x" * 1024)
    assert response.get_json() == {"received_bytes": 1024}


def test_upload_over_limit_is_413_even_without_nginx(client: FlaskClient) -> None:
    response = client.post("/api/upload", data=b"x" * (MAX_CONTENT_LENGTH + 1))
    assert response.status_code == 413
