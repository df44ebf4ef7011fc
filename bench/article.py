"""The configuration "Nginx as a Reverse Proxy for Flask" prints, run as printed but for what it cannot run
without: its nginx server block (in Debian's stock nginx.conf, where a server block like it is included
from), its gunicorn.conf.py, the sample app.

The printed files are in ``bench/as_printed/``, byte for byte; ``EDITS`` lists every change made to run
them here, each with its reason (the report lists them), and ``render`` applies them to copies.
"""

from __future__ import annotations

import multiprocessing
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.cores import CORES
from bench.loadgen import tree_pids
from bench.stacks import CpuSeconds, MemorySample, on_servers_core, servers_cpu, servers_memory
from nodestack.paths import APP
from nodestack.postgres import make_certificates
from nodestack.process import Process, free_port, healthy, port_open, running, spawn

PRINTED = Path(__file__).with_name("as_printed")
#: The printed files: Debian's nginx.conf (nginx 1.22.1-9), the article's server block, its gunicorn.conf.py.
NGINX_CONF, SERVER_CONF, GUNICORN_CONF = "nginx.conf", "server.conf", "gunicorn.conf.py.txt"
#: The article's Dockerfile serves ``run:app``; the same app here is the sample app.
APP_MODULE = "wsgi:app"


@dataclass(frozen=True)
class Edit:
    """One change to a printed file: the printed text, what runs instead (``str.format`` fields: http,
    https, gunicorn, runtime, static, cert, key), and why it had to change."""

    file: str
    printed: str
    runs: str
    why: str

    @property
    def shown(self) -> str:
        """``runs`` as the report shows it: each field by its name in capitals."""
        return re.sub(r"\{(\w+)\}", lambda field: field.group(1).upper(), self.runs)


EDITS = (
    Edit(
        NGINX_CONF,
        "worker_processes auto;",
        "worker_processes {nginx_workers};",
        "one worker per server core: nginx 1.22's auto counts the machine's cores, not the ones it may use",
    ),
    Edit(
        NGINX_CONF, "pid /run/nginx.pid;", "pid {runtime}/nginx.pid;", "one nginx per run, not the system's"
    ),
    Edit(
        NGINX_CONF,
        "error_log /var/log/nginx/error.log;",
        "error_log {runtime}/error.log;",
        "its logs in the run's directory",
    ),
    Edit(
        NGINX_CONF,
        "access_log /var/log/nginx/access.log;",
        "access_log {runtime}/access.log;",
        "its logs in the run's directory",
    ),
    Edit(
        NGINX_CONF,
        "include /etc/nginx/conf.d/*.conf;\n\tinclude /etc/nginx/sites-enabled/*;",
        "include {runtime}/server.conf;",
        "the article's server blocks, not the machine's sites",
    ),
    Edit(SERVER_CONF, "listen 80;", "listen 127.0.0.1:{http};", "loopback only, on a free port"),
    Edit(
        SERVER_CONF,
        "listen 443 ssl http2;",
        "listen 127.0.0.1:{https} ssl http2;",
        "loopback only, on a free port",
    ),
    Edit(
        SERVER_CONF,
        "/etc/letsencrypt/live/mirahlabs.com/fullchain.pem;",
        "{cert};",
        "the run's self-signed certificate: Let's Encrypt issues none for loopback",
    ),
    Edit(SERVER_CONF, "/etc/letsencrypt/live/mirahlabs.com/privkey.pem;", "{key};", "its key"),
    Edit(
        SERVER_CONF,
        "alias /var/www/mirahlabs/frontend/static/;",
        "alias {static}/;",
        "the sample app's static files, as the shipped stack serves them",
    ),
    Edit(
        SERVER_CONF,
        "proxy_pass http://127.0.0.1:5001;",
        "proxy_pass http://127.0.0.1:{gunicorn};",
        "gunicorn's free port (the article's Dockerfile binds 5001)",
    ),
    Edit(
        GUNICORN_CONF,
        "# gunicorn.conf.py\n",
        "# gunicorn.conf.py\nfrom multiprocessing import cpu_count\n",
        "the printed file calls cpu_count() without importing it (NameError)",
    ),
    Edit(
        GUNICORN_CONF,
        '"/var/log/gunicorn/access.log"',
        '"{runtime}/gunicorn-access.log"',
        "/var/log/gunicorn does not exist: gunicorn would not start",
    ),
    Edit(
        GUNICORN_CONF,
        '"/var/log/gunicorn/error.log"',
        '"{runtime}/gunicorn-error.log"',
        "/var/log/gunicorn does not exist: gunicorn would not start",
    ),
)


