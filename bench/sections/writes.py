"""Section 8: database writes per second, the naive app against the sample app as shipped, side by side
on the same PostgreSQL (TLS required), in rounds."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench.loadgen import WRK_POST_NOTE, Result, cpu_seconds, wrk
from bench.markdown import Section, render
from bench.profiles import Profile
from bench.rounds import alternate
from bench.stacks import Stack, naive_writes, node_stack
from nodestack.gunicorn import DEFAULT_WORKERS
from nodestack.paths import APP
from nodestack.postgres import APP_DATABASE, Postgres, remove, start_postgres

TITLE = "8. Database writes per second: the naive app against the sample app as shipped"
#: The route both apps write a note on.
NOTES = "/api/notes"
#: "Nginx as a Reverse Proxy for Flask"'s database writes per second: its baseline and its optimized setup.
ARTICLE_BASELINE = 450
ARTICLE_OPTIMIZED = 3200
ARTICLE_RATIO = round(ARTICLE_OPTIMIZED / ARTICLE_BASELINE, 1)
#: How long a count of the table must hold still before a run starts: requests the server was serving
#: when wrk stopped still commit their row.
SETTLE_SECONDS = 0.5


@dataclass(frozen=True)
class Writer:
    """A configuration that writes notes: its label, its URL, and the CPU seconds its servers (gunicorn,
    and nginx in front of it) have used so far."""

    label: str
    url: str
    cpu_seconds: Callable[[], float]


@dataclass(frozen=True)
class WritesRun:
    """One wrk run of POSTs, the rows it added to the table and the CPU seconds used meanwhile."""

    result: Result
    #: Rows committed between wrk's start and its end.
    rows: int
    #: Rows committed after wrk's end: requests in flight when it stopped, up to one per connection.
    late_rows: int = 0
    #: The configuration's servers' (gunicorn, and nginx in front of it), and PostgreSQL's.
    server_cpu: float = 0.0
    database_cpu: float = 0.0

    @property
    def writes_per_second(self) -> float:
        """Rows added over the run's seconds."""
        return self.rows / self.result.seconds

    @property
    def created(self) -> int:
        """Answers wrk counted as successes (2xx or 3xx; both apps answer 201)."""
        return self.result.requests - self.result.errors["status"]

    @property
    def errors(self) -> int:
        """Requests that failed (connect, read, write, a status other than 2xx/3xx) or timed out."""
        return self.result.failed + self.result.timeouts


@dataclass(frozen=True)
class Totals:
    """A configuration's runs taken together."""

    runs: tuple[WritesRun, ...]

    @property
    def rows(self) -> int:
        """Rows added by all the runs."""
        return sum(run.rows for run in self.runs)

    @property
    def writes_per_second(self) -> float:
        """All the runs' rows over all their seconds."""
        return self.rows / sum(run.result.seconds for run in self.runs)

    @property
    def late_rows(self) -> int:
        """Rows committed after the runs' ends."""
        return sum(run.late_rows for run in self.runs)

    @property
    def created(self) -> int:
        """Successful answers over all the runs."""
        return sum(run.created for run in self.runs)

    @property
    def errors(self) -> int:
        """Failed or timed-out requests over all the runs."""
        return sum(run.errors for run in self.runs)

    @property
    def server_cpu_ms(self) -> float:
        """Milliseconds of CPU per row written, the servers' (gunicorn, and nginx in front of it)."""
        return 1000 * sum(run.server_cpu for run in self.runs) / max(self.rows, 1)

    @property
    def database_cpu_ms(self) -> float:
        """Milliseconds of CPU per row written, PostgreSQL's."""
        return 1000 * sum(run.database_cpu for run in self.runs) / max(self.rows, 1)


@dataclass(frozen=True)
class WritesResult:
    """Section 8: each configuration's runs, one per round."""

    baseline: tuple[WritesRun, ...]
    optimized: tuple[WritesRun, ...]

    @property
    def ratios(self) -> list[float]:
        """Optimized writes/s over the baseline's, round by round."""
        return [
            mine.writes_per_second / theirs.writes_per_second
            for mine, theirs in zip(self.optimized, self.baseline, strict=True)
        ]

    @property
    def ratio(self) -> float:
        """The median of the rounds' ratios."""
        return statistics.median(self.ratios)

    @property
    def met(self) -> bool:
        """Whether the ratio reaches the article's."""
        return self.ratio >= ARTICLE_RATIO

    @property
    def totals(self) -> tuple[Totals, Totals]:
        """The baseline's runs together, and the optimized configuration's."""
        return Totals(self.baseline), Totals(self.optimized)

    @property
    def rows(self) -> list[Result]:
        """Every run's wrk result, the baseline's first, each configuration's in the order they ran."""
        return [run.result for run in (*self.baseline, *self.optimized)]


