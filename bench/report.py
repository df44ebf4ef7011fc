"""The report: docs/benchmarks.md (tables, targets, the seed comparison) and its latency chart."""

from __future__ import annotations

import os
import platform
import subprocess
import textwrap
from dataclasses import dataclass
from importlib.metadata import version
from itertools import pairwise
from pathlib import Path

from matplotlib import pyplot
from matplotlib.ticker import LogFormatter

from bench.loadgen import Result
from bench.scenarios import (
    FEWER_WORKERS,
    FEWER_WORKERS_CONFIG,
    FULL,
    HEADER_TIMEOUT,
    KEEPALIVE_FEWER,
    LATE,
    MAX_REQUESTS,
    MEMORY_MOMENTS,
    MEMORY_PARTS,
    QUEUE_CLOSE,
    QUEUE_OFF_CONFIG,
    SCALE_ROUTES,
    SHARED_LIBRARIES,
    SHIPPED,
    TLS,
    Alternated,
    Profile,
    Section,
    scale_label,
)
from nodestack.gunicorn import DEFAULT_WORKERS

MARKDOWN = "benchmarks.md"
CHART = "benchmarks.png"
PERCENTILES = ("p50", "p90", "p99")
SEED_LATENCY_MS = 34.0
SEED_MEMORY_MB = 410.0


@dataclass(frozen=True)
class Target:
    what: str
    measured: str
    met: bool


def machine() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    # Fixed argument lists; nginx and wrk from the system packages the Makefile installs.
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=True)  # noqa: S607
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
    somaxconn = Path("/proc/sys/net/core/somaxconn").read_text().strip()
    return [
        f"- CPU: {len(os.sched_getaffinity(0))} cores available ({model})",
        f"- Memory: {mem_kib / 1024 / 1024:.1f} GiB",
        f"- Kernel: Linux {platform.release()} (net.core.somaxconn {somaxconn}); Python "
        f"{platform.python_version()}",
        f"- {nginx.stderr.strip().removeprefix('nginx version: ')}, gunicorn {version('gunicorn')}, "
        f"gevent {version('gevent')}, Flask {version('flask')}, {wrk.stdout.split(' Copyright')[0].strip()}",
        "- Everything (load generator, nginx, gunicorn) on the same cores, over loopback (127.0.0.1); "
        "nothing else is isolated from the run (the machine may be shared).",
    ]


def table(results: list[Result], first_column: str = "run") -> list[str]:
    counted = any(r.unanswered is not None for r in results)
    lines = [
        f"| {first_column} | requests | requests/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors "
        "| timeouts |" + (" unanswered at end |" if counted else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if counted else ""),
    ]
    for r in results:
        lat = r.latency_ms
        errors = ", ".join(f"{kind} {n}" for kind, n in r.errors.items() if n and kind != "timeout")
        lines.append(
            f"| {r.label} | {r.requests:,} | {r.rps:,.0f} | {lat['p50']:.1f} | {lat['p90']:.1f} | "
            f"{lat['p99']:.1f} | {lat['p99.9']:.1f} | {lat['max']:.0f} | {errors or 0} | {r.timeouts} |"
            + (f" {r.unanswered} |" if counted else "")
        )
    return lines


