"""infra/firewall.py: the web ACL's rules as WAF evaluates them, its association, logging and alarm, and
nginx's per-node limit derived from it."""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import pulumi
import pytest

from infra.config import WafSettings
from infra.firewall import (
    BLOCKED_FLOOR_PER_MINUTE,
    LOG_GROUP_PREFIX,
    SIZE_RESTRICTIONS_LABEL,
    Firewall,
    FirewallArgs,
    node_rate_limit,
)
from infra.user_data import RENDER_DEFAULT_RATE_LIMIT, NginxRateLimit
from tests.conftest import ROOT, Harness, Resource
from tests.infra.test_config import parse

ALB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web-alb-1a2b3c4/0123456789abcdef"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alarms-topic-1a2b3c4"
WAF = WafSettings(
    rate_limit=6000, window_seconds=300, mode="block", large_body_paths=("/api/notes", "/api/upload")
)
WEB_ACL = "aws:wafv2/webAcl:WebAcl"


def build(harness: Harness, settings: WafSettings = WAF) -> Resource:
    def program() -> pulumi.Output[str]:
        firewall = Firewall(
            "firewall",
            FirewallArgs(
                stack="prod",
                region="us-east-1",
                settings=settings,
                alb_arn=ALB,
                log_retention_days=90,
                alarm_topic_arn=TOPIC,
            ),
        )
        return pulumi.Output.all(firewall.web_acl.arn, firewall.alarm.arn).apply(lambda values: values[0])

    harness.evaluate(program)
    return harness.mocks.one(WEB_ACL)


@dataclasses.dataclass(frozen=True)
class Request:
    """What the rules below look at in a web request."""

    method: str
    path: str
    labels: frozenset[str] = frozenset()


def _transform(value: str, transformations: list[Mapping[str, Any]]) -> str:
    for step in sorted(transformations, key=lambda t: t["priority"]):
        if step["type"] == "URL_DECODE":
            value = unquote(value)
        elif step["type"] == "NORMALIZE_PATH":
            value = re.sub("/+", "/", posixpath.normpath(value)) + ("/" if value.endswith("/") else "")
        else:
            assert step["type"] == "NONE", step
    return value


def matches(statement: Mapping[str, Any], request: Request) -> bool:
    """The statement kinds the web ACL's own rules use, evaluated as WAF documents them."""
    ((kind, body),) = statement.items()
    if kind == "andStatement":
        return all(matches(s, request) for s in body["statements"])
    if kind == "orStatement":
        return any(matches(s, request) for s in body["statements"])
    if kind == "notStatement":
        return not matches(body["statement"], request)
    if kind == "labelMatchStatement":
        assert body["scope"] == "LABEL"
        return body["key"] in request.labels
    assert kind == "byteMatchStatement", kind
    ((field, _),) = body["fieldToMatch"].items()
    value = _transform(
        {"uriPath": request.path, "method": request.method}[field], body["textTransformations"]
    )
    if body["positionalConstraint"] == "EXACTLY":
        return bool(value == body["searchString"])
    assert body["positionalConstraint"] == "STARTS_WITH"
    return value.startswith(body["searchString"])


def rules_by_name(acl: Resource) -> dict[str, dict[str, Any]]:
    return {rule["name"]: rule for rule in acl.inputs["rules"]}


def blocked_for_size(acl: Resource, request: Request) -> list[str]:
    """The rules after the common rule set that act on its body-size label for this request."""
    return [
        rule["name"]
        for rule in acl.inputs["rules"]
        if "andStatement" in rule["statement"] and matches(rule["statement"], request)
    ]


LARGE = frozenset({SIZE_RESTRICTIONS_LABEL})


def test_nginx_admits_the_waf_rate_shared_over_the_smallest_group() -> None:
    # 6000 requests in 300 s is 20 a second for the fleet: 10 a node when two share it.
    assert node_rate_limit(WAF, min_size=2) == NginxRateLimit(per_second=10, burst=20)
    assert node_rate_limit(WAF, min_size=1) == NginxRateLimit(per_second=20, burst=40)
    # Rounded up, never below 1 r/s: nginx never refuses a client the web ACL admits.
    slow = dataclasses.replace(WAF, rate_limit=10, window_seconds=600)
    assert node_rate_limit(slow, min_size=3) == NginxRateLimit(per_second=1, burst=2)


