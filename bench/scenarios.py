"""The benchmark scenarios of issue 6, each driving real nginx and gunicorn processes on loopback."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from bench.loadgen import (
    Result,
    combined,
    cpu_seconds,
    listen_overflows,
    memory_kib,
    reaped_children_cpu_seconds,
    slow_clients,
    tree_pids,
    wrk,
)
from nodestack.gunicorn import DEFAULT_WORKERS, Gunicorn, start_gunicorn
from nodestack.nginx import KEEPALIVE_SHIPPED, Nginx, render_env, start_nginx
from nodestack.paths import DOCKER, RENDER
from nodestack.process import running

STATIC_FILE = "/static/css/site.css"
DYNAMIC = "/api/status"


@dataclass(frozen=True)
class Tuning:
    """A shipped setting the measurements justify, and how to take it back for its before/after."""

    name: str
    #: (template, shipped text, text before the tuning) in docker/nginx.
    edits: tuple[tuple[str, str, str], ...] = ()
    #: gunicorn's environment before the tuning, as (variable, value) pairs.
    gunicorn_env: tuple[tuple[str, str], ...] = ()
    #: render.sh's (nginx's) environment before the tuning, as (variable, value) pairs.
    nginx_env: tuple[tuple[str, str], ...] = ()
    #: Before the tuning, nginx reached gunicorn over TCP on loopback instead of its unix socket.
    tcp_upstream: bool = False
    #: The tuning changes gunicorn on its own (its workers): section 2 also runs the path from the stack
    #: without it to its gunicorn directly, so each worker count is compared with itself.
    gunicorn_direct: bool = False
    #: Without it the client speaks plain HTTP to nginx (its edits make the plain HTTP port serve).
    plain_http: bool = False


OPEN_FILE_CACHE = Tuning(
    "open_file_cache",
    edits=(("locations.conf.template", "    open_file_cache max=1000 inactive=60s;\n", ""),),
)
LOG_BUFFER = Tuning(
    "buffered access log", edits=(("nginx.conf.template", " main buffer=64k flush=1s;", " main;"),)
)
HEADER_TIMEOUT = Tuning(
    "client_header_timeout 60s",
    edits=(("nginx.conf.template", "client_header_timeout 60s;", "client_header_timeout 10s;"),),
)
SSL_BUFFER = Tuning("ssl_buffer_size 4k", edits=(("tls.conf.template", "ssl_buffer_size 4k;\n", ""),))
MAX_REQUESTS = Tuning("max_requests 50000", gunicorn_env=(("GUNICORN_MAX_REQUESTS", "2000"),))
BACKLOG = Tuning("gunicorn backlog 16384", gunicorn_env=(("GUNICORN_BACKLOG", "2048"),))
JEMALLOC = Tuning("jemalloc", nginx_env=(("NGINX_ALLOCATOR", "glibc"),))
UNIX_SOCKET = Tuning("upstream over a unix socket", tcp_upstream=True)
UPSTREAM_KEEPALIVE = Tuning("upstream keep-alive", nginx_env=(("NGINX_UPSTREAM_KEEPALIVE", "0"),))
#: The fewer idle connections to gunicorn each nginx worker kept before gunicorn closed kept connections
#: once its accept queue backs up (KEEPALIVE_SHIPPED now).
KEEPALIVE_FEWER = "2"
KEEPALIVE_POOL = Tuning(
    f"upstream keep-alive {KEEPALIVE_SHIPPED}, not {KEEPALIVE_FEWER}",
    nginx_env=(("NGINX_UPSTREAM_KEEPALIVE", KEEPALIVE_FEWER),),
)
QUEUE_CLOSE = Tuning(
    "kept connections closed when gunicorn's queue backs up",
    gunicorn_env=(("GUNICORN_KEEPALIVE_QUEUE_MS", "off"),),
)
NGINX_ONLY_ACCESS_LOG = Tuning("nginx as the only access log", gunicorn_env=(("GUNICORN_ACCESS_LOG", "on"),))
SHARED_LIBRARIES = Tuning(
    "libraries shared by gunicorn's workers", gunicorn_env=(("GUNICORN_SHARED_LIBRARIES", "off"),)
)
#: Not a setting to take back: TLS to the client is what edge mode is for. Measured without it to tell
#: what TLS costs (nginx's and the client's, on the same cores) from what the trip through nginx costs.
TLS = Tuning(
    "TLS (plain HTTP to nginx)",
    edits=(
        (
            "edge.conf.template",
            "    return 301 https://$host${HTTPS_REDIRECT_PORT}$request_uri;\n",
            "    include ${NGINX_RUNTIME_DIR}/locations.conf;\n",
        ),
    ),
    plain_http=True,
)
NGINX_BACKLOG = Tuning(
    "nginx backlog 16384",
    edits=(("edge.conf.template", " default_server backlog=16384;", " default_server;"),),
)

#: nginx's connection slots for the scale scenario: every client plus its upstream connection, over
#: two workers (the shipped 4096 serves a node behind the ALB; NGINX_WORKER_CONNECTIONS sets it).
SCALE_WORKER_CONNECTIONS = "16384"
SCALE_NGINX_ENV = {"NGINX_WORKER_CONNECTIONS": SCALE_WORKER_CONNECTIONS}

#: The tuning for 10,000 connections, measured one step at a time in ``tuning`` (each step adds its
#: change to the ones before it): nginx's environment, and the tunings still taken back.
TUNING_STEPS: tuple[tuple[str, dict[str, str], tuple[Tuning, ...]], ...] = (
    (
        "before: NGINX_WORKER_CONNECTIONS=10000, client_header_timeout 10s, gunicorn backlog 2048, "
        "nginx backlog 511, ssl_buffer_size 16k, glibc malloc",
        {"NGINX_WORKER_CONNECTIONS": "10000"},
        (HEADER_TIMEOUT, BACKLOG, NGINX_BACKLOG, SSL_BUFFER, JEMALLOC),
    ),
    (
        "+ NGINX_WORKER_CONNECTIONS=16384",
        SCALE_NGINX_ENV,
        (HEADER_TIMEOUT, BACKLOG, NGINX_BACKLOG, SSL_BUFFER, JEMALLOC),
    ),
    ("+ client_header_timeout 60s", SCALE_NGINX_ENV, (BACKLOG, NGINX_BACKLOG, SSL_BUFFER, JEMALLOC)),
    ("+ gunicorn backlog 16384", SCALE_NGINX_ENV, (NGINX_BACKLOG, SSL_BUFFER, JEMALLOC)),
    ("+ nginx backlog 16384", SCALE_NGINX_ENV, (SSL_BUFFER, JEMALLOC)),
    ("+ ssl_buffer_size 4k", SCALE_NGINX_ENV, (JEMALLOC,)),
    ("+ jemalloc (shipped)", SCALE_NGINX_ENV, ()),
)

#: The other worker count of sections 2, 4 and 5: one gevent worker per core, plus one.
FEWER_WORKERS = len(os.sched_getaffinity(0)) + 1
#: Section 2's stack with ``FEWER_WORKERS`` instead of the seed's rule, also measured directly: gunicorn
#: itself answers differently with fewer workers.
WORKER_COUNT = Tuning(
    "2 x cores + 1 workers",
    gunicorn_env=(("WEB_CONCURRENCY", str(FEWER_WORKERS)),),
    gunicorn_direct=True,
)
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
    #: Every step of ``TUNING_STEPS``, or only the first and the last (before and after all of them).
    every_tuning_step: bool
    #: Sections 1 and 2: each configuration runs once per round, for ``round_seconds``.
    rounds: int
    round_seconds: int


QUICK = Profile("quick", 2, 64, 16, 500, 1000, 3, 1, 2, every_tuning_step=False, rounds=1, round_seconds=1)
FULL = Profile("full", 15, 64, 16, 1000, 10000, 30, 5, 20, every_tuning_step=True, rounds=6, round_seconds=5)


@dataclass
class Section:
    """One scenario's results, the figures derived from them and notes on how it ran."""

    key: str
    title: str
    results: list[Result] = field(default_factory=list)
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Sections 1 and 2: the runs behind ``results``, round by round.
    alternated: Alternated | None = None


