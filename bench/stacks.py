"""The node stacks the benchmarks measure: shipped, or with tunings taken back; their CPU time and memory."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bench.cores import CORES, busy_seconds
from bench.loadgen import cpu_seconds, memory_kib, tree_pids
from bench.tunings import Tuning
from nodestack.gunicorn import Gunicorn, start_gunicorn
from nodestack.nginx import Nginx, render_env, start_nginx
from nodestack.paths import DOCKER, RENDER, REPO
from nodestack.process import Process, free_port, port_open, running, spawn

#: The routes measured: a static file nginx serves, a read endpoint of the app that asks the database (the
#: note every run's database is seeded with, ``seed_note``), and the app's cheapest endpoint, which does
#: no I/O (nginx's own CPU per proxied request against gunicorn's).
STATIC_FILE = "/static/css/site.css"
DYNAMIC = "/api/notes/1"
TRIVIAL = "/api/status"
#: Descriptors wrk needs for 10,000 connections, and each nginx worker for its share (two per proxied one):
#: the harness raises its soft limit to this, which its children inherit.
OPEN_FILES = 20_000
#: High enough that the per-client limiter never answers 429: all benchmark load comes from 127.0.0.1.
UNLIMITED = "1000000"


@dataclass(frozen=True)
class CpuSeconds:
    """CPU time (user + system) used by gunicorn and by nginx (master and workers), and by wrk; and the
    time the servers' cores were busy, whoever used it (the direct measure the others cross-check)."""

    gunicorn: float = 0.0
    nginx: float = 0.0
    wrk: float = 0.0
    server_core: float = 0.0

    def __add__(self, other: CpuSeconds) -> CpuSeconds:
        return CpuSeconds(
            self.gunicorn + other.gunicorn,
            self.nginx + other.nginx,
            self.wrk + other.wrk,
            self.server_core + other.server_core,
        )

    def __sub__(self, other: CpuSeconds) -> CpuSeconds:
        return CpuSeconds(
            self.gunicorn - other.gunicorn,
            self.nginx - other.nginx,
            self.wrk - other.wrk,
            self.server_core - other.server_core,
        )

    def __truediv__(self, runs: int) -> CpuSeconds:
        return CpuSeconds(self.gunicorn / runs, self.nginx / runs, self.wrk / runs, self.server_core / runs)


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


def servers_cpu(gunicorn: int, nginx: int | None = None) -> CpuSeconds:
    """The CPU time the gunicorn and nginx (if any) whose masters are these have used so far, and the
    servers' cores' busy time."""
    return CpuSeconds(
        gunicorn=cpu_seconds(gunicorn),
        nginx=0.0 if nginx is None else cpu_seconds(nginx),
        server_core=busy_seconds(CORES.server),
    )


def servers_memory(gunicorn: int, nginx: int | None = None) -> MemorySample:
    """The memory now of the gunicorn and nginx (if any) whose masters are these, their workers with them."""
    served = memory_kib(tree_pids(gunicorn))
    proxy = {"pss": 0, "rss": 0} if nginx is None else memory_kib(tree_pids(nginx))
    return MemorySample(nginx_pss=proxy["pss"], gunicorn_pss=served["pss"], rss=proxy["rss"] + served["rss"])


class Served(Protocol):
    """Servers started for a benchmark, whose CPU time and memory they can tell."""

    def cpu_seconds(self) -> CpuSeconds:
        """The CPU time the servers have used so far, and the servers' cores' busy time."""
        ...

    def memory(self) -> MemorySample:
        """The servers' memory now."""
        ...


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
        """The CPU time gunicorn and nginx have used so far, and the servers' cores' busy time (wrk's is
        not theirs to tell)."""
        return servers_cpu(self.gunicorn.process.pid, self.nginx.process.pid)

    def memory(self) -> MemorySample:
        """The stack's memory now."""
        return servers_memory(self.gunicorn.process.pid, self.nginx.process.pid)


@contextmanager
def node_stack(
    workdir: Path,
    *,
    database: Mapping[str, str],
    worker_class: str = "gevent",
    render: Path = RENDER,
    gunicorn_env: Mapping[str, str] | None = None,
    tcp_upstream: bool = False,
    **nginx_env: str,
) -> Iterator[Stack]:
    """gunicorn (the app's ``database``) and nginx (edge mode, TLS) with the shipped defaults but for the
    rate limit, both on the servers' cores with the workers the shipped defaults give there; nginx reaches
    gunicorn on its unix socket, or over TCP on loopback with ``tcp_upstream``."""
    env = {
        **database,
        "WEB_CONCURRENCY": str(CORES.gunicorn_workers),
        "GUNICORN_WORKER_CLASS": worker_class,
        **(gunicorn_env or {}),
    }
    gunicorn = start_gunicorn(workdir, env=env, cpus=CORES.every)
    with running(gunicorn.process, at_once=True):
        overrides = {
            "NGINX_WORKER_PROCESSES": str(CORES.nginx_workers),
            "RATE_LIMIT": UNLIMITED,
            "RATE_LIMIT_BURST": UNLIMITED,
            **nginx_env,
        }
        upstream = f"127.0.0.1:{gunicorn.port}" if tcp_upstream else gunicorn.upstream
        env = render_env(workdir, "edge", upstream, **overrides)
        nginx = start_nginx(env, workdir, render=render, cpus=CORES.every)
        with running(nginx.process, at_once=True), on_servers_core(gunicorn.process.pid, nginx.process.pid):
            yield Stack(gunicorn, nginx, worker_class)


