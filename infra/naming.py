"""Names: logical names (part of Pulumi state) and physical names (truncated to AWS limits)."""

from __future__ import annotations

import hashlib
import re

import pulumi

_KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def child(component: str, suffix: str) -> str:
    """The logical name of a component's child: `<component>-<suffix>`, kebab-case.

    Logical names are part of the state: renaming one replaces the resource unless it ships with `aliases`.
    """
    name = f"{component}-{suffix}"
    if not _KEBAB.match(name):
        raise ValueError(f"logical name {name!r}: expected kebab-case (lowercase letters, digits, '-')")
    return name


def project() -> str:
    """The running project's name: `pulumi new` names a project made from this template as its user asks,
    and two projects' resources in one account must not share names."""
    return pulumi.get_project()


def display(stack: str, *parts: str) -> str:
    """The `Name` tag of a resource: project, stack and what it is, so consoles tell stacks apart."""
    return "-".join((project(), stack, *parts))


def physical(*parts: str, max_length: int, separator: str = "-") -> str:
    """A physical name from `parts`, at most `max_length` characters.

    Too long a name is cut and ends in a short hash of the whole, so two long names that share a prefix
    stay distinct and the same inputs always give the same name.
    """
    name = separator.join(parts)
    if len(name) <= max_length:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: max_length - len(digest) - 1].rstrip(separator)}{separator}{digest}"
