"""docker/static_digest.py, the images' build step: content-hashed twins and the manifest."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from nodestack.paths import STATIC_DIGEST


def digest(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(STATIC_DIGEST), str(root)], capture_output=True, text=True, check=False
    )


def test_each_file_gets_a_twin_named_by_its_content(tmp_path: Path) -> None:
    (tmp_path / "css").mkdir()
    (tmp_path / "css" / "site.css").write_text("body { color: black; }\n")
    (tmp_path / "robots.txt").write_text("User-agent: *\n")
    (tmp_path / "LICENSE").write_text("MIT\n")
    assert digest(tmp_path).returncode == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert set(manifest) == {"css/site.css", "robots.txt", "LICENSE"}
    # sha256("body { color: black; }\n")[:12]
    assert manifest["css/site.css"].startswith("css/site.")
    assert manifest["css/site.css"].endswith(".css")
    assert manifest["LICENSE"].startswith("LICENSE.")
    for original, twin in manifest.items():
        assert (tmp_path / twin).read_bytes() == (tmp_path / original).read_bytes()


def test_a_change_makes_a_new_name_and_a_rerun_adds_nothing(tmp_path: Path) -> None:
    css = tmp_path / "site.css"
    css.write_text("a {}\n")
    digest(tmp_path)
    first = json.loads((tmp_path / "manifest.json").read_text())["site.css"]
    files = sorted(path.name for path in tmp_path.iterdir())
    digest(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == files
    css.write_text("b {}\n")
    digest(tmp_path)
    assert json.loads((tmp_path / "manifest.json").read_text())["site.css"] != first


def test_usage(tmp_path: Path) -> None:
    done = digest(tmp_path / "missing")
    assert (done.returncode, done.stderr) == (64, "usage: static_digest.py DIR\n")
