"""Links to static files by their content-hashed names.

The image's build step (the node stack's static_digest.py) gives each file under static/ a twin named by
its content and writes static/manifest.json; nginx serves those names as immutable for a year. Every
``url_for("static", filename=...)`` goes through the manifest, so a page names this release's bytes and
browsers never keep last release's CSS. Without a manifest (a checkout, before any build) the plain names
are used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import Flask


def load_manifest(path: Path) -> dict[str, str]:
    """The manifest at ``path``: original name -> hashed name; empty when there is none."""
    try:
        manifest: dict[str, str] = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    return manifest


def link_hashed_names(app: Flask, manifest: dict[str, str]) -> None:
    """Make ``url_for("static", filename=NAME)`` give NAME's hashed twin when the manifest has one."""

    def hashed(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values:
            values["filename"] = manifest.get(values["filename"], values["filename"])

    app.url_defaults(hashed)
