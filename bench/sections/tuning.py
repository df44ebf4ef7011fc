"""Section 7: the tuning for many connections, one step at a time, on the dynamic route."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from bench.loadgen import Result
from bench.markdown import Section
from bench.profiles import Profile
from bench.sections.scale import SHIPPED, WORKER_CONNECTIONS, ScaleResult, many_connections, unanswered_late
from bench.stacks import DYNAMIC, MemorySampler, without
from bench.tunings import BACKLOG, HEADER_TIMEOUT, JEMALLOC, NGINX_BACKLOG, SSL_BUFFER, Tuning

SCALE_NGINX_ENV = {"NGINX_WORKER_CONNECTIONS": WORKER_CONNECTIONS}


@dataclass(frozen=True)
class Step:
    """A step of the tuning: its label, nginx's environment, and the tunings still taken back."""

    label: str
    nginx_env: Mapping[str, str]
    taken_back: tuple[Tuning, ...]


#: Each step adds its change to the ones before it.
STEPS = (
    Step(
        "before: NGINX_WORKER_CONNECTIONS=10000, client_header_timeout 10s, gunicorn backlog 2048, "
        "nginx backlog 511, ssl_buffer_size 16k, glibc malloc",
        {"NGINX_WORKER_CONNECTIONS": "10000"},
        (HEADER_TIMEOUT, BACKLOG, NGINX_BACKLOG, SSL_BUFFER, JEMALLOC),
    ),
    Step(
        f"+ NGINX_WORKER_CONNECTIONS={WORKER_CONNECTIONS}",
        SCALE_NGINX_ENV,
        (HEADER_TIMEOUT, BACKLOG, NGINX_BACKLOG, SSL_BUFFER, JEMALLOC),
    ),
    Step("+ client_header_timeout 60s", SCALE_NGINX_ENV, (BACKLOG, NGINX_BACKLOG, SSL_BUFFER, JEMALLOC)),
    Step("+ gunicorn backlog 16384", SCALE_NGINX_ENV, (NGINX_BACKLOG, SSL_BUFFER, JEMALLOC)),
    Step("+ nginx backlog 16384", SCALE_NGINX_ENV, (SSL_BUFFER, JEMALLOC)),
    Step("+ ssl_buffer_size 4k", SCALE_NGINX_ENV, (JEMALLOC,)),
    Step("+ jemalloc (shipped)", SCALE_NGINX_ENV, ()),
)


def title(profile: Profile) -> str:
    """The section's title."""
    return f"7. Tuning for {profile.scale_connections:,} connections, step by step, on the dynamic route"


@dataclass(frozen=True)
class StepRun:
    """One step's run, what the kernel dropped, nginx's memory and the requests never answered."""

    result: Result
    #: Connections the kernel dropped from full accept queues during the run.
    dropped: int
    #: nginx's PSS (KiB) at its peak and at the end of the run.
    nginx_peak_pss: int
    nginx_end_pss: int
    #: Requests nginx held longer than the timeout and never answered.
    late: int


@dataclass(frozen=True)
class TuningResult:
    """Section 7: each step's run, in order."""

    steps: tuple[StepRun, ...]

    @property
    def rows(self) -> list[Result]:
        """Every step's result."""
        return [step.result for step in self.steps]


def measure(workdir: Path, profile: Profile) -> TuningResult:
    """Each step (or, with a profile that skips them, the first and the last) under the scale scenario's
    connections, on a stack of its own."""
    steps = STEPS if profile.every_tuning_step else (STEPS[0], STEPS[-1])
    runs: list[StepRun] = []
    for step in steps:
        with without(workdir, step.taken_back, **step.nginx_env) as stack, MemorySampler(stack) as sampler:
            result, dropped = many_connections(step.label, stack.https(DYNAMIC), profile)
            end = sampler.last.nginx_pss
        late = unanswered_late(stack.nginx, DYNAMIC, profile.scale_timeout)
        runs.append(StepRun(result, dropped, sampler.peak.nginx_pss, end, late))
    return TuningResult(tuple(runs))


def _step_line(before: StepRun, after: StepRun, profile: Profile) -> str:
    old, new = before.result, after.result
    return (
        f"- {new.label}: requests/s {old.rps:,.0f} -> {new.rps:,.0f}, errors "
        f"{old.failed:,} -> {new.failed:,}, timeouts {old.timeouts:,} -> {new.timeouts:,}, "
        f"never answered in {profile.scale_timeout} s {before.late:,.0f} -> {after.late:,.0f}, "
        f"p99 {old.latency_ms['p99']:,.0f} -> {new.latency_ms['p99']:,.0f} ms, listen "
        f"overflows {before.dropped:,.0f} -> {after.dropped:,.0f}, nginx PSS at peak "
        f"{before.nginx_peak_pss / 1024:.0f} -> {after.nginx_peak_pss / 1024:.0f} MB, at the end "
        f"{before.nginx_end_pss / 1024:.0f} -> {after.nginx_end_pss / 1024:.0f} MB"
    )


def _last_step(result: TuningResult, scale: ScaleResult) -> str:
    there, last = scale.run(SHIPPED, "dynamic"), result.steps[-1]
    return (
        f"- The last step runs the configuration of section 4: there, {there.result.failed:,} errors and "
        f"{there.timed_out:,.0f} timeouts (answered late or "
        f"never) at {there.result.rps:,.0f} requests/s; here, {last.result.failed:,} errors and "
        f"{last.result.timeouts + last.late:,.0f} at {last.result.rps:,.0f} "
        "requests/s. The difference is the spread "
        "between two runs of one configuration on this machine."
    )


FIXED = (
    "- What each step fixed, from nginx's error log in the runs that found them: at 10 s, TLS "
    "handshakes queued behind 10,000 new connections were cut off (wrk: read errors); gunicorn's "
    "default backlog of 2048 overflowed, because a gevent worker accepts one connection per turn "
    "of its loop: a full unix socket refuses a connection at once (connect() failed, 11: Resource "
    "temporarily unavailable) and nginx answers 502 (over TCP it was 504, upstream connect timed "
    "out, and 502); nginx's own accept queue (511) overflowed, which costs retransmitted "
    "connection attempts and, in some runs, wrk's connect errors (listen overflows: TCP "
    "connections the kernel dropped because an accept queue was full; a unix socket's refusals "
    "are not counted there); jemalloc returns to the kernel what the burst of TLS handshakes "
    "freed (see section 5). A 4 KB TLS buffer instead of 16 KB is less that nginx may hold per "
    "connection, but one run of each step does not show it beyond the spread between runs."
)


def section(result: TuningResult, scale: ScaleResult, profile: Profile) -> Section:
    """The section: each step against the one before, the last against section 4, what each fixed."""
    body = [
        *(_step_line(before, after, profile) for before, after in pairwise(result.steps)),
        _last_step(result, scale),
        FIXED,
    ]
    return Section(title(profile), result.rows, body)
