"""bench/sections/writes.py: writes/s from the rows the table gained, the ratio to the article's, the
rounds, and the section as the report shows it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.loadgen import WRK_POST_NOTE
from bench.profiles import FULL, QUICK
from bench.sections import writes
from bench.sections.writes import ARTICLE_RATIO, Writer, WritesResult, WritesRun
from bench.targets import targets
from tests.bench.results import article_table, made_up, run, scale_result


def writes_run(rows: int, requests: int | None = None, seconds: float = 5.0, **errors: int) -> WritesRun:
    return WritesRun(run(rows if requests is None else requests, seconds, **errors), rows, 0, 2.0, 1.0)


def test_writes_per_second_count_rows_not_answers() -> None:
    measured = writes_run(rows=1064, requests=1000, seconds=4.0, status=10)

    assert measured.writes_per_second == 266.0
    assert measured.created == 990
    assert measured.errors == 10


def test_errors_count_failures_and_timeouts() -> None:
    assert writes_run(100, connect=1, read=2, timeout=3).errors == 6


def test_the_ratio_is_the_median_of_the_rounds() -> None:
    result = WritesResult(
        (writes_run(100), writes_run(200), writes_run(100)),
        (writes_run(800), writes_run(800), writes_run(300)),
        (writes_run(300), writes_run(200), writes_run(500)),
    )

    assert result.ratios == [8.0, 4.0, 3.0]
    assert result.ratio == 4.0
    assert result.article_ratio == 3.0
    assert not result.met


def test_the_target_is_the_article_ratio() -> None:
    assert ARTICLE_RATIO == 7.1
    assert WritesResult((writes_run(450),), (writes_run(3200),), ()).met
    assert not WritesResult((writes_run(450),), (writes_run(3150),), ()).met


def test_totals_take_every_run_together() -> None:
    result = WritesResult((writes_run(100, seconds=5.0), writes_run(300, seconds=5.0)), (writes_run(50),), ())

    baseline, _ = result.totals

    assert baseline.rows == 400
    assert baseline.writes_per_second == 40.0
    assert baseline.server_cpu_ms == pytest.approx(1000 * 4.0 / 400)
    assert baseline.database_cpu_ms == pytest.approx(1000 * 2.0 / 400)


def test_settled_waits_until_two_counts_agree() -> None:
    counts = iter([10, 12, 15, 15, 99])

    assert writes.settled(lambda: next(counts), pause=0) == 15


def test_rounds_alternate_and_count_rows_by_the_end_and_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    table = {"committed": 0, "in_flight": 0}
    urls: list[str] = []

    def fake_wrk(label: str, url: str, **options: object) -> object:
        urls.append(url)
        table["committed"] += {"naive": 10, "printed": 40}.get(url.split("/")[2], 70)
        table["in_flight"] = 3
        assert options["script"] == WRK_POST_NOTE
        return replace(run(table["committed"]), label=label)

    def fake_settled(count: object) -> int:
        table["committed"] += table["in_flight"]
        table["in_flight"] = 0
        return table["committed"]

    monkeypatch.setattr(writes, "wrk", fake_wrk)
    monkeypatch.setattr(writes, "settled", fake_settled)
    baseline = Writer("naive", "http://naive/api/notes", lambda: 0.0)
    printed = Writer("printed", "https://printed/api/notes", lambda: 0.0)
    optimized = Writer("shipped", "https://shipped/api/notes", lambda: 0.0)

    result = writes.measure_writers(
        (baseline, printed, optimized), lambda: table["committed"], lambda: 0.0, replace(QUICK, rounds=3)
    )

    one_round = [baseline.url, printed.url, optimized.url]
    assert urls == [*one_round, *one_round[::-1], *one_round]
    assert [(r.rows, r.late_rows) for r in result.baseline] == [(10, 3)] * 3
    assert [(r.rows, r.late_rows) for r in result.article] == [(40, 3)] * 3
    assert [(r.rows, r.late_rows) for r in result.optimized] == [(70, 3)] * 3
    assert result.ratio == 7.0
    assert result.article_ratio == 4.0


@pytest.mark.parametrize(("optimized", "verdict"), [(3600, "met"), (900, "**not met**")])
def test_the_section_reports_both_sides_the_ratio_and_the_article(optimized: int, verdict: str) -> None:
    result = WritesResult((writes_run(450),), (writes_run(optimized),), (writes_run(900),))

    text = "\n".join(writes.section(result, FULL).lines())

    assert f"| **{optimized / 450:.1f}x** | | | | | | | 7.1x |" in text
    assert "| baseline: naive app | 90 | 450 | 450 | 0 | 0 |" in text
    assert "| the article's configuration | 180 | 900 | 900 | 0 | 0 |" in text
    assert "the article's configuration over baseline: 2.0x" in text
    assert "| 450 |" in text
    assert "| 3,200 |" in text
    assert f"Target: at least the article's 7.1x: {verdict}." in text
    assert "Reproduce: `make bench`" in text


def test_quick_reproduces_with_make_bench_quick() -> None:
    text = "\n".join(
        writes.section(WritesResult((writes_run(1),), (writes_run(2),), (writes_run(1),)), QUICK).lines()
    )

    assert "Reproduce: `make bench-quick`" in text
    assert "one round" in text


def test_the_report_targets_show_the_writes_ratio_next_to_the_article() -> None:
    results = made_up(scale_result({}))

    found = targets(results, QUICK, article_table(results))
    (target,) = [t for t in found if t.what.startswith("Database writes/s")]

    assert "the article's 450 → 3,200" in target.what
    assert target.measured.startswith("8.0x (100 → 800 writes/s; 0 errors")
    assert target.met
