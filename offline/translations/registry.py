"""The registry of translations: how each `aws:*` type is created in moto."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from offline.aws import Aws, Inputs

Outputs = tuple[str, dict[str, Any]]
"""A created resource's id and its outputs (camelCase)."""
Create = Callable[[Aws, str, Inputs], Outputs]


@dataclass(frozen=True)
class Translation:
    """How one resource type is created in moto."""

    create: Create
    provider_only: Mapping[str, str] = field(default_factory=dict)
    """Inputs the provider acts on without any AWS call when it creates the resource, with what they do."""
    unchecked: Mapping[str, str] = field(default_factory=dict)
    """Inputs AWS would act on but moto cannot, with the reason."""


RESOURCES: dict[str, Translation] = {}
"""Every translated `aws:*` type token."""


def translates(
    token: str, *, provider_only: Mapping[str, str] | None = None, unchecked: Mapping[str, str] | None = None
) -> Callable[[Create], Create]:
    """Register a function as the translation of `token`."""

    def register(create: Create) -> Create:
        RESOURCES[token] = Translation(create, dict(provider_only or {}), dict(unchecked or {}))
        return create

    return register
