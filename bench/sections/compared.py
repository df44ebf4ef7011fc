"""What sections 1 and 2 share: a path through nginx compared in rounds with gunicorn directly, and with
nginx without each tuning; the ratios, their spread and where the CPU went."""

from __future__ import annotations

import os

from bench.profiles import FULL, Profile
from bench.rounds import Alternated

#: The table's first column: each row is all of a configuration's runs.
ROWS_ARE = "configuration (all its runs)"


def spread(runs: Alternated, form: str) -> str:
    """How far apart the rounds' ratios of shipped to direct are."""
    ratios = runs.shipped.ratios(runs.direct)
    if len(ratios) == 1:
        return "one round"
    return f"median of {len(ratios)} rounds, {form.format(min(ratios))} to {form.format(max(ratios))}"


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


def round_by_round(ratios: list[float]) -> str:
    """The rounds' ratios, as the report lists them."""
    return ", ".join(f"{ratio:.2f}" for ratio in ratios)


def rounds_note(profile: Profile) -> str:
    """How the configurations ran: once, or in alternating rounds."""
    if profile.rounds == 1:
        return (
            f"Each configuration ran once, for {profile.round_seconds} s, in the table's order: one round, "
            "which shows that every configuration runs, not how they compare (`make bench` runs "
            f"{FULL.rounds} rounds in alternating order). Each row is its run."
        )
    return (
        f"Each configuration ran {profile.rounds} times for {profile.round_seconds} s, once per round; the "
        "rounds take the configurations in the table's order, then in the reverse order, so that the "
        "machine's drift lands on all of them alike and the shipped stack runs next to direct in every "
        "round. Ratios are the median of the rounds' ratios. Each row is all its runs: requests/s over "
        "their seconds, errors summed, the median of the runs' percentiles (wrk reports no samples to "
        "merge) and the highest max."
    )


def ratio_lines(runs: Alternated, noun: str) -> list[str]:
    """The ratios to direct, each the median of the rounds', with the rounds' own."""
    lines = [
        f"- {noun} ratio (nginx as shipped over direct): **{runs.ratio:.2f}**; "
        f"round by round {round_by_round(runs.shipped.ratios(runs.direct))}"
    ]
    lines += [
        f"- {noun} ratio without {tuning.name}: **{series.ratio(runs.direct):.2f}**; round by round "
        f"{round_by_round(series.ratios(runs.direct))}"
        for tuning, series in runs.untuned
    ]
    untuned = dict(runs.untuned)
    for tuning, direct in runs.untuned_direct:
        lines += [
            f"- {noun} ratio without {tuning.name}, over gunicorn direct without it: "
            f"**{untuned[tuning].ratio(direct):.2f}**; round by round "
            f"{round_by_round(untuned[tuning].ratios(direct))}",
            f"- {noun} ratio of nginx as shipped over gunicorn direct without {tuning.name}: "
            f"**{runs.shipped.ratio(direct):.2f}**; round by round "
            f"{round_by_round(runs.shipped.ratios(direct))}",
        ]
    return lines


def untuned_lines(runs: Alternated) -> list[str]:
    """Each tuning: the shipped stack against the stack without it, round by round."""
    return [
        f"- {tuning.name}: {runs.shipped.ratio(series) - 1:+.0%} requests/s (the median of the rounds' "
        f"shipped over without: {round_by_round(runs.shipped.ratios(series))}; all runs "
        f"{series.row.rps:,.0f} -> {runs.shipped.row.rps:,.0f} requests/s), the median p99 "
        f"{series.row.latency_ms['p99']:.0f} -> {runs.shipped.row.latency_ms['p99']:.0f} ms."
        for tuning, series in runs.untuned
    ]


def cpu_table(runs: Alternated) -> list[str]:
    """The CPU each configuration's gunicorn, nginx and wrk used over its runs, the server's (gunicorn and
    nginx) per request, and gunicorn's memory after the runs."""
    available = len(os.sched_getaffinity(0))
    lines = [
        "| configuration (all its runs) | gunicorn CPU s | nginx CPU s | wrk CPU s "
        f"| CPU s of the {available} cores during the runs | gunicorn CPU µs per request "
        "| gunicorn + nginx CPU µs per request | gunicorn PSS MB after the runs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for series in runs.series:
        cpu, row = series.cpu, series.row
        lines.append(
            f"| {series.label} | {cpu.gunicorn:.1f} | {cpu.nginx:.1f} | {cpu.wrk:.1f} | "
            f"{available * row.seconds:.1f} | {series.cpu_us(('gunicorn',)):,.0f} | "
            f"{series.cpu_us():,.0f} | {series.gunicorn_pss / 1024:.0f} |"
        )
    return lines


def opening(runs: Alternated, noun: str, profile: Profile) -> list[str]:
    """The lines after the table: how the rounds ran, the ratios, and the CPU table."""
    return [f"- {rounds_note(profile)}", *ratio_lines(runs, noun), "", *cpu_table(runs), ""]
