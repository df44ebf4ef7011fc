"""bench/cores.py: one core for the load generator, one for the servers, and how busy the servers' was;
the servers and wrk started on their own core."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from bench import loadgen
from bench.cores import CORES, Cores, busy_seconds, split
from bench.loadgen import tree_pids
from bench.stacks import node_stack, pin
from nodestack.process import on_cpus

STAT = """cpu  900 0 900 9000 90 0 9 0 0 0
cpu0 100 1 200 3000 40 5 6 7 8 9
cpu1 10 0 20 5000 50 0 0 0 0 0
intr 12345
"""


@pytest.mark.parametrize(
    ("available", "load", "server"),
    [({0, 1}, {0}, {1}), ({3, 1, 2, 7}, {1}, {2}), ({5}, {5}, {5})],
)
def test_each_side_gets_one_core(available: set[int], load: set[int], server: set[int]) -> None:
    cores = split(available)

    assert (set(cores.load), set(cores.server)) == (load, server)
    assert cores.pinned == (load != server)


def test_workers_are_sized_for_the_servers_core() -> None:
    cores = Cores(frozenset({0}), frozenset({1}))

    assert cores.gunicorn_workers == 3
    assert cores.nginx_workers == 1


def test_no_core_is_an_error() -> None:
    with pytest.raises(ValueError, match="no core"):
        split(set())


def test_busy_time_leaves_out_idle_and_iowait_and_other_cores() -> None:
    tick = os.sysconf("SC_CLK_TCK")

    assert busy_seconds(frozenset({0}), STAT) == (100 + 1 + 200 + 5 + 6 + 7) / tick
    assert busy_seconds(frozenset({1}), STAT) == 30 / tick
    assert busy_seconds(frozenset({0, 1}), STAT) == (319 + 30) / tick


def test_the_servers_cores_have_been_busy_since_boot() -> None:
    assert busy_seconds(CORES.server) > 0


def test_a_command_on_cpus_runs_through_taskset() -> None:
    assert on_cpus(["wrk", "-c1"], frozenset({3, 1})) == ["taskset", "--cpu-list", "1,3", "wrk", "-c1"]
    assert on_cpus(["wrk"], None) == ["wrk"]


def allowed(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    return next(line.split(":")[1].strip() for line in status if line.startswith("Cpus_allowed_list"))


def test_the_stacks_servers_and_their_workers_run_on_the_servers_core(workdir: Path) -> None:
    server = ",".join(str(core) for core in sorted(CORES.server))

    with node_stack(workdir, database={}) as stack:
        nginx, gunicorn = tree_pids(stack.nginx.process.pid), tree_pids(stack.gunicorn.process.pid)
        affinities = {allowed(pid) for pid in [*nginx, *gunicorn]}

    assert affinities == {server}
    assert len(nginx) == 1 + CORES.nginx_workers
    assert len(gunicorn) == 1 + CORES.gunicorn_workers


def test_wrk_runs_on_the_load_generators_core_with_a_thread_per_core(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loadgen, "CORES", Cores(frozenset({0}), frozenset({1})))
    seen: list[list[str]] = []

    def fake_run(argv: list[str], **_: object) -> object:
        seen.append(argv)
        raise RuntimeError("not run")

    monkeypatch.setattr(subprocess, "run", fake_run)

    with pytest.raises(RuntimeError, match="not run"):
        loadgen.wrk("x", "https://127.0.0.1:1/", connections=8, seconds=1)

    assert seen[0][:5] == ["taskset", "--cpu-list", "0", "wrk", "-t1"]


def test_pin_moves_a_master_and_its_workers_and_the_ones_it_forks_later() -> None:
    # The shell prints each child's pid once it has forked it, and forks the second when told to.
    script = "sleep 60 & echo $!; read line; sleep 60 & echo $!; wait"
    argv = on_cpus(["sh", "-c", script], CORES.every)
    master = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert master.stdin is not None
    assert master.stdout is not None
    children = [int(master.stdout.readline())]
    try:
        pin((master.pid,), CORES.server)
        assert [os.sched_getaffinity(pid) for pid in [master.pid, *children]] == [CORES.server] * 2

        master.stdin.write("fork another\n")
        master.stdin.flush()
        children.append(int(master.stdout.readline()))
        assert os.sched_getaffinity(children[1]) == CORES.server

        pin((master.pid,), CORES.every)
        assert [os.sched_getaffinity(pid) for pid in [master.pid, *children]] == [CORES.every] * 3
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)
        master.wait(timeout=10)
