"""The table of "Nginx as a Reverse Proxy for Flask", side by side: its naive baseline, its configuration as
printed and the shipped stack, measured in the same run (section 9 runs each at the scale scenario's
connections on the database read; their writes are section 8's)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.article import EDITS, article_stack, printed_workers
from bench.cores import CORES
from bench.loadgen import Result
from bench.markdown import Section, render
from bench.profiles import Profile
from bench.sections.scale import SCALE_NGINX_ENV, many_connections
from bench.sections.writes import Totals, WritesResult
from bench.stacks import DYNAMIC, MemorySample, MemorySampler, Served, naive, node_stack

#: The article's table (10k concurrent virtual users): baseline, optimized.
ARTICLE_LATENCY_MS = (280.0, 34.0)
ARTICLE_MEMORY_MB = (1200.0, 410.0)
ARTICLE_WRITES = (450.0, 3200.0)
BASELINE = "naive baseline"
PRINTED = "the article's configuration"
SHIPPED_LABEL = "shipped"


def title(profile: Profile) -> str:
    """Section 9's title."""
    return (
        f"9. The article's table at {profile.scale_connections:,} connections: the naive baseline, the "
        "article's configuration and the shipped stack on the database read"
    )


@dataclass(frozen=True)
class ConfigRun:
    """One configuration's run at the scale scenario's connections on the dynamic route, its memory at
    the end of it (its connections still open) and the connections the kernel dropped meanwhile."""

    result: Result
    end: MemorySample
    dropped: int


@dataclass(frozen=True)
class ArticleResult:
    """Section 9: the naive baseline's run, the article's configuration's and the shipped stack's."""

    baseline: ConfigRun
    printed: ConfigRun
    shipped: ConfigRun

    @property
    def runs(self) -> tuple[ConfigRun, ConfigRun, ConfigRun]:
        """The runs, in the table's order."""
        return self.baseline, self.printed, self.shipped

    @property
    def rows(self) -> list[Result]:
        """The runs' results."""
        return [run.result for run in self.runs]


def _run(served: Served, url: str, label: str, profile: Profile) -> ConfigRun:
    with MemorySampler(served) as sampler:
        result, dropped = many_connections(label, url, profile)
        end = sampler.last
    return ConfigRun(result, end, dropped)


def measure(workdir: Path, database: Mapping[str, str], profile: Profile) -> ArticleResult:
    """The naive app exposed, the sample app with the article's configuration, and the shipped stack (as
    section 4 runs it), each on its own at the scale scenario's connections on the dynamic route."""
    with naive(workdir, database) as exposed:
        label = f"{BASELINE}: {CORES.gunicorn_workers} sync workers exposed, a connection per request"
        baseline = _run(exposed, exposed.url(DYNAMIC), label, profile)
    with article_stack(workdir, database=database) as printed:
        label = f"{PRINTED}: nginx (TLS), {printed_workers()} gevent workers"
        article = _run(printed, printed.https(DYNAMIC), label, profile)
    with node_stack(workdir, database=database, **SCALE_NGINX_ENV) as stack:
        label = f"{SHIPPED_LABEL}: nginx (TLS), {CORES.gunicorn_workers} gevent workers"
        shipped = _run(stack, stack.https(DYNAMIC), label, profile)
    return ArticleResult(baseline, article, shipped)


@dataclass(frozen=True)
class Row:
    """A row of the article's table: the three configurations' figures and the article's own."""

    metric: str
    baseline: float
    printed: float
    shipped: float
    article: tuple[float, float]
    #: Whether a lower figure is better (latency, memory) or a higher one (writes).
    lower_is_better: bool
    #: The article's configuration and the shipped stack over the baseline, when the section measured them
    #: round by round: the median of the rounds' ratios, which drift between rounds does not sway as it
    #: sways the ratio of the totals.
    ratios: tuple[float, float] | None = None

    @staticmethod
    def delta(before: float, after: float) -> float:
        """``after`` against ``before``, as a fraction (-0.5: half)."""
        return after / before - 1 if before and math.isfinite(before) else math.inf

    @property
    def shipped_delta(self) -> float:
        """The shipped stack against the baseline."""
        if self.ratios is not None:
            return self.ratios[1] - 1
        return self.delta(self.baseline, self.shipped)

    @property
    def printed_delta(self) -> float:
        """The article's configuration against the baseline."""
        if self.ratios is not None:
            return self.ratios[0] - 1
        return self.delta(self.baseline, self.printed)

    @property
    def article_delta(self) -> float:
        """The article's claim."""
        return self.delta(*self.article)

    @property
    def met(self) -> bool:
        """Whether the shipped stack improves on the baseline at least as much as the article claims and
        does better than the article's configuration."""
        if self.lower_is_better:
            return self.shipped_delta <= self.article_delta and self.shipped < self.printed
        return self.shipped_delta >= self.article_delta and self.shipped_delta > self.printed_delta


@dataclass(frozen=True)
class Table:
    """The article's table, measured: latency, memory, writes."""

    latency: Row
    memory: Row
    writes: Row
    #: The runs each latency comes from (their p99 and errors go in the table too).
    runs: tuple[Result, Result, Result]

    @property
    def rows(self) -> tuple[Row, Row, Row]:
        """The rows, in the article's order."""
        return self.latency, self.memory, self.writes


def table(result: ArticleResult, writes: WritesResult) -> Table:
    """The article's rows from section 9's runs (latency, and memory at their end) and section 8's writes."""
    baseline_run, printed_run, shipped_run = result.runs
    runs = (baseline_run.result, printed_run.result, shipped_run.result)
    baseline, optimized = writes.totals
    # A run that answered nothing has no mean: as slow as can be.
    mean = [run.latency_ms["mean"] if run.requests else math.inf for run in runs]
    return Table(
        latency=Row("average latency", mean[0], mean[1], mean[2], ARTICLE_LATENCY_MS, True),
        memory=Row(
            "memory per node",
            baseline_run.end.pss / 1024,
            printed_run.end.pss / 1024,
            shipped_run.end.pss / 1024,
            ARTICLE_MEMORY_MB,
            True,
        ),
        writes=Row(
            "database writes",
            baseline.writes_per_second,
            Totals(writes.article).writes_per_second,
            optimized.writes_per_second,
            ARTICLE_WRITES,
            False,
            ratios=(writes.article_ratio, writes.ratio),
        ),
        runs=runs,
    )


def summary(measured: Table, profile: Profile) -> list[str]:
    """The table that opens the report, with one line per row on why ours differ from the article's."""
    return render("article-table.md.j2", table=measured, profile=profile, cores=CORES)


def section(result: ArticleResult, profile: Profile) -> Section:
    """Section 9: the runs, what each configuration is, what had to change to run the printed files."""
    body = render(
        "article.md.j2",
        result=result,
        profile=profile,
        edits=EDITS,
        workers=CORES.gunicorn_workers,
        printed_workers=printed_workers(),
    )
    return Section(title(profile), result.rows, body)
