"""Section 2: the dynamic endpoint through nginx as shipped (and without each of its tunings) against
gunicorn directly, with the same workers."""

from __future__ import annotations

from collections.abc import Mapping

from bench.markdown import Section
from bench.profiles import Profile
from bench.rounds import Alternated, Series, measure_rounds, with_cpu
from bench.sections import compared
from bench.stacks import DYNAMIC, Stack
from bench.tunings import Tuning

TITLE = "2. Dynamic endpoint: through nginx (TLS) vs gunicorn directly"


def measure(stack: Stack, befores: Mapping[Tuning, Stack], profile: Profile) -> Alternated:
    """The endpoint from gunicorn directly, through nginx as shipped and through nginx without each
    tuning in ``befores``, in rounds, with the CPU each used."""
    return measure_rounds(
        with_cpu(profile),
        stack,
        befores,
        DYNAMIC,
        rounds=profile.rounds,
        direct="gunicorn direct (plain HTTP)",
        via_nginx="via nginx (TLS)",
    )


def through_nginx(runs: Alternated) -> str:
    """The path through nginx as a share of direct's requests/s, and their p99s."""
    shipped, direct = runs.shipped.row, runs.direct.row
    return (
        f"- Through nginx: {runs.ratio:.0%} of direct's requests/s ("
        f"{compared.spread(runs, '{:.0%}')}; all runs {shipped.rps:,.0f} "
        f"against {direct.rps:,.0f}), p99 {shipped.latency_ms['p99']:.0f} ms against "
        f"{direct.latency_ms['p99']:.0f} ms (medians of the runs), no worse in {compared.p99_lower(runs)} "
        "rounds."
    )


def where_the_cpu_went(runs: Alternated, profile: Profile) -> str:
    """gunicorn's, nginx's and wrk's CPU through nginx and direct, and nginx's own share per request."""

    def per_run(series: Series, part: str) -> float:
        """The CPU seconds ``part`` used in one of the configuration's runs, on average."""
        return float(getattr(series.cpu, part)) / profile.rounds

    shipped, direct = runs.shipped, runs.direct
    direct_us = direct.cpu_us(("gunicorn",))
    nginx_us = shipped.cpu_us(("nginx",))
    return (
        f"- Where the CPU went (table above; per {profile.round_seconds} s run): gunicorn had "
        f"{per_run(shipped, 'gunicorn'):.1f} CPU seconds through nginx against "
        f"{per_run(direct, 'gunicorn'):.1f} direct, while nginx used {per_run(shipped, 'nginx'):.1f} "
        f"and wrk {per_run(shipped, 'wrk'):.1f} (against {per_run(direct, 'wrk'):.1f} direct); "
        f"gunicorn's CPU per request was {shipped.cpu_us(('gunicorn',)):.0f} µs through nginx "
        f"and {direct_us:.0f} µs direct, gunicorn's and nginx's together "
        f"{shipped.cpu_us():.0f} µs: per CPU second of the server, the path through "
        f"nginx answers {runs.server_cpu_ratio:.0%} of direct's requests, against "
        f"{runs.ratio:.0%} in requests/s. nginx's own CPU per request, "
        f"{nginx_us:.0f} µs (TLS, parsing, the round trip to gunicorn), is {nginx_us / direct_us:.0%} of "
        "what gunicorn needs direct for this endpoint, which does almost nothing; the more work a "
        "request does in Flask, the smaller nginx's share."
    )


def section(runs: Alternated, profile: Profile) -> Section:
    """The section: its rounds, each tuning's effect, the path through nginx and where the CPU went."""
    body = [
        *compared.opening(runs, "dynamic", profile),
        *compared.untuned_lines(runs),
        through_nginx(runs),
        where_the_cpu_went(runs, profile),
    ]
    return Section(TITLE, runs.rows, body, compared.ROWS_ARE)
