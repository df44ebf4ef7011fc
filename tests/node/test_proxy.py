"""What the app sees through nginx: the real client and scheme, from trusted proxies only; Host routing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests

from nodestack.nginx import Nginx
from nodestack.process import wait_until


def request_info(nginx: Nginx, **headers: str) -> dict[str, Any]:
    response = requests.get(
        f"{nginx.https_url}/api/request-info",
        headers={"Host": "localhost", **headers},
        verify=nginx.cafile,
        timeout=5,
    )
    response.raise_for_status()
    info: dict[str, Any] = response.json()
    return info


def test_edge_app_sees_the_client_and_https(edge: Nginx) -> None:
    info = request_info(edge)
    assert info["remote_addr"] == "127.0.0.1"
    assert info["scheme"] == "https"
    assert info["host"] == "localhost"
    assert re.fullmatch(r"[0-9a-f]{32}", info["request_id"])


def test_nginx_logs_each_proxied_request_with_the_id_the_app_saw(edge: Nginx) -> None:
    # nginx's access log is the record of requests (gunicorn writes none by default).
    request_id = request_info(edge)["request_id"]
    log = Path(edge.env["NGINX_ACCESS_LOG"])
    wait_until(lambda: f"rid={request_id}" in log.read_text(), "nginx's access log")
    (line,) = [entry for entry in log.read_text().splitlines() if f"rid={request_id}" in entry]
    assert '"localhost" "GET /api/request-info HTTP/1.1" 200 ' in line
    assert re.search(r" rt=\d+\.\d{3} urt=\d+\.\d{3} rid=", line), line


def test_edge_ignores_forwarding_headers_sent_by_clients(edge: Nginx) -> None:
    info = request_info(edge, **{"X-Forwarded-For": "203.0.113.66", "X-Forwarded-Proto": "http"})
    assert info["remote_addr"] == "127.0.0.1"
    assert info["scheme"] == "https"


def test_behind_alb_app_sees_the_client_the_alb_saw(alb: Nginx) -> None:
    info = request_info(alb, **{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert info["remote_addr"] == "203.0.113.9"
    assert info["scheme"] == "https"


def test_behind_alb_a_client_cannot_prepend_a_fake_address(alb: Nginx) -> None:
    # The ALB appends the address it saw to whatever the client sent: only the last hop is real.
    info = request_info(alb, **{"X-Forwarded-For": "198.51.100.1, 203.0.113.9"})
    assert info["remote_addr"] == "203.0.113.9"


def test_behind_alb_scheme_comes_from_the_alb(alb: Nginx) -> None:
    # nginx's own scheme is https (the ALB connects over TLS); the client's is what the ALB reports.
    info = request_info(alb, **{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "http"})
    assert info["scheme"] == "http"


def test_behind_alb_untrusted_peer_cannot_spoof(alb_untrusted_peer: Nginx) -> None:
    info = request_info(alb_untrusted_peer, **{"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "http"})
    assert info["remote_addr"] == "127.0.0.1"
    assert info["scheme"] == "https"


@pytest.mark.parametrize("fixture", ["edge", "alb"])
def test_unknown_host_is_refused(fixture: str, request: pytest.FixtureRequest) -> None:
    nginx: Nginx = request.getfixturevalue(fixture)
    for host in ("evil.example", "localhost.evil.example", f"127.0.0.1:{nginx.https_port}"):
        response = requests.get(
            f"{nginx.https_url}/api/status", headers={"Host": host}, verify=nginx.cafile, timeout=5
        )
        assert response.status_code == 421, host


def test_unknown_host_on_http_is_refused_not_redirected(edge: Nginx) -> None:
    response = requests.get(
        f"{edge.http_url}/", headers={"Host": "evil.example"}, allow_redirects=False, timeout=5
    )
    assert response.status_code == 421
    assert "Location" not in response.headers


@pytest.mark.parametrize("fixture", ["edge", "alb"])
def test_health_check_by_instance_address_reaches_the_app(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    # The ALB health-checks each target with its IP address as Host, over TLS, without SNI.
    nginx: Nginx = request.getfixturevalue(fixture)
    response = requests.get(f"{nginx.https_url}/healthz", verify=nginx.cafile, timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_check_over_plain_http_by_address_is_answered_not_redirected(edge: Nginx) -> None:
    response = requests.get(f"{edge.http_url}/healthz", allow_redirects=False, timeout=5)
    assert response.status_code == 200