def test_render_sh_defaults_are_one_node_at_the_default_waf_rate() -> None:
    render = (ROOT / "docker" / "nginx" / "render.sh").read_text()
    defaults = {name: int(value) for name, value in re.findall(r': "\$\{(RATE_LIMIT\w*):=(\d+)\}"', render)}
    assert defaults == {
        "RATE_LIMIT": RENDER_DEFAULT_RATE_LIMIT.per_second,
        "RATE_LIMIT_BURST": RENDER_DEFAULT_RATE_LIMIT.burst,
    }
    # Pulumi.yaml's WAF defaults (the dev stack keeps them) on a single node give render.sh's defaults.
    assert node_rate_limit(parse("dev").waf, min_size=1) == RENDER_DEFAULT_RATE_LIMIT


def test_the_rate_limit_counts_each_client_address_over_the_window_and_answers_429(harness: Harness) -> None:
    acl = build(harness)
    rule = rules_by_name(acl)["rate-limit"]
    statement = rule["statement"]["rateBasedStatement"]
    assert statement["aggregateKeyType"] == "IP"
    assert (statement["limit"], statement["evaluationWindowSec"]) == (6000, 300)
    assert rule["action"] == {"block": {"customResponse": {"responseCode": 429}}}
    scope = statement["scopeDownStatement"]
    # Static files are left out, however the path is spelled; everything nginx limits is counted.
    for path in ("/static/site.css", "/static/../static/x.js", "/%73tatic/site.css"):
        assert not matches(scope, Request("GET", path)), path
    for path in ("/", "/api/notes", "/static", "/api/static/x"):
        assert matches(scope, Request("GET", path)), path


@pytest.mark.parametrize("mode", ["block", "count"])
def test_the_mode_decides_what_the_managed_groups_and_the_body_rules_do_but_not_the_rate_limit(
    harness: Harness, mode: str
) -> None:
    rules = rules_by_name(build(harness, dataclasses.replace(WAF, mode=mode)))
    groups = {
        name: rule["statement"]["managedRuleGroupStatement"]["name"]
        for name, rule in rules.items()
        if "managedRuleGroupStatement" in rule["statement"]
    }
    assert set(groups.values()) == {
        "AWSManagedRulesAmazonIpReputationList",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesCommonRuleSet",
    }
    for name in groups:
        assert rules[name]["overrideAction"] == ({"none": {}} if mode == "block" else {"count": {}})
    for name in ("large-body-method", "large-body-path"):
        assert rules[name]["action"] == ({"block": {}} if mode == "block" else {"count": {}})
    assert "block" in rules["rate-limit"]["action"]


def test_reputation_then_rate_then_inspection_each_with_its_own_metric(harness: Harness) -> None:
    acl = build(harness)
    assert acl.inputs["scope"] == "REGIONAL"
    assert acl.inputs["defaultAction"] == {"allow": {}}
    names = [rule["name"] for rule in sorted(acl.inputs["rules"], key=lambda r: r["priority"])]
    assert names == [
        "ip-reputation",
        "rate-limit",
        "known-bad-inputs",
        "common",
        "large-body-method",
        "large-body-path",
    ]
    metrics = [acl.inputs["visibilityConfig"], *(rule["visibilityConfig"] for rule in acl.inputs["rules"])]
    assert len({m["metricName"] for m in metrics}) == len(metrics)
    for metric in metrics:
        assert metric["cloudwatchMetricsEnabled"] is True
        # Sampled requests would keep the headers the logs redact.
        assert metric["sampledRequestsEnabled"] is False
        assert re.fullmatch(r"[\w-]{1,128}", metric["metricName"])
        assert metric["metricName"] not in {
            "All",
            "Default_Action",
        }


