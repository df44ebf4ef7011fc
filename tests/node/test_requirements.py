"""docker/requirements.txt and the sample app's are complete: gunicorn starts the app, as the app image
starts it, from a virtualenv that holds exactly those pins and nothing the development virtualenv happens to
contain."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from nodestack.gunicorn import start_gunicorn
from nodestack.paths import APP, DOCKER

#: What the app image installs: the node stack's pins and the app's.
REQUIREMENTS = (DOCKER / "requirements.txt", APP / "requirements.txt")
#: What ``python -m venv`` installs (ensurepip) besides the pins.
VENV_TOOLS = {"pip", "setuptools"}
#: Every distribution an environment holds, as JSON of version by name: ``-I`` leaves out PYTHONPATH and the
#: user's site-packages, so only the environment's own site-packages count.
LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json;"
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)


def pins() -> dict[str, str]:
    """Both files' pins: the version, by normalised distribution name."""
    found: dict[str, str] = {}
    for line in [line for path in REQUIREMENTS for line in path.read_text().splitlines()]:
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", f"{line}: not pinned with =="
            found[canonicalize_name(requirement.name)] = specifier.version
    return found


def run(python: Path, *args: str) -> str:
    """``python ARGS``' output; fails with its output if it exits with an error."""
    result = subprocess.run([str(python), *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{python} {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def image_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a virtualenv holding exactly both requirement files."""
    venv = tmp_path_factory.mktemp("image-requirements") / "venv"
    # venv's default, no system site-packages: nothing from the development virtualenv is importable.
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The development virtualenv's pip (the Makefile pins it) rather than the one ensurepip bundles with
    # this Python's patch release, so the install below behaves as the project's does.
    run(python, "-m", "pip", "install", "--quiet", f"pip=={version('pip')}")
    # --no-deps: a dependency missing from the pins stays missing instead of being resolved from PyPI.
    files = [arg for path in REQUIREMENTS for arg in ("--requirement", str(path))]
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", *files)
    return python


def test_the_venv_holds_the_pins_and_nothing_else(image_python: Path) -> None:
    listed = json.loads(run(image_python, "-I", "-c", LIST_DISTRIBUTIONS))
    installed = {canonicalize_name(name): found for name, found in listed.items()}
    assert {name: found for name, found in installed.items() if name not in VENV_TOOLS} == pins()


def test_the_pins_satisfy_each_others_requirements(image_python: Path) -> None:
    # Each pin's own requirements; not its extras' (test_dockerfile.py resolves those).
    run(image_python, "-I", "-m", "pip", "check")


def test_the_gevent_worker_imports(image_python: Path) -> None:
    # As gunicorn resolves gunicorn.conf.py's worker_class.
    run(image_python, "-I", "-c", "from gunicorn.util import load_class; load_class('gevent')")


def test_gunicorn_serves_from_the_pins_alone(image_python: Path, workdir: Path) -> None:
    # The image's command, `python serve.py` serving wsgi:app, with the virtualenv's python: serve.py runs the
    # gunicorn next to it. start_gunicorn returns once /healthz has answered and every worker booted.
    server = start_gunicorn(workdir, python=str(image_python))
    try:
        argv = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")
        error_log = server.socket.with_name("error.log").read_text()
    finally:
        server.process.stop()
    assert argv[:2] == [bytes(image_python), bytes(image_python.with_name("gunicorn"))]
    assert "Using worker: gevent" in error_log
