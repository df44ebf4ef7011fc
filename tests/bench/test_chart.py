"""The report's chart: a panel per section, a row of bars per run with its label beside it."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from matplotlib import pyplot
from matplotlib.figure import Figure

from bench import chart
from bench.markdown import Section
from tests.bench.results import run


def test_each_run_gets_a_row_labelled_beside_it_and_every_bar_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn: list[Figure] = []
    monkeypatch.setattr(pyplot, "close", drawn.append)
    long_label = "via nginx (TLS), without kept connections closed when gunicorn's queue backs up"
    sections = [
        Section("2. Dynamic", [replace(run(100, p99=20), label=long_label)], []),
        Section("5. Memory", [], []),
        Section("3. Slow", [replace(run(100), label="nginx"), replace(run(0), label="off")], []),
    ]

    chart.chart(sections, tmp_path / "chart.png")

    (figure,) = drawn
    dynamic, slow = figure.axes
    assert [dynamic.get_title(loc="left"), slow.get_title(loc="left")] == ["2. Dynamic", "3. Slow"]
    assert [label.get_text() for label in dynamic.get_yticklabels()] == [
        textwrap.fill(long_label, chart.LABEL_WIDTH)
    ]
    assert "\n" in textwrap.fill(long_label, chart.LABEL_WIDTH)
    assert [label.get_text() for label in slow.get_yticklabels()] == ["nginx", "off"]
    assert dynamic.get_xlim()[0] == 2.5  # half the shortest bar (p50: 5 ms)
    assert [text.get_text() for text in slow.texts] == ["no answer"]
    figure.canvas.draw()
    ticks = [label.get_text() for label in dynamic.get_xticklabels(which="both") if label.get_text()]
    assert {"10", "20"} <= set(ticks), ticks
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