def pin(masters: tuple[int, ...], cpus: frozenset[int]) -> None:
    """Run these masters and their workers on ``cpus``; a worker forked later inherits its master's."""
    for master in masters:
        for pid in tree_pids(master):
            os.sched_setaffinity(pid, cpus)


@contextmanager
def on_servers_core(*masters: int) -> Iterator[None]:
    """Servers started on every core run on the servers' core in the block, and on every core again to stop.

    A gunicorn takes about two seconds of CPU to start and one to stop: on both cores, the profiles wait
    half as long for their stacks, and every run still sees its servers on their one core."""
    pin(masters, CORES.server)
    try:
        yield
    finally:
        pin(masters, CORES.every)


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
    workdir: Path,
    tunings: tuple[Tuning, ...],
    *,
    database: Mapping[str, str],
    worker_class: str = "gevent",
    **nginx_env: str,
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
            database=database,
            worker_class=worker_class,
            render=copy / "render.sh",
            gunicorn_env=gunicorn_env,
            tcp_upstream=any(tuning.tcp_upstream for tuning in tunings),
            **nginx_env,
        ) as stack:
            yield stack
    finally:
        shutil.rmtree(copy)


#: Stacks starting at once: they boot on the two cores (``pin``), each within its start's time limit.
AT_ONCE = 4


@contextmanager
def concurrently(*stacks: AbstractContextManager[Stack]) -> Iterator[tuple[Stack, ...]]:
    """Start the stacks ``AT_ONCE`` at a time, and stop them all at once: each takes about two seconds of
    CPU to start (gunicorn's workers booting) and a second or two of waiting to stop (a
    gevent worker notices SIGTERM within a second). If one fails to start, those that started are
    stopped and its error raised. The stacks share the workdir's self-signed certificate, which
    render.sh makes when it is missing: start one stack before."""
    with ThreadPoolExecutor(max_workers=min(len(stacks), AT_ONCE)) as pool:
        starting = [pool.submit(stack.__enter__) for stack in stacks]
        wait(starting)
    started = [stack for stack, future in zip(stacks, starting, strict=True) if future.exception() is None]
    try:
        yield tuple(future.result() for future in starting)
    finally:
        with ThreadPoolExecutor(max_workers=max(len(started), 1)) as pool:
            stopping = [pool.submit(stack.__exit__, None, None, None) for stack in started]
            wait(stopping)
        for future in stopping:
            future.result()


class MemorySampler:
    """The stack's memory, sampled every half second while a block runs: the sample with the highest
    PSS, and the latest (at most half a second old)."""

    def __init__(self, stack: Served) -> None:
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

    def memory(self) -> MemorySample:
        """gunicorn's memory now (there is no nginx)."""
        return servers_memory(self.process.pid)

    def cpu_seconds(self) -> CpuSeconds:
        """The CPU time gunicorn has used so far, and the servers' cores' busy time."""
        return servers_cpu(self.process.pid)


@contextmanager
def naive(workdir: Path, database: Mapping[str, str]) -> Iterator[Exposed]:
    """The baseline of "Nginx as a Reverse Proxy for Flask" (``bench/naive_app.py``) as a naive deployment
    runs it: gunicorn's defaults (sync workers, no config file) exposed directly on a loopback port, on
    the servers' cores with as many workers as the shipped stack there, so that the comparison is of the
    app and its serving, not of the worker count."""
    port = free_port()
    log = workdir / f"naive-{port}.log"
    workers = CORES.gunicorn_workers
    argv = [sys.executable, "-m", "gunicorn", f"--workers={workers}", f"--bind=127.0.0.1:{port}"]
    env = {**database, "PYTHONPATH": str(REPO)}
    process = spawn("gunicorn", [*argv, "bench.naive_app:app"], env, REPO, log, cpus=CORES.every)
    with running(process, at_once=True):
        process.wait_ready(lambda: port_open(port), "the naive app")
        process.wait_ready(lambda: len(tree_pids(process.pid)) == workers + 1, "the naive app's workers")
        with on_servers_core(process.pid):
            yield Exposed(process, port)
