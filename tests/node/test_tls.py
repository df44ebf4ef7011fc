"""TLS as Mozilla's intermediate profile: 1.2 and 1.3 only, HTTP/2 by ALPN, HTTP redirected to HTTPS."""

from __future__ import annotations

import socket
import ssl

import pytest
import requests

from nodestack.nginx import Nginx


def handshake(
    nginx: Nginx, version: ssl.TLSVersion, *, alpn: list[str] | None = None
) -> tuple[str | None, str | None, str]:
    """Connect with exactly ``version``; return (protocol, ALPN protocol, cipher)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=nginx.cafile)
    context.minimum_version = context.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        # Let our client offer the old protocols at all, so that the refusal is the server's.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if alpn:
        context.set_alpn_protocols(alpn)
    with (
        socket.create_connection(("127.0.0.1", nginx.https_port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        cipher = tls.cipher()
        assert cipher is not None
        return tls.version(), tls.selected_alpn_protocol(), cipher[0]


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
@pytest.mark.parametrize(
    "version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1], ids=["TLSv1.0", "TLSv1.1"]
)
def test_tls_1_0_and_1_1_are_refused_by_the_server(edge: Nginx, version: ssl.TLSVersion) -> None:
    with pytest.raises(ssl.SSLError, match=r"TLSV1_ALERT_PROTOCOL_VERSION|tlsv1 alert protocol version"):
        handshake(edge, version)


def test_tls_1_2_with_a_forward_secret_aead_suite(edge: Nginx) -> None:
    protocol, _, cipher = handshake(edge, ssl.TLSVersion.TLSv1_2)
    assert protocol == "TLSv1.2"
    assert cipher.startswith("ECDHE-")
    assert "GCM" in cipher or "CHACHA20" in cipher


def test_tls_1_3_is_negotiated(edge: Nginx) -> None:
    protocol, _, _ = handshake(edge, ssl.TLSVersion.TLSv1_3)
    assert protocol == "TLSv1.3"


@pytest.mark.parametrize("fixture", ["edge", "alb"])
def test_http2_negotiated_by_alpn(fixture: str, request: pytest.FixtureRequest) -> None:
    nginx: Nginx = request.getfixturevalue(fixture)
    _, alpn, _ = handshake(nginx, ssl.TLSVersion.TLSv1_3, alpn=["h2", "http/1.1"])
    assert alpn == "h2"


@pytest.mark.parametrize("path", ["/", "/some/page?x=1&y=two", "/static/css/site.css?v=3"])
def test_http_redirects_to_https_keeping_path_and_query(edge: Nginx, path: str) -> None:
    response = requests.get(
        f"{edge.http_url}{path}", headers={"Host": "localhost"}, allow_redirects=False, timeout=5
    )
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://localhost:{edge.https_port}{path}"


def test_redirect_is_followed_to_the_https_site(edge: Nginx, client: requests.Session) -> None:
    response = client.get(f"http://localhost:{edge.http_port}/api/status", verify=edge.cafile, timeout=5)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [301]
    assert response.url.startswith(f"https://localhost:{edge.https_port}/")
