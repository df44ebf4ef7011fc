"""gunicorn's memory in sections 2 and 5: read from each configuration's stack after its rounds."""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from bench.loadgen import Result
from bench.report import shared_libraries_line
from bench.scenarios import QUICK, SHARED_LIBRARIES, Alternated, Section, Series, Stack, _alternated
from tests.bench.results import ServingStack, run


def test_each_configurations_gunicorn_is_read_after_all_its_rounds() -> None:
    shipped, before = ServingStack("shipped"), ServingStack("before")

    def measure(target: Stack, url: str, label: str) -> Result:
        cast(ServingStack, target).served += 1
        return run(100)

    section = Section("dynamic", "2.")
    _alternated(
        section,
        measure,
        cast(Stack, shipped),
        {SHARED_LIBRARIES: cast(Stack, before)},
        "/api/status",
        profile=replace(QUICK, rounds=2),
        direct="direct",
        via_nginx="nginx",
        ratio="ratio",
    )

    # Two rounds: direct and the shipped path both run on the shipped stack, twice each.
    assert section.figures["memory:direct:gunicorn_pss"] == 4 * 1024
    assert section.figures["memory:nginx, shipped:gunicorn_pss"] == 4 * 1024
    assert section.figures[f"memory:nginx, without {SHARED_LIBRARIES.name}:gunicorn_pss"] == 2 * 1024


def test_section_5_compares_gunicorn_with_and_without_shared_libraries() -> None:
    direct, shipped = Series("direct", (run(100),)), Series("nginx, shipped", (run(90),))
    own = Series(f"nginx, without {SHARED_LIBRARIES.name}", (run(90),))
    dynamic = Section(
        "dynamic",
        "2.",
        figures={
            "memory:direct:gunicorn_pss": 81 * 1024,
            "memory:nginx, shipped:gunicorn_pss": 81 * 1024,
            f"memory:{own.label}:gunicorn_pss": 126 * 1024,
        },
        alternated=Alternated(direct, shipped, ((SHARED_LIBRARIES, own),)),
    )

    line = shared_libraries_line(dynamic)

    assert "gunicorn held 81 MB PSS, against 126 MB with each worker importing its own" in line
