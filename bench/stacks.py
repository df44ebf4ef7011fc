"""The node stacks the benchmarks measure: shipped, or with tunings taken back; their CPU time and memory."""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.loadgen import cpu_seconds, memory_kib, tree_pids
from bench.tunings import Tuning
from nodestack.gunicorn import DEFAULT_WORKERS, Gunicorn, start_gunicorn
from nodestack.nginx import Nginx, render_env, start_nginx
from nodestack.paths import DOCKER, RENDER, REPO
from nodestack.process import Process, free_port, port_open, running, spawn

#: The routes measured: a static file nginx serves, and the app's cheapest dynamic endpoint.
STATIC_FILE = "/static/css/site.css"
DYNAMIC = "/api/status"
#: High enough that the per-client limiter never answers 429: all benchmark load comes from 127.0.0.1.
UNLIMITED = "1000000"


@dataclass(frozen=True)
class CpuSeconds:
    """CPU time (user + system) used by gunicorn and by nginx (master and workers), and by wrk."""

    gunicorn: float = 0.0
    nginx: float = 0.0
    wrk: float = 0.0

    def __add__(self, other: CpuSeconds) -> CpuSeconds:
        return CpuSeconds(self.gunicorn + other.gunicorn, self.nginx + other.nginx, self.wrk + other.wrk)

    def __sub__(self, other: CpuSeconds) -> CpuSeconds:
        return CpuSeconds(self.gunicorn - other.gunicorn, self.nginx - other.nginx, self.wrk - other.wrk)

    def __truediv__(self, runs: int) -> CpuSeconds:
        return CpuSeconds(self.gunicorn / runs, self.nginx / runs, self.wrk / runs)


@dataclass(frozen=True)
class MemorySample:
    """The stack's memory (KiB): PSS (shared pages split between the processes sharing them) of nginx and
    of gunicorn, and the whole stack's RSS (shared pages counted in full)."""

    nginx_pss: int = 0
    gunicorn_pss: int = 0
    rss: int = 0

    @property
    def pss(self) -> int:
        """The whole stack's PSS."""
        return self.nginx_pss + self.gunicorn_pss


@dataclass
class Stack:
    """gunicorn and nginx started for a benchmark, and the URLs each route has through them."""

    gunicorn: Gunicorn
    nginx: Nginx
    worker_class: str

    def https(self, path: str) -> str:
        """``path`` through nginx over TLS, as clients reach it."""
        return f"{self.nginx.https_url}{path}"

    def direct(self, path: str) -> str:
        """``path`` from gunicorn directly, bypassing nginx."""
        return f"{self.gunicorn.url}{path}"

    def http(self, path: str) -> str:
        """``path`` through nginx over plain HTTP (edge mode redirects it, unless TLS is taken back)."""
        return f"http://127.0.0.1:{self.nginx.http_port}{path}"

    def cpu_seconds(self) -> CpuSeconds:
        """The CPU time gunicorn and nginx have used so far (wrk's is not theirs to tell)."""
        return CpuSeconds(
            gunicorn=cpu_seconds(self.gunicorn.process.pid), nginx=cpu_seconds(self.nginx.process.pid)
        )

    def memory(self) -> MemorySample:
        """The stack's memory now."""
        nginx = memory_kib(tree_pids(self.nginx.process.pid))
        gunicorn = memory_kib(tree_pids(self.gunicorn.process.pid))
        return MemorySample(
            nginx_pss=nginx["pss"], gunicorn_pss=gunicorn["pss"], rss=nginx["rss"] + gunicorn["rss"]
        )


@contextmanager
def node_stack(
    workdir: Path,
    *,
    worker_class: str = "gevent",
    render: Path = RENDER,
    gunicorn_env: Mapping[str, str] | None = None,
    tcp_upstream: bool = False,
    **nginx_env: str,
) -> Iterator[Stack]:
    """gunicorn and nginx (edge mode, TLS) with the shipped defaults but for the rate limit; nginx
    reaches gunicorn on its unix socket, or over TCP on loopback with ``tcp_upstream``."""
    env = {
        "WEB_CONCURRENCY": str(DEFAULT_WORKERS),
        "GUNICORN_WORKER_CLASS": worker_class,
        **(gunicorn_env or {}),
    }
    gunicorn = start_gunicorn(workdir, env=env)
    with running(gunicorn.process):
        env = render_env(
            workdir,
            "edge",
            f"127.0.0.1:{gunicorn.port}" if tcp_upstream else gunicorn.upstream,
            NGINX_WORKER_PROCESSES="auto",
            RATE_LIMIT=UNLIMITED,
            RATE_LIMIT_BURST=UNLIMITED,
            **nginx_env,
        )
        nginx = start_nginx(env, workdir, render=render)
        with running(nginx.process):
            yield Stack(gunicorn, nginx, worker_class)


