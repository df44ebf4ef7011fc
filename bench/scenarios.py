"""The benchmark scenarios of issue 6, each driving real nginx and gunicorn processes on loopback."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.loadgen import Result, memory_kib, slow_clients, tree_pids, wrk
from tests.node.stack import (
    DOCKER,
    RENDER,
    Gunicorn,
    Nginx,
    render_env,
    running,
    start_gunicorn,
    start_nginx,
)

STATIC_FILE = "/static/css/site.css"
DYNAMIC = "/api/status"
#: The static route before its tuning: the shipped config keeps open descriptors and metadata of the
#: files served (they never change in an image); this takes that away again, for the before/after.
STATIC_BEFORE_TUNING = {
    "locations.conf.template": ("    open_file_cache max=1000 inactive=60s;\n", ""),
}

#: The changes tried for 10,000 connections, measured one by one in ``tuning`` (cumulative).
#: nginx: connection slots for every client plus its upstream connection; a TLS handshake queued behind
#: 10,000 others outlasts nginx 1.22's handshake timeout, which is client_header_timeout.
#: gunicorn: no worker recycling mid-load, and room in the gevent pools for every upstream connection.
TUNING_STEPS: tuple[tuple[str, dict[str, str], dict[str, str], dict[str, tuple[str, str]]], ...] = (
    ("shipped, NGINX_WORKER_CONNECTIONS=10000", {"NGINX_WORKER_CONNECTIONS": "10000"}, {}, {}),
    ("+ NGINX_WORKER_CONNECTIONS=16384", {"NGINX_WORKER_CONNECTIONS": "16384"}, {}, {}),
    (
        "+ client_header_timeout 60s",
        {},
        {},
        {"nginx.conf.template": ("client_header_timeout 10s;", "client_header_timeout 60s;")},
    ),
    ("+ GUNICORN_MAX_REQUESTS=1000000", {}, {"GUNICORN_MAX_REQUESTS": "1000000"}, {}),
    ("+ GUNICORN_WORKER_CONNECTIONS=2500", {}, {"GUNICORN_WORKER_CONNECTIONS": "2500"}, {}),
)

#: gunicorn.conf.py's default worker count (start_gunicorn would otherwise run 2).
WORKERS = 2 * len(os.sched_getaffinity(0)) + 1
#: High enough that the per-client limiter never answers 429: all benchmark load comes from 127.0.0.1.
UNLIMITED = "1000000"


@dataclass(frozen=True)
class Profile:
    """How long and how hard: ``quick`` for development, ``full`` for the published numbers."""

    name: str
    seconds: int
    connections: int
    light_connections: int
    slow_clients: int
    scale_connections: int
    scale_seconds: int
    #: wrk counts a request as timed out only if its answer comes later than this: keep it below the run
    #: length, or a request answered too late is not counted at all.
    timeout: int
    scale_timeout: int


QUICK = Profile("quick", 3, 64, 16, 500, 2000, 5, 2, 4)
FULL = Profile("full", 15, 64, 16, 1000, 10000, 30, 5, 20)


@dataclass
class Section:
    """One scenario's results, the figures derived from them and notes on how it ran."""

    key: str
    title: str
    results: list[Result] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Stack:
    gunicorn: Gunicorn
    nginx: Nginx
    worker_class: str

    def https(self, path: str) -> str:
        return f"{self.nginx.https_url}{path}"

    def direct(self, path: str) -> str:
        return f"{self.gunicorn.url}{path}"

    def memory(self) -> dict[str, int]:
        nginx = memory_kib(tree_pids(self.nginx.process.pid))
        gunicorn = memory_kib(tree_pids(self.gunicorn.process.pid))
        return {
            "nginx_pss": nginx["pss"],
            "gunicorn_pss": gunicorn["pss"],
            "pss": nginx["pss"] + gunicorn["pss"],
            "rss": nginx["rss"] + gunicorn["rss"],
        }


