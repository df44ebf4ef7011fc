"""Run the policy pack's validators as plain functions, the way `pulumi preview --policy-pack` calls them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    StackValidationArgs,
)

from infra.config import PROJECT
from policies import RESOURCE_CHECKS, STACK_CHECKS


@dataclass(frozen=True)
class Declared:
    """A resource as the program declared it: type, logical name, inputs (camelCase), and which
    declared resources each input property was computed from. `state` adds its outputs: what stack policies
    see once the resources exist (default: the inputs alone, as in a first preview)."""

    type: str
    name: str
    props: Mapping[str, Any]
    depends_on: Mapping[str, list[str]] = field(default_factory=dict)
    state: Mapping[str, Any] | None = None


def urn(stack: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::{type_}::{name}"


def _collect(found: list[tuple[str, str, str]], name: str) -> ReportViolation:
    """The ``report_violation`` the policy ``name`` is called with: adds (name, URN or "", message) to
    ``found``."""

    def report(message: str, urn: str | None = None) -> None:
        found.append((name, urn or "", message))

    return report


def _options() -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
    )


def resource_violations(resource: Declared, stack: str = "prod") -> list[tuple[str, str]]:
    """(policy name, message) of every resource policy the resource violates."""
    args = ResourceValidationArgs(
        resource_type=resource.type,
        props=resource.props,
        urn=urn(stack, resource.type, resource.name),
        name=resource.name,
        opts=_options(),
        provider=None,
    )
    found: list[tuple[str, str, str]] = []
    for name, (_, check) in RESOURCE_CHECKS.items():
        check(args, _collect(found, name))
    return [(name, message) for name, _, message in found]


def stack_violations(resources: Iterable[Declared], stack: str = "prod") -> list[tuple[str, str, str]]:
    """(policy name, URN, message) of every stack policy violation."""
    resources = list(resources)
    policy_resources: dict[str, PolicyResource] = {}
    for resource in resources:
        policy_resources[resource.name] = PolicyResource(
            resource_type=resource.type,
            props=resource.state if resource.state is not None else resource.props,
            urn=urn(stack, resource.type, resource.name),
            name=resource.name,
            opts=_options(),
            provider=None,
            parent=None,
            dependencies=[],
            property_dependencies={},
        )
    for resource in resources:
        policy_resources[resource.name].property_dependencies = {
            prop: [policy_resources[name] for name in names] for prop, names in resource.depends_on.items()
        }
    found: list[tuple[str, str, str]] = []
    args = StackValidationArgs(resources=list(policy_resources.values()))
    for name, (_, check) in STACK_CHECKS.items():
        check(args, _collect(found, name))
    return found
