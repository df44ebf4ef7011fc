"""The targets the report checks: each a statement, what was measured, and whether it was met."""

from __future__ import annotations

from dataclasses import dataclass

from bench.profiles import Profile
from bench.results import Results
from bench.sections import compared
from bench.sections.scale import ROUTES, SHIPPED
from bench.sections.slow import WORKER_CLASSES
from bench.sections.writes import ARTICLE_BASELINE, ARTICLE_OPTIMIZED, ARTICLE_RATIO

#: The figure the memory target compares with, from "Nginx as a Reverse Proxy for Flask".
ARTICLE_MEMORY_MB = 410.0


@dataclass(frozen=True)
class Target:
    """A target: what it states, what was measured, and whether that meets it."""

    what: str
    measured: str
    met: bool


def _ratios(results: Results) -> list[Target]:
    static, dynamic = results.static, results.dynamic
    shipped, direct = dynamic.shipped.row.latency_ms["p99"], dynamic.direct.row.latency_ms["p99"]
    return [
        Target(
            "Static through nginx ≥ 20x Flask's requests/s",
            f"{static.ratio:.1f}x ({compared.spread(static, '{:.1f}x')}); per CPU second of gunicorn and "
            f"nginx, wrk excluded: {static.server_cpu_ratio:.1f}x{compared.plain_http(static, '{:.1f}x')}",
            static.ratio >= 20,
        ),
        Target(
            "Dynamic through nginx ≥ 85% of gunicorn direct",
            f"{dynamic.ratio:.0%} ({compared.spread(dynamic, '{:.0%}')}); per CPU second of "
            f"gunicorn and nginx, wrk excluded: {dynamic.server_cpu_ratio:.0%}"
            f"{compared.plain_http(dynamic, '{:.0%}')}",
            dynamic.ratio >= 0.85,
        ),
        Target(
            "… with a p99 no worse than direct (the median of each one's runs)",
            f"{shipped:.1f} ms vs {direct:.1f} ms (lower in {compared.p99_lower(dynamic)} rounds)",
            shipped <= direct,
        ),
    ]


def _load(results: Results, profile: Profile) -> list[Target]:
    slow, scale, n = results.slow, results.scale, profile.scale_connections
    end_mb = results.memory.shipped.end_mb
    return [
        *(
            Target(
                f"{profile.slow_clients} slow clients, {wc} workers: through nginx p99 < 100 ms, no errors",
                f"p99 {runs.result.latency_ms['p99']:.1f} ms, {runs.errors:.0f} errors",
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
            f"Node stack memory ≤ {ARTICLE_MEMORY_MB:.0f} MB at the end of the {n:,}-connection scenario "
            "(PSS at the end of either route's run, its connections still open)",
            f"{end_mb:.0f} MB",
            end_mb <= ARTICLE_MEMORY_MB,
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


def targets(results: Results, profile: Profile) -> list[Target]:
    """Every target, in the report's order."""
    return [*_ratios(results), *_load(results, profile), _writes(results)]
