"""Section 4: many concurrent connections through nginx on each route, with the shipped stack, with fewer
gunicorn workers and without the queue closing; the stack's memory meanwhile (section 5)."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from bench.cores import CORES
from bench.loadgen import Result, listen_overflows, wrk
from bench.markdown import Section, render
from bench.profiles import Profile
from bench.sections.memory import StackMemory
from bench.stacks import OPEN_FILES, STATIC_FILE, TRIVIAL, MemorySample, MemorySampler, Stack
from bench.tunings import FEWER_WORKERS, KEEPALIVE_FEWER, QUEUE_CLOSE
from infra.user_data import SOMAXCONN
from nodestack.nginx import Nginx

#: The routes: ``(route, path)``; the dynamic one is the app's cheapest, which does no I/O: one server core
#: answers it fast enough to serve 10,000 closed-loop connections within the timeout, which a database read
#: on the same core is not (section 9 runs the read at this scale for the article's table).
ROUTES = (("static", STATIC_FILE), ("dynamic", TRIVIAL))
#: The configurations: the shipped one, the same with ``FEWER_WORKERS``, and (the dynamic route only)
#: without ``QUEUE_CLOSE``.
SHIPPED = "shipped"
FEWER_WORKERS_CONFIG = f"WEB_CONCURRENCY={FEWER_WORKERS}"
QUEUE_OFF_CONFIG = "GUNICORN_KEEPALIVE_QUEUE_MS=off"
#: nginx's connection slots for the scale scenario: every client plus its upstream connection, over two
#: workers (the shipped 4096 serves a node behind the ALB; NGINX_WORKER_CONNECTIONS sets it).
WORKER_CONNECTIONS = "16384"
#: Two nginx workers on the one server core: a process here may hold at most ``OPEN_FILES`` descriptors
#: (the machine's hard limit), fewer than one worker needs for 10,000 clients and their upstream
#: connections. A node's container allows 65,536 (README): one worker per core suffices there.
SCALE_NGINX_WORKERS = "2"


class ScaleNginxEnv(TypedDict):
    """render.sh's environment for the scale scenario (typed: it is passed as keyword arguments)."""

    NGINX_WORKER_PROCESSES: str
    NGINX_WORKER_CONNECTIONS: str


SCALE_NGINX_ENV = ScaleNginxEnv(
    NGINX_WORKER_PROCESSES=SCALE_NGINX_WORKERS, NGINX_WORKER_CONNECTIONS=WORKER_CONNECTIONS
)


def title(profile: Profile) -> str:
    """The section's title."""
    return f"4. {profile.scale_connections:,} concurrent connections through nginx (TLS)"


@dataclass(frozen=True)
class ScaleRun:
    """One configuration's run on one route."""

    config: str
    route: str
    result: Result
    #: Connections the kernel dropped from full accept queues during the run.
    dropped: int
    #: Requests nginx held longer than the timeout and never answered (``unanswered_late``).
    late: int

    @property
    def timed_out(self) -> int:
        """The run's timeouts: answered late (wrk's count) or never (nginx's log)."""
        return self.result.timeouts + self.late


@dataclass(frozen=True)
class ScaleResult:
    """Section 4's runs, configuration by configuration, route by route."""

    runs: tuple[ScaleRun, ...]

    def run(self, config: str, route: str) -> ScaleRun:
        """The run of ``config`` on ``route``."""
        return next(run for run in self.runs if (run.config, run.route) == (config, route))

    @property
    def rows(self) -> list[Result]:
        """Every run's result, in the order they ran."""
        return [run.result for run in self.runs]


def many_connections(label: str, url: str, profile: Profile) -> tuple[Result, int]:
    """wrk with the scale scenario's connections, and the connections the kernel dropped meanwhile
    from full accept queues."""
    overflows = listen_overflows()
    result = wrk(
        label,
        url,
        connections=profile.scale_connections,
        seconds=profile.scale_seconds,
        timeout=profile.scale_timeout,
    )
    return result, listen_overflows() - overflows


def unanswered_late(nginx: Nginx, path: str, seconds: float) -> int:
    """Requests for ``path`` that nginx held longer than ``seconds`` and never answered: the client closed
    its connection first (status 499), here wrk when its run ended. wrk counts a timeout only for an
    answer that arrives late, so a request left waiting until the end is in none of its figures. nginx
    times a request from reading it, so this is a lower bound of the client's wait. Read once nginx has
    stopped: it writes out its buffered access log then."""
    late = re.compile(rf'"GET {re.escape(path)} HTTP/[\d.]+" 499 \d+ rt=([\d.]+) ')
    with Path(nginx.env["NGINX_ACCESS_LOG"]).open() as log:
        return sum(1 for line in log if (match := late.search(line)) and float(match.group(1)) > seconds)


def _measure(
    stack: AbstractContextManager[Stack], profile: Profile, config: str, routes: tuple[str, ...]
) -> tuple[list[ScaleRun], dict[str, MemorySample]]:
    """Many concurrent connections on each of ``routes``, on a stack started for them, and the stack's
    memory through the runs (``StackMemory``'s moments)."""
    paths = dict(ROUTES)
    measured: list[tuple[str, Result, int]] = []
    with stack as started:
        samples = {"idle": started.memory()}
        with MemorySampler(started) as sampler:
            for route in routes:
                label = f"{config}: {route} ({paths[route]})"
                measured.append((route, *many_connections(label, started.https(paths[route]), profile)))
                samples[f"{route}_end"] = sampler.last
        samples["peak"] = sampler.peak
        samples["after"] = started.memory()
    # nginx writes out its buffered access log as it stops.
    runs = [
        ScaleRun(
            config,
            route,
            result,
            dropped,
            unanswered_late(started.nginx, paths[route], profile.scale_timeout),
        )
        for route, result, dropped in measured
    ]
    return runs, samples


def measure(
    stack: AbstractContextManager[Stack], profile: Profile, config: str
) -> tuple[list[ScaleRun], StackMemory]:
    """Both routes on a stack started for them, and the stack's memory through them (section 5)."""
    runs, samples = _measure(stack, profile, config, tuple(dict(ROUTES)))
    return runs, StackMemory(config, **samples)


def measure_route(
    stack: AbstractContextManager[Stack], profile: Profile, config: str, route: str
) -> list[ScaleRun]:
    """One route on a stack started for it."""
    return _measure(stack, profile, config, (route,))[0]


def section(result: ScaleResult, profile: Profile) -> Section:
    """The section: connections dropped, the configurations, requests never answered, the queue closing."""
    body = render(
        "scale.md.j2",
        result=result,
        profile=profile,
        overloaded=[result.run(config, "dynamic") for config in (SHIPPED, QUEUE_OFF_CONFIG)],
        shipped=SHIPPED,
        fewer=FEWER_WORKERS_CONFIG,
        queue_off=QUEUE_OFF_CONFIG,
        worker_connections=WORKER_CONNECTIONS,
        nginx_workers=SCALE_NGINX_WORKERS,
        open_files=OPEN_FILES,
        fewer_workers=FEWER_WORKERS,
        workers=CORES.gunicorn_workers,
        queue_close=QUEUE_CLOSE.name,
        somaxconn=SOMAXCONN,
        keepalive_fewer=KEEPALIVE_FEWER,
    )
    return Section(title(profile), result.rows, body)
