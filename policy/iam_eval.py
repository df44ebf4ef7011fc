"""Evaluate an IAM policy document for one request, the way IAM does.

A request is who asks (a principal), what for (an action), on what (the resource's ARN) and the request's
context keys. Evaluation follows AWS's policy evaluation logic: an applicable Deny wins, else an applicable
Allow allows, else the request is implicitly denied (IAM User Guide, "Policy evaluation logic"). A statement
applies when its principal, action, resource and every condition match. What this module does not implement
(numeric, date and IP operators, policy variables, federated principals) raises instead of being skipped: an
unevaluated element must never read as a match.

One document decides on its own: a resource policy naming an account admits that account's principals here,
where AWS also asks the principal's own IAM policies (the account delegates to them).

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


def as_list(value: Any) -> list[Any]:
    """A policy element that may be one value or a list of them, as a list."""
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
        return any(_glob(_text(p), value, ignore_case=ignore_case) for p in as_list(statement[name]))
    if f"Not{name}" in statement:
        patterns = as_list(statement[f"Not{name}"])
        return not any(_glob(_text(p), value, ignore_case=ignore_case) for p in patterns)
    # Trust policies have no Resource; identity policies always name one.
    return name == "Resource"


def _principal_matches(element: Any, principal: Principal) -> bool:
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        raise UnsupportedPolicyError(f"Principal {element!r}: expected '*' or an object")
    for kind, values in element.items():
        if kind not in {"Service", "AWS"}:
            raise UnsupportedPolicyError(f"Principal type {kind!r}: not evaluated")
        for value in map(_text, as_list(values)):
            if kind == "Service" and value == principal.service:
                return True
            if kind == "AWS" and principal.arn is not None and value in _names_of(principal.arn):
                return True
    return False


def _names_of(arn: str) -> set[str]:
    """What an `AWS` principal element may say to name the principal `arn`: `*`, its ARN, its account (id or
    root ARN), and for an assumed-role session the role's ARN (IAM User Guide, "AWS JSON policy elements:
    Principal")."""
    account = arn.split(":")[4]
    names = {"*", arn, account, f"arn:aws:iam::{account}:root"}
    session = re.fullmatch(r"arn:aws:sts::\d{12}:assumed-role/(?P<role>[^/]+)/.+", arn)
    if session is not None:
        names.add(f"arn:aws:iam::{account}:role/{session['role']}")
    return names


def _matches_principal(statement: Mapping[str, Any], principal: Principal) -> bool:
    if "Principal" in statement:
        return _principal_matches(statement["Principal"], principal)
    if "NotPrincipal" in statement:
        return not _principal_matches(statement["NotPrincipal"], principal)
    return True


def _text(value: Any) -> str:
    """A policy value as IAM compares it: JSON booleans as `true`/`false`; policy variables refused."""
    if isinstance(value, bool):
        return str(value).lower()
    text = str(value)
    if "${" in text:
        raise UnsupportedPolicyError(f"policy variable in {text!r}: not evaluated")
    return text


def _string_values(value: ContextValue) -> list[str]:
    if isinstance(value, bool | str):
        return [_text(value)]
    return [_text(v) for v in value]


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
            if not _condition_holds(operator, keys.get(key.lower()), as_list(expected)):
                return False
    return True


def _condition_holds(operator: str, actual: ContextValue | None, expected: list[Any]) -> bool:
    qualifier, _, base = operator.rpartition(":")
    if qualifier not in {"", "ForAnyValue", "ForAllValues"}:
        raise UnsupportedPolicyError(f"condition operator {operator!r}: not evaluated")
    if_exists = base.endswith("IfExists")
    name = base.removesuffix("IfExists")
    wanted = [_text(e) for e in expected]
    if name == "Null" and not qualifier and not if_exists:
        return str(actual is None).lower() in wanted
    negated = name in _NEGATED
    compare = _POSITIVE.get(_NEGATED.get(name, name))
    if compare is None:
        raise UnsupportedPolicyError(f"condition operator {operator!r}: not evaluated")
    if actual is None:
        # A missing key matches no value (IAM User Guide, "Condition operators", and "Single-valued vs.
        # multivalued context keys"): positive operators fail, negated ones and ...IfExists hold,
        # ForAllValues holds (no value fails it), ForAnyValue fails (no value matches it).
        return qualifier != "ForAnyValue" and (qualifier == "ForAllValues" or if_exists or negated)

    def holds(value: str) -> bool:
        return any(compare(w, value) for w in wanted) != negated

    values = _string_values(actual)
    if qualifier == "ForAllValues":
        return all(holds(v) for v in values)
    if qualifier == "ForAnyValue" or not negated:
        return any(holds(v) for v in values)
    return all(holds(v) for v in values)