def count_notes(postgres: Postgres) -> int:
    """The rows in the notes table."""
    return int(postgres.psql("SELECT count(*) FROM notes", database=APP_DATABASE))


def settled(count: Callable[[], int], pause: float = SETTLE_SECONDS) -> int:
    """``count()`` once two readings ``pause`` seconds apart agree."""
    last = count()
    while True:
        time.sleep(pause)
        now = count()
        if now == last:
            return now
        last = now


@contextmanager
def migrated_postgres(workdir: Path) -> Iterator[Postgres]:
    """A throwaway cluster (TLS required over TCP) with the sample app's schema, migrated by its release
    command as the release phase runs it."""
    postgres = start_postgres(workdir)
    try:
        subprocess.run(
            [sys.executable, "release.py"],
            cwd=APP,
            env={**os.environ, **postgres.app_env()},
            capture_output=True,
            check=True,
            timeout=60,
        )
        yield postgres
    finally:
        remove(postgres)


def measure_writers(
    baseline: Writer,
    optimized: Writer,
    count: Callable[[], int],
    database_cpu_seconds: Callable[[], float],
    profile: Profile,
) -> WritesResult:
    """POSTs of a note to each configuration at the profile's connections, in rounds (``alternate``):
    the rows each run added (``count``) by its end and after it, and the CPU its servers and the
    database used."""

    def run(writer: Writer, label: str) -> WritesRun:
        before = settled(count)
        server, database = writer.cpu_seconds(), database_cpu_seconds()
        result = wrk(
            label,
            writer.url,
            connections=profile.connections,
            seconds=profile.seconds,
            timeout=profile.timeout,
            script=WRK_POST_NOTE,
        )
        at_end = count()
        server, database = writer.cpu_seconds() - server, database_cpu_seconds() - database
        return WritesRun(result, at_end - before, settled(count) - at_end, server, database)

    runs = alternate(
        [(baseline.label, partial(run, baseline)), (optimized.label, partial(run, optimized))],
        profile.rounds,
    )
    return WritesResult(runs[baseline.label], runs[optimized.label])


def server_cpu_seconds(stack: Stack) -> float:
    """The CPU seconds gunicorn and nginx have used so far."""
    used = stack.cpu_seconds()
    return used.gunicorn + used.nginx


def measure(workdir: Path, profile: Profile) -> WritesResult:
    """The naive app (``naive_writes``) and the sample app on the shipped stack, both on one throwaway
    cluster, in rounds."""
    with migrated_postgres(workdir) as postgres:
        env = postgres.app_env()
        with naive_writes(workdir, env) as naive, node_stack(workdir, gunicorn_env=env) as stack:
            baseline = Writer(
                f"naive app: gunicorn's defaults ({DEFAULT_WORKERS} sync workers) exposed, a connection "
                "per request (plain HTTP)",
                naive.url(NOTES),
                lambda: cpu_seconds(naive.process.pid),
            )
            optimized = Writer(
                f"sample app as shipped: via nginx (TLS), {DEFAULT_WORKERS} gevent workers, a pool each",
                stack.https(NOTES),
                partial(server_cpu_seconds, stack),
            )
            return measure_writers(
                baseline,
                optimized,
                partial(count_notes, postgres),
                partial(cpu_seconds, postgres.process.pid),
                profile,
            )


def section(result: WritesResult, profile: Profile) -> Section:
    """The section: writes/s of each, the ratio next to the article's, the CPU per write, the command that
    reproduces it."""
    baseline, optimized = result.totals
    body = render(
        "writes.md.j2",
        result=result,
        baseline=baseline,
        optimized=optimized,
        profile=profile,
        make="make bench" if profile.name == "full" else "make bench-quick",
        article_baseline=ARTICLE_BASELINE,
        article_optimized=ARTICLE_OPTIMIZED,
        article_ratio=ARTICLE_RATIO,
    )
    return Section(TITLE, result.rows, body)