@dataclass
class Stack:
    gunicorn: Gunicorn
    nginx: Nginx
    worker_class: str

    def https(self, path: str) -> str:
        return f"{self.nginx.https_url}{path}"

    def direct(self, path: str) -> str:
        return f"{self.gunicorn.url}{path}"

    def http(self, path: str) -> str:
        return f"http://127.0.0.1:{self.nginx.http_port}{path}"

    def cpu_seconds(self) -> dict[str, float]:
        return {
            "gunicorn": cpu_seconds(self.gunicorn.process.pid),
            "nginx": cpu_seconds(self.nginx.process.pid),
        }

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


def _wrk(
    label: str,
    url: str,
    profile: Profile,
    connections: int,
    *,
    count_unanswered: bool = False,
    seconds: int | None = None,
) -> Result:
    return wrk(
        label,
        url,
        connections=connections,
        seconds=profile.seconds if seconds is None else seconds,
        timeout=profile.timeout,
        count_unanswered=count_unanswered,
    )


#: One wrk run of a round at the profile's connections: ``(stack, url, label) -> Result``.
Measure = Callable[[Stack, str, str], Result]


@dataclass(frozen=True)
class Series:
    """One configuration's runs in an alternated comparison, one per round."""

    label: str
    runs: tuple[Result, ...]

    @property
    def row(self) -> Result:
        """All the runs as one (``combined``)."""
        return combined(self.label, self.runs)

    def ratios(self, other: Series) -> list[float]:
        """This configuration's requests/s over ``other``'s, round by round."""
        return [mine.rps / theirs.rps for mine, theirs in zip(self.runs, other.runs, strict=True)]

    def ratio(self, other: Series) -> float:
        """The median of ``ratios``."""
        return statistics.median(self.ratios(other))


