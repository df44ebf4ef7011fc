"""Usage: static_digest.py DIR

Gives every file under DIR a content-hashed twin, ``name.<hash>.ext`` beside ``name.ext``, and writes
DIR/manifest.json mapping each original name to its twin (paths relative to DIR, with ``/``). Run at image
build time in the builder stage, before the .gz twins are made (and by the tests and `make local` on their
copy). nginx serves the hashed names as immutable for a year and the others for minutes
(nginx.conf.template, ``$static_cache_control``); an app that links to its assets through the manifest
gets new URLs with every change, so browsers never keep a stale CSS or JS file.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

MANIFEST = "manifest.json"
#: The hash in a twin's name: 12 hex digits of the file's SHA-256 (48 bits: no collision among an app's
#: assets). nginx's ``$static_cache_control`` map matches this shape.
HASH_DIGITS = 12
HASHED = re.compile(rf"\.[0-9a-f]{{{HASH_DIGITS}}}(\.[A-Za-z0-9]+)?$")


def hashed_name(path: Path) -> str:
    """``path``'s name with its content hash before the extension: ``site.css`` -> ``site.<hash>.css``."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:HASH_DIGITS]
    return f"{path.stem}.{digest}{path.suffix}" if path.suffix else f"{path.name}.{digest}"


def digest(root: Path) -> dict[str, str]:
    """Write the hashed twins and the manifest under ``root``; return the manifest."""
    manifest: dict[str, str] = {}
    originals = sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and not path.is_symlink()
        and path.name != MANIFEST
        and path.suffix != ".gz"
        and not HASHED.search(path.name)
    )
    for path in originals:
        twin = path.with_name(hashed_name(path))
        shutil.copy2(path, twin)
        manifest[path.relative_to(root).as_posix()] = twin.relative_to(root).as_posix()
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str]) -> int:
    """Digest the one directory named, or print the usage."""
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: static_digest.py DIR", file=sys.stderr)
        return 64
    digest(Path(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
