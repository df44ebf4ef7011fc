"""nodestack.images' choices that need no engine: which bases a build gets, and when stand-ins are rebuilt
(tests/node/test_images.py builds and runs the images)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nodestack import images
from nodestack.images import BASES_VARIABLE, Engine, base_args, standin_key

#: An engine that is never asked anything: the choices below are made before a build.
NO_ENGINE = Engine(host="unix:///nonexistent/docker.sock", client="docker")


def test_production_bases_are_the_dockerfiles_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASES_VARIABLE, "production")
    assert base_args(NO_ENGINE) == {}


def test_an_unknown_choice_of_bases_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BASES_VARIABLE, "alpine")
    with pytest.raises(ValueError, match=r"IMAGE_BASES='alpine': expected 'standin' or 'production'"):
        base_args(NO_ENGINE)


def test_a_change_to_the_standin_recipe_builds_new_standins(monkeypatch: pytest.MonkeyPatch) -> None:
    before = standin_key()
    assert standin_key() == before
    monkeypatch.setattr(images, "PYTHON_STANDIN", images.PYTHON_STANDIN + "RUN true\n")
    assert standin_key() != before


def test_a_platform_this_machine_cannot_run_is_refused_saying_how_to_register_qemu(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(images, "BINFMT_MISC", tmp_path)
    with pytest.raises(RuntimeError, match=r"qemu-aarch64 is not enabled: .* `make arm64-machine`"):
        images.require_emulation("linux/arm64")
    interpreter = "interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n"
    (tmp_path / "qemu-aarch64").write_text("disabled\n" + interpreter)
    with pytest.raises(RuntimeError, match=r"cannot run linux/arm64 binaries"):
        images.require_emulation("linux/arm64")
    (tmp_path / "qemu-aarch64").write_text("enabled\n" + interpreter)
    images.require_emulation("linux/arm64")
    # This machine's own platform needs no emulation.
    monkeypatch.setattr(images, "BINFMT_MISC", tmp_path / "none")
    images.require_emulation(images.NATIVE)
