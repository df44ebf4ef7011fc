"""Section 8: database writes per second, the naive app against the sample app with the article's
configuration and as shipped, side by side on the same PostgreSQL (TLS required), in rounds."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bench.article import article_stack, printed_workers
from bench.cores import CORES
from bench.database import count_notes
from bench.loadgen import WRK_POST_NOTE, Result, cpu_seconds, wrk
from bench.markdown import Section, render
from bench.profiles import Profile
from bench.rounds import alternate
from bench.stacks import Served, naive, node_stack
from nodestack.postgres import Postgres

TITLE = "8. Database writes per second: the naive app, the article's configuration, the shipped stack"
#: The route both apps write a note on.
NOTES = "/api/notes"
#: "Nginx as a Reverse Proxy for Flask"'s database writes per second: its baseline and its optimized setup.
ARTICLE_BASELINE = 450
ARTICLE_OPTIMIZED = 3200
ARTICLE_RATIO = round(ARTICLE_OPTIMIZED / ARTICLE_BASELINE, 1)
#: How long a count of the table must hold still before a run starts: requests the server was serving
#: when wrk stopped still commit their row. Ten times what the slowest configuration spends on a write.
SETTLE_SECONDS = 0.2


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
    #: The sample app with the article's configuration as printed.
    article: tuple[WritesRun, ...]

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
    def article_ratio(self) -> float:
        """The article's configuration over the baseline: the median of the rounds' ratios."""
        return statistics.median(
            mine.writes_per_second / theirs.writes_per_second
            for mine, theirs in zip(self.article, self.baseline, strict=True)
        )

    @property
    def rows(self) -> list[Result]:
        """Every run's wrk result, the baseline's first, each configuration's in the order they ran."""
        return [run.result for run in (*self.baseline, *self.article, *self.optimized)]


def settled(count: Callable[[], int], pause: float = SETTLE_SECONDS) -> int:
    """``count()`` once two readings ``pause`` seconds apart agree."""
    last = count()
    while True:
        time.sleep(pause)
        now = count()
        if now == last:
            return now
        last = now


def measure_writers(
    writers: tuple[Writer, Writer, Writer],
    count: Callable[[], int],
    database_cpu_seconds: Callable[[], float],
    profile: Profile,
) -> WritesResult:
    """POSTs of a note to each configuration (the baseline, the article's, the optimized one) at the
    profile's connections, in rounds (``alternate``):
    the rows each run added (``count``) by its end and after it, and the CPU its servers and the
    database used."""

    def run(writer: Writer, label: str) -> WritesRun:
        before = settled(count)
        server, database = writer.cpu_seconds(), database_cpu_seconds()
        result = wrk(
            label,
            writer.url,
            connections=profile.connections,
            seconds=profile.round_seconds,
            timeout=profile.timeout,
            script=WRK_POST_NOTE,
        )
        at_end = count()
        server, database = writer.cpu_seconds() - server, database_cpu_seconds() - database
        return WritesRun(result, at_end - before, settled(count) - at_end, server, database)

    baseline, article, optimized = writers
    runs = alternate([(writer.label, partial(run, writer)) for writer in writers], profile.rounds)
    return WritesResult(runs[baseline.label], runs[optimized.label], runs[article.label])


def server_cpu_seconds(stack: Served) -> float:
    """The CPU seconds gunicorn and nginx have used so far."""
    used = stack.cpu_seconds()
    return used.gunicorn + used.nginx


def measure(workdir: Path, postgres: Postgres, profile: Profile) -> WritesResult:
    """The naive app (``bench.stacks.naive``), the sample app with the article's configuration and on the
    shipped stack, all on the run's cluster, in rounds."""
    env = postgres.app_env()
    with (
        naive(workdir, env) as exposed,
        article_stack(workdir, database=env) as printed,
        node_stack(workdir, database=env) as stack,
    ):
        baseline = Writer(
            f"naive app: gunicorn's defaults ({CORES.gunicorn_workers} sync workers) exposed, a connection "
            "per request (plain HTTP)",
            exposed.url(NOTES),
            partial(server_cpu_seconds, exposed),
        )
        article = Writer(
            f"sample app, the article's configuration: via nginx (TLS), {printed_workers()} gevent workers, "
            "a pool each",
            printed.https(NOTES),
            partial(server_cpu_seconds, printed),
        )
        optimized = Writer(
            f"sample app as shipped: via nginx (TLS), {CORES.gunicorn_workers} gevent workers, a pool each",
            stack.https(NOTES),
            partial(server_cpu_seconds, stack),
        )
        return measure_writers(
            (baseline, article, optimized),
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
        article=Totals(result.article),
        optimized=optimized,
        profile=profile,
        make="make bench" if profile.name == "full" else "make bench-quick",
        article_baseline=ARTICLE_BASELINE,
        article_optimized=ARTICLE_OPTIMIZED,
        article_ratio=ARTICLE_RATIO,
    )
    return Section(TITLE, result.rows, body)
