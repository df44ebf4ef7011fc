"""bench/targets.py: each target's verdict, from the sections' results."""

from __future__ import annotations

from typing import Any, cast

from bench.profiles import QUICK
from bench.results import Results
from bench.rounds import Alternated, Series
from bench.sections.memory import MemoryResult, StackMemory
from bench.sections.scale import SHIPPED, ScaleResult
from bench.sections.slow import SlowClientsRun, SlowResult, WorkerClassRuns
from bench.stacks import CpuSeconds, MemorySample
from bench.targets import targets
from tests.bench.results import run, scale_result


def passing(scale_runs: ScaleResult) -> Results:
    """Results that meet every target but, maybe, section 4's."""
    cpu = CpuSeconds(1.0, 1.0, 0.0)
    rounds = Series("direct", (run(100),), cpu), Series("nginx, shipped", (run(3000),), cpu)
    dynamic = Series("direct", (run(100, p99=20.0),), cpu), Series("nginx, shipped", (run(90),), cpu)
    calm = SlowClientsRun(run(100), "slowloris", None)
    stack = StackMemory("shipped", *(MemorySample(0, 300 * 1024, 0),) * 5)
    return Results(
        static=Alternated(*rounds, ()),
        dynamic=Alternated(*dynamic, ()),
        slow=SlowResult(
            tuple(WorkerClassRuns(wc, run(100), calm, calm) for wc in ("gevent", "sync")), run(100), calm
        ),
        scale=scale_runs,
        memory=MemoryResult(stack, stack),
        classes=cast(Any, None),
        tuning=cast(Any, None),
    )


def test_requests_never_answered_fail_the_target_though_wrk_counted_no_timeout() -> None:
    results = passing(scale_result({(SHIPPED, "dynamic"): 8993}))

    verdicts = {target.what: target for target in targets(results, QUICK)}

    n = f"{QUICK.scale_connections:,} connections"
    assert verdicts[f"{n}, static route: no errors, no timeouts"].met
    dynamic = verdicts[f"{n}, dynamic route: no errors, no timeouts"]
    assert not dynamic.met
    late = QUICK.scale_timeout
    assert f"0 answered after {late} s, 8993 never answered after {late} s" in dynamic.measured
    assert [target.what for target in verdicts.values() if not target.met] == [dynamic.what]