def test_large_bodies_pass_only_as_a_post_to_an_exempt_path(harness: Harness) -> None:
    acl = build(harness)
    common = rules_by_name(acl)["common"]["statement"]["managedRuleGroupStatement"]
    # The group's body-size rule only labels; the rules after it act on the label.
    assert common["ruleActionOverrides"] == [{"name": "SizeRestrictions_BODY", "actionToUse": {"count": {}}}]
    assert blocked_for_size(acl, Request("POST", "/api/notes", LARGE)) == []
    assert blocked_for_size(acl, Request("POST", "/api//upload", LARGE)) == []
    assert blocked_for_size(acl, Request("PUT", "/api/notes", LARGE)) == ["large-body-method"]
    assert blocked_for_size(acl, Request("POST", "/api/notes/1", LARGE)) == ["large-body-path"]
    assert blocked_for_size(acl, Request("GET", "/", LARGE)) == ["large-body-method", "large-body-path"]
    # A body within what WAF inspects carries no label: nothing to act on.
    assert blocked_for_size(acl, Request("PUT", "/anything")) == []


def test_one_exempt_path_needs_no_or_and_none_keeps_the_groups_own_block(harness: Harness) -> None:
    acl = build(harness, dataclasses.replace(WAF, large_body_paths=("/api/notes",)))
    assert blocked_for_size(acl, Request("POST", "/api/notes", LARGE)) == []
    assert blocked_for_size(acl, Request("POST", "/api/upload", LARGE)) == ["large-body-path"]
    harness.mocks.resources.clear()
    rules = rules_by_name(build(harness, dataclasses.replace(WAF, large_body_paths=())))
    assert "ruleActionOverrides" not in rules["common"]["statement"]["managedRuleGroupStatement"]
    assert set(rules) == {"ip-reputation", "rate-limit", "known-bad-inputs", "common"}


def test_the_web_acl_guards_the_alb_and_logs_what_it_blocks_or_counts_without_credentials(
    harness: Harness,
) -> None:
    acl = build(harness)
    association = harness.mocks.one("aws:wafv2/webAclAssociation:WebAclAssociation")
    assert association.inputs == {"resourceArn": ALB, "webAclArn": acl.state["arn"]}
    group = harness.mocks.one("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["name"].startswith(LOG_GROUP_PREFIX)
    assert group.inputs["retentionInDays"] == 90
    logging = harness.mocks.one("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
    assert logging.inputs["resourceArn"] == acl.state["arn"]
    assert logging.inputs["logDestinationConfigs"] == [group.state["arn"]]
    assert {f["singleHeader"]["name"] for f in logging.inputs["redactedFields"]} == {
        "authorization",
        "cookie",
    }
    log_filter = logging.inputs["loggingFilter"]
    assert log_filter["defaultBehavior"] == "DROP"
    (keep,) = log_filter["filters"]
    assert keep["behavior"] == "KEEP"
    assert keep["requirement"] == "MEETS_ANY"
    assert {c["actionCondition"]["action"] for c in keep["conditions"]} >= {"BLOCK", "COUNT"}


def test_a_spike_of_blocked_requests_alarms_the_topic(harness: Harness) -> None:
    acl = build(harness)
    alarm = harness.mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert alarm.inputs["alarmActions"] == [TOPIC]
    assert alarm.inputs["okActions"] == [TOPIC]
    queries = {q["id"]: q for q in alarm.inputs["metricQueries"]}
    for query_id, metric_name in (("blocked", "BlockedRequests"), ("allowed", "AllowedRequests")):
        metric = queries[query_id]["metric"]
        assert (metric["namespace"], metric["metricName"], metric["stat"]) == (
            "AWS/WAFV2",
            metric_name,
            "Sum",
        )
        # The web ACL's own metric: its name, as its visibility config names it.
        assert metric["dimensions"] == {
            "WebACL": acl.inputs["visibilityConfig"]["metricName"],
            "Region": "us-east-1",
            "Rule": "ALL",
        }
    share = queries["share"]
    assert share["returnData"] is True
    assert f">= {BLOCKED_FLOOR_PER_MINUTE}" in share["expression"]
    assert alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"
