"""The benchmarks' rounds (sections 1 and 2): how runs are ordered, combined and compared."""

from __future__ import annotations

from typing import cast

import pytest

from bench.loadgen import Result, combined
from bench.profiles import FULL, QUICK, Profile
from bench.rounds import Alternated, Measured, Series, alternate, measure_rounds
from bench.sections import static
from bench.sections.compared import spread
from bench.stacks import CpuSeconds, Stack
from tests.bench.results import ERRORS, ServingStack, run


def test_rounds_alternate_their_order_so_neighbours_stay_neighbours() -> None:
    order: list[str] = []

    def measure(label: str) -> Result:
        order.append(label)
        return run(len(order))

    runs = alternate([("a", measure), ("b", measure), ("c", measure)], rounds=4)

    assert order == ["a", "b", "c", "c", "b", "a", "a", "b", "c", "c", "b", "a"]
    assert [r.requests for r in runs["a"]] == [1, 6, 7, 12]
    assert [r.requests for r in runs["c"]] == [3, 4, 9, 10]


def test_ratios_pair_the_runs_of_one_round_and_take_their_median() -> None:
    nginx = Series("nginx", (run(900), run(400), run(1000)))
    direct = Series("direct", (run(1000), run(500), run(1000)))

    assert nginx.ratios(direct) == [0.9, 0.8, 1.0]
    # The runs' totals would give 2300 / 2500 = 0.92: a slow round weighs no more than a fast one.
    assert nginx.ratio(direct) == 0.9


def test_series_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="shorter"):
        Series("a", (run(1), run(2))).ratios(Series("b", (run(1),)))


def test_a_row_is_all_its_runs() -> None:
    runs = (run(1000, 5.0, p99=10, read=2), run(3000, 5.0, p99=30, timeout=1), run(2000, 10.0, p99=20))

    row = combined("nginx", runs)

    assert row.label == "nginx"
    assert row.requests == 6000
    assert row.rps == 300
    assert row.errors == ERRORS | {"read": 2, "timeout": 1}
    assert row.latency_ms["p99"] == 20
    assert row.latency_ms["p50"] == 5
    assert row.latency_ms["max"] == 90
    # The mean over every request: (1000 * 5 + 3000 * 15 + 2000 * 10) / 6000.
    assert row.latency_ms["mean"] == pytest.approx(11.667, abs=1e-3)
    assert row.unanswered is None


def test_unanswered_requests_add_up_when_every_run_counted_them() -> None:
    counted = [Result(**{**vars(run(10)), "unanswered": n}) for n in (2, 3)]

    assert combined("x", counted).unanswered == 5
    assert combined("x", [*counted, run(10)]).unanswered is None


def rounds_note(profile: Profile) -> str:
    """Section 1's line on how its rounds ran."""
    cpu = CpuSeconds(1.0, 1.0, 1.0)
    runs = Alternated(Series("direct", (run(1000),), cpu), Series("nginx, shipped", (run(800),), cpu), ())
    (line,) = [text for text in static.section(runs, profile).body if text.startswith("- Each configuration")]
    return line.removeprefix("- ")


def test_a_single_round_says_it_shows_that_everything_runs_not_how_it_compares() -> None:
    direct, shipped = Series("direct", (run(1000),)), Series("nginx, shipped", (run(800),))

    assert spread(Alternated(direct, shipped, ()), "{:.0%}") == "one round"
    assert rounds_note(QUICK).startswith("Each configuration ran once, for 1 s, in the table's order")
    assert f"`make bench` runs {FULL.rounds} rounds" in rounds_note(QUICK)
    assert rounds_note(FULL).startswith(f"Each configuration ran {FULL.rounds} times for 5 s, once per round")
    direct_twice = Series("direct", (run(1000), run(1000)))
    two = Alternated(direct_twice, Series("nginx, shipped", (run(800), run(900))), ())
    assert spread(two, "{:.0%}") == "median of 2 rounds, 80% to 90%"


def test_a_configurations_cpu_is_all_its_runs_and_its_row_all_their_requests() -> None:
    seconds = iter([1.0, 2.0, 4.0, 8.0])

    def measure(target: Stack, url: str, label: str) -> Measured:
        return Measured(run(100), CpuSeconds(gunicorn=next(seconds), nginx=1.0, wrk=0.5))

    runs = measure_rounds(
        measure,
        cast(Stack, ServingStack("s")),
        {},
        "/api/status",
        rounds=2,
        direct="direct",
        via_nginx="nginx",
    )

    # Rounds run direct, shipped, then shipped, direct.
    assert runs.direct.cpu == CpuSeconds(gunicorn=9.0, nginx=2.0, wrk=1.0)
    assert runs.shipped.cpu == CpuSeconds(gunicorn=6.0, nginx=2.0, wrk=1.0)
    assert [row.requests for row in runs.rows] == [200, 200]
