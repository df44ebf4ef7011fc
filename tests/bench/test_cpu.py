"""Where the CPU goes in sections 1 and 2: gunicorn's, nginx's and wrk's own, and the server's per request."""

from __future__ import annotations

import subprocess
import sys
from typing import cast

import pytest

from bench import rounds
from bench.cores import Cores
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


def measured(direct: Series, shipped: Series, cpu: dict[str, tuple[float, ...]]) -> Alternated:
    """The runs with the CPU seconds (gunicorn, nginx, wrk, the server's core busy) of each configuration,
    and gunicorn's memory after them: 100 MB direct, 90 MB through nginx."""
    direct = Series(direct.label, direct.runs, CpuSeconds(*cpu[direct.label]), 100 * 1024)
    shipped = Series(shipped.label, shipped.runs, CpuSeconds(*cpu[shipped.label]), 90 * 1024)
    return Alternated(direct, shipped, ())


def static_runs() -> Alternated:
    """Flask answers 1,000 requests a run on 5 CPU seconds; nginx 20,000 on 1, while wrk takes 4; the
    server's core is busy 9 of Flask's 10 seconds and 2.5 of nginx's."""
    direct = Series("Flask", (run(1000), run(1000)))
    shipped = Series("nginx", (run(20_000), run(20_000)))
    return measured(direct, shipped, {"Flask": (10.0, 0.0, 0.5, 9.0), "nginx": (0.0, 2.0, 8.0, 2.5)})


def test_the_servers_cpu_per_request_leaves_the_load_generator_out() -> None:
    runs = static_runs()

    assert runs.direct.cpu_us() == 5000
    assert runs.shipped.cpu_us() == 50
    assert runs.server_cpu_ratio == 100


def test_per_server_core_the_requests_are_counted_per_second_the_core_was_busy() -> None:
    runs = static_runs()

    # Flask: 2,000 requests in 9 busy seconds of its 10; nginx: 40,000 in 2.5 of its 10.
    assert runs.per_core_ratio == pytest.approx((40_000 / 2.5) / (2_000 / 9.0))
    assert runs.shipped.core_busy == pytest.approx(0.25)
    assert runs.ratio == 20


def test_the_cpu_table_gives_the_server_cores_busy_time_and_the_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compared, "CORES", Cores(frozenset({0}), frozenset({1})))
    runs = static_runs()

    table = compared.cpu_table(runs)
    line = next(text for text in static.section(runs, QUICK).body if "Per request" in text)

    assert table[0].startswith("| configuration (all its runs) | server core busy s (of its 1 x run s) |")
    assert table[2].split("|")[1:-1] == [
        " Flask ",
        " 9.0 (10.0) ",
        " 10.0 ",
        " 0.0 ",
        " 0.5 ",
        " 5,000 ",
        " 5,000 ",
        " 100 ",
    ]
    assert table[3].split("|")[1:-1] == [
        " nginx ",
        " 2.5 (10.0) ",
        " 0.0 ",
        " 2.0 ",
        " 8.0 ",
        " 0 ",
        " 50 ",
        " 90 ",
    ]
    assert "nginx used 50 µs of CPU and Flask's gunicorn 5000 µs" in line
    assert "nginx answers 100.0x the requests, against 20.0x in requests/s" in line
    assert "busy 25% of the time in nginx's runs and 90% in Flask's" in line
    assert "wrk, on its own core, used 80% of it in nginx's runs" in line


def test_the_dynamic_lines_give_the_cores_time_and_nginxs_own_share_on_the_trivial_route() -> None:
    # The database read: gunicorn 500 µs a request direct, 600 through nginx; nginx 100 µs of its own.
    direct = Series("direct", (run(1000), run(1000)))
    shipped = Series("nginx", (run(800), run(800)))
    runs = measured(direct, shipped, {"direct": (1.0, 0.0, 0.2, 1.5), "nginx": (0.96, 0.16, 0.2, 1.4)})
    # The trivial route: gunicorn 200 µs a request direct; nginx 50 µs of its own.
    trivial = measured(
        Series("direct", (run(5000), run(5000))),
        Series("nginx", (run(4000), run(4000))),
        {"direct": (2.0, 0.0, 0.2, 2.0), "nginx": (1.6, 0.4, 0.2, 2.0)},
    )

    body = dynamic.section(runs, trivial, QUICK).body
    cpu = next(text for text in body if "Where the CPU went" in text)
    own = next(text for text in body if "nginx's own CPU per proxied request" in text)

    assert "busy 1.4 s through nginx and 1.5 s direct" in cpu
    assert "per CPU second of gunicorn and nginx, the path through nginx answers 71%" in cpu
    assert "**50 µs**" in own
    assert "**25%** of the 200 µs gunicorn needs direct" in own
    assert "answers 80% of direct's requests/s" in own
