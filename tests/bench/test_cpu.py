"""Where the CPU goes in sections 1 and 2: gunicorn's, nginx's and wrk's own, and the server's per request."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import cast

import pytest

from bench import rounds
from bench.loadgen import Result, reaped_children_cpu_seconds
from bench.profiles import QUICK
from bench.rounds import Alternated, Series
from bench.sections import compared, dynamic, static
from bench.stacks import CpuSeconds, Stack
from tests.bench.results import run

#: A child that burns CPU, then prints the CPU seconds it used.
BUSY = "import time\nx = 0\nfor i in range(3_000_000): x += i\nprint(time.process_time())"
#: The kernel accounts CPU time in clock ticks.
TICK = 0.01


def busy_child() -> float:
    done = subprocess.run([sys.executable, "-c", BUSY], capture_output=True, text=True, check=True)
    return float(done.stdout)


def test_a_finished_childs_cpu_time_is_counted() -> None:
    before = reaped_children_cpu_seconds()
    own = busy_child()
    used = reaped_children_cpu_seconds() - before

    assert own > 0
    assert used >= own - TICK


class FakeStack:
    """The CPU counters of a stack whose gunicorn and nginx each use one more second per run."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def cpu_seconds(self) -> CpuSeconds:
        return CpuSeconds(gunicorn=self.seconds, nginx=2 * self.seconds)


def test_each_run_reads_its_configurations_cpu_and_wrks(monkeypatch: pytest.MonkeyPatch) -> None:
    target = FakeStack()
    children: list[float] = []

    def fake_wrk(label: str, url: str, *args: object, **kwargs: object) -> Result:
        target.seconds += 1
        children.append(busy_child())
        return run(100)

    monkeypatch.setattr(rounds, "run_wrk", fake_wrk)
    measure = rounds.with_cpu(QUICK)

    first, second = (measure(cast(Stack, target), "https://x/", "nginx") for _ in range(2))

    assert (first.cpu.gunicorn, first.cpu.nginx) == (1, 2)
    assert (second.cpu.gunicorn, second.cpu.nginx) == (1, 2)
    assert first.cpu.wrk >= children[0] - TICK
    assert second.cpu.wrk >= children[1] - TICK


def measured(direct: Series, shipped: Series, cpu: dict[str, tuple[float, float, float]]) -> Alternated:
    """The runs with the CPU seconds (gunicorn, nginx, wrk) of each configuration, and gunicorn's memory
    after them: 100 MB direct, 90 MB through nginx."""
    direct = Series(direct.label, direct.runs, CpuSeconds(*cpu[direct.label]), 100 * 1024)
    shipped = Series(shipped.label, shipped.runs, CpuSeconds(*cpu[shipped.label]), 90 * 1024)
    return Alternated(direct, shipped, ())


def static_runs() -> Alternated:
    """Flask answers 1,000 requests a run on 5 CPU seconds; nginx 20,000 on 1, while wrk takes 4."""
    direct = Series("Flask", (run(1000), run(1000)))
    shipped = Series("nginx", (run(20_000), run(20_000)))
    return measured(direct, shipped, {"Flask": (10.0, 0.0, 0.5), "nginx": (0.0, 2.0, 8.0)})


def test_the_servers_cpu_per_request_leaves_the_load_generator_out() -> None:
    runs = static_runs()

    assert runs.direct.cpu_us() == 5000
    assert runs.shipped.cpu_us() == 50
    assert runs.server_cpu_ratio == 100


def test_the_cpu_table_and_the_static_line_state_both_ratios(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    runs = static_runs()

    table = compared.cpu_table(runs)
    line = next(text for text in static.section(runs, QUICK).body if "Per request" in text)

    assert table[2].split("|")[1:-1] == [
        " Flask ",
        " 10.0 ",
        " 0.0 ",
        " 0.5 ",
        " 20.0 ",
        " 5,000 ",
        " 5,000 ",
        " 100 ",
    ]
    assert table[3].split("|")[1:-1] == [
        " nginx ",
        " 0.0 ",
        " 2.0 ",
        " 8.0 ",
        " 20.0 ",
        " 0 ",
        " 50 ",
        " 90 ",
    ]
    assert "nginx used 50 µs of CPU and Flask's gunicorn 5000 µs" in line
    assert "nginx answers 100.0x the requests, against 20.0x in requests/s" in line
    assert "wrk used 8.0 CPU seconds in nginx's runs" in line
    assert "against 0.5 in Flask's" in line


def test_the_dynamic_line_gives_nginxs_own_share() -> None:
    # gunicorn: 500 µs a request direct, 600 through nginx; nginx 100 µs of its own.
    direct = Series("direct", (run(1000), run(1000)))
    shipped = Series("nginx", (run(800), run(800)))
    runs = measured(direct, shipped, {"direct": (1.0, 0.0, 0.2), "nginx": (0.96, 0.16, 0.2)})

    line = next(text for text in dynamic.section(runs, QUICK).body if "Where the CPU went" in text)

    assert "gunicorn's CPU per request was 600 µs through nginx and 500 µs direct" in line
    assert "together 700 µs: per CPU second of the server, the path through nginx answers 71%" in line
    assert "nginx's own CPU per request, 100 µs (TLS, parsing, the round trip to gunicorn), is 20%" in line
