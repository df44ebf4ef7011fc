"""bench/report.py: the whole report from every section's results, in the order the sections ran."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import report
from bench.profiles import FULL, QUICK, Profile
from tests.bench.results import made_up, scale_result


@pytest.mark.parametrize("profile", [QUICK, FULL], ids=lambda p: p.name)
def test_the_report_has_each_part_once_in_order(
    profile: Profile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report, "machine", lambda: ["- CPU: made up"])
    monkeypatch.setattr(report, "chart", lambda sections, path: None)
    results = made_up(scale_result({}))

    report.write(tmp_path, profile, results, 12.0, "python -m bench")

    text = (tmp_path / report.MARKDOWN).read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    titles = [f"## {section.title}" for section in report.sections(results, profile)]
    assert headings == [
        "## Machine",
        "## Targets",
        "## How to read these numbers",
        *titles,
        '## Where our numbers differ from "Nginx as a Reverse Proxy for Flask", and why',
    ]
    assert [title[3:5] for title in titles] == ["1.", "2.", "3.", "4.", "5.", "6.", "7.", "8."]
    assert text.endswith("service times only.\n")
    assert "\n\n\n" not in text
