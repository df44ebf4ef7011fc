"""Section 5: the node stack's memory through the scale scenario (section 4), with the shipped worker
count and with fewer workers; and gunicorn's after section 2's rounds, with and without shared libraries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.cores import CORES
from bench.markdown import Section, render
from bench.profiles import Profile
from bench.rounds import Alternated
from bench.stacks import MemorySample
from bench.tunings import FEWER_WORKERS, SHARED_LIBRARIES

if TYPE_CHECKING:
    # Section 4 measures this section's samples: it imports this module.
    from bench.sections.scale import ScaleResult

TITLE = "5. Memory of the node stack (nginx + gunicorn master and workers)"


@dataclass(frozen=True)
class StackMemory:
    """One configuration's memory at each moment of the scale scenario."""

    config: str
    idle: MemorySample
    static_end: MemorySample
    dynamic_end: MemorySample
    peak: MemorySample
    after: MemorySample

    @property
    def end(self) -> MemorySample:
        """The stack at the end of the scenario: the route's end sample with the larger PSS."""
        return max(self.static_end, self.dynamic_end, key=lambda sample: sample.pss)

    @property
    def end_mb(self) -> float:
        """The stack's PSS at the end of the scenario (MB)."""
        return self.end.pss / 1024


#: The moments the table shows: ``(StackMemory field, what)``.
MOMENTS = (
    ("idle", "idle, before the connections"),
    ("static_end", "end of the static run, its connections open"),
    ("dynamic_end", "end of the dynamic run, its connections open"),
    ("peak", "peak (the burst of new TLS connections)"),
    ("after", "after both runs, the connections closed"),
)


@dataclass(frozen=True)
class MemoryResult:
    """Section 5: the shipped stack's memory, and the same stack's with ``FEWER_WORKERS``."""

    shipped: StackMemory
    fewer_workers: StackMemory


def table(result: MemoryResult) -> list[str]:
    """The stack's memory per configuration (MB), at each moment of the scale scenario."""
    configs = (result.shipped, result.fewer_workers)
    lines = [
        "| when | " + " | ".join(f"{c.config}: PSS | nginx | gunicorn | RSS" for c in configs) + " |",
        "|---|" + "---:|---:|---:|---:|" * len(configs),
    ]
    for moment, what in MOMENTS:
        samples = [getattr(c, moment) for c in configs]
        cells = [f"{kib / 1024:.0f}" for s in samples for kib in (s.pss, s.nginx_pss, s.gunicorn_pss, s.rss)]
        lines.append(f"| {what} | " + " | ".join(cells) + " |")
    return lines


def section(result: MemoryResult, scale: ScaleResult, dynamic: Alternated, profile: Profile) -> Section:
    """The section: the table, the end of the scenario with each worker count, the peak, shared pages."""
    body = render(
        "memory.md.j2",
        result=result,
        scale=scale,
        profile=profile,
        table=table(result),
        workers=CORES.gunicorn_workers,
        fewer_workers=FEWER_WORKERS,
        shared=dynamic.shipped,
        own=dynamic.without(SHARED_LIBRARIES),
    )
    return Section(TITLE, (), body)