def targets(by_key: dict[str, Section], profile: Profile) -> list[Target]:
    f = {key: section.figures for key, section in by_key.items()}
    slow = f["slow"]
    scale = f["scale"]
    dynamic = f["dynamic"]
    static = f["static"]["static_ratio"]
    n = profile.scale_connections
    end_mb = end_of_scenario_mb(f["memory"], SHIPPED)
    return [
        Target(
            "Static through nginx ≥ 20x Flask's requests/s",
            f"{static:.1f}x ({spread(by_key['static'], '{:.1f}x')}); per CPU second of gunicorn and "
            f"nginx, wrk excluded: {server_cpu_ratio(by_key['static']):.1f}x"
            f"{plain_http(by_key['static'], '{:.1f}x')}",
            static >= 20,
        ),
        Target(
            "Dynamic through nginx ≥ 85% of gunicorn direct",
            f"{dynamic['dynamic_ratio']:.0%} ({spread(by_key['dynamic'], '{:.0%}')}); per CPU second of "
            f"gunicorn and nginx, wrk excluded: {server_cpu_ratio(by_key['dynamic']):.0%}"
            f"{plain_http(by_key['dynamic'], '{:.0%}')}",
            dynamic["dynamic_ratio"] >= 0.85,
        ),
        Target(
            "… with a p99 no worse than direct (the median of each one's runs)",
            f"{dynamic['dynamic_p99_nginx']:.1f} ms vs {dynamic['dynamic_p99_direct']:.1f} ms (lower in "
            f"{p99_lower(by_key['dynamic'])} rounds)",
            dynamic["dynamic_p99_nginx"] <= dynamic["dynamic_p99_direct"],
        ),
        *(
            Target(
                f"{profile.slow_clients} slow clients, {wc} workers: through nginx p99 < 100 ms, no errors",
                f"p99 {slow[f'slow_{wc}_nginx_p99']:.1f} ms, {slow[f'slow_{wc}_nginx_errors']:.0f} errors",
                slow[f"slow_{wc}_nginx_p99"] < 100 and slow[f"slow_{wc}_nginx_errors"] == 0,
            )
            for wc in ("gevent", "sync")
        ),
        *(
            Target(
                f"{n:,} connections, {route} route: no errors, no timeouts",
                f"{scale[f'{SHIPPED}:{route}_errors']:.0f} errors, "
                f"{scale[f'{SHIPPED}:{route}_timeouts']:.0f} answered after {profile.scale_timeout} s, "
                f"{scale[f'{SHIPPED}:{route}{LATE}']:.0f} never answered after "
                f"{profile.scale_timeout} s (section 4)",
                scale[f"{SHIPPED}:{route}_errors"] == 0 and timed_out(scale, SHIPPED, route) == 0,
            )
            for route, _ in SCALE_ROUTES
        ),
        Target(
            f"Node stack memory ≤ {SEED_MEMORY_MB:.0f} MB at the end of the {n:,}-connection scenario "
            "(PSS at the end of either route's run, its connections still open)",
            f"{end_mb:.0f} MB",
            end_mb <= SEED_MEMORY_MB,
        ),
    ]


def alternated(section: Section) -> Alternated:
    """Section 1's or 2's runs, round by round."""
    if section.alternated is None:
        raise ValueError(f"section {section.key} was not measured in rounds")
    return section.alternated


def spread(section: Section, form: str) -> str:
    """How far apart the rounds' ratios of shipped to direct are."""
    runs = alternated(section)
    ratios = runs.shipped.ratios(runs.direct)
    if len(ratios) == 1:
        return "one round"
    return f"median of {len(ratios)} rounds, {form.format(min(ratios))} to {form.format(max(ratios))}"


def p99_lower(section: Section) -> str:
    """In how many rounds the shipped stack's p99 through nginx was no worse than direct's."""
    runs = alternated(section)
    pairs = list(zip(runs.shipped.runs, runs.direct.runs, strict=True))
    lower = sum(nginx.latency_ms["p99"] <= direct.latency_ms["p99"] for nginx, direct in pairs)
    return f"{lower} of {len(pairs)}"


def round_by_round(ratios: list[float]) -> str:
    return ", ".join(f"{ratio:.2f}" for ratio in ratios)


