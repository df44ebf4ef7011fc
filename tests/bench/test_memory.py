"""gunicorn's memory in sections 2 and 5: read from each configuration's stack after its rounds."""

from __future__ import annotations

from typing import cast

from bench.profiles import QUICK
from bench.rounds import Alternated, Measured, Series, measure_rounds
from bench.sections import memory
from bench.sections.memory import MemoryResult, StackMemory
from bench.stacks import MemorySample, Stack
from bench.tunings import SHARED_LIBRARIES
from tests.bench.results import ServingStack, run, scale_result


def test_each_configurations_gunicorn_is_read_after_all_its_rounds() -> None:
    shipped, before = ServingStack("shipped"), ServingStack("before")

    def measure(target: Stack, url: str, label: str) -> Measured:
        cast(ServingStack, target).served += 1
        return Measured(run(100))

    runs = measure_rounds(
        measure,
        cast(Stack, shipped),
        {SHARED_LIBRARIES: cast(Stack, before)},
        "/api/status",
        rounds=2,
        direct="direct",
        via_nginx="nginx",
    )

    # Two rounds: direct and the shipped path both run on the shipped stack, twice each.
    assert runs.direct.gunicorn_pss == 4 * 1024
    assert runs.shipped.gunicorn_pss == 4 * 1024
    assert dict(runs.untuned)[SHARED_LIBRARIES].gunicorn_pss == 2 * 1024


def test_section_5_compares_gunicorn_with_and_without_shared_libraries() -> None:
    direct = Series("direct", (run(100),), gunicorn_pss=81 * 1024)
    shipped = Series("nginx, shipped", (run(90),), gunicorn_pss=81 * 1024)
    own = Series(f"nginx, without {SHARED_LIBRARIES.name}", (run(90),), gunicorn_pss=126 * 1024)

    dynamic = Alternated(direct, shipped, ((SHARED_LIBRARIES, own),))
    stack = StackMemory("shipped", *(MemorySample(),) * 5)
    body = memory.section(MemoryResult(stack, stack), scale_result({}), dynamic, QUICK).body
    (line,) = [text for text in body if "GUNICORN_SHARED_LIBRARIES" in text]

    assert "gunicorn held 81 MB PSS, against 126 MB with each worker importing its own" in line