def render(runtime: Path, fields: Mapping[str, object]) -> dict[str, Path]:
    """The printed files with ``EDITS`` applied (their fields filled from ``fields`` and ``runtime``),
    written into ``runtime``: each printed file's name to its runnable copy. Fails naming an edit whose
    printed text is not in its file."""
    runtime.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in (NGINX_CONF, SERVER_CONF, GUNICORN_CONF):
        text = (PRINTED / name).read_text()
        for edit in (edit for edit in EDITS if edit.file == name):
            if text.count(edit.printed) != 1:
                raise ValueError(f"{name}: {edit.printed!r} is not in the printed file exactly once")
            text = text.replace(edit.printed, edit.runs.format(runtime=runtime, **fields))
        path = runtime / name.removesuffix(".txt")
        path.write_text(text)
        written[name] = path
    return written


def printed_workers() -> int:
    """The workers the printed gunicorn.conf.py starts: 2 x the machine's cores + 1 (``cpu_count`` counts
    the machine's cores, not the ones gunicorn may use)."""
    return 2 * multiprocessing.cpu_count() + 1


@dataclass
class ArticleStack:
    """nginx and gunicorn with the article's configuration, on the servers' cores."""

    nginx: Process
    gunicorn: Process
    https_port: int
    gunicorn_port: int
    files: dict[str, Path]

    def https(self, path: str) -> str:
        """``path`` through nginx over TLS."""
        return f"https://127.0.0.1:{self.https_port}{path}"

    def memory(self) -> MemorySample:
        """The stack's memory now."""
        return servers_memory(self.gunicorn.pid, self.nginx.pid)

    def cpu_seconds(self) -> CpuSeconds:
        """The CPU time gunicorn and nginx have used so far, and the servers' cores' busy time."""
        return servers_cpu(self.gunicorn.pid, self.nginx.pid)


def _listening(pid_file: Path, pid: int, port: int) -> bool:
    """Whether the started nginx itself listens on ``port``: its master writes its pid once it does."""
    try:
        return pid_file.read_text().strip() == str(pid) and port_open(port)
    except FileNotFoundError:
        return False


@contextmanager
def article_stack(workdir: Path, *, database: Mapping[str, str]) -> Iterator[ArticleStack]:
    """The article's gunicorn (its gunicorn.conf.py, the sample app with ``database``) and nginx (its
    server block in Debian's nginx.conf, TLS with a certificate made for the run), on the servers'
    cores."""
    http, https, port = free_port(), free_port(), free_port()
    runtime = workdir / f"article-{https}"
    _, cert, key = make_certificates(runtime / "tls")
    fields = {
        "http": http,
        "https": https,
        "gunicorn": port,
        "static": workdir / "static",
        "cert": cert,
        "key": key,
        "nginx_workers": CORES.nginx_workers,
    }
    files = render(runtime, fields)
    # The article's Dockerfile's command, binding loopback instead of 0.0.0.0.
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        str(files[GUNICORN_CONF]),
        f"--bind=127.0.0.1:{port}",
    ]
    gunicorn = spawn(
        "gunicorn", [*argv, APP_MODULE], database, APP, runtime / "gunicorn.log", cpus=CORES.every
    )
    with running(gunicorn, at_once=True):
        gunicorn.wait_ready(lambda: healthy(f"http://127.0.0.1:{port}/healthz"), "the article's gunicorn")
        workers = printed_workers()
        gunicorn.wait_ready(lambda: len(tree_pids(gunicorn.pid)) == workers + 1, "its workers")
        argv = ["nginx", "-e", str(runtime / "error.log"), "-c", str(files[NGINX_CONF]), "-g", "daemon off;"]
        nginx = spawn("nginx", argv, {}, runtime, runtime / "nginx.log", cpus=CORES.every)
        with running(nginx, at_once=True):
            nginx.wait_ready(
                lambda: _listening(runtime / "nginx.pid", nginx.pid, https), "the article's nginx"
            )
            with on_servers_core(gunicorn.pid, nginx.pid):
                yield ArticleStack(nginx, gunicorn, https, port, files)
