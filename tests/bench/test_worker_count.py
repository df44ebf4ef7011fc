"""Section 2's worker counts: each compared with gunicorn directly at the same count, and with the other."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from bench.profiles import QUICK
from bench.rounds import Alternated, Series
from bench.sections import dynamic
from bench.stacks import CpuSeconds, Stack
from bench.tunings import SHARED_LIBRARIES, WORKER_COUNT
from tests.bench.results import ServingStack, measured_urls, run


def test_the_stack_with_other_workers_is_also_measured_directly() -> None:
    fewer, shared = ServingStack("fewer"), ServingStack("own")
    befores = {WORKER_COUNT: cast(Stack, fewer), SHARED_LIBRARIES: cast(Stack, shared)}
    urls, runs = measured_urls(cast(Stack, ServingStack("shipped")), befores)

    assert urls == {
        "direct": ["http://shipped/api/status"] * QUICK.rounds,
        "nginx, shipped": ["https://shipped/api/status"] * QUICK.rounds,
        f"nginx, without {WORKER_COUNT.name}": ["https://fewer/api/status"] * QUICK.rounds,
        f"nginx, without {SHARED_LIBRARIES.name}": ["https://own/api/status"] * QUICK.rounds,
        f"direct, without {WORKER_COUNT.name}": ["http://fewer/api/status"] * QUICK.rounds,
    }
    assert [(tuning, series.label) for tuning, series in runs.untuned_direct] == [
        (WORKER_COUNT, f"direct, without {WORKER_COUNT.name}")
    ]
    assert [row.label for row in runs.rows] == list(urls)


def worker_runs() -> Alternated:
    """gunicorn direct answers 100 requests a run with the shipped workers and 200 with the other count;
    through nginx 150 and 180."""
    direct, shipped = Series("direct", (run(100), run(100))), Series("nginx, shipped", (run(150), run(150)))
    other_nginx = Series(f"nginx, without {WORKER_COUNT.name}", (run(180), run(180)))
    other_direct = Series(f"direct, without {WORKER_COUNT.name}", (run(200), run(200)))
    return Alternated(direct, shipped, ((WORKER_COUNT, other_nginx),), ((WORKER_COUNT, other_direct),))


def with_cpu(runs: Alternated) -> Alternated:
    """``runs`` with a CPU second of each part in direct's and the shipped path's runs."""
    cpu = CpuSeconds(1.0, 1.0, 1.0, 2.0)
    return replace(runs, direct=replace(runs.direct, cpu=cpu), shipped=replace(runs.shipped, cpu=cpu))


def test_each_worker_count_is_compared_with_itself_and_the_shipped_one_with_the_other() -> None:
    lines = [
        text
        for text in dynamic.section(with_cpu(worker_runs()), with_cpu(worker_runs()), QUICK).body
        if " ratio " in text
    ]

    assert lines[0].startswith("- dynamic ratio (nginx as shipped over direct): **1.50**")
    assert lines[2].startswith(
        f"- dynamic ratio without {WORKER_COUNT.name}, over gunicorn direct without it: **0.90**"
    )
    assert lines[3].startswith(
        f"- dynamic ratio of nginx as shipped over gunicorn direct without {WORKER_COUNT.name}: **0.75**"
    )


def test_a_path_through_nginx_faster_than_direct_reads_as_a_share() -> None:
    runs = with_cpu(worker_runs())

    line = next(
        text for text in dynamic.section(runs, runs, QUICK).body if text.startswith("- Through nginx")
    )

    assert line.startswith(
        "- Through nginx: **150%** of direct's requests per second of the server's core busy"
    )
    assert "; 150% of direct's requests/s (median of 2 rounds, 150% to 150%;" in line
