"""The security headers of "Nginx as a Reverse Proxy for Flask", plus CSP and Permissions-Policy, on every
kind of response."""

from __future__ import annotations

import pytest
import requests

from nodestack.nginx import Nginx

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def assert_security_headers(response: requests.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, f"{name} on {response.status_code} {response.url}"
    csp = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert "camera=()" in response.headers.get("Permissions-Policy", "")
    assert "nginx/" not in response.headers.get("Server", "")  # server_tokens off


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 200),
        ("/api/status", 200),
        ("/static/css/site.css", 200),
        ("/static/js/site.js", 200),
        ("/no/such/page", 404),
        ("/static/no-such-file.css", 404),
        ("/static/.hidden", 403),
    ],
)
@pytest.mark.parametrize("fixture", ["edge", "alb"])
def test_headers_on_pages_static_files_and_errors(
    fixture: str, path: str, status: int, request: pytest.FixtureRequest, client: requests.Session
) -> None:
    nginx: Nginx = request.getfixturevalue(fixture)
    response = client.get(
        f"{nginx.https_url}{path}", headers={"Host": "localhost"}, verify=nginx.cafile, timeout=5
    )
    assert response.status_code == status
    assert_security_headers(response)


def test_headers_on_the_redirect(edge: Nginx) -> None:
    response = requests.get(
        f"{edge.http_url}/", headers={"Host": "localhost"}, allow_redirects=False, timeout=5
    )
    assert response.status_code == 301
    assert_security_headers(response)


def test_headers_on_413(edge: Nginx, client: requests.Session) -> None:
    response = client.post(
        f"{edge.https_url}/api/upload",
        headers={"Host": "localhost"},
        data=b"x" * (11 * 1024 * 1024),
        verify=edge.cafile,
        timeout=30,
    )
    assert response.status_code == 413
    assert_security_headers(response)


def test_headers_on_unknown_host_refusal(edge: Nginx, client: requests.Session) -> None:
    response = client.get(
        f"{edge.https_url}/", headers={"Host": "evil.example"}, verify=edge.cafile, timeout=5
    )
    assert response.status_code == 421
    assert_security_headers(response)
