"""What sections 1 and 2 share: a path through nginx compared in rounds with gunicorn directly, and with
nginx without each tuning; the ratios, their spread and where the CPU went."""

from __future__ import annotations

from bench.cores import CORES
from bench.profiles import FULL, Profile
from bench.rounds import Alternated

#: The table's first column: each row is all of a configuration's runs.
ROWS_ARE = "configuration (all its runs)"


def ratio_range(runs: Alternated, form: str) -> str:
    """The lowest and the highest of the rounds' ratios of shipped to direct."""
    ratios = runs.shipped.ratios(runs.direct)
    return f"{form.format(min(ratios))} to {form.format(max(ratios))}"


def spread(runs: Alternated, form: str) -> str:
    """How far apart the rounds' ratios of shipped to direct are."""
    rounds = len(runs.shipped.runs)
    if rounds == 1:
        return "one round"
    return f"median of {rounds} rounds, {ratio_range(runs, form)}"


def p99_lower(runs: Alternated) -> str:
    """In how many rounds the shipped stack's p99 through nginx was no worse than direct's."""
    pairs = list(zip(runs.shipped.runs, runs.direct.runs, strict=True))
    lower = sum(nginx.latency_ms["p99"] <= direct.latency_ms["p99"] for nginx, direct in pairs)
    return f"{lower} of {len(pairs)}"


def plain_http(runs: Alternated, form: str) -> str:
    """The ratio to direct over plain HTTP to nginx (a tuning with ``plain_http``, ``TLS``, taken back),
    where the section measured it."""
    ratios = [series.ratio(runs.direct) for tuning, series in runs.untuned if tuning.plain_http]
    return "".join(f"; over plain HTTP to nginx (no TLS, never shipped): {form.format(r)}" for r in ratios)


def context(runs: Alternated, noun: str, profile: Profile) -> dict[str, object]:
    """What rounds.md.j2 reads: the runs, the section's noun, and the CPU table."""
    return {
        "runs": runs,
        "noun": noun,
        "profile": profile,
        "full_rounds": FULL.rounds,
        "cpu_table": cpu_table(runs),
        "spread": spread,
        "p99_lower": p99_lower,
    }


def cpu_table(runs: Alternated) -> list[str]:
    """How busy the server's core was over each configuration's runs (the direct measure), the CPU its
    gunicorn, nginx and wrk used (the cross-check: gunicorn's and nginx's add up to the core's busy time),
    the server's (gunicorn and nginx) per request, and gunicorn's memory after the runs."""
    cores = len(CORES.server)
    lines = [
        f"| configuration (all its runs) | server core busy s (of its {cores} x run s) | gunicorn CPU s "
        "| nginx CPU s | wrk CPU s | gunicorn CPU µs per request | gunicorn + nginx CPU µs per request "
        "| gunicorn PSS MB after the runs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for series in runs.series:
        cpu, row = series.cpu, series.row
        lines.append(
            f"| {series.label} | {cpu.server_core:.1f} ({cores * row.seconds:.1f}) | {cpu.gunicorn:.1f} | "
            f"{cpu.nginx:.1f} | {cpu.wrk:.1f} | {series.cpu_us(('gunicorn',)):,.0f} | "
            f"{series.cpu_us():,.0f} | {series.gunicorn_pss / 1024:.0f} |"
        )
    return lines
