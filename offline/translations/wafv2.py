"""WAFv2: web ACLs, their associations and logging configurations.

moto stores what it is given: it checks neither a rate-based rule's window, nor a metric name, nor that an
associated resource or a log destination exists, nor the log destination's name. These translations refuse
what AWS refuses there, naming AWS's error."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from offline.aws import Aws, Inputs, pascal, physical_name
from offline.translations.registry import Outputs, translates

EVALUATION_WINDOWS = (60, 120, 300, 600)
"""A rate-based rule's windows (WAF Developer Guide, "Rate-based rule high-level settings")."""
RESERVED_METRIC_NAMES = ("All", "Default_Action")
_METRIC_NAME = re.compile(r"^[\w-]{1,128}$")
"""A metric name: letters, digits, `-` and `_`, up to 128 (WAF API Reference, `VisibilityConfig`)."""
LOG_DESTINATION_PREFIX = "aws-waf-logs-"
RENAMES = {"cloudwatchMetricsEnabled": "CloudWatchMetricsEnabled"}
"""Provider names whose PascalCase is not the API's."""


def _statements(statement: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every statement in `statement` (API shape), nested ones included, as (kind, body)."""
    for kind, body in statement.items():
        yield kind, body
        for nested in body.get("Statements", []):
            yield from _statements(nested)
        for key in ("Statement", "ScopeDownStatement"):
            if key in body:
                yield from _statements(body[key])


def _check_visibility(config: Mapping[str, Any], where: str) -> None:
    name = config["MetricName"]
    if not _METRIC_NAME.match(name) or name in RESERVED_METRIC_NAMES:
        raise ValueError(
            f"WAFInvalidParameterException: {where} MetricName {name!r}: letters, digits, '-' and '_', up to "
            f"128, not {' or '.join(RESERVED_METRIC_NAMES)}"
        )


def _check_rules(rules: list[Mapping[str, Any]]) -> None:
    priorities = [rule["Priority"] for rule in rules]
    if len(set(priorities)) != len(priorities):
        raise ValueError(f"WAFInvalidParameterException: rule priorities {priorities} repeat")
    for rule in rules:
        _check_visibility(rule["VisibilityConfig"], f"rule {rule['Name']}")
        for kind, body in _statements(rule["Statement"]):
            if kind == "RateBasedStatement":
                window = body.get("EvaluationWindowSec", 300)
                if window not in EVALUATION_WINDOWS:
                    raise ValueError(
                        f"WAFInvalidParameterException: rule {rule['Name']} EvaluationWindowSec {window}: "
                        f"one of {', '.join(map(str, EVALUATION_WINDOWS))}"
                    )
            if kind in ("AndStatement", "OrStatement") and len(body["Statements"]) < 2:
                raise ValueError(
                    f"WAFInvalidParameterException: rule {rule['Name']} {kind} needs two statements at least"
                )


@translates(
    "aws:wafv2/webAcl:WebAcl",
    unchecked={
        "rules": "moto neither knows AWS's managed rule groups nor computes the capacity (WCUs) rules use",
    },
)
def web_acl(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateWebACL, refusing the windows and metric names AWS refuses."""
    acl_name = physical_name(name, inputs, max_length=128)
    rules = pascal(inputs.get("rules", []), RENAMES)
    _check_rules(rules)
    visibility = pascal(inputs["visibilityConfig"], RENAMES)
    _check_visibility(visibility, "web ACL")
    description = {"Description": inputs["description"]} if "description" in inputs else {}
    created = aws.client("wafv2").create_web_acl(
        Name=acl_name,
        Scope=inputs["scope"],
        DefaultAction=pascal(inputs["defaultAction"]),
        Rules=rules,
        VisibilityConfig=visibility,
        **description,
        **aws.tags_parameter(inputs),
    )["Summary"]
    return created["Id"], {"arn": created["ARN"], "name": acl_name, "lockToken": created["LockToken"]}


@translates("aws:wafv2/webAclAssociation:WebAclAssociation")
def web_acl_association(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """AssociateWebACL, once the resource exists: AWS refuses an ALB it does not find
    (`WAFNonexistentItemException`); moto takes any ARN."""
    resource = inputs["resourceArn"]
    if ":elasticloadbalancing:" in resource:
        elbv2 = aws.client("elbv2")
        try:
            (balancer,) = elbv2.describe_load_balancers(LoadBalancerArns=[resource])["LoadBalancers"]
        except elbv2.exceptions.LoadBalancerNotFoundException:
            raise ValueError(f"WAFNonexistentItemException: no load balancer {resource}") from None
        if balancer["Type"] != "application":
            raise ValueError(f"WAFInvalidParameterException: {resource} is not an Application Load Balancer")
    aws.client("wafv2").associate_web_acl(WebACLArn=inputs["webAclArn"], ResourceArn=resource)
    return f"{inputs['webAclArn']},{resource}", {}


@translates("aws:wafv2/webAclLoggingConfiguration:WebAclLoggingConfiguration")
def web_acl_logging_configuration(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """PutLoggingConfiguration, refusing what AWS would: a web ACL it does not hold, a log group that does
    not exist or whose name does not start with `aws-waf-logs-`; moto takes any ARN."""
    wafv2, logs = aws.client("wafv2"), aws.client("logs")
    # AWS refuses logging for a web ACL it does not hold; moto stores it.
    wafv2.get_web_acl(ARN=inputs["resourceArn"])
    for destination in inputs["logDestinationConfigs"]:
        group = destination.split(":log-group:", 1)[-1].removesuffix(":*")
        if not group.startswith(LOG_DESTINATION_PREFIX):
            raise ValueError(
                f"WAFInvalidParameterException: log destination {destination}: its name must start with "
                f"{LOG_DESTINATION_PREFIX}"
            )
        found = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        if not any(g["logGroupName"] == group for g in found):
            raise ValueError(f"WAFNonexistentItemException: no log group {group}")
    configuration = {
        "ResourceArn": inputs["resourceArn"],
        "LogDestinationConfigs": inputs["logDestinationConfigs"],
        **({"RedactedFields": pascal(inputs["redactedFields"])} if "redactedFields" in inputs else {}),
        **({"LoggingFilter": pascal(inputs["loggingFilter"])} if "loggingFilter" in inputs else {}),
    }
    wafv2.put_logging_configuration(LoggingConfiguration=configuration)
    return inputs["resourceArn"], {}
