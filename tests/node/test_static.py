"""/static/ is served by nginx from disk: caching headers, precompressed twins, nothing hidden leaks."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from nodestack.nginx import Nginx
from nodestack.paths import APP
from nodestack.process import wait_until
from tests.node.support import AppLog

CSS = APP / "static" / "css" / "site.css"
SECRET = b"do-not-serve-this"


def get(nginx: Nginx, path: str, **headers: str) -> requests.Response:
    return requests.get(
        f"{nginx.https_url}{path}",
        headers={"Host": "localhost", **headers},
        verify=nginx.cafile,
        stream=True,
        timeout=5,
    )


def hashed(workdir: Path, name: str) -> str:
    """The content-hashed name of static file ``name``, from the manifest the build step wrote."""
    manifest: dict[str, str] = json.loads((workdir / "static" / "manifest.json").read_text())
    return manifest[name]


def test_content_hashed_names_are_immutable_for_a_year(edge: Nginx, workdir: Path) -> None:
    name = hashed(workdir, "css/site.css")
    assert re.fullmatch(r"css/site\.[0-9a-f]{12}\.css", name)
    response = get(edge, f"/static/{name}", **{"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable, no-transform"
    assert "Expires" not in response.headers
    # The twin is the same bytes, precompressed like the rest.
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.raw.read(decode_content=False)) == CSS.read_bytes()


def test_plain_names_are_cached_for_minutes_only(edge: Nginx) -> None:
    # A plain name may hold other bytes after the next release.
    response = get(edge, "/static/css/site.css")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=600, no-transform"
    assert "Expires" not in response.headers


def test_the_page_links_its_assets_by_their_hashed_names(edge: Nginx, workdir: Path) -> None:
    page = get(edge, "/").text
    for name in ("css/site.css", "js/site.js"):
        assert f'"/static/{hashed(workdir, name)}"' in page


def test_gzip_twin_for_clients_that_accept_gzip(edge: Nginx) -> None:
    response = get(edge, "/static/css/site.css", **{"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    raw = response.raw.read(decode_content=False)
    assert gzip.decompress(raw) == CSS.read_bytes()
    assert len(raw) < CSS.stat().st_size


def test_plain_file_for_other_clients(edge: Nginx) -> None:
    response = get(edge, "/static/css/site.css", **{"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in response.headers
    assert response.raw.read(decode_content=False) == CSS.read_bytes()


def test_served_by_nginx_not_the_app(edge: Nginx, app_log: AppLog) -> None:
    marker = f"static-{uuid.uuid4().hex}"
    assert get(edge, f"/static/js/site.js?{marker}").status_code == 200
    assert not app_log.reached_app(marker)
    assert get(edge, f"/api/status?{marker}").status_code == 200
    assert app_log.reached_app(marker)


@pytest.fixture(scope="module")
def hidden_files(workdir: Path) -> Iterator[list[str]]:
    """Files that exist on disk under the static root and must never be served."""
    static = workdir / "static"
    names = [".env", "css/.git-credentials", "css/site.css~", "js/site.js.bak", "js/site.js.swp", "app.orig"]
    for name in names:
        path = static / name
        path.write_bytes(SECRET)
        path.chmod(0o644)
    yield names
    for name in names:
        (static / name).unlink()


def test_dot_files_and_backups_are_refused(edge: Nginx, hidden_files: list[str]) -> None:
    for name in hidden_files:
        response = get(edge, f"/static/{name}")
        assert response.status_code == 403, name
        assert SECRET not in response.content


@pytest.mark.parametrize(
    "path",
    [
        "/static/../run.py",
        "/static/..%2frun.py",
        "/static/%2e%2e/%2e%2e/docker/run.py",
        "/static../run.py",
        "/static/../../../../etc/passwd",
        "/static/css/../../gunicorn.conf.py",
    ],
)
def test_no_escape_from_the_static_root(edge: Nginx, path: str) -> None:
    connection = http.client.HTTPSConnection("127.0.0.1", edge.https_port, context=edge.ssl_context())
    try:
        # http.client sends the path as given: no client-side normalisation of the dot segments.
        connection.request("GET", path, headers={"Host": "localhost"})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status in {400, 403, 404}, path
    assert b"create_app" not in body
    assert b"root:" not in body


def test_hits_are_not_logged_but_misses_are(edge: Nginx) -> None:
    marker = uuid.uuid4().hex
    log = Path(edge.env["NGINX_ACCESS_LOG"])
    hit = get(edge, f"/static/css/site.css?hit={marker}")
    miss = get(edge, f"/static/no-such-{marker}.css")
    # A proxied request after both: once it is logged, nginx has written out what came before it.
    proxied = get(edge, f"/api/status?after={marker}")

    assert (hit.status_code, miss.status_code, proxied.status_code) == (200, 404, 200)
    wait_until(lambda: f"after={marker}" in log.read_text(), "nginx's access log")
    lines = log.read_text()
    assert f'/static/no-such-{marker}.css HTTP/1.1" 404 ' in lines
    assert f"hit={marker}" not in lines
