"""What each missed target would need, and what was tried for it, from the run's own figures: the report
says why a "no" is a "no" next to the table that says it."""

from __future__ import annotations

import platform
from pathlib import Path

from bench.cores import CORES
from bench.markdown import delta
from bench.profiles import Profile
from bench.results import Results
from bench.rounds import Alternated
from bench.sections import compared
from bench.sections.article import ARTICLE_MEMORY_MB, Table
from bench.sections.writes import ARTICLE_RATIO
from bench.targets import DYNAMIC_SHARE, STATIC_RATIO, dynamic_met, memory_met, static_met
from bench.tunings import FEWER_WORKERS

#: What OpenSSL's maintainers say of its memory per connection (openssl/openssl#11324, 2020).
OPENSSL_MEMORY = (
    'OpenSSL keeps state per TLS connection that its maintainers know has grown and call "non-trivial" to '
    "shrink (openssl/openssl#11324)"
)


def _tried(runs: Alternated) -> str:
    """Each tuning of the section, as shipped over without it (requests/s, the median of the rounds)."""
    return "; ".join(
        f"{tuning.name} {runs.shipped.ratio(series) - 1:+.0%}"
        for tuning, series in runs.untuned
        if not tuning.plain_http
    )


ULP = Path("/proc/sys/net/ipv4/tcp_available_ulp")
MODULES = Path("/lib/modules")


def ktls(ulp: Path = ULP, modules: Path = MODULES) -> str:
    """Whether this machine could move TLS's encryption into the kernel (kTLS), through which nginx sends
    files with sendfile."""
    available = ulp.read_text().split()
    if "tls" in available or (modules / platform.release() / "kernel/net/tls").is_dir():
        return "kTLS, which moves its encryption into the kernel, is not tried here"
    return (
        "kTLS, which moves its encryption into the kernel, needs the kernel's tls module, which this "
        f"machine's kernel lacks (net.ipv4.tcp_available_ulp: {' '.join(available) or 'none'})"
    )


def _static(results: Results) -> list[str]:
    runs = results.static
    if static_met(results):
        return []
    return [
        f"- **Static, {runs.per_core_ratio:.1f}x of {STATIC_RATIO:.0f}x.** What nginx's side does for it, "
        f"each measured against the stack without it in section 1: {_tried(runs)}. The rounds' ratios run "
        f"from {compared.ratio_range(runs, '{:.1f}x')}, so the target lies within the spread between rounds "
        f"on this machine, where nginx keeps its core {runs.shipped.core_busy:.0%} busy. What is left is "
        f"mostly TLS{compared.plain_http(runs, '{:.1f}x')}. {ktls()}."
    ]


def _dynamic(results: Results) -> list[str]:
    runs = results.dynamic
    if dynamic_met(results):
        return []
    return [
        f"- **Dynamic, {runs.per_core_ratio:.0%} of {DYNAMIC_SHARE:.0%}.** What the path through nginx does "
        f"for it, each measured against the stack without it in section 2: {_tried(runs)}. The rounds' "
        f"ratios run from {compared.ratio_range(runs, '{:.0%}')}: the target lies within the spread between "
        "rounds on this machine. Through nginx a request also pays for TLS and a second hop on the one core "
        "PostgreSQL shares."
    ]


def _memory(results: Results, profile: Profile) -> list[str]:
    shipped, fewer = results.memory.shipped, results.memory.fewer_workers
    if memory_met(results):
        return []
    end = shipped.end
    steps = results.tuning.steps
    per_connection = end.nginx_pss / profile.scale_connections
    return [
        f"- **Memory, {shipped.end_mb:.0f} MB of {ARTICLE_MEMORY_MB[1]:.0f} MB.** nginx holds "
        f"{end.nginx_pss / 1024:.0f} MB of it for {profile.scale_connections:,} TLS connections, "
        f"{per_connection:.0f} KB each: {OPENSSL_MEMORY}. Tried: nginx on jemalloc (section 7: nginx at the "
        f"end of the run {steps[-2].nginx_end_pss / 1024:.0f} MB on glibc's malloc, "
        f"{steps[-1].nginx_end_pss / 1024:.0f} MB on jemalloc), and {FEWER_WORKERS} gunicorn workers instead "
        f"of the shipped {CORES.gunicorn_workers} (section 5: {fewer.end_mb:.0f} MB)."
    ]


def _writes(results: Results) -> list[str]:
    writes = results.writes
    if writes.met:
        return []
    baseline, shipped = writes.totals
    return [
        f"- **Writes, {writes.ratio:.1f}x of {ARTICLE_RATIO}x.** The rounds' ratios run from "
        f"{min(writes.ratios):.1f}x to {max(writes.ratios):.1f}x. A write costs the baseline "
        f"{baseline.server_cpu_ms:.1f} ms of its servers' CPU and {baseline.database_cpu_ms:.1f} ms of "
        f"PostgreSQL's (a new connection each time), and the shipped stack {shipped.server_cpu_ms:.1f} and "
        f"{shipped.database_cpu_ms:.1f} ms: it already writes with one prebuilt, autocommitted statement on "
        "a pooled connection, and what is left is Python's work in the worker and nginx's TLS (section 8). "
        "The ratio is this machine's price of a connection against a pooled write, and it moves with how "
        "fast the server's core runs at the time."
    ]


def _against_article(table: Table) -> list[str]:
    lines = []
    latency, memory = table.latency, table.memory
    baseline, printed, shipped = table.runs
    if not latency.met:
        lines.append(
            "- **Against the article, latency.** With every connection's request always in flight, a mean "
            "latency is connections ÷ throughput (Little's law): a stack that answers every request can only "
            "lower it by answering faster, and the shipped stack answers every one "
            f"({shipped.failed:,} errors) where the article's configuration refused {printed.failed:,} "
            f"and the baseline {baseline.failed:,}, whose waits wrk's mean leaves out. Refusing requests to "
            "lower the mean would break the zero-errors target; the article's figure, from users with think "
            "time, is not a closed loop's."
        )
    if not table.writes.met:
        lines.append(
            f"- **Against the article, writes.** {delta(table.writes.shipped_delta)} against the article's "
            f"{delta(table.writes.article_delta)}: the writes target above, on the same runs; the article's "
            f"configuration {delta(table.writes.printed_delta)}."
        )
    if not memory.met:
        lines.append(
            "- **Against the article, memory.** The baseline is gunicorn alone, holding no TLS connection "
            f"({memory.baseline:,.0f} MB); nginx's state for the clients' TLS connections alone is more than "
            "that (above)."
        )
    return lines


def missed(results: Results, profile: Profile, table: Table) -> list[str]:
    """A bullet per missed target of the ratios, the memory and the article's table (none: all met)."""
    return [
        *_static(results),
        *_dynamic(results),
        *_memory(results, profile),
        *_writes(results),
        *_against_article(table),
    ]
