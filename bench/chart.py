"""The report's chart: latency percentiles of every run, one panel per section (log scale)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from matplotlib import pyplot
from matplotlib.ticker import LogFormatter

from bench.markdown import Section

PERCENTILES = ("p50", "p90", "p99")


#: Characters per line of a run's label on the chart: longer labels wrap instead of squeezing the panels.
LABEL_WIDTH = 56


def chart(sections: Sequence[Section], path: Path) -> None:
    """Latency percentiles of every run, one panel per scenario (log scale), rendered off-screen: one row of
    bars per run, its label beside it, the first run on top."""
    plotted = [section for section in sections if section.rows]
    heights = [1.2 + 0.42 * len(section.rows) for section in plotted]
    pyplot.switch_backend("Agg")
    figure, axes = pyplot.subplots(
        len(plotted), 1, figsize=(11, sum(heights)), gridspec_kw={"height_ratios": heights}
    )
    for ax, section in zip(axes, plotted, strict=True):
        height = 0.8 / len(PERCENTILES)
        rows = range(len(section.rows))
        for i, pct in enumerate(PERCENTILES):
            # A run that got no answer has no latency: no bar, a label instead (below).
            values = [r.latency_ms[pct] if r.requests else 0.0 for r in section.rows]
            ax.barh([y + (i - 1) * height for y in rows], values, height, label=pct)
        ax.set_xscale("log")
        # Ticks as plain milliseconds (20, 30, 1000), not matplotlib's default 2 x 10^1, 10^3.
        ax.xaxis.set_major_formatter(LogFormatter())
        ax.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
        # From half the shortest bar, so that every bar shows its length.
        answered = [r.latency_ms for r in section.rows if r.requests]
        shortest = min((latency[pct] for latency in answered for pct in PERCENTILES), default=0.0)
        if shortest > 0:
            ax.set_xlim(left=shortest / 2)
        for y, r in enumerate(section.rows):
            if not r.requests:
                ax.annotate("no answer", (0.01, y), xycoords=("axes fraction", "data"), va="center")
        ax.set_xlabel("latency (ms)", fontsize=8)
        ax.set_title(section.title, fontsize=10, loc="left")
        ax.set_yticks(list(rows))
        ax.set_yticklabels([textwrap.fill(r.label, LABEL_WIDTH) for r in section.rows], fontsize=7)
        ax.invert_yaxis()
        ax.grid(axis="x", which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right", bbox_to_anchor=(1, 1), ncol=len(PERCENTILES), frameon=False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    pyplot.close(figure)