def ratio_lines(section: Section) -> list[str]:
    """The ratios to direct, each the median of the rounds', with the rounds' own."""
    runs = alternated(section)
    noun = section.key
    lines = [
        f"- {noun} ratio (nginx as shipped over direct): **{runs.shipped.ratio(runs.direct):.2f}**; "
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


def rounds_note(profile: Profile) -> str:
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


def timed_out(figures: dict[str, float], config: str, route: str) -> float:
    """The scale scenario's timeouts on ``route``: answered late (wrk's count) or never (nginx's log)."""
    return figures[f"{config}:{route}_timeouts"] + figures[f"{config}:{route}{LATE}"]


def scale_run(scale: Section, config: str, route: str) -> Result:
    """Section 4's run of ``config`` on ``route``."""
    return next(r for r in scale.results if r.label == scale_label(config, route))


def end_of_scenario_mb(memory: dict[str, float], config: str) -> float:
    """The stack's PSS at the end of the scale scenario: the larger of the two routes' end samples."""
    return max(memory[f"{config}:{route}_end:pss"] for route, _ in SCALE_ROUTES) / 1024


def memory_table(section: Section) -> list[str]:
    """Section 5: the stack's memory per configuration (MB), at each moment of the scale scenario."""
    f = section.figures
    configs = list(dict.fromkeys(key.split(":")[0] for key in f))
    lines = [
        "| when | " + " | ".join(f"{c}: PSS | nginx | gunicorn | RSS" for c in configs) + " |",
        "|---|" + "---:|---:|---:|---:|" * len(configs),
    ]
    for moment, what in MEMORY_MOMENTS:
        cells = [f"{f[f'{c}:{moment}:{part}'] / 1024:.0f}" for c in configs for part in MEMORY_PARTS]
        lines.append(f"| {what} | " + " | ".join(cells) + " |")
    return lines


SERVER_PARTS = ("gunicorn", "nginx")


def cpu_us(section: Section, row: Result, parts: tuple[str, ...] = SERVER_PARTS) -> float:
    """Microseconds of CPU ``parts`` (gunicorn, nginx, wrk) used per request over ``row``'s runs
    (sections 1 and 2); by default the server's: gunicorn and nginx, the load generator left out."""
    f = section.figures
    return 1e6 * sum(f[f"cpu:{row.label}:{part}"] for part in parts) / row.requests


def server_cpu_ratio(section: Section) -> float:
    """Requests per CPU second of gunicorn and nginx through nginx as shipped, over direct's."""
    runs = alternated(section)
    return cpu_us(section, runs.direct.row) / cpu_us(section, runs.shipped.row)


def plain_http(section: Section, form: str) -> str:
    """The ratio to direct over plain HTTP to nginx (a tuning with ``plain_http``, ``TLS``, taken back), where
    the section measured it."""
    runs = alternated(section)
    ratios = [series.ratio(runs.direct) for tuning, series in runs.untuned if tuning.plain_http]
    return "".join(f"; over plain HTTP to nginx (no TLS, never shipped): {form.format(r)}" for r in ratios)


def cpu_table(section: Section) -> list[str]:
    """Sections 1 and 2: the CPU each configuration's gunicorn, nginx and wrk used over its runs, the
    server's (gunicorn and nginx) per request, and gunicorn's memory after the runs."""
    f = section.figures
    available = len(os.sched_getaffinity(0))
    lines = [
        "| configuration (all its runs) | gunicorn CPU s | nginx CPU s | wrk CPU s "
        f"| CPU s of the {available} cores during the runs | gunicorn CPU µs per request "
        "| gunicorn + nginx CPU µs per request | gunicorn PSS MB after the runs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in section.results:
        gunicorn, nginx, wrk = (f[f"cpu:{result.label}:{part}"] for part in (*SERVER_PARTS, "wrk"))
        lines.append(
            f"| {result.label} | {gunicorn:.1f} | {nginx:.1f} | {wrk:.1f} | "
            f"{available * result.seconds:.1f} | {cpu_us(section, result, ('gunicorn',)):,.0f} | "
            f"{cpu_us(section, result):,.0f} | {f[f'memory:{result.label}:gunicorn_pss'] / 1024:.0f} |"
        )
    return lines


#: Characters per line of a run's label on the chart: longer labels wrap instead of squeezing the panels.
LABEL_WIDTH = 56


def chart(sections: list[Section], path: Path) -> None:
    """Latency percentiles of every run, one panel per scenario (log scale), rendered off-screen: one row of
    bars per run, its label beside it, the first run on top."""
    plotted = [section for section in sections if section.results]
    heights = [1.2 + 0.42 * len(section.results) for section in plotted]
    pyplot.switch_backend("Agg")
    figure, axes = pyplot.subplots(
        len(plotted), 1, figsize=(11, sum(heights)), gridspec_kw={"height_ratios": heights}
    )
    for ax, section in zip(axes, plotted, strict=True):
        height = 0.8 / len(PERCENTILES)
        rows = range(len(section.results))
        for i, pct in enumerate(PERCENTILES):
            # A run that got no answer has no latency: no bar, a label instead (below).
            values = [r.latency_ms[pct] if r.requests else 0.0 for r in section.results]
            ax.barh([y + (i - 1) * height for y in rows], values, height, label=pct)
        ax.set_xscale("log")
        # Ticks as plain milliseconds (20, 30, 1000), not matplotlib's default 2 x 10^1, 10^3.
        ax.xaxis.set_major_formatter(LogFormatter())
        ax.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
        # From half the shortest bar, so that every bar shows its length.
        answered = [r.latency_ms for r in section.results if r.requests]
        shortest = min((latency[pct] for latency in answered for pct in PERCENTILES), default=0.0)
        if shortest > 0:
            ax.set_xlim(left=shortest / 2)
        for y, r in enumerate(section.results):
            if not r.requests:
                ax.annotate("no answer", (0.01, y), xycoords=("axes fraction", "data"), va="center")
        ax.set_xlabel("latency (ms)", fontsize=8)
        ax.set_title(section.title, fontsize=10, loc="left")
        ax.set_yticks(list(rows))
        ax.set_yticklabels([textwrap.fill(r.label, LABEL_WIDTH) for r in section.results], fontsize=7)
        ax.invert_yaxis()
        ax.grid(axis="x", which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right", bbox_to_anchor=(1, 1), ncol=len(PERCENTILES), frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)


def reading() -> list[str]:
    return [
        "## How to read these numbers",
        "",
        "- wrk is closed-loop: each connection sends its next request as soon as the previous answer "
        "arrives, with no think time. Requests/s is what the stack sustains with that many requests "
        "always in flight; latency is measured from sending a request to its complete answer.",
        "- Through nginx the client speaks TLS (edge mode, TLS 1.3, kept-alive connections), but in the rows "
        f"without {TLS.name}, which tell what TLS costs (never shipped); gunicorn directly is plain HTTP. "
        "Every other nginx figure includes the cost of TLS on the same two cores.",
        "- wrk counts a timeout only for an answer that arrives later than `--timeout`; a request that "
        "gets no answer at all before the run ends is not counted anywhere. Scenario 3 counts those "
        "requests itself (`bench/wrk_count.lua`: unanswered at end; up to one per connection is simply "
        "in flight when the run stops). Scenarios 4 and 7 count, from nginx's access log, those nginx "
        'held longer than the timeout without answering ("never answered"); the targets count '
        "them as timeouts.",
        "- Errors are wrk's: connect, read (the connection closed or reset before a full answer), write, "
        "and status (any answer that is not 2xx/3xx).",
        "- CPU seconds (sections 1 and 2) are gunicorn's and nginx's, workers included, read from /proc "
        "around each run, and wrk's own, from the kernel's account of it once it has exited. "
        "\"Per CPU second of the server\" counts gunicorn's and nginx's only: what a node would answer "
        "with its clients on other machines.",
        "",
    ]


def scale_lines(section: Section, profile: Profile) -> list[str]:
    """Section 4: the requests never answered in each run, and what the keep-alive tunings do under
    overload."""
    f = section.figures
    late = {key.removesuffix(LATE): n for key, n in f.items() if key.endswith(LATE)}
    never = (
        f"- Requests never answered in {profile.scale_timeout} s (nginx's access log: held longer than "
        "that, then closed by wrk as its run ended, status 499; wrk's figures above leave them out): "
        + ", ".join(f"{scale_label(*key.split(':'))} {n:,.0f}" for key, n in late.items())
        + "."
    )
    runs = {config: scale_run(section, config, "dynamic") for config in (SHIPPED, QUEUE_OFF_CONFIG)}
    overload = (
        f"{config}: {run.rps:,.0f} requests/s, p50 {run.latency_ms['p50']:,.0f} ms, max "
        f"{run.latency_ms['max']:,.0f} ms, {timed_out(f, config, 'dynamic'):,.0f} timeouts (answered "
        "late or never)"
        for config, run in runs.items()
    )
    overloaded = (
        "- nginx's kept connections to gunicorn under overload (dynamic route): "
        + "; ".join(overload)
        + ". With several workers gunicorn has each gevent worker accept one new connection per turn of "
        "its loop (gevent's max_accept 1), while requests on nginx's kept connections are read in the "
        f"same turn: without {QUEUE_CLOSE.name}, they skip gunicorn's socket queue again and again and "
        "the rest wait in it. Shipped, once the queue has held connections for "
        "GUNICORN_KEEPALIVE_QUEUE_MS at every request a worker serves, each response closes its "
        "connection (Connection: close), so every request takes its turn in the queue. What it costs at "
        f"64 connections, and what {KEEPALIVE_FEWER} kept connections per nginx worker (shipped before) "
        "cost instead, is in section 2."
    )
    return [never, overloaded]


def interpretation(section: Section, by_key: dict[str, Section], profile: Profile) -> list[str]:
    """What each scenario's numbers say, stated from the numbers themselves."""
    f = section.figures
    rows = {r.label: r for r in section.results}
    lines: list[str] = []
    if section.key == "static":
        runs = alternated(section)
        lines += untuned_lines(runs)
        nginx_us, flask_us = cpu_us(section, runs.shipped.row), cpu_us(section, runs.direct.row)
        lines.append(
            f"- Per request, nginx used {nginx_us:.0f} µs of CPU and Flask's gunicorn {flask_us:.0f} µs "
            f"(table above): per CPU second of the server, nginx answers {flask_us / nginx_us:.1f}x the "
            f"requests, against {runs.shipped.ratio(runs.direct):.1f}x in requests/s. The difference is "
            f"the load generator on the same cores: wrk used {f[f'cpu:{runs.shipped.label}:wrk']:.1f} CPU "
            f"seconds in nginx's runs (it decrypts TLS and parses every answer nginx sends) against "
            f"{f[f'cpu:{runs.direct.label}:wrk']:.1f} in Flask's. On a node the clients are elsewhere."
        )
    if section.key == "dynamic":
        runs = alternated(section)
        lines += untuned_lines(runs)
        shipped, direct = runs.shipped.row, runs.direct.row
        ratio = runs.shipped.ratio(runs.direct)
        lines.append(
            f"- Through nginx: {ratio:.0%} of direct's requests/s ("
            f"{spread(section, '{:.0%}')}; all runs {shipped.rps:,.0f} "
            f"against {direct.rps:,.0f}), p99 {shipped.latency_ms['p99']:.0f} ms against "
            f"{direct.latency_ms['p99']:.0f} ms (medians of the runs), no worse in {p99_lower(section)} "
            "rounds."
        )

        def per_run(row: Result, part: str) -> float:
            """The CPU seconds ``part`` used in one of ``row``'s runs, on average."""
            return f[f"cpu:{row.label}:{part}"] / profile.rounds

        direct_us = cpu_us(section, direct, ("gunicorn",))
        nginx_us = cpu_us(section, shipped, ("nginx",))
        lines.append(
            f"- Where the CPU went (table above; per {profile.round_seconds} s run): gunicorn had "
            f"{per_run(shipped, 'gunicorn'):.1f} CPU seconds through nginx against "
            f"{per_run(direct, 'gunicorn'):.1f} direct, while nginx used {per_run(shipped, 'nginx'):.1f} "
            f"and wrk {per_run(shipped, 'wrk'):.1f} (against {per_run(direct, 'wrk'):.1f} direct); "
            f"gunicorn's CPU per request was {cpu_us(section, shipped, ('gunicorn',)):.0f} µs through nginx "
            f"and {direct_us:.0f} µs direct, gunicorn's and nginx's together "
            f"{cpu_us(section, shipped):.0f} µs: per CPU second of the server, the path through "
            f"nginx answers {server_cpu_ratio(section):.0%} of direct's requests, against "
            f"{ratio:.0%} in requests/s. nginx's own CPU per request, "
            f"{nginx_us:.0f} µs (TLS, parsing, the round trip to gunicorn), is {nginx_us / direct_us:.0%} of "
            "what gunicorn needs direct for this endpoint, which does almost nothing; the more work a "
            "request does in Flask, the smaller nginx's share."
        )
    if section.key == "slow":
        for wc in ("gevent", "sync"):
            direct = next(r for label, r in rows.items() if label.startswith(f"{wc}: gunicorn direct"))
            answered = (
                f"{direct.requests:,} requests answered, p99 {direct.latency_ms['p99']:.1f} ms"
                if direct.requests
                else "no request answered"
            )
            lines.append(
                f"- {wc}, gunicorn exposed directly: {answered}, {direct.unanswered} unanswered at the end; "
                f"through nginx: p99 {f[f'slow_{wc}_nginx_p99']:.1f} ms, "
                f"{f[f'slow_{wc}_nginx_errors']:.0f} errors."
            )
        tuned = rows[f"gevent: via nginx, {profile.slow_clients} slow clients"]
        cut = rows[f"gevent: via nginx, {profile.slow_clients} slow clients, without {HEADER_TIMEOUT.name}"]
        light = rows["gevent: via nginx, no slow clients"]
        recycled = rows[f"gevent: via nginx, no slow clients, without {MAX_REQUESTS.name}"]
        lines += [
            f"- client_header_timeout 10s -> 60s (gevent, through nginx, slow clients): p99 "
            f"{cut.latency_ms['p99']:.1f} -> {tuned.latency_ms['p99']:.1f} ms, requests/s {cut.rps:,.0f} -> "
            f"{tuned.rps:,.0f}. nginx 1.22 ends a connection whose header is not complete after "
            "`client_header_timeout`: at 10 s, slow clients held longer are cut off and come back at once "
            "with new TLS handshakes (closed_by_server in their reports above), which the normal requests "
            "wait behind. At 60 s, nginx's default, nginx holds them.",
            f"- max_requests 2000 -> 50000 (gevent, through nginx, no slow clients): p99 "
            f"{recycled.latency_ms['p99']:.1f} -> {light.latency_ms['p99']:.1f} ms. At 2000, each of the "
            f"{DEFAULT_WORKERS} workers was replaced every {2000 * DEFAULT_WORKERS / recycled.rps:.0f} s "
            "at this load, and requests waited while the new one started.",
            "- nginx holds the slow connections itself and passes gunicorn only complete requests. A sync "
            "worker exposed directly is held by the first slow client it accepts; gevent workers hold "
            "them as greenlets, up to `worker_connections` each, and share the CPU with them.",
        ]
    if section.key == "scale":
        lines += scale_lines(section, profile)
    if section.key == "classes":
        gevent = f["rps_gevent"]
        lines += [
            f"- {wc}: {f[f'rps_{wc}'] / gevent:.0%} of gevent's requests/s" for wc in ("sync", "gthread")
        ]
        lines.append(
            "- `/api/status` does no I/O: it measures each class's overhead, not what gevent is for "
            "(requests that wait on a database or an API while others run). Scenario 3 shows the other "
            "half: sync workers exposed directly stop answering under slow clients; gevent does not."
        )
    if section.key == "memory":
        scale_section = by_key["scale"]
        lines += [
            f"- At the end of the scenario ({profile.scale_connections:,} connections open): "
            f"{end_of_scenario_mb(f, SHIPPED):.0f} MB with the shipped {DEFAULT_WORKERS} gunicorn workers, "
            f"{end_of_scenario_mb(f, FEWER_WORKERS_CONFIG):.0f} MB with {FEWER_WORKERS}; the dynamic "
            f"route's requests/s in section 4: {scale_run(scale_section, SHIPPED, 'dynamic').rps:,.0f} and "
            f"{scale_run(scale_section, FEWER_WORKERS_CONFIG, 'dynamic').rps:,.0f}.",
            "- The peak is the burst of new connections: nginx holds each TLS handshake's state (OpenSSL "
            "3.0: about 45 KB, until the client's Finished arrives) for a second or two, then about 17 KB "
            "per established connection. nginx runs on jemalloc (render.sh's NGINX_ALLOCATOR), which "
            "returns what the handshakes freed within a second; glibc's malloc keeps it (section 7's last "
            "step: nginx at the end of the run with and without jemalloc).",
            shared_libraries_line(by_key["dynamic"]),
        ]
    if section.key == "tuning":
        steps = range(1, len(section.results) + 1)
        peaks = [f[f"nginx_peak_pss_{step}"] / 1024 for step in steps]
        ends = [f[f"nginx_end_pss_{step}"] / 1024 for step in steps]
        overflows = [f[f"listen_overflows_{step}"] for step in steps]
        lates = [f[f"unanswered_late_{step}"] for step in steps]
        for (before, after), peak, end, drops, never in zip(
            pairwise(section.results),
            pairwise(peaks),
            pairwise(ends),
            pairwise(overflows),
            pairwise(lates),
            strict=True,
        ):
            lines.append(
                f"- {after.label}: requests/s {before.rps:,.0f} -> {after.rps:,.0f}, errors "
                f"{before.failed:,} -> {after.failed:,}, timeouts {before.timeouts:,} -> {after.timeouts:,}, "
                f"never answered in {profile.scale_timeout} s {never[0]:,.0f} -> {never[1]:,.0f}, "
                f"p99 {before.latency_ms['p99']:,.0f} -> {after.latency_ms['p99']:,.0f} ms, listen "
                f"overflows {drops[0]:,.0f} -> {drops[1]:,.0f}, nginx PSS at peak {peak[0]:.0f} -> "
                f"{peak[1]:.0f} MB, at the end {end[0]:.0f} -> {end[1]:.0f} MB"
            )
        scale, last = scale_run(by_key["scale"], SHIPPED, "dynamic"), section.results[-1]
        lines.append(
            f"- The last step runs the configuration of section 4: there, {scale.failed:,} errors and "
            f"{timed_out(by_key['scale'].figures, SHIPPED, 'dynamic'):,.0f} timeouts (answered late or "
            f"never) at {scale.rps:,.0f} requests/s; here, {last.failed:,} errors and "
            f"{last.timeouts + lates[-1]:,.0f} at {last.rps:,.0f} "
            "requests/s. The difference is the spread "
            "between two runs of one configuration on this machine."
        )
        lines.append(
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
    return lines


def shared_libraries_line(dynamic: Section) -> str:
    """Section 5: gunicorn's memory after section 2's runs, with and without ``SHARED_LIBRARIES``."""
    runs = alternated(dynamic)
    shared, own = (
        dynamic.figures[f"memory:{series.label}:gunicorn_pss"] / 1024
        for series in (runs.shipped, dict(runs.untuned)[SHARED_LIBRARIES])
    )
    return (
        "- gunicorn's master imports the libraries its workers use before forking them, and they share "
        f"those pages (GUNICORN_SHARED_LIBRARIES): after section 2's runs, gunicorn held {shared:.0f} MB "
        f"PSS, against {own:.0f} MB with each worker importing its own."
    )


def seed_comparison(by_key: dict[str, Section], profile: Profile) -> list[str]:
    scale = [scale_run(by_key["scale"], SHIPPED, route) for route, _ in SCALE_ROUTES]
    memory = by_key["memory"].figures
    means = ", ".join(f"{r.label} {r.latency_ms['mean']:.0f} ms" for r in scale)
    return [
        f'- **Latency.** The seed reports an average of {SEED_LATENCY_MS:.0f} ms under "10k concurrent '
        f"virtual users\". Our {profile.scale_connections:,} connections give a mean of {means}. wrk's "
        "connections have no think time: each sends its next request the moment the answer arrives, so "
        "10,000 connections are 10,000 requests always in flight, not 10,000 users who mostly read pages. "
        "Throughput is bounded by two cores shared by wrk, nginx's TLS and the Python workers, and a "
        f"request waits on average about concurrency divided by throughput (Little's law: "
        f"{profile.scale_connections / scale_run(by_key['scale'], SHIPPED, 'dynamic').rps:.1f} s on the "
        "dynamic route here); wrk's mean is "
        "lower because it counts only the requests answered before the run ends (section 4: the requests "
        "that wait longest are those still waiting then). The seed's figure, from an unspecified staging "
        "fleet, cannot be compared with one node's.",
        f"- **Memory.** The seed's 410 MB per node is not broken down. Ours, at the end of the "
        f"{profile.scale_connections:,}-connection scenario with its connections open: "
        f"{end_of_scenario_mb(memory, SHIPPED):.0f} MB PSS with the shipped {DEFAULT_WORKERS} gunicorn "
        "workers, "
        f"{end_of_scenario_mb(memory, FEWER_WORKERS_CONFIG):.0f} MB with {FEWER_WORKERS} (section 5). It "
        "depends on the worker count and on the TLS connections nginx holds.",
        '- **Static files "at wire speed".** Over loopback there is no wire: nginx\'s static '
        "throughput is bounded by CPU (TLS record encryption, the response headers) on the two cores it "
        f"shares with wrk, not by a network link: per CPU second of the server it answers "
        f"{server_cpu_ratio(by_key['static']):.0f}x Flask's requests (section 1).",
        "- **Loopback.** No network latency, no packet loss: latencies here are service times only.",
    ]


def write(out: Path, profile: Profile, sections: list[Section], elapsed: float, command: str) -> None:
    by_key = {section.key: section for section in sections}
    chart(sections, out / CHART)
    make = "make bench" if profile.name == "full" else "make bench-quick"
    lines = [
        "# Benchmarks of the node stack",
        "",
        f"Generated by `{make}` (`{command}`, profile `{profile.name}`, {elapsed:.0f} s); every number below "
        "comes from that run. Load from Debian's `wrk` and, for slow clients, `bench/slowloris.py`; the "
        "processes are the real nginx and gunicorn started with the shipped configs by "
        "`nodestack/` (nginx in edge mode with TLS, its rate limit raised because all load comes "
        "from 127.0.0.1, proxying to gunicorn's unix socket as on a node; gunicorn with its default "
        "2 x cores + 1 workers, also listening on a loopback port for the runs that bypass nginx).",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        "## Targets (issue 6)",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *(f"| {t.what} | {t.measured} | {'yes' if t.met else '**no**'} |" for t in targets(by_key, profile)),
        "",
        f"![latency percentiles per scenario]({CHART})",
        "",
        *reading(),
    ]
    for section in sections:
        lines += [f"## {section.title}", ""]
        if section.results:
            rows = "run" if section.alternated is None else "configuration (all its runs)"
            lines += [*table(section.results, rows), ""]
        if section.alternated is not None:
            lines += [f"- {rounds_note(profile)}", *ratio_lines(section)]
        if section.key == "memory":
            lines += [*memory_table(section), ""]
        if section.key in ("static", "dynamic"):
            lines += ["", *cpu_table(section), ""]
        lines += [f"- {note}" for note in section.notes]
        lines += interpretation(section, by_key, profile)
        if section.results:
            lines += ["", "Commands:", "", "```sh", *(r.command for r in section.results), "```"]
        lines.append("")
    lines += ["## Where our numbers differ from the seed's, and why", "", *seed_comparison(by_key, profile)]
    (out / MARKDOWN).write_text("\n".join(lines) + "\n")