def _edited_copy(workdir: Path, tunings: tuple[Tuning, ...]) -> Path:
    """A copy of docker/nginx in ``workdir`` with the tunings' template edits taken back."""
    copy = Path(tempfile.mkdtemp(prefix="nginx-without-", dir=workdir))
    copy.chmod(0o755)
    shutil.copytree(DOCKER / "nginx", copy, dirs_exist_ok=True)
    for tuning in tunings:
        for name, shipped, before in tuning.edits:
            path = copy / name
            text = path.read_text()
            if shipped not in text:
                shutil.rmtree(copy)
                raise ValueError(f"{tuning.name}: {shipped!r} not found in docker/nginx/{name}")
            path.write_text(text.replace(shipped, before, 1))
    return copy


@contextmanager
def without(
    workdir: Path, tunings: tuple[Tuning, ...], *, worker_class: str = "gevent", **nginx_env: str
) -> Iterator[Stack]:
    """The stack with ``tunings`` taken back: a copy of docker/nginx with their edits, their gunicorn
    and nginx environments."""
    copy = _edited_copy(workdir, tunings)
    gunicorn_env: dict[str, str] = {}
    for tuning in tunings:
        gunicorn_env |= dict(tuning.gunicorn_env)
        nginx_env |= dict(tuning.nginx_env)
    try:
        with node_stack(
            workdir,
            worker_class=worker_class,
            render=copy / "render.sh",
            gunicorn_env=gunicorn_env,
            tcp_upstream=any(tuning.tcp_upstream for tuning in tunings),
            **nginx_env,
        ) as stack:
            yield stack
    finally:
        shutil.rmtree(copy)


@contextmanager
def concurrently(*stacks: AbstractContextManager[Stack]) -> Iterator[tuple[Stack, ...]]:
    """Start the stacks at once and stop them at once: each takes about a second to start (gunicorn's
    workers booting) and to stop (a gevent worker notices SIGTERM within a second). If one fails to
    start, those that started are stopped and its error raised. The stacks share the workdir's
    self-signed certificate, which render.sh makes when it is missing: start one stack before."""
    with ThreadPoolExecutor(max_workers=len(stacks)) as pool:
        starting = [pool.submit(stack.__enter__) for stack in stacks]
        wait(starting)
        started = [
            stack for stack, future in zip(stacks, starting, strict=True) if future.exception() is None
        ]
        try:
            yield tuple(future.result() for future in starting)
        finally:
            stopping = [pool.submit(stack.__exit__, None, None, None) for stack in started]
            wait(stopping)
            for future in stopping:
                future.result()


class MemorySampler:
    """The stack's memory, sampled every half second while a block runs: the sample with the highest
    PSS, and the latest (at most half a second old)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.peak = MemorySample()
        self.last = MemorySample()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            sample = self.stack.memory()
            self.last = sample
            if sample.pss > self.peak.pss:
                self.peak = sample

    def __enter__(self) -> MemorySampler:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()


@dataclass
class Exposed:
    """An app served by gunicorn alone, exposed directly on a loopback port."""

    process: Process
    port: int

    def url(self, path: str) -> str:
        """``path`` from gunicorn, plain HTTP."""
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def naive_writes(workdir: Path, database_env: Mapping[str, str]) -> Iterator[Exposed]:
    """The writes benchmark's baseline (``bench/naive_writes_app.py``) as a naive deployment runs it:
    gunicorn's defaults (sync workers, no config file) exposed directly on a loopback port, with as many
    workers as the shipped stack, so that the comparison is of the app and its serving, not of the
    worker count."""
    port = free_port()
    log = workdir / f"naive-writes-{port}.log"
    argv = [sys.executable, "-m", "gunicorn", f"--workers={DEFAULT_WORKERS}", f"--bind=127.0.0.1:{port}"]
    env = {**database_env, "PYTHONPATH": str(REPO)}
    process = spawn("gunicorn", [*argv, "bench.naive_writes_app:app"], env, REPO, log)
    with running(process):
        process.wait_ready(lambda: port_open(port), "the naive writes app")
        yield Exposed(process, port)
