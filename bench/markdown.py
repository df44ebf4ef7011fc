"""The report's building blocks: its templates, a table of wrk runs, a section with its runs and text."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bench.loadgen import Result

#: The report's prose: one template per section (``<section>.md.j2``), and the document's (``report.md.j2``).
TEMPLATES = Path(__file__).with_name("templates")


def round_by_round(ratios: list[float]) -> str:
    """The rounds' ratios, as the report lists them."""
    return ", ".join(f"{ratio:.2f}" for ratio in ratios)


def markdown_environment(*, keep_trailing_newline: bool = False) -> Environment:
    """Templates of Markdown from TEMPLATES: nothing is escaped, a block tag's own line leaves no trace, a
    name missing from the context is an error."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=False,  # noqa: S701 - Markdown for a file, not HTML for a browser
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
        keep_trailing_newline=keep_trailing_newline,
    )


def delta(fraction: float) -> str:
    """A change as a signed percentage; against or to a run that answered nothing (infinite), none."""
    return f"{fraction:+.1%}" if math.isfinite(fraction) else "none (no answer)"


@cache
def environment() -> Environment:
    """The report's templates; ``x | f(spec)`` formats as ``format(x, spec)`` does, ``x | delta`` as
    ``delta``."""
    env = markdown_environment()
    env.filters["f"] = format
    env.filters["delta"] = delta
    env.filters["rounds"] = round_by_round
    return env


def render(template: str, **context: object) -> list[str]:
    """``template`` rendered with ``context``, as lines."""
    return environment().get_template(template).render(**context).split("\n")


def results_table(results: Sequence[Result], first_column: str = "run") -> list[str]:
    """One row per run: requests, requests/s, latency percentiles, errors and timeouts (and requests
    unanswered at the end, where a run counted them)."""
    counted = any(r.unanswered is not None for r in results)
    lines = [
        f"| {first_column} | requests | requests/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors "
        "| timeouts |" + (" unanswered at end |" if counted else ""),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if counted else ""),
    ]
    for r in results:
        lat = r.latency_ms
        errors = ", ".join(f"{kind} {n}" for kind, n in r.errors.items() if n and kind != "timeout")
        lines.append(
            f"| {r.label} | {r.requests:,} | {r.rps:,.0f} | {lat['p50']:.1f} | {lat['p90']:.1f} | "
            f"{lat['p99']:.1f} | {lat['p99.9']:.1f} | {lat['max']:.0f} | {errors or 0} | {r.timeouts} |"
            + (f" {r.unanswered} |" if counted else "")
        )
    return lines


@dataclass(frozen=True)
class Section:
    """A section of the report: its title, its runs (a table, a panel of the chart, the commands) and the
    text between the table and the commands."""

    title: str
    rows: Sequence[Result]
    body: Sequence[str]
    #: The table's first column: each row one run, or all of a configuration's runs.
    rows_are: str = "run"

    def lines(self) -> list[str]:
        """The section as the report's lines."""
        lines = [f"## {self.title}", ""]
        if self.rows:
            lines += [*results_table(self.rows, self.rows_are), ""]
        lines += self.body
        if self.rows:
            lines += ["", "Commands:", "", "```sh", *(r.command for r in self.rows), "```"]
        return [*lines, ""]