@dataclass(frozen=True)
class Alternated:
    """A path from gunicorn directly, from nginx as shipped and from nginx without each tuning, measured
    in rounds: each configuration once per round, the order reversed every other round."""

    direct: Series
    shipped: Series
    untuned: tuple[tuple[Tuning, Series], ...]
    #: gunicorn directly, on the stacks without the tunings that change it on its own (``gunicorn_direct``).
    untuned_direct: tuple[tuple[Tuning, Series], ...] = ()


def alternate(
    configurations: list[tuple[str, Callable[[str], Result]]], rounds: int
) -> dict[str, tuple[Result, ...]]:
    """Run each ``(label, run)`` once per round, in the given order in even rounds and in the reverse
    order in odd ones: a drift of the machine's speed lands on every configuration alike, and two
    configurations next to each other in the list run next to each other in every round."""
    runs: dict[str, list[Result]] = {label: [] for label, _ in configurations}
    for number in range(rounds):
        for label, run in configurations if number % 2 == 0 else configurations[::-1]:
            runs[label].append(run(label))
    return {label: tuple(results) for label, results in runs.items()}


def _alternated(
    section: Section,
    measure: Measure,
    stack: Stack,
    befores: Mapping[Tuning, Stack],
    path: str,
    *,
    profile: Profile,
    direct: str,
    via_nginx: str,
    ratio: str,
) -> Alternated:
    """``path`` from gunicorn directly, from nginx as shipped and from nginx without each tuning in
    ``befores``, in ``profile.rounds`` rounds (``alternate``), and from gunicorn directly on the stacks
    without the tunings that change gunicorn on its own (``gunicorn_direct``). ``section`` gets one row per
    configuration (``combined``), ``ratio``: the median of the rounds' ratios of shipped to direct, and
    each configuration's gunicorn PSS after the rounds (``memory:<label>:gunicorn_pss``, KiB)."""
    untuned = [
        (
            tuning,
            f"{via_nginx}, without {tuning.name}",
            (before.http if tuning.plain_http else before.https)(path),
        )
        for tuning, before in befores.items()
    ]
    untuned_direct = [
        (tuning, f"{direct}, without {tuning.name}", before.direct(path))
        for tuning, before in befores.items()
        if tuning.gunicorn_direct
    ]
    targets = [
        (direct, stack, stack.direct(path)),
        (f"{via_nginx}, shipped", stack, stack.https(path)),
        *((label, befores[tuning], url) for tuning, label, url in untuned + untuned_direct),
    ]
    runs = alternate(
        [(label, partial(measure, target, url)) for label, target, url in targets], profile.rounds
    )
    series = {label: Series(label, runs[label]) for label, _, _ in targets}
    for label, target, _ in targets:
        section.figures[f"memory:{label}:gunicorn_pss"] = target.memory()["gunicorn_pss"]
    section.alternated = Alternated(
        series[direct],
        series[f"{via_nginx}, shipped"],
        tuple((tuning, series[label]) for tuning, label, _ in untuned),
        tuple((tuning, series[label]) for tuning, label, _ in untuned_direct),
    )
    section.results += [each.row for each in series.values()]
    section.figures[ratio] = section.alternated.shipped.ratio(section.alternated.direct)
    return section.alternated


