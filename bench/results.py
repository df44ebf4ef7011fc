"""Every section's result from one benchmark run: what the report is written from."""

from __future__ import annotations

from dataclasses import dataclass

from bench.rounds import Alternated
from bench.sections.article import ArticleResult
from bench.sections.classes import ClassesResult
from bench.sections.memory import MemoryResult
from bench.sections.scale import ScaleResult
from bench.sections.slow import SlowResult
from bench.sections.tuning import TuningResult
from bench.sections.writes import WritesResult


@dataclass(frozen=True)
class Results:
    """Sections 1 to 9, by name."""

    static: Alternated
    dynamic: Alternated
    #: Section 2's trivial endpoint: gunicorn direct and through nginx as shipped.
    trivial: Alternated
    slow: SlowResult
    scale: ScaleResult
    memory: MemoryResult
    classes: ClassesResult
    tuning: TuningResult
    writes: WritesResult
    article: ArticleResult