@contextmanager
def node_stack(
    workdir: Path,
    *,
    worker_class: str = "gevent",
    render: Path = RENDER,
    gunicorn_env: Mapping[str, str] | None = None,
    **nginx_env: str,
) -> Iterator[Stack]:
    """gunicorn and nginx (edge mode, TLS) with the shipped defaults but for the rate limit."""
    env = {"WEB_CONCURRENCY": str(WORKERS), "GUNICORN_WORKER_CLASS": worker_class, **(gunicorn_env or {})}
    gunicorn = start_gunicorn(workdir, env=env)
    with running(gunicorn.process):
        env = render_env(
            workdir,
            "edge",
            gunicorn.port,
            NGINX_WORKER_PROCESSES="auto",
            RATE_LIMIT=UNLIMITED,
            RATE_LIMIT_BURST=UNLIMITED,
            **nginx_env,
        )
        nginx = start_nginx(env, workdir, render=render)
        with running(nginx.process):
            yield Stack(gunicorn, nginx, worker_class)


def _wrk(
    label: str, url: str, profile: Profile, connections: int, *, count_unanswered: bool = False
) -> Result:
    return wrk(
        label,
        url,
        connections=connections,
        seconds=profile.seconds,
        timeout=profile.timeout,
        count_unanswered=count_unanswered,
    )


def static_file(stack: Stack, untuned: Stack, profile: Profile) -> Section:
    """1. A static file from nginx (shipped, and before its tuning: ``STATIC_BEFORE_TUNING``) vs the same
    file from Flask."""
    section = Section("static", "1. Static file: nginx vs Flask (gunicorn) serving the same file")
    c = profile.connections
    nginx = _wrk("nginx /static/ (TLS), shipped (open_file_cache)", stack.https(STATIC_FILE), profile, c)
    before = _wrk("nginx /static/ (TLS), before tuning", untuned.https(STATIC_FILE), profile, c)
    flask = _wrk("Flask via gunicorn (plain HTTP)", stack.direct(STATIC_FILE), profile, c)
    section.results += [nginx, before, flask]
    section.figures["static_ratio"] = nginx.rps / flask.rps
    section.figures["static_ratio_before_tuning"] = before.rps / flask.rps
    return section


def dynamic(stack: Stack, profile: Profile) -> Section:
    """2. The dynamic endpoint through nginx (edge, TLS) vs gunicorn directly, same workers."""
    section = Section("dynamic", "2. Dynamic endpoint: through nginx (TLS) vs gunicorn directly")
    c = profile.connections
    nginx = _wrk("via nginx (TLS, keep-alive)", stack.https(DYNAMIC), profile, c)
    direct = _wrk("gunicorn direct (plain HTTP)", stack.direct(DYNAMIC), profile, c)
    section.results += [nginx, direct]
    section.figures["dynamic_ratio"] = nginx.rps / direct.rps
    section.figures["dynamic_p99_nginx"] = nginx.latency_ms["p99"]
    section.figures["dynamic_p99_direct"] = direct.latency_ms["p99"]
    return section


def worker_class(stack: Stack, profile: Profile, section: Section) -> None:
    """6. One worker class serving the dynamic route through nginx (appended to ``section``)."""
    label = f"{stack.worker_class} via nginx"
    result = _wrk(label, stack.https(DYNAMIC), profile, profile.connections)
    section.results.append(result)
    section.figures[f"rps_{stack.worker_class}"] = result.rps


def slow(stack: Stack, profile: Profile, section: Section) -> None:
    """3. Normal requests while slow clients hold connections: through nginx and to gunicorn directly."""
    c, wc = profile.light_connections, stack.worker_class
    label = f"{wc}: via nginx, no slow clients"
    baseline = _wrk(label, stack.https(DYNAMIC), profile, c, count_unanswered=True)
    section.results.append(baseline)
    targets = (
        ("via nginx", stack.nginx.https_port, True, stack.https(DYNAMIC)),
        ("gunicorn direct", stack.gunicorn.port, False, stack.direct(DYNAMIC)),
    )
    for where, port, tls, url in targets:
        # The slow clients get a few seconds more than the load, so they outlast it.
        with slow_clients(port, count=profile.slow_clients, seconds=profile.seconds + 60, tls=tls) as clients:
            label = f"{wc}: {where}, {profile.slow_clients} slow clients"
            result = _wrk(label, url, profile, c, count_unanswered=True)
        section.results.append(result)
        section.notes.append(f"{label}: slow clients `{clients.command}` reported {clients.report}")
        key = "nginx" if tls else "direct"
        section.figures[f"slow_{wc}_{key}_p99"] = result.latency_ms["p99"]
        section.figures[f"slow_{wc}_{key}_errors"] = result.failed + result.timeouts
        section.figures[f"slow_{wc}_{key}_unanswered"] = result.unanswered or 0