def _with_cpu(section: Section, profile: Profile) -> Measure:
    """A round's wrk run that also adds up, over each configuration's runs, the CPU seconds its
    gunicorn, its nginx and wrk itself used: ``section.figures["cpu:<label>:<gunicorn|nginx|wrk>"]``."""

    def measure(target: Stack, url: str, label: str) -> Result:
        before, wrk_before = target.cpu_seconds(), reaped_children_cpu_seconds()
        result = _wrk(label, url, profile, profile.connections, seconds=profile.round_seconds)
        used = {part: seconds - before[part] for part, seconds in target.cpu_seconds().items()}
        used["wrk"] = reaped_children_cpu_seconds() - wrk_before
        for part, seconds in used.items():
            key = f"cpu:{label}:{part}"
            section.figures[key] = section.figures.get(key, 0.0) + seconds
        return result

    return measure


def static_file(stack: Stack, befores: Mapping[Tuning, Stack], profile: Profile) -> Section:
    """1. A static file from nginx (shipped, and without each tuning in ``befores``) vs the same file
    from Flask (CPU seconds as in ``_with_cpu``)."""
    section = Section("static", "1. Static file: nginx vs Flask (gunicorn) serving the same file")
    _alternated(
        section,
        _with_cpu(section, profile),
        stack,
        befores,
        STATIC_FILE,
        profile=profile,
        direct="Flask via gunicorn (plain HTTP)",
        via_nginx="nginx /static/ (TLS)",
        ratio="static_ratio",
    )
    return section


def dynamic(stack: Stack, befores: Mapping[Tuning, Stack], profile: Profile) -> Section:
    """2. The dynamic endpoint through nginx (edge, TLS) vs gunicorn directly, same workers; and through
    nginx without each tuning in ``befores`` (CPU seconds as in ``_with_cpu``)."""
    section = Section("dynamic", "2. Dynamic endpoint: through nginx (TLS) vs gunicorn directly")
    runs = _alternated(
        section,
        _with_cpu(section, profile),
        stack,
        befores,
        DYNAMIC,
        profile=profile,
        direct="gunicorn direct (plain HTTP)",
        via_nginx="via nginx (TLS)",
        ratio="dynamic_ratio",
    )
    section.figures["dynamic_p99_nginx"] = runs.shipped.row.latency_ms["p99"]
    section.figures["dynamic_p99_direct"] = runs.direct.row.latency_ms["p99"]
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
    for where, tls in (("via nginx", True), ("gunicorn direct", False)):
        _with_slow_clients(
            f"{wc}: {where}, {profile.slow_clients} slow clients", stack, tls, profile, section
        )
        key = "nginx" if tls else "direct"
        result = section.results[-1]
        section.figures[f"slow_{wc}_{key}_p99"] = result.latency_ms["p99"]
        section.figures[f"slow_{wc}_{key}_errors"] = result.failed + result.timeouts
        section.figures[f"slow_{wc}_{key}_unanswered"] = result.unanswered or 0


def slow_before(
    without_max_requests: Stack, without_header_timeout: Stack, profile: Profile, section: Section
) -> None:
    """3, before its tunings: gevent through nginx recycling workers every 2000 requests (no slow
    clients), and cutting slow clients off after 10 s."""
    c, wc = profile.light_connections, without_max_requests.worker_class
    label = f"{wc}: via nginx, no slow clients, without {MAX_REQUESTS.name}"
    section.results.append(
        _wrk(label, without_max_requests.https(DYNAMIC), profile, c, count_unanswered=True)
    )
    label = f"{wc}: via nginx, {profile.slow_clients} slow clients, without {HEADER_TIMEOUT.name}"
    _with_slow_clients(label, without_header_timeout, True, profile, section)


