"""Section 7: the tuning for many connections, one step at a time, on the dynamic route."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from bench.loadgen import Result
from bench.markdown import Section, render
from bench.profiles import Profile
from bench.sections.scale import (
    SCALE_NGINX_ENV,
    SCALE_NGINX_WORKERS,
    SHIPPED,
    WORKER_CONNECTIONS,
    ScaleNginxEnv,
    ScaleResult,
    many_connections,
    unanswered_late,
)
from bench.stacks import TRIVIAL, MemorySampler, without
from bench.tunings import (
    BACKLOG,
    GUNICORN_DEFAULT_BACKLOG,
    HEADER_TIMEOUT,
    JEMALLOC,
    NGINX_BACKLOG,
    NGINX_DEFAULT_BACKLOG,
    SSL_BUFFER,
    Tuning,
)


@dataclass(frozen=True)
class Step:
    """A step of the tuning: its label, nginx's environment, and the tunings still taken back."""

    label: str
    nginx_env: ScaleNginxEnv
    taken_back: tuple[Tuning, ...]


#: Each step adds its change to the ones before it.
STEPS = (
    Step(
        "before: NGINX_WORKER_CONNECTIONS=10000, client_header_timeout 10s, "
        f"gunicorn backlog {GUNICORN_DEFAULT_BACKLOG}, nginx backlog {NGINX_DEFAULT_BACKLOG}, "
        "ssl_buffer_size 16k, glibc malloc",
        ScaleNginxEnv(NGINX_WORKER_PROCESSES=SCALE_NGINX_WORKERS, NGINX_WORKER_CONNECTIONS="10000"),
        (HEADER_TIMEOUT, BACKLOG, NGINX_BACKLOG, SSL_BUFFER, JEMALLOC),
    ),
    Step(
        f"+ NGINX_WORKER_CONNECTIONS={WORKER_CONNECTIONS}",
        SCALE_NGINX_ENV,
        (HEADER_TIMEOUT, BACKLOG, NGINX_BACKLOG, SSL_BUFFER, JEMALLOC),
    ),
    Step("+ client_header_timeout 60s", SCALE_NGINX_ENV, (BACKLOG, NGINX_BACKLOG, SSL_BUFFER, JEMALLOC)),
    Step(f"+ {BACKLOG.name}", SCALE_NGINX_ENV, (NGINX_BACKLOG, SSL_BUFFER, JEMALLOC)),
    Step(f"+ {NGINX_BACKLOG.name}", SCALE_NGINX_ENV, (SSL_BUFFER, JEMALLOC)),
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


def measure(workdir: Path, database: Mapping[str, str], profile: Profile) -> TuningResult:
    """Each step (or, with a profile that skips them, the first and the last) under the scale scenario's
    connections, on a stack of its own (the app's ``database``)."""
    steps = STEPS if profile.every_tuning_step else (STEPS[0], STEPS[-1])
    runs: list[StepRun] = []
    for step in steps:
        with (
            without(workdir, step.taken_back, database=database, **step.nginx_env) as stack,
            MemorySampler(stack) as sampler,
        ):
            result, dropped = many_connections(step.label, stack.https(TRIVIAL), profile)
            end = sampler.last.nginx_pss
        late = unanswered_late(stack.nginx, TRIVIAL, profile.scale_timeout)
        runs.append(StepRun(result, dropped, sampler.peak.nginx_pss, end, late))
    return TuningResult(tuple(runs))


def section(result: TuningResult, scale: ScaleResult, profile: Profile) -> Section:
    """The section: each step against the one before, the last against section 4, what each fixed."""
    body = render(
        "tuning.md.j2",
        result=result,
        steps=list(pairwise(result.steps)),
        there=scale.run(SHIPPED, "dynamic"),
        profile=profile,
    )
    return Section(title(profile), result.rows, body)
