"""policy/iam_eval.py decides as IAM does: the cases from AWS's policy evaluation logic and condition
operator pages."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from iam_eval import ContextValue, Decision, Principal, Request, UnsupportedPolicyError, allows, evaluate

ACCOUNT = "123456789012"
BUCKET = "arn:aws:s3:::logs"
ROLE = Principal(arn=f"arn:aws:iam::{ACCOUNT}:role/node")
ELB = Principal(service="logdelivery.elasticloadbalancing.amazonaws.com")


def document(*statements: Mapping[str, object]) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def put(key: str, principal: Principal = ELB, /, **context: ContextValue) -> Request:
    """A PutObject of ``key`` by ``principal`` over HTTPS; ``context`` adds or replaces condition keys (so
    ``principal`` is positional only: a key never lands in it)."""
    return Request(
        principal=principal,
        action="s3:PutObject",
        resource=f"{BUCKET}/{key}",
        context={"aws:SecureTransport": True, **context},
    )


ALLOW_PREFIX = {
    "Effect": "Allow",
    "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
    "Action": "s3:PutObject",
    "Resource": f"{BUCKET}/web/AWSLogs/{ACCOUNT}/*",
}
DENY_PLAIN_HTTP = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": [BUCKET, f"{BUCKET}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def test_nothing_is_allowed_unless_a_statement_allows_it() -> None:
    assert evaluate(document(), put("web/x")) is Decision.IMPLICIT_DENY


def test_resource_patterns_decide_where_a_write_may_land() -> None:
    policy = document(ALLOW_PREFIX)
    assert allows(policy, put(f"web/AWSLogs/{ACCOUNT}/ELBAccessLogTestFile"))
    # The same write without the prefix, or for another account, is not covered.
    assert evaluate(policy, put(f"AWSLogs/{ACCOUNT}/ELBAccessLogTestFile")) is Decision.IMPLICIT_DENY
    assert not allows(policy, put("web/AWSLogs/999999999999/ELBAccessLogTestFile"))


def test_an_applicable_deny_wins_over_an_allow() -> None:
    policy = document(ALLOW_PREFIX, DENY_PLAIN_HTTP)
    key = f"web/AWSLogs/{ACCOUNT}/x"
    assert allows(policy, put(key))
    assert evaluate(policy, put(key, **{"aws:SecureTransport": False})) is Decision.EXPLICIT_DENY


def test_principals_match_by_service_account_or_arn() -> None:
    policy = document({**ALLOW_PREFIX, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}})
    key = f"web/AWSLogs/{ACCOUNT}/x"
    # An account's root ARN admits every principal of that account, and no service.
    assert allows(policy, put(key, ROLE))
    assert not allows(policy, put(key, ELB))
    assert not allows(policy, put(key, Principal(arn="arn:aws:iam::999999999999:role/node")))
    assert allows(document({**ALLOW_PREFIX, "Principal": {"AWS": ACCOUNT}}), put(key, ROLE))
    assert allows(document({**ALLOW_PREFIX, "Principal": "*"}), put(key, ROLE))
    not_elb = {**ALLOW_PREFIX}
    not_elb["NotPrincipal"] = not_elb.pop("Principal")
    assert not allows(document(not_elb), put(key))
    assert allows(document(not_elb), put(key, ROLE))


def test_actions_match_case_insensitively_with_wildcards() -> None:
    key = f"web/AWSLogs/{ACCOUNT}/x"
    assert allows(document({**ALLOW_PREFIX, "Action": "S3:put*"}), put(key))
    assert allows(document({**ALLOW_PREFIX, "Action": "s3:PutObjec?"}), put(key))
    assert not allows(document({**ALLOW_PREFIX, "Action": "s3:GetObject"}), put(key))
    not_action = {k: v for k, v in ALLOW_PREFIX.items() if k != "Action"}
    assert not allows(document({**not_action, "NotAction": "s3:Put*"}), put(key))
    assert allows(document({**not_action, "NotAction": "s3:Get*"}), put(key))


def test_resources_match_case_sensitively_and_notresource_excludes() -> None:
    assert not allows(document(ALLOW_PREFIX), put(f"WEB/AWSLogs/{ACCOUNT}/x"))
    not_resource = {k: v for k, v in ALLOW_PREFIX.items() if k != "Resource"}
    policy = document({**not_resource, "NotResource": f"{BUCKET}/private/*"})
    assert allows(policy, put("web/x"))
    assert not allows(policy, put("private/x"))
    # Brackets are literal in IAM, not a character class.
    assert not allows(document({**ALLOW_PREFIX, "Resource": f"{BUCKET}/[a]"}), put("a"))
    assert allows(document({**ALLOW_PREFIX, "Resource": f"{BUCKET}/[a]"}), put("[a]"))


def test_conditions_all_hold_any_value_may_match() -> None:
    condition = {"StringEquals": {"aws:SourceAccount": [ACCOUNT, "111111111111"]}, "ArnLike": {}}
    policy = document({**ALLOW_PREFIX, "Condition": condition})
    key = f"web/AWSLogs/{ACCOUNT}/x"
    assert allows(policy, put(key, **{"aws:SourceAccount": ACCOUNT}))
    assert not allows(policy, put(key, **{"aws:SourceAccount": "222222222222"}))
    # A key absent from the request matches no value: the Allow does not apply.
    assert not allows(policy, put(key))
    both = {**condition, "ArnLike": {"aws:SourceArn": f"arn:aws:elasticloadbalancing:*:{ACCOUNT}:*"}}
    policy = document({**ALLOW_PREFIX, "Condition": both})
    arn = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/app/web/1"
    assert allows(policy, put(key, **{"aws:SourceAccount": ACCOUNT, "aws:SourceArn": arn}))
    assert not allows(policy, put(key, **{"aws:SourceAccount": ACCOUNT}))


def test_condition_keys_ignore_case_and_negations_hold_on_missing_keys() -> None:
    key = f"web/AWSLogs/{ACCOUNT}/x"
    policy = document({**ALLOW_PREFIX, "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT}}})
    assert allows(policy, put(key, **{"aws:sourceaccount": ACCOUNT}))
    negated = document({**ALLOW_PREFIX, "Condition": {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}}})
    assert allows(negated, put(key))
    assert not allows(negated, put(key, **{"aws:SourceAccount": ACCOUNT}))
    if_exists = document(
        {**ALLOW_PREFIX, "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}}
    )
    assert allows(if_exists, put(key))
    null = document({**ALLOW_PREFIX, "Condition": {"Null": {"aws:SourceAccount": "true"}}})
    assert allows(null, put(key))
    assert not allows(null, put(key, **{"aws:SourceAccount": ACCOUNT}))


def test_identity_policies_apply_to_their_holder_and_statements_may_be_one_object() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": {k: v for k, v in ALLOW_PREFIX.items() if k != "Principal"},
    }
    assert allows(policy, put(f"web/AWSLogs/{ACCOUNT}/x", ROLE))


def test_a_trust_policy_without_resource_allows_its_principal() -> None:
    trust = document(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    assume = Request(
        principal=Principal(service="ec2.amazonaws.com"), action="sts:AssumeRole", resource="arn:aws:iam::x"
    )
    assert allows(trust, assume)


def test_on_a_missing_key_for_all_values_holds_and_for_any_value_does_not() -> None:
    # ForAllValues holds when the request has no such key (no value fails it), so this Deny applies;
    # ForAnyValue fails (no value matches it), so its Allow does not.
    deny_all = {**DENY_PLAIN_HTTP, "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}}
    key = f"web/AWSLogs/{ACCOUNT}/x"
    assert evaluate(document(ALLOW_PREFIX, deny_all), put(key)) is Decision.EXPLICIT_DENY
    any_value = {**ALLOW_PREFIX, "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}}
    assert not allows(document(any_value), put(key))
    assert allows(document(any_value), put(key, **{"aws:TagKeys": ["owner", "team"]}))
    all_values = {**ALLOW_PREFIX, "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}}
    assert not allows(document(all_values), put(key, **{"aws:TagKeys": ["owner", "team"]}))


def test_json_booleans_compare_as_iam_writes_them() -> None:
    policy = document({**ALLOW_PREFIX, "Condition": {"StringEquals": {"aws:ViaAWSService": True}}})
    assert allows(policy, put(f"web/AWSLogs/{ACCOUNT}/x", **{"aws:ViaAWSService": True}))


def test_a_role_names_its_sessions() -> None:
    policy = document({**ALLOW_PREFIX, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/node"}})
    session = Principal(arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/node/i-0123456789abcdef0")
    other = Principal(arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/builder/ci")
    assert allows(policy, put(f"web/AWSLogs/{ACCOUNT}/x", session))
    assert not allows(policy, put(f"web/AWSLogs/{ACCOUNT}/x", other))


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            {**ALLOW_PREFIX, "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}}},
            "DateGreater",
        ),
        ({**ALLOW_PREFIX, "Principal": {"Federated": "cognito-identity.amazonaws.com"}}, "Federated"),
        # Negated operators hold on a missing key: unimplemented ones must raise, not read as false.
        ({**DENY_PLAIN_HTTP, "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}, "NotIpAddress"),
        ({**DENY_PLAIN_HTTP, "Condition": {"NumericNotEquals": {"s3:max-keys": "10"}}}, "NumericNotEquals"),
        ({**ALLOW_PREFIX, "Resource": f"{BUCKET}/${{aws:username}}/*"}, "policy variable"),
        ({**ALLOW_PREFIX, "Condition": {"ForEach:StringEquals": {"aws:TagKeys": "x"}}}, "ForEach"),
    ],
)
def test_what_it_cannot_evaluate_it_refuses_instead_of_guessing(
    statement: dict[str, object], message: str
) -> None:
    with pytest.raises(UnsupportedPolicyError, match=message):
        evaluate(document(statement), put(f"web/AWSLogs/{ACCOUNT}/x", **{"aws:CurrentTime": "2021-01-01"}))