def _with_slow_clients(label: str, stack: Stack, tls: bool, profile: Profile, section: Section) -> None:
    port, url = (
        (stack.nginx.https_port, stack.https(DYNAMIC))
        if tls
        else (stack.gunicorn.port, stack.direct(DYNAMIC))
    )
    # The slow clients get a few seconds more than the load, so they outlast it.
    with slow_clients(port, count=profile.slow_clients, seconds=profile.seconds + 60, tls=tls) as clients:
        result = _wrk(label, url, profile, profile.light_connections, count_unanswered=True)
    section.results.append(result)
    section.notes.append(f"{label}: slow clients `{clients.command}` reported {clients.report}")


class MemorySampler:
    """The stack's memory, sampled every half second while a block runs: the sample with the highest
    PSS, and the latest."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.peak: dict[str, int] = dict.fromkeys(MEMORY_PARTS, 0)
        #: The latest sample: at most half a second old.
        self.last: dict[str, int] = dict.fromkeys(MEMORY_PARTS, 0)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self.stop.wait(0.5):
            sample = self.stack.memory()
            self.last = sample
            if sample["pss"] > self.peak["pss"]:
                self.peak = sample

    def __enter__(self) -> MemorySampler:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()


#: What is read of the stack's memory: PSS (shared pages split between the processes sharing them) of
#: the whole stack, of nginx and of gunicorn, and the whole stack's RSS (shared pages counted in full).
MEMORY_PARTS = ("pss", "nginx_pss", "gunicorn_pss", "rss")
#: When the stack's memory is read in the scale scenario: ``(key, what)``.
MEMORY_MOMENTS = (
    ("idle", "idle, before the connections"),
    ("static_end", "end of the static run, its connections open"),
    ("dynamic_end", "end of the dynamic run, its connections open"),
    ("peak", "peak (the burst of new TLS connections)"),
    ("after", "after both runs, the connections closed"),
)


#: The scale scenario's routes: ``(route, path)``.
SCALE_ROUTES = (("static", STATIC_FILE), ("dynamic", DYNAMIC))
#: The scale scenario's configurations: the shipped one, and the same with ``FEWER_WORKERS``.
SHIPPED = "shipped"
FEWER_WORKERS_CONFIG = f"WEB_CONCURRENCY={FEWER_WORKERS}"
#: The scale scenario's dynamic route, once more without ``QUEUE_CLOSE``.
QUEUE_OFF_CONFIG = "GUNICORN_KEEPALIVE_QUEUE_MS=off"


def scale_label(config: str, route: str) -> str:
    """The label of the scale scenario's run of ``config`` on ``route``."""
    return f"{config}: {route} ({dict(SCALE_ROUTES)[route]})"


def _many_connections(label: str, url: str, profile: Profile) -> tuple[Result, int]:
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


def scale_route(stack: Stack, profile: Profile, section: Section, config: str, route: str) -> None:
    """4. Many concurrent connections on one route (figures ``{config}:{route}_errors`` and ``_timeouts``)."""
    label = scale_label(config, route)
    result, dropped = _many_connections(label, stack.https(dict(SCALE_ROUTES)[route]), profile)
    section.results.append(result)
    section.figures[f"{config}:{route}_errors"] = result.failed
    section.figures[f"{config}:{route}_timeouts"] = result.timeouts
    section.notes.append(f"{label}: {dropped:,} connections dropped from full accept queues")


#: The suffix of the scale scenario's figures of requests nginx held too long and never answered.
LATE = "_unanswered_late"


def unanswered_late(nginx: Nginx, path: str, seconds: float) -> int:
    """Requests for ``path`` that nginx held longer than ``seconds`` and never answered: the client closed
    its connection first (status 499), here wrk when its run ended. wrk counts a timeout only for an
    answer that arrives late, so a request left waiting until the end is in none of its figures. nginx
    times a request from reading it, so this is a lower bound of the client's wait. Read once nginx has
    stopped: it writes out its buffered access log then."""
    late = re.compile(rf'"GET {re.escape(path)} HTTP/[\d.]+" 499 \d+ rt=([\d.]+) ')
    with Path(nginx.env["NGINX_ACCESS_LOG"]).open() as log:
        return sum(1 for line in log if (match := late.search(line)) and float(match.group(1)) > seconds)


