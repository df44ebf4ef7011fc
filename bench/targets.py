"""The targets the report checks: each a statement, what was measured, and whether it was met (None: a
figure to report, not a bar to clear)."""

from __future__ import annotations

from dataclasses import dataclass

from bench.markdown import delta
from bench.profiles import Profile
from bench.results import Results
from bench.rounds import Alternated
from bench.sections import compared
from bench.sections.article import ARTICLE_MEMORY_MB, Row, Table
from bench.sections.scale import ROUTES, SHIPPED
from bench.sections.slow import WORKER_CLASSES
from bench.sections.writes import ARTICLE_BASELINE, ARTICLE_OPTIMIZED, ARTICLE_RATIO

#: Static: nginx's requests/s over Flask's; dynamic: through nginx over gunicorn direct.
STATIC_RATIO = 40.0
DYNAMIC_SHARE = 0.90


def static_met(results: Results) -> bool:
    """Whether nginx serves the static file ``STATIC_RATIO`` times Flask's requests per server core."""
    return results.static.per_core_ratio >= STATIC_RATIO


def dynamic_met(results: Results) -> bool:
    """Whether nginx keeps ``DYNAMIC_SHARE`` of gunicorn direct's requests per server core."""
    return results.dynamic.per_core_ratio >= DYNAMIC_SHARE


def memory_met(results: Results) -> bool:
    """Whether the node stack ends the scale scenario within the article's memory per node."""
    return results.memory.shipped.end_mb <= ARTICLE_MEMORY_MB[1]


@dataclass(frozen=True)
class Target:
    """A target: what it states, what was measured, and whether that meets it (None: reported only)."""

    what: str
    measured: str
    met: bool | None


def _cross_checks(runs: Alternated, form: str) -> str:
    """What else tells the ratio: requests/s, the server's core busy, CPU accounting, plain HTTP."""
    return (
        f"{form.format(runs.ratio)} in requests/s ({compared.spread(runs, form)}; the server's core busy "
        f"{runs.shipped.core_busy:.0%} through nginx, {runs.direct.core_busy:.0%} direct); per CPU second of "
        f"gunicorn and nginx {form.format(runs.server_cpu_ratio)}{compared.plain_http(runs, form)}"
    )


def _ratios(results: Results) -> list[Target]:
    static, dynamic, trivial = results.static, results.dynamic, results.trivial
    shipped, direct = dynamic.shipped.row.latency_ms["p99"], dynamic.direct.row.latency_ms["p99"]
    nginx_us, gunicorn_us = trivial.shipped.cpu_us(("nginx",)), trivial.direct.cpu_us(("gunicorn",))
    return [
        Target(
            f"Static through nginx (TLS) ≥ {STATIC_RATIO:.0f}x Flask's requests per server core",
            f"**{static.per_core_ratio:.1f}x** per second of the server's core busy; "
            f"{_cross_checks(static, '{:.1f}x')} (section 1)",
            static_met(results),
        ),
        Target(
            f"Dynamic (a database read) through nginx (TLS) ≥ {DYNAMIC_SHARE:.0%} of gunicorn direct's "
            "requests per server core",
            f"**{dynamic.per_core_ratio:.0%}** per second of the server's core busy; "
            f"{_cross_checks(dynamic, '{:.0%}')} (section 2)",
            dynamic_met(results),
        ),
        Target(
            "… with a p99 no worse than direct (the median of each one's runs)",
            f"{shipped:.1f} ms vs {direct:.1f} ms (lower in {compared.p99_lower(dynamic)} rounds)",
            shipped <= direct,
        ),
        Target(
            "Trivial endpoint: nginx's own CPU per proxied request, and its share of gunicorn's",
            f"{nginx_us:.0f} µs, {nginx_us / gunicorn_us:.0%} of gunicorn's {gunicorn_us:.0f} µs (section 2)",
            None,
        ),
    ]


def _load(results: Results, profile: Profile) -> list[Target]:
    slow, scale, n = results.slow, results.scale, profile.scale_connections
    end_mb = results.memory.shipped.end_mb
    return [
        *(
            Target(
                f"{profile.slow_clients} slow clients, {wc} workers: through nginx p99 < 100 ms, no errors",
                f"p99 {runs.result.latency_ms['p99']:.1f} ms, {runs.errors:.0f} errors (section 3)",
                runs.result.latency_ms["p99"] < 100 and runs.errors == 0,
            )
            for wc in WORKER_CLASSES
            for runs in (slow.of(wc).via_nginx,)
        ),
        *(
            Target(
                f"{n:,} connections, {route} route: no errors, no timeouts",
                f"{run.result.failed:.0f} errors, {run.result.timeouts:.0f} answered after "
                f"{profile.scale_timeout} s, {run.late:.0f} never answered after "
                f"{profile.scale_timeout} s (section 4)",
                run.result.failed == 0 and run.timed_out == 0,
            )
            for route, _ in ROUTES
            for run in (scale.run(SHIPPED, route),)
        ),
        Target(
            f"Node stack memory ≤ {ARTICLE_MEMORY_MB[1]:.0f} MB at the end of the {n:,}-connection scenario "
            "(PSS at the end of either route's run, its connections still open)",
            f"{end_mb:.0f} MB (section 5)",
            memory_met(results),
        ),
    ]


def _writes(results: Results) -> Target:
    writes = results.writes
    baseline, optimized = writes.totals
    return Target(
        f"Database writes/s of the sample app as shipped ≥ {ARTICLE_RATIO}x the naive app's (the article's "
        f"{ARTICLE_BASELINE:,} → {ARTICLE_OPTIMIZED:,})",
        f"{writes.ratio:.1f}x ({baseline.writes_per_second:,.0f} → {optimized.writes_per_second:,.0f} "
        f"writes/s; {baseline.errors + optimized.errors} errors; section 8)",
        writes.met,
    )


def _against_article(row: Row) -> Target:
    return Target(
        f"Against the article, {row.metric}: the shipped stack improves on the naive baseline at least as "
        "much as the article claims, and does better than the article's configuration",
        f"{delta(row.shipped_delta)} against the article's {delta(row.article_delta)}; the article's "
        f"configuration {delta(row.printed_delta)} (the table above)",
        row.met,
    )


def targets(results: Results, profile: Profile, article: Table) -> list[Target]:
    """Every target, in the report's order."""
    return [
        *_ratios(results),
        *_load(results, profile),
        _writes(results),
        *(_against_article(row) for row in article.rows),
    ]
