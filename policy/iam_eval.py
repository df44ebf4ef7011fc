"""Evaluate an IAM policy document for one request, the way IAM does.

A request is who asks (a principal), what for (an action), on what (the resource's ARN) and the request's
context keys. Evaluation follows AWS's policy evaluation logic: an applicable Deny wins, else an applicable
Allow allows, else the request is implicitly denied (IAM User Guide, "Policy evaluation logic"). A statement
applies when its principal, action, resource and every condition match. Condition operators this module does
not implement raise instead of being skipped: an unevaluated condition must never read as a match.

moto's evaluator (moto.iam.access_control) ignores principals other than "*", denies on a failed condition
and matches wildcards case-sensitively in actions, so this one is written against AWS's documentation.
"""

from __future__ import annotations

import enum
import fnmatch
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

ContextValue = str | bool | Sequence[str]


class Decision(enum.Enum):
    """The outcome of an evaluation."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"
    IMPLICIT_DENY = "implicit deny"


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who makes the request: an AWS service (`service`), or an IAM principal of an account (`arn`, such as
    `arn:aws:iam::123456789012:root` or a role's ARN)."""

    service: str | None = None
    arn: str | None = None

    @property
    def account(self) -> str | None:
        """The account of an IAM principal."""
        return self.arn.split(":")[4] if self.arn else None


@dataclass(frozen=True, kw_only=True)
class Request:
    """One request: the principal, the action (`s3:PutObject`), the resource's ARN and the context keys
    AWS sets for it (`aws:SecureTransport`, `aws:SourceAccount`...)."""

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


class UnsupportedPolicyError(ValueError):
    """A policy element this evaluator does not implement: the decision would be a guess."""


def evaluate(document: str | Mapping[str, Any], request: Request) -> Decision:
    """The decision of one policy document (identity or resource policy) on `request`. Statements without a
    `Principal` (identity policies) apply to whoever the policy is attached to."""
    parsed: Mapping[str, Any] = json.loads(document) if isinstance(document, str) else document
    statements = parsed.get("Statement", [])
    if isinstance(statements, Mapping):
        statements = [statements]
    effects = {statement.get("Effect") for statement in statements if _applies(statement, request)}
    if "Deny" in effects:
        return Decision.EXPLICIT_DENY
    if "Allow" in effects:
        return Decision.ALLOW
    return Decision.IMPLICIT_DENY


def allows(document: str | Mapping[str, Any], request: Request) -> bool:
    """Whether the document allows the request."""
    return evaluate(document, request) is Decision.ALLOW


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _glob(pattern: str, value: str, *, ignore_case: bool) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` any one character; nothing else is special."""
    regex = fnmatch.translate(pattern.replace("[", "[[]"))
    return re.match(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _applies(statement: Mapping[str, Any], request: Request) -> bool:
    return (
        _matches_principal(statement, request.principal)
        and _matches_element(statement, "Action", request.action, ignore_case=True)
        and _matches_element(statement, "Resource", request.resource, ignore_case=False)
        and _conditions_hold(statement.get("Condition") or {}, request.context)
    )


def _matches_element(statement: Mapping[str, Any], name: str, value: str, *, ignore_case: bool) -> bool:
    if name in statement:
        return any(_glob(p, value, ignore_case=ignore_case) for p in _as_list(statement[name]))
    if f"Not{name}" in statement:
        return not any(_glob(p, value, ignore_case=ignore_case) for p in _as_list(statement[f"Not{name}"]))
    # Trust policies have no Resource; identity policies always name one.
    return name == "Resource"


def _principal_matches(element: Any, principal: Principal) -> bool:
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        raise UnsupportedPolicyError(f"Principal {element!r}: expected '*' or an object")
    for kind, values in element.items():
        for value in _as_list(values):
            if kind == "Service" and value == principal.service:
                return True
            # An account (its id or its root ARN) admits every principal of that account.
            account = {principal.account, f"arn:aws:iam::{principal.account}:root"}
            if kind == "AWS" and principal.arn is not None and value in {"*", principal.arn, *account}:
                return True
            if kind not in {"Service", "AWS"}:
                raise UnsupportedPolicyError(f"Principal type {kind!r}: not evaluated")
    return False


def _matches_principal(statement: Mapping[str, Any], principal: Principal) -> bool:
    if "Principal" in statement:
        return _principal_matches(statement["Principal"], principal)
    if "NotPrincipal" in statement:
        return not _principal_matches(statement["NotPrincipal"], principal)
    return True


def _string_values(value: ContextValue) -> list[str]:
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, str):
        return [value]
    return list(value)


Compare = Callable[[str, str], bool]

_POSITIVE: dict[str, Compare] = {
    "StringEquals": lambda policy, actual: policy == actual,
    "StringEqualsIgnoreCase": lambda policy, actual: policy.lower() == actual.lower(),
    "StringLike": lambda policy, actual: _glob(policy, actual, ignore_case=False),
    "ArnEquals": lambda policy, actual: _glob(policy, actual, ignore_case=False),
    "ArnLike": lambda policy, actual: _glob(policy, actual, ignore_case=False),
    "Bool": lambda policy, actual: str(policy).lower() == actual.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def _conditions_hold(block: Mapping[str, Mapping[str, Any]], context: Mapping[str, ContextValue]) -> bool:
    """Every operator, and every key under it, must hold; any one of a key's values may match."""
    keys = {key.lower(): value for key, value in context.items()}
    for operator, tests in block.items():
        for key, expected in tests.items():
            if not _condition_holds(operator, keys.get(key.lower()), _as_list(expected)):
                return False
    return True


def _condition_holds(operator: str, actual: ContextValue | None, expected: list[Any]) -> bool:
    if operator == "Null":
        return any(str(e).lower() == str(actual is None).lower() for e in expected)
    if_exists = operator.endswith("IfExists")
    name = operator.removesuffix("IfExists")
    if actual is None:
        # A missing key matches no value: positive operators fail, negated ones hold (IAM User Guide,
        # "Condition operators"); ...IfExists holds either way.
        return if_exists or name in _NEGATED
    values = _string_values(actual)
    if name in _NEGATED:
        compare = _POSITIVE[_NEGATED[name]]
        return not any(compare(str(e), v) for e in expected for v in values)
    if name in _POSITIVE:
        compare = _POSITIVE[name]
        return any(compare(str(e), v) for e in expected for v in values)
    raise UnsupportedPolicyError(f"condition operator {operator!r}: not evaluated")
