"""The sample app on its own (Flask's test client): routes and limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from notes import MAX_CONTENT_LENGTH, create_app
from notes.database import BadDatabaseSetting, DatabaseSettings


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Flask:
    # No database and no manifest, as in a checkout before any build.
    monkeypatch.delenv("DATABASE_HOST", raising=False)
    monkeypatch.setenv("STATIC_MANIFEST", str(tmp_path / "manifest.json"))
    return create_app({"TESTING": True, "APP_VERSION": "1.2.3"})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_index_loads_css_and_js_by_plain_names_without_a_manifest(client: FlaskClient) -> None:
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


def test_index_links_the_hashed_names_the_manifest_gives(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"css/site.css": "css/site.0123456789ab.css"}))
    monkeypatch.setenv("STATIC_MANIFEST", str(manifest))
    body = create_app({"TESTING": True}).test_client().get("/").get_data(as_text=True)
    assert 'href="/static/css/site.0123456789ab.css"' in body
    # A file the manifest does not name keeps its plain name.
    assert 'src="/static/js/site.js"' in body


def test_without_a_database_the_app_starts_and_says_so(client: FlaskClient) -> None:
    assert client.get("/readyz").get_json() == {"status": "ready", "database": "not configured"}
    for response in (client.get("/api/notes"), client.post("/api/notes", json={"title": "t"})):
        assert (response.status_code, response.get_json()) == (503, {"error": "no database configured"})
    # Bad input is still bad input.
    assert client.post("/api/notes", json={"title": ""}).status_code == 422


def test_database_settings_default_to_verified_tls() -> None:
    settings = DatabaseSettings.from_env({"DATABASE_HOST": "db.example.com"})
    assert settings is not None
    assert (settings.port, settings.name, settings.sslmode) == (5432, "app", "verify-full")
    url = settings.url()
    assert url.query["sslmode"] == "verify-full"
    assert "sslrootcert" not in url.query


def test_database_settings_carry_every_variable() -> None:
    env = {
        "DATABASE_HOST": "db.example.com",
        "DATABASE_PORT": "6432",
        "DATABASE_NAME": "notes",
        "DATABASE_USER": "app",
        "DATABASE_PASSWORD": "s3cret",
        "DATABASE_SSLMODE": "verify-ca",
        "DATABASE_SSLROOTCERT": "/etc/ssl/rds.pem",
    }
    settings = DatabaseSettings.from_env(env)
    assert settings is not None
    url = settings.url()
    assert (url.host, url.port, url.database, url.username, url.password) == (
        "db.example.com",
        6432,
        "notes",
        "app",
        "s3cret",
    )
    assert (url.query["sslmode"], url.query["sslrootcert"]) == ("verify-ca", "/etc/ssl/rds.pem")
    assert "s3cret" not in repr(url)


def test_no_host_means_no_database() -> None:
    assert DatabaseSettings.from_env({"DATABASE_HOST": ""}) is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("DATABASE_PORT", "http", "DATABASE_PORT='http': expected a port, 1 to 65535"),
        ("DATABASE_PORT", "70000", "DATABASE_PORT='70000': expected a port, 1 to 65535"),
        ("DATABASE_SSLMODE", "on", "DATABASE_SSLMODE='on': expected one of disable, allow, prefer, require"),
    ],
)
def test_bad_database_settings_name_the_variable(key: str, value: str, message: str) -> None:
    with pytest.raises(BadDatabaseSetting) as raised:
        DatabaseSettings.from_env({"DATABASE_HOST": "db", key: value})
    assert str(raised.value).startswith(message)
