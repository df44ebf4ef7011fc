"""bench/report.py: the whole report from every section's results: the article's table and the targets
first, then each section in the order the sections ran."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench import report
from bench.cores import Cores
from bench.profiles import FULL, QUICK, Profile
from bench.results import Results
from bench.sections.writes import WritesResult, WritesRun
from tests.bench.results import article_table, made_up, run, scale_result, with_article_runs


def written(
    tmp_path: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch, results: Results | None = None
) -> str:
    """The report of ``results`` (default: ``made_up``'s), on a made-up machine with one core a side."""
    monkeypatch.setattr(report, "machine", lambda: ["- CPU: made up"])
    monkeypatch.setattr(report, "chart", lambda sections, path: None)
    monkeypatch.setattr(report, "CORES", Cores(frozenset({0}), frozenset({1})))
    report.write(tmp_path, profile, results or made_up(scale_result({})), 12.0, "python -m bench")
    return (tmp_path / report.MARKDOWN).read_text()


@pytest.mark.parametrize("profile", [QUICK, FULL], ids=lambda p: p.name)
def test_the_report_has_each_part_once_in_order(
    profile: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = written(tmp_path, profile, monkeypatch)

    headings = [line for line in text.splitlines() if line.startswith("## ")]
    titles = [f"## {section.title}" for section in report.sections(made_up(scale_result({})), profile)]
    assert headings == [
        '## "Nginx as a Reverse Proxy for Flask", side by side',
        "## Targets",
        "## Machine",
        "## How to read these numbers",
        *titles,
    ]
    assert [title[3:5] for title in titles] == ["1.", "2.", "3.", "4.", "5.", "6.", "7.", "8.", "9."]
    assert "\n\n\n" not in text


def test_the_report_says_each_side_has_one_core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = written(tmp_path, FULL, monkeypatch)

    assert "**Each side has one core.**" in text
    assert "harness on core 0; nginx, gunicorn and PostgreSQL on core 1 (`taskset`)" in text
    assert "(the shipped 2 x cores + 1: 3)" in text


def test_the_article_table_gives_each_rows_delta_next_to_the_articles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = written(tmp_path, FULL, monkeypatch)

    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    # made_up: means of 15,000 ms (baseline), 10,000 ms (article's) and 5 ms (shipped, section 4).
    latency = rows["average latency, dynamic route (p99; errors, timeouts)"]
    assert "| 15,000 ms (30,000 ms; 0, 0) | 10,000 ms (20,000 ms; 0, 0) | 5 ms (10 ms; 0, 0) |" in latency
    assert latency.endswith("| **-100.0%** | -33.3% | 280 → 34 ms, -87.9% |")
    memory = rows["memory per node at the end of that run (PSS: nginx, gunicorn and its workers)"]
    assert memory.endswith("| 100 MB | 400 MB | 300 MB | **+200.0%** | +300.0% | 1,200 → 410 MB, -65.8% |")
    writes = rows["database writes per second"]
    assert writes.endswith("| 100 | 400 | 800 | **+700.0%** | +300.0% | 450 → 3,200, +611.1% |")
    (against,) = [line for line in text.splitlines() if "Against the article, memory per node" in line]
    assert against.endswith("| **no** |")


def test_a_configuration_that_answered_nothing_has_no_latency_and_loses_its_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = with_article_runs(made_up(scale_result({})), printed=run(0, connect=21_000))

    text = written(tmp_path, FULL, monkeypatch, results)

    (latency,) = [line for line in text.splitlines() if line.startswith("| average latency")]
    assert latency.split(" | ")[2] == "no answer (21,000, 0)"
    assert latency.split(" | ")[5] == "none (no answer)"
    assert article_table(results).latency.met


def test_the_writes_row_takes_the_median_of_the_rounds_as_its_target_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Round by round the shipped stack writes 8x, 8x and, in a round the machine slowed, 3x the baseline's:
    # the totals give 6.3x, short of the article's 7.1x; the median, as section 8's target takes it, 8x.
    baseline = tuple(WritesRun(run(500), 500, 0, 5.0, 5.0) for _ in range(3))
    article_runs = tuple(WritesRun(run(2000), 2000, 0, 5.0, 2.0) for _ in range(3))
    shipped = tuple(WritesRun(run(rows), rows, 0, 5.0, 1.0) for rows in (4000, 4000, 1500))
    results = made_up(scale_result({}))
    results = replace(results, writes=WritesResult(baseline, shipped, article_runs))

    text = written(tmp_path, FULL, monkeypatch, results)

    (writes,) = [line for line in text.splitlines() if line.startswith("| database writes per second")]
    assert writes.endswith("| 100 | 400 | 633 | **+700.0%** | +300.0% | 450 → 3,200, +611.1% |")
    (target,) = [line for line in text.splitlines() if line.startswith("| Database writes/s")]
    assert "| 8.0x (100 → 633 writes/s;" in target
    assert target.endswith("| yes |")
    (against,) = [line for line in text.splitlines() if "Against the article, database writes" in line]
    assert against.endswith("| yes |")


def test_a_shipped_stack_that_answered_nothing_at_scale_gets_a_report_that_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A quick run's second at 1,000 connections can end before any TLS handshake does.
    results = with_article_runs(made_up(scale_result({})), shipped=run(0, read=1_000))

    text = written(tmp_path, QUICK, monkeypatch, results)

    assert "(Little's law: the shipped stack answered no request in this run)" in text
