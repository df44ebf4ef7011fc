"""The node stack's WSGI entry (appserver.wsgi): the app WSGI_APP names, behind the proxy-header fix that
believes X-Forwarded-For and -Proto from trusted proxies only. Any WSGI app: a bare one here."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest
from werkzeug.test import Client

from appserver.environment import BadSetting, trusted_proxies, wsgi_app
from appserver.proxy import TrustedProxyFix
from nodestack.paths import APP, DOCKER

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def seen(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A bare WSGI app (no framework) that answers what it was told about the client."""
    start_response("200 OK", [("Content-Type", "application/json")])
    told = {"remote_addr": environ["REMOTE_ADDR"], "scheme": environ["wsgi.url_scheme"]}
    return [json.dumps(told).encode()]


def client_seen(trusted: str, peer: str, headers: dict[str, str]) -> dict[str, str]:
    client = Client(TrustedProxyFix(seen, trusted=trusted_proxies(trusted)))
    response = client.get("/", headers=headers, environ_base={"REMOTE_ADDR": peer})
    result: dict[str, str] = json.loads(response.get_data())
    return result


FORWARDED = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"}


# gunicorn gives a unix socket's peer an empty REMOTE_ADDR (all three worker classes).
@pytest.mark.parametrize("peer", ["127.0.0.1", ""], ids=["loopback", "unix-socket"])
def test_forwarded_headers_trusted_from_the_local_proxy(peer: str) -> None:
    assert client_seen("127.0.0.1,::1", peer, FORWARDED) == {"remote_addr": "198.51.100.7", "scheme": "https"}


def test_forwarded_headers_ignored_from_any_other_peer() -> None:
    assert client_seen("127.0.0.1,::1", "203.0.113.50", FORWARDED) == {
        "remote_addr": "203.0.113.50",
        "scheme": "http",
    }


def test_only_the_last_hop_is_believed() -> None:
    # nginx appends the address it saw; anything before it came from the client and is not believed.
    headers = {"X-Forwarded-For": "6.6.6.6, 198.51.100.7"}
    assert client_seen("127.0.0.1", "127.0.0.1", headers)["remote_addr"] == "198.51.100.7"


def test_configured_trusted_proxies_replace_local_nginx() -> None:
    assert client_seen("10.0.0.0/8", "127.0.0.1", FORWARDED)["remote_addr"] == "127.0.0.1"


@pytest.mark.parametrize("peer", ["203.0.113.50", "2001:db8::5"])
def test_a_star_trusts_every_peer_as_gunicorn_does(peer: str) -> None:
    assert client_seen("*", peer, FORWARDED) == {"remote_addr": "198.51.100.7", "scheme": "https"}


def test_trusted_proxies_are_addresses_and_networks() -> None:
    networks = trusted_proxies(" 127.0.0.1, ::1 ,10.0.0.0/16,")
    assert [str(n) for n in networks] == ["127.0.0.1/32", "::1/128", "10.0.0.0/16"]


@pytest.mark.parametrize("value", ["wsgi:app", "notes.web:create_app()", "a.b.c:application"])
def test_wsgi_app_takes_gunicorns_forms(value: str) -> None:
    assert wsgi_app({"WSGI_APP": value}) == value


def test_wsgi_app_defaults_to_wsgi_py() -> None:
    assert wsgi_app({}) == "wsgi:app"


@pytest.mark.parametrize("value", ["wsgi", "wsgi.app", "wsgi:app:x", "wsgi:create_app('x')", "-m:app"])
def test_wsgi_app_refuses_anything_else_naming_it(value: str) -> None:
    with pytest.raises(BadSetting) as raised:
        wsgi_app({"WSGI_APP": value})
    expected = "expected module:name or module:factory(), such as wsgi:app"
    assert str(raised.value) == f"WSGI_APP={value!r}: {expected}"


def load(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """appserver.wsgi imported as a worker imports it: in the app directory, the node stack on PYTHONPATH."""
    script = (
        "import appserver.wsgi as w; print(*(type(a).__name__ for a in (w.application, w.application.app)))"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=APP,
        env={"PYTHONPATH": str(DOCKER), **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_entry_wraps_the_app_wsgi_app_names() -> None:
    loaded = load({"WSGI_APP": "wsgi:app"})
    assert loaded.stdout.split() == ["TrustedProxyFix", "Flask"], loaded.stderr


def test_the_entry_refuses_trusted_proxies_naming_the_variable_and_value() -> None:
    # The rule and each refused value are tested with gunicorn's in test_gunicorn_conf.py.
    loaded = load({"FORWARDED_ALLOW_IPS": "127.0.0.1,nope"})
    assert loaded.returncode != 0
    assert "BadSetting: FORWARDED_ALLOW_IPS='127.0.0.1,nope': 'nope' does not appear" in loaded.stderr
