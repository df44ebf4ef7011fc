"""nginx rendered by ``docker/nginx/render.sh`` and started as the proxy image starts it."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from nodestack.paths import APP, PRECOMPRESS, RENDER, STATIC_DIGEST
from nodestack.process import Process, child_pids, free_port, port_open, spawn

#: The proxy image's command (docker/Dockerfile's CMD, tested equal): nginx in the foreground with the
#: configuration render.sh wrote in NGINX_RUNTIME_DIR.
PROXY_COMMAND = ["sh", "-c", "exec nginx -e stderr -c \"$NGINX_RUNTIME_DIR/nginx.conf\" -g 'daemon off;'"]
#: The idle connections each nginx worker keeps to gunicorn as shipped (render.sh's default
#: NGINX_UPSTREAM_KEEPALIVE, tested against it).
KEEPALIVE_SHIPPED = "32"


def command(render: Path = RENDER) -> list[str]:
    """The proxy image's entrypoint (``render``, render.sh or a copy of it) running its command."""
    return [str(render), *PROXY_COMMAND]


def prepare_static(workdir: Path) -> Path:
    """The images' build steps on a copy of the sample app's static/ in ``workdir``: the files, their
    content-hashed twins with the manifest the app links through (``static/manifest.json``), and the .gz
    twins of all."""
    static = workdir / "static"
    shutil.copytree(APP / "static", static)
    # Fixed argument lists: our own scripts on our own copy.
    subprocess.run([sys.executable, str(STATIC_DIGEST), str(static)], check=True)  # noqa: S603
    subprocess.run([str(PRECOMPRESS), str(static)], check=True)  # noqa: S603
    for path in [static, *static.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return static


def loopback_env(
    workdir: Path, mode: str, upstream: str, *, http_port: int | str, https_port: int | str, runtime: Path
) -> dict[str, str]:
    """render.sh's environment for an nginx on 127.0.0.1 serving ``localhost``: static files from
    ``workdir/static`` (``prepare_static``), a self-signed certificate made in ``workdir/tls`` when missing,
    its rendered config and files in ``runtime``."""
    return {
        "NGINX_MODE": mode,
        "SERVER_NAME": "localhost",
        "LISTEN_ADDRESS": "127.0.0.1",
        "HTTP_PORT": str(http_port),
        "HTTPS_PORT": str(https_port),
        "PUBLIC_HTTPS_PORT": str(https_port),
        "UPSTREAM": upstream,
        "STATIC_ROOT": str(workdir / "static"),
        "NGINX_RUNTIME_DIR": str(runtime),
        "TLS_SELF_SIGNED": "true",
        "TLS_CERT": str(workdir / "tls" / "localhost.crt"),
        "TLS_KEY": str(workdir / "tls" / "localhost.key"),
    }


def render_env(workdir: Path, mode: str, upstream: str, **overrides: str) -> dict[str, str]:
    """``loopback_env`` on free ports, with its logs in its runtime directory, one worker and a rate limit
    that load from one client does not reach; ``overrides`` replace any of it."""
    http_port, https_port = free_port(), free_port()
    runtime = Path(overrides.get("NGINX_RUNTIME_DIR", workdir / f"nginx-{mode}-{https_port}"))
    return {
        **loopback_env(workdir, mode, upstream, http_port=http_port, https_port=https_port, runtime=runtime),
        "NGINX_ACCESS_LOG": str(runtime / "access.log"),
        "NGINX_ERROR_LOG": str(runtime / "error.log"),
        "NGINX_WORKER_PROCESSES": "1",
        "RATE_LIMIT": "1000",
        "RATE_LIMIT_BURST": "1000",
        **overrides,
    }


@dataclass
class Nginx:
    """nginx rendered by render.sh and started as the image starts it."""

    process: Process
    env: dict[str, str]
    cafile: str = field(init=False)

    def __post_init__(self) -> None:
        self.cafile = self.env["TLS_CERT"]

    @property
    def http_port(self) -> int:
        """The plain HTTP port (edge mode's redirects)."""
        return int(self.env["HTTP_PORT"])

    @property
    def https_port(self) -> int:
        """The TLS port."""
        return int(self.env["HTTPS_PORT"])

    @property
    def https_url(self) -> str:
        """The TLS port's URL on loopback."""
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http_url(self) -> str:
        """The plain HTTP port's URL on loopback."""
        return f"http://127.0.0.1:{self.http_port}"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this nginx's self-signed certificate."""
        return ssl.create_default_context(cafile=self.cafile)

    def worker_pids(self) -> set[int]:
        """The master's children: its workers (and cache processes, if any)."""
        return child_pids(self.process.pid)


def start_nginx(
    env: dict[str, str], workdir: Path, *, render: Path = RENDER, cpus: frozenset[int] | None = None
) -> Nginx:
    """Render and start nginx as the proxy image does: ``render.sh`` (its entrypoint) running
    ``PROXY_COMMAND`` (its command), on ``cpus`` (all when None), and wait until its TLS port accepts
    connections.

    ``render`` may name a ``render.sh`` in a copy of ``docker/nginx/`` with edited templates.
    """
    log = workdir / f"nginx-{env['HTTPS_PORT']}.log"
    process = spawn("nginx", command(render), env, workdir, log, cpus=cpus)
    server = Nginx(process=process, env=env)
    process.wait_ready(lambda: master_listening(server), f"nginx on {server.https_port}")
    return server


def master_listening(server: Nginx) -> bool:
    """Whether the started nginx itself listens: render.sh's ``nginx -t`` binds the same ports for an
    instant first, and the master writes its pid (the process's own: render.sh and sh exec it) only once
    it listens."""
    pid_file = Path(server.env["NGINX_RUNTIME_DIR"]) / "nginx.pid"
    try:
        started = pid_file.read_text().strip() == str(server.process.pid)
    except FileNotFoundError:
        return False
    return started and port_open(server.https_port)
