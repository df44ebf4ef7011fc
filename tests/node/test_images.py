"""The images docker/Dockerfile builds, started as a node starts them: the app's command serves on the socket
volume, the proxy's answers over TLS through it, each as its unprivileged user, each passing its own health
check. The sample app's release command migrates a real PostgreSQL from the image first, and the app serves
notes from it. Booting them from the rendered user data is the node's test; this one needs only a Docker
engine."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest
import requests

from appserver.environment import SOCKET
from nodestack.images import Container, Engine, running, volume
from nodestack.postgres import Postgres
from nodestack.process import STARTUP_TIMEOUT, free_port, wait_until

SOCKET_DIR = str(PurePosixPath(SOCKET).parent)
#: How a node runs both containers (infra/user_data.py): the host's network, no capabilities.
HARDENED = ("--network", "host", "--cap-drop", "ALL", "--security-opt", "no-new-privileges")
#: The uid both images run as (docker/Dockerfile's USER).
UNPRIVILEGED = 1001
#: The certificate render.sh makes at start in behind-alb mode, under the image's NGINX_RUNTIME_DIR.
PROXY_CERT = "/tmp/nginx/tls/node.crt"  # noqa: S108 - a path inside the proxy container


def database(postgres: Postgres) -> list[str]:
    """The app container's ``DATABASE_*`` for the test cluster, but the CA bundle: the image's own, which
    the build fetched (the cluster's CA here, RDS's in a real build)."""
    env = postgres.app_env()
    del env["DATABASE_SSLROOTCERT"]
    return [arg for key, value in env.items() for arg in ("--env", f"{key}={value}")]


@dataclass(frozen=True)
class Stack:
    """The two containers sharing the socket volume, and the proxy's TLS port on loopback."""

    app: Container
    proxy: Container
    https_port: int
    cafile: Path

    def get(self, path: str, host: str = "localhost") -> requests.Response:
        """GET ``path`` from the proxy over TLS, trusting the certificate it made at start (for 127.0.0.1)."""
        return requests.get(
            f"https://127.0.0.1:{self.https_port}{path}",
            headers={"Host": host},
            verify=str(self.cafile),
            timeout=5,
        )


@contextmanager
def running_stack(
    engine: Engine,
    images: dict[str, str],
    cafile: Path,
    app_env: Sequence[str] = (),
    timeout: float = STARTUP_TIMEOUT,
) -> Iterator[Stack]:
    """The app and proxy containers as a node runs them, sharing the socket volume, once the proxy answers
    its health check through the app; removed on exit."""
    https_port, http_port = free_port(), free_port()
    with (
        volume(engine) as socket_volume,
        running(engine, *HARDENED, "--mount", f"type=volume,source={socket_volume},target={SOCKET_DIR}",
                *app_env, images["app"]) as app,
        running(
            engine, *HARDENED,
            "--mount", f"type=volume,source={socket_volume},target={SOCKET_DIR},readonly",
            "--env", "NGINX_MODE=behind-alb", "--env", "TRUSTED_PROXY_CIDRS=127.0.0.0/8",
            "--env", "SERVER_NAME=localhost", "--env", "LISTEN_ADDRESS=127.0.0.1",
            "--env", f"HTTPS_PORT={https_port}", "--env", f"HTTP_PORT={http_port}",
            images["proxy"],
        ) as proxy,
    ):  # fmt: skip
        node = Stack(app, proxy, https_port, cafile)

        def up() -> bool:
            app.check_running()
            proxy.check_running()
            cert = proxy.exec("cat", PROXY_CERT)
            if cert.returncode != 0 or not cert.stdout:
                return False
            node.cafile.write_bytes(cert.stdout)
            try:
                return node.get("/healthz", host="127.0.0.1").status_code == 200
            except requests.RequestException:
                return False

        wait_until(up, "the app and proxy images to answer /healthz", timeout)
        yield node


@pytest.fixture(scope="module")
def stack(
    engine: Engine, images: dict[str, str], postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    # The release phase: the image's release command, once, before the app serves.
    engine.run("run", "--rm", *HARDENED, *database(postgres), images["app"], "python", "release.py")
    cafile = tmp_path_factory.mktemp("proxy-tls") / "node.crt"
    with running_stack(engine, images, cafile, database(postgres)) as node:
        yield node


def main_process(container: Container) -> int:
    pid = container.state()["Pid"]
    assert isinstance(pid, int)
    return pid


def uids(pid: int) -> set[int]:
    """The real, effective, saved and filesystem uids of process ``pid``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return {int(uid) for uid in line.split()[1:]}
    raise AssertionError(f"/proc/{pid}/status has no Uid line")


def test_the_proxy_serves_the_apps_page_over_tls_through_the_socket(stack: Stack) -> None:
    response = stack.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Strict-Transport-Security"]


def test_the_app_serves_notes_from_the_database_the_release_migrated(stack: Stack) -> None:
    assert stack.get("/readyz").json() == {"status": "ready", "database": "ok"}
    created = requests.post(
        f"https://127.0.0.1:{stack.https_port}/api/notes",
        json={"title": "from the image"},
        headers={"Host": "localhost"},
        verify=str(stack.cafile),
        timeout=5,
    )
    assert created.status_code == 201
    assert stack.get(created.headers["Location"]).json()["title"] == "from the image"


def test_pages_link_assets_the_proxy_serves_as_immutable(stack: Stack) -> None:
    page = stack.get("/").text
    (css,) = re.findall(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page)
    response = stack.get(css)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable, no-transform"


def test_the_app_runs_its_command_gunicorn_with_the_gevent_worker(stack: Stack) -> None:
    # serve.py becomes gunicorn (exec): the container's main process is the image's own gunicorn.
    argv = Path(f"/proc/{main_process(stack.app)}/cmdline").read_bytes().split(b"\0")
    assert Path(argv[1].decode()).name == "gunicorn"
    assert "Using worker: gevent" in stack.app.logs()


@pytest.mark.parametrize("name", ["app", "proxy"])
def test_each_container_runs_unprivileged(stack: Stack, name: str) -> None:
    container: Container = getattr(stack, name)
    assert uids(main_process(container)) == {UNPRIVILEGED}


@pytest.mark.parametrize("name", ["app", "proxy"])
def test_each_image_passes_its_own_health_check(stack: Stack, name: str) -> None:
    container: Container = getattr(stack, name)
    config = container.inspect()["Config"]
    assert isinstance(config, dict)
    kind, *command = config["Healthcheck"]["Test"]
    if kind == "CMD-SHELL":
        command = ["/bin/sh", "-c", *command]
    assert kind in {"CMD", "CMD-SHELL"}
    result = container.exec(*command)
    assert result.returncode == 0, (result.stdout + result.stderr).decode(errors="replace")
