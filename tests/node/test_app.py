"""The Flask app on its own (Flask's test client): routes, limits and trust of proxy headers."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import MAX_CONTENT_LENGTH, create_app
from appserver.environment import BadSetting, trusted_proxies


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


# gunicorn gives a unix socket's peer an empty REMOTE_ADDR (all three worker classes).
@pytest.mark.parametrize("peer", ["127.0.0.1", ""], ids=["loopback", "unix-socket"])
def test_forwarded_headers_trusted_from_the_local_proxy(client: FlaskClient, peer: str) -> None:
    response = client.get(
        "/api/request-info",
        headers={"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": peer},
    )
    assert response.get_json()["remote_addr"] == "198.51.100.7"
    assert response.get_json()["scheme"] == "https"


def test_forwarded_headers_ignored_from_any_other_peer(client: FlaskClient) -> None:
    response = client.get(
        "/api/request-info",
        headers={"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": "203.0.113.50"},
    )
    assert response.get_json()["remote_addr"] == "203.0.113.50"
    assert response.get_json()["scheme"] == "http"


def test_only_the_last_hop_is_believed(client: FlaskClient) -> None:
    # nginx appends the address it saw; anything before it came from the client and is not believed.
    response = client.get(
        "/api/request-info",
        headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.7"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert response.get_json()["remote_addr"] == "198.51.100.7"


def test_configured_trusted_proxies_replace_local_nginx() -> None:
    app = create_app({"TESTING": True, "TRUSTED_PROXIES": "10.0.0.0/8"})
    response = app.test_client().get(
        "/api/request-info",
        headers={"X-Forwarded-For": "198.51.100.7"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert response.get_json()["remote_addr"] == "127.0.0.1"


@pytest.mark.parametrize("peer", ["203.0.113.50", "2001:db8::5"])
def test_a_star_trusts_every_peer_as_gunicorn_does(peer: str) -> None:
    app = create_app({"TESTING": True, "TRUSTED_PROXIES": "*"})
    response = app.test_client().get(
        "/api/request-info",
        headers={"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"},
        environ_base={"REMOTE_ADDR": peer},
    )
    assert (response.get_json()["remote_addr"], response.get_json()["scheme"]) == ("198.51.100.7", "https")


def test_upload_within_limit_is_received_whole(client: FlaskClient) -> None:
    response = client.post("/api/upload", data=b"x" * 1024)
    assert response.get_json() == {"received_bytes": 1024}


def test_upload_over_limit_is_413_even_without_nginx(client: FlaskClient) -> None:
    response = client.post("/api/upload", data=b"x" * (MAX_CONTENT_LENGTH + 1))
    assert response.status_code == 413


def test_trusted_proxies_are_addresses_and_networks() -> None:
    networks = trusted_proxies(" 127.0.0.1, ::1 ,10.0.0.0/16,")
    assert [str(n) for n in networks] == ["127.0.0.1/32", "::1/128", "10.0.0.0/16"]


def test_the_app_refuses_trusted_proxies_naming_the_variable_and_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The rule and each refused value are tested with gunicorn's in test_gunicorn_conf.py.
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "127.0.0.1,nope")
    with pytest.raises(BadSetting, match=r"^FORWARDED_ALLOW_IPS='127.0.0.1,nope': 'nope' does not appear"):
        create_app({"TESTING": True})
