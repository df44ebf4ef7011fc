"""infra/naming.py: logical names are kebab-case and prefixed; physical names fit AWS limits."""

from __future__ import annotations

import pytest

from infra import naming
from infra.config import PROJECT
from tests.conftest import Harness


def test_child_names_are_prefixed_by_the_component() -> None:
    assert naming.child("network", "public-a") == "network-public-a"


@pytest.mark.parametrize("suffix", ["Public", "public_a", "public-", ""])
def test_child_names_refuse_anything_but_kebab_case(suffix: str) -> None:
    with pytest.raises(ValueError, match="expected kebab-case"):
        naming.child("network", suffix)


def test_display_names_tell_stacks_apart(harness: Harness) -> None:
    assert naming.display("prod", "private", "a") == f"{PROJECT}-prod-private-a"
    assert naming.display("dev") == f"{PROJECT}-dev"


def test_short_physical_names_are_kept() -> None:
    assert naming.physical(f"{PROJECT}", "prod", "app", max_length=256, separator="/") == (
        f"{PROJECT}/prod/app"
    )


def test_long_physical_names_are_cut_to_the_limit_and_stay_distinct() -> None:
    first = naming.physical(f"{PROJECT}", "a-very-long-stack-name", "one", max_length=32)
    second = naming.physical(f"{PROJECT}", "a-very-long-stack-name", "two", max_length=32)
    assert len(first) <= 32
    assert len(second) <= 32
    assert first != second
    assert first.startswith(f"{PROJECT}-a-very")
    assert first == naming.physical(f"{PROJECT}", "a-very-long-stack-name", "one", max_length=32)
