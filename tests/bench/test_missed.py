"""bench/missed.py: a missed target comes with what it needs and what was tried, in the run's figures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench import missed
from bench.profiles import FULL
from bench.results import Results
from bench.rounds import Alternated, Series
from bench.sections.memory import MemoryResult, StackMemory
from bench.sections.writes import WritesResult, WritesRun
from bench.stacks import CpuSeconds, MemorySample
from bench.tunings import OPEN_FILE_CACHE, TLS
from tests.bench.results import article_table, made_up, run, scale_result, with_article_runs

CPU = CpuSeconds(1.0, 1.0, 0.0, 2.0)


def bullets(results: Results) -> list[str]:
    return missed.missed(results, FULL, article_table(results))


def test_targets_met_need_no_word_but_the_article_memory_row_that_made_up_misses() -> None:
    (only,) = bullets(made_up(scale_result({})))

    assert only.startswith("- **Against the article, memory.** The baseline is gunicorn alone")


def test_a_static_ratio_short_of_40x_names_each_tuning_its_gain_and_the_spread() -> None:
    static = Alternated(
        Series("direct", (run(100), run(100)), CPU),
        Series("nginx, shipped", (run(3000), run(4200)), CPU),
        (
            (OPEN_FILE_CACHE, Series("without", (run(2000), run(2100)), CPU)),
            (TLS, Series("plain", (run(4500), run(4600)), CPU)),
        ),
    )
    results = replace(made_up(scale_result({})), static=static)

    (line,) = [b for b in bullets(results) if b.startswith("- **Static")]

    assert line.startswith("- **Static, 36.0x of 40x.**")
    assert f"section 1: {OPEN_FILE_CACHE.name} +75%." in line
    assert "The rounds' ratios run from 30.0x to 42.0x" in line
    assert "What is left is mostly TLS; over plain HTTP to nginx (no TLS, never shipped): 45.5x. kTLS" in line


def test_ktls_is_named_as_what_the_kernel_lacks_or_as_not_tried(tmp_path: Path) -> None:
    ulp = tmp_path / "ulp"
    ulp.write_text("mptcp\n")
    lacking = missed.ktls(ulp, tmp_path / "no-modules")
    ulp.write_text("mptcp tls\n")
    offered = missed.ktls(ulp, tmp_path / "no-modules")

    assert lacking.endswith("which this machine's kernel lacks (net.ipv4.tcp_available_ulp: mptcp)")
    assert offered.endswith("is not tried here")


def test_memory_over_410_mb_gives_nginx_share_per_connection_and_both_attempts() -> None:
    heavy = StackMemory("shipped", *(MemorySample(280 * 1024, 180 * 1024, 0),) * 5)
    lighter = StackMemory("WEB_CONCURRENCY=2", *(MemorySample(280 * 1024, 140 * 1024, 0),) * 5)
    results = replace(made_up(scale_result({})), memory=MemoryResult(heavy, lighter))

    (line,) = [b for b in bullets(results) if b.startswith("- **Memory")]

    assert line.startswith(
        "- **Memory, 460 MB of 410 MB.** nginx holds 280 MB of it for 10,000 TLS connections"
    )
    assert "29 KB each" in line
    assert "openssl/openssl#11324" in line
    assert "2 gunicorn workers instead of the shipped 3 (section 5: 420 MB)" in line


def test_a_latency_that_loses_to_a_configuration_that_refused_requests_says_so() -> None:
    results = with_article_runs(
        made_up(scale_result({})),
        shipped=run(500, p99=60_000.0),
        printed=run(20_000, p99=2_000.0, connect=38_000),
    )

    (line,) = [b for b in bullets(results) if b.startswith("- **Against the article, latency")]

    assert "the shipped stack answers every one (0 errors)" in line
    assert "the article's configuration refused 38,000" in line


def test_writes_short_of_the_article_give_the_spread_and_each_sides_cpu_per_write() -> None:
    baseline = tuple(WritesRun(run(500), 500, 0, 5.0, 5.0) for _ in range(2))
    article_runs = tuple(WritesRun(run(2000), 2000, 0, 5.0, 2.0) for _ in range(2))
    shipped = tuple(WritesRun(run(rows), rows, 0, 1.0, 0.2) for rows in (2500, 3000))
    results = replace(made_up(scale_result({})), writes=WritesResult(baseline, shipped, article_runs))

    lines = bullets(results)

    (writes,) = [b for b in lines if b.startswith("- **Writes")]
    assert writes.startswith("- **Writes, 5.5x of 7.1x.** The rounds' ratios run from 5.0x to 6.0x.")
    assert "costs the baseline 10.0 ms of its servers' CPU and 10.0 ms of PostgreSQL's" in writes
    assert "and the shipped stack 0.4 and 0.1 ms" in writes
    (against,) = [b for b in lines if b.startswith("- **Against the article, writes")]
    assert "+450.0% against the article's +611.1%" in against