def scale(
    stack: AbstractContextManager[Stack],
    profile: Profile,
    section: Section,
    config: str,
    *,
    routes: tuple[str, ...] = tuple(dict(SCALE_ROUTES)),
    memory: Section | None = None,
) -> None:
    """4 and 5. Many concurrent connections on each of ``routes``, on a stack started for them (figures
    ``{config}:{route}_errors``, ``_timeouts`` and ``_unanswered_late``); with ``memory``, the stack's
    memory (figures ``{config}:{moment}:{part}`` for ``MEMORY_MOMENTS`` and ``MEMORY_PARTS``)."""
    with stack as started:
        samples = {"idle": started.memory()}
        with MemorySampler(started) as sampler:
            for route in routes:
                scale_route(started, profile, section, config, route)
                samples[f"{route}_end"] = sampler.last
        samples["peak"] = sampler.peak
        samples["after"] = started.memory()
    for route in routes:
        late = unanswered_late(started.nginx, dict(SCALE_ROUTES)[route], profile.scale_timeout)
        section.figures[f"{config}:{route}{LATE}"] = late
    if memory is not None:
        for moment, sample in samples.items():
            for part in MEMORY_PARTS:
                memory.figures[f"{config}:{moment}:{part}"] = sample[part]


@contextmanager
def without(
    workdir: Path, tunings: tuple[Tuning, ...], *, worker_class: str = "gevent", **nginx_env: str
) -> Iterator[Stack]:
    """The stack with ``tunings`` taken back: a copy of docker/nginx with their edits, their gunicorn
    and nginx environments."""
    copy = Path(tempfile.mkdtemp(prefix="nginx-without-", dir=workdir))
    copy.chmod(0o755)
    shutil.copytree(DOCKER / "nginx", copy, dirs_exist_ok=True)
    gunicorn_env: dict[str, str] = {}
    tcp_upstream = any(tuning.tcp_upstream for tuning in tunings)
    try:
        for tuning in tunings:
            gunicorn_env |= dict(tuning.gunicorn_env)
            nginx_env |= dict(tuning.nginx_env)
            for name, shipped, before in tuning.edits:
                path = copy / name
                text = path.read_text()
                if shipped not in text:
                    raise ValueError(f"{tuning.name}: {shipped!r} not found in docker/nginx/{name}")
                path.write_text(text.replace(shipped, before, 1))
        with node_stack(
            workdir,
            worker_class=worker_class,
            render=copy / "render.sh",
            gunicorn_env=gunicorn_env,
            tcp_upstream=tcp_upstream,
            **nginx_env,
        ) as stack:
            yield stack
    finally:
        shutil.rmtree(copy)


def tuning(workdir: Path, profile: Profile) -> Section:
    """Before and after each tuning step, on the dynamic route under the scale scenario's connections,
    with nginx's peak memory and the connections the kernel dropped from full accept queues."""
    n = profile.scale_connections
    section = Section("tuning", f"7. Tuning for {n:,} connections, step by step, on the dynamic route")
    steps = TUNING_STEPS if profile.every_tuning_step else (TUNING_STEPS[0], TUNING_STEPS[-1])
    for label, nginx_env, taken_back in steps:
        with without(workdir, taken_back, **nginx_env) as stack, MemorySampler(stack) as sampler:
            result, dropped = _many_connections(label, stack.https(DYNAMIC), profile)
            section.results.append(result)
            step = len(section.results)
            section.figures[f"listen_overflows_{step}"] = dropped
            section.figures[f"nginx_end_pss_{step}"] = sampler.last["nginx_pss"]
        section.figures[f"nginx_peak_pss_{step}"] = sampler.peak["nginx_pss"]
        late = unanswered_late(stack.nginx, DYNAMIC, profile.scale_timeout)
        section.figures[f"unanswered_late_{step}"] = late
    return section


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