class MemorySampler:
    """The stack's peak PSS, sampled every half second while a block runs."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.peak: dict[str, int] = {"pss": 0}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            sample = self.stack.memory()
            if sample["pss"] > self.peak["pss"]:
                self.peak = sample

    def __enter__(self) -> MemorySampler:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()


def scale(stack: Stack, profile: Profile) -> tuple[Section, Section]:
    """4 and 5. Many concurrent connections on both routes; the stack's memory idle, at peak, after."""
    n = profile.scale_connections
    section = Section("scale", f"4. {n:,} concurrent connections through nginx (TLS)")
    memory = Section("memory", "5. Memory of the node stack (nginx + gunicorn master and workers)")
    memory.figures["idle_pss"] = stack.memory()["pss"]
    with MemorySampler(stack) as sampler:
        for label, path in (("static", STATIC_FILE), ("dynamic", DYNAMIC)):
            result = wrk(
                f"{label} ({path})",
                stack.https(path),
                connections=n,
                seconds=profile.scale_seconds,
                timeout=profile.scale_timeout,
            )
            section.results.append(result)
            section.figures[f"{label}_errors"] = result.failed
            section.figures[f"{label}_timeouts"] = result.timeouts
    after = stack.memory()
    memory.figures["peak_pss"] = sampler.peak["pss"]
    memory.figures["peak_rss"] = sampler.peak.get("rss", 0)
    memory.figures["peak_nginx_pss"] = sampler.peak.get("nginx_pss", 0)
    memory.figures["peak_gunicorn_pss"] = sampler.peak.get("gunicorn_pss", 0)
    memory.figures["end_pss"] = after["pss"]
    memory.figures["end_rss"] = after["rss"]
    return section, memory


@contextmanager
def edited_templates(workdir: Path, edits: dict[str, tuple[str, str]]) -> Iterator[Path]:
    """A copy of docker/nginx with ``edits`` (template -> (old, new)) applied; yields its render.sh."""
    copy = workdir / "nginx-edited"
    shutil.copytree(DOCKER / "nginx", copy)
    try:
        for name, (old, new) in edits.items():
            path = copy / name
            text = path.read_text()
            if old not in text:
                raise ValueError(f"{name}: {old!r} not found")
            path.write_text(text.replace(old, new, 1))
        yield copy / "render.sh"
    finally:
        shutil.rmtree(copy)


#: The steps the scale scenario keeps. More nginx connection slots cut errors in every full run; no
#: recycling mid-load did in one of two; the handshake timeout and bigger gevent pools did not.
KEPT_STEPS = (0, 1, 3)


def tuned(
    steps: tuple[int, ...],
) -> tuple[dict[str, str], dict[str, str], dict[str, tuple[str, str]]]:
    """nginx environment, gunicorn environment and template edits of the tuning steps ``steps``."""
    nginx: dict[str, str] = {}
    gunicorn: dict[str, str] = {}
    edits: dict[str, tuple[str, str]] = {}
    for index in steps:
        _, nginx_step, gunicorn_step, edit_step = TUNING_STEPS[index]
        nginx |= nginx_step
        gunicorn |= gunicorn_step
        edits |= edit_step
    return nginx, gunicorn, edits


@contextmanager
def tuned_stack(workdir: Path, steps: tuple[int, ...]) -> Iterator[Stack]:
    """The stack with the tuning steps ``steps`` applied."""
    nginx, gunicorn, edits = tuned(steps)
    with (
        edited_templates(workdir, edits) as render,
        node_stack(workdir, render=render, gunicorn_env=gunicorn, **nginx) as stack,
    ):
        yield stack


def tuning(workdir: Path, profile: Profile) -> Section:
    """Before and after each tuning step, on the dynamic route under the scale scenario's connections."""
    n = profile.scale_connections
    section = Section("tuning", f"7. Tuning for {n:,} connections, step by step, on the dynamic route")
    for last in range(len(TUNING_STEPS)):
        with tuned_stack(workdir, tuple(range(last + 1))) as stack:
            section.results.append(
                wrk(
                    TUNING_STEPS[last][0],
                    stack.https(DYNAMIC),
                    connections=n,
                    seconds=profile.scale_seconds,
                    timeout=profile.scale_timeout,
                )
            )
    return section
