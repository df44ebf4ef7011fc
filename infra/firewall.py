"""The web application firewall: a WAF web ACL on the ALB, with a rate limit that counts across every node,
AWS's managed rule groups, logs with secrets redacted, and an alarm on blocked requests."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.config import WafSettings
from infra.observability import sum_per_minute
from infra.user_data import NginxRateLimit

_T = TypeVar("_T")

WAF_NAMESPACE = "AWS/WAFV2"
LOG_GROUP_PREFIX = "aws-waf-logs-"
"""WAF delivers only to a log group whose name starts with this (WAF Developer Guide, "Amazon CloudWatch
Logs", log group naming)."""
RATE_LIMITED_STATUS = 429
"""What the rate-based rule answers, as nginx's `limit_req_status` does: clients back off and retry."""
BURST_SECONDS = 2
"""nginx's burst is this many seconds of its rate, as render.sh's defaults have it."""
STATIC_PREFIX = "/static/"
"""nginx serves these from disk without a rate limit; the rate-based rule leaves them out too."""
PATH_TRANSFORMATIONS = ("URL_DECODE", "NORMALIZE_PATH")
"""A path is decoded and normalised before it is matched, as nginx does before it routes: `/static/../api`
and `/%61pi/notes` are matched as the paths nginx serves."""
SIZE_RESTRICTIONS_BODY = "SizeRestrictions_BODY"
"""The common rule set's rule that blocks bodies over what the ALB lets WAF inspect."""
SIZE_RESTRICTIONS_LABEL = "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body"
"""The label that rule adds to a request it matches, also when its action is overridden to count."""
REDACTED_HEADERS = ("authorization", "cookie")
"""Credentials and sessions never reach the log group."""
LOGGED_ACTIONS = ("BLOCK", "COUNT", "EXCLUDED_AS_COUNT")
"""A request is logged when a rule blocked or counted it; allowed traffic is in the ALB's access logs."""
BLOCKED_SHARE_PERCENT = 10.0
"""The blocked-requests alarm fires when more than this share of a minute's requests is blocked ..."""
BLOCKED_FLOOR_PER_MINUTE = 60
"""... and at least this many were, so a quiet site's few scanners do not page."""
EVALUATION_PERIODS = 5
DATAPOINTS_TO_ALARM = 3


@dataclass(frozen=True)
class ManagedGroup:
    """An AWS managed rule group the web ACL runs, and its place in the evaluation order."""

    rule: str
    """The rule's name in the web ACL, also its metric's name."""
    name: str
    """The group's name in AWS's catalogue."""


IP_REPUTATION = ManagedGroup("ip-reputation", "AWSManagedRulesAmazonIpReputationList")
KNOWN_BAD_INPUTS = ManagedGroup("known-bad-inputs", "AWSManagedRulesKnownBadInputsRuleSet")
COMMON = ManagedGroup("common", "AWSManagedRulesCommonRuleSet")
RATE_LIMIT_RULE = "rate-limit"
LARGE_BODY_METHOD_RULE = "large-body-method"
LARGE_BODY_PATH_RULE = "large-body-path"
EXEMPT_METHOD = "POST"
"""The only method whose large bodies the exempt paths take (the sample app's notes and uploads)."""


def node_rate_limit(waf: WafSettings, *, min_size: int) -> NginxRateLimit:
    """nginx's per-node limit, the inner line behind the web ACL's fleet-wide one.

    The ALB spreads a client's requests over the nodes (round robin), so a client at the web ACL's
    sustained rate sends each node its share; the share is largest when the group is smallest. Each node
    therefore admits the WAF rate divided by `min_size`, rounded up, as a steady rate with a burst of
    `BURST_SECONDS` of it: a client at or under the web ACL's rate, spread over the window, passes both; one
    that spends its window's allowance in a few seconds, which WAF would admit, gets 429 from nginx. That is
    the inner line's job: WAF counts with a delay, and nginx stops such a burst on one node at once.
    """
    per_second = math.ceil(waf.rate_limit / waf.window_seconds / min_size)
    return NginxRateLimit(per_second=per_second, burst=per_second * BURST_SECONDS)


def acl_name(stack: str) -> str:
    """The web ACL's name, also its metric's: WAF takes letters, digits, `_` and `-`, up to 128."""
    return re.sub(r"[^\w-]", "-", naming.physical(naming.project(), stack, max_length=128))


@dataclass(frozen=True, kw_only=True)
class FirewallArgs:
    """What the web ACL protects, how strictly, and where its logs and alarm go."""

    stack: str
    region: str
    """The web ACL's region, a dimension of its metrics."""
    settings: WafSettings
    alb_arn: pulumi.Input[str]
    """The internet-facing ALB the web ACL is associated with."""
    log_retention_days: int
    alarm_topic_arn: pulumi.Input[str]


class Firewall(pulumi.ComponentResource):
    """A regional WAF web ACL on the ALB: IP reputation, a per-client rate limit over the whole fleet, known
    bad inputs and the common rule set, logged to CloudWatch Logs, with an alarm on blocked requests."""

    web_acl: aws.wafv2.WebAcl
    """The web ACL."""
    log_group: aws.cloudwatch.LogGroup
    """Where WAF logs the requests it blocked or counted."""
    alarm: aws.cloudwatch.MetricAlarm
    """Blocked requests spiking: an attack, or a rule refusing real users."""

    def __init__(self, name: str, args: FirewallArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flask-nginx-aws:firewall:Firewall", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        web_acl_name = acl_name(args.stack)
        self.web_acl = aws.wafv2.WebAcl(
            naming.child(name, "acl"),
            name=web_acl_name,
            description="Rate limit per client across the fleet, and AWS managed rules, before the ALB",
            scope="REGIONAL",
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=rules(args.settings),
            visibility_config=visibility(web_acl_name),
            opts=child,
        )
        aws.wafv2.WebAclAssociation(
            naming.child(name, "alb"), resource_arn=args.alb_arn, web_acl_arn=self.web_acl.arn, opts=child
        )
        self.log_group = aws.cloudwatch.LogGroup(
            naming.child(name, "logs"),
            name=naming.physical(
                LOG_GROUP_PREFIX, f"{naming.project()}-{args.stack}", max_length=512, separator=""
            ),
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        # AWS adds the log group's resource policy for delivery itself when logging starts (CloudWatch Logs
        # guide, "Logs sent to CloudWatch Logs"): the deploying role needs logs:PutResourcePolicy for it.
        aws.wafv2.WebAclLoggingConfiguration(
            naming.child(name, "logging"),
            resource_arn=self.web_acl.arn,
            log_destination_configs=[self.log_group.arn],
            redacted_fields=[
                aws.wafv2.WebAclLoggingConfigurationRedactedFieldArgs(
                    single_header=aws.wafv2.WebAclLoggingConfigurationRedactedFieldSingleHeaderArgs(
                        name=header
                    )
                )
                for header in REDACTED_HEADERS
            ],
            logging_filter=aws.wafv2.WebAclLoggingConfigurationLoggingFilterArgs(
                default_behavior="DROP",
                filters=[
                    aws.wafv2.WebAclLoggingConfigurationLoggingFilterFilterArgs(
                        behavior="KEEP",
                        requirement="MEETS_ANY",
                        conditions=[
                            aws.wafv2.WebAclLoggingConfigurationLoggingFilterFilterConditionArgs(
                                action_condition=aws.wafv2.WebAclLoggingConfigurationLoggingFilterFilterConditionActionConditionArgs(
                                    action=action
                                )
                            )
                            for action in LOGGED_ACTIONS
                        ],
                    )
                ],
            ),
            opts=child,
        )
        self.alarm = self._blocked_alarm(name, args, web_acl_name)
        self.register_outputs({"web_acl_arn": self.web_acl.arn, "log_group_name": self.log_group.name})

    def _blocked_alarm(self, name: str, args: FirewallArgs, web_acl_name: str) -> aws.cloudwatch.MetricAlarm:
        """More than `BLOCKED_SHARE_PERCENT` of the requests blocked, `BLOCKED_FLOOR_PER_MINUTE` at least, in
        3 minutes of 5: not a rollout's alarm, since a release does not change who is blocked."""
        dimensions = {"WebACL": web_acl_name, "Region": args.region, "Rule": "ALL"}

        def requests(metric_id: str, metric_name: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
            return sum_per_minute(
                metric_id, namespace=WAF_NAMESPACE, metric_name=metric_name, dimensions=dimensions
            )

        blocked = "FILL(blocked, 0)"
        return aws.cloudwatch.MetricAlarm(
            naming.child(name, "blocked"),
            alarm_description=(
                f"More than {BLOCKED_SHARE_PERCENT:g}% of requests blocked by the web ACL (at least "
                f"{BLOCKED_FLOOR_PER_MINUTE} a minute): an attack, or a rule refusing real users"
            ),
            comparison_operator="GreaterThanThreshold",
            threshold=BLOCKED_SHARE_PERCENT,
            evaluation_periods=EVALUATION_PERIODS,
            datapoints_to_alarm=DATAPOINTS_TO_ALARM,
            metric_queries=[
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="share",
                    expression=(
                        f"IF({blocked} >= {BLOCKED_FLOOR_PER_MINUTE}, "
                        f"100 * {blocked} / ({blocked} + FILL(allowed, 0)), 0)"
                    ),
                    label="blocked requests (%)",
                    return_data=True,
                ),
                requests("blocked", "BlockedRequests"),
                requests("allowed", "AllowedRequests"),
            ],
            # No requests, nothing blocked.
            treat_missing_data="notBreaching",
            alarm_actions=[args.alarm_topic_arn],
            ok_actions=[args.alarm_topic_arn],
            opts=pulumi.ResourceOptions(parent=self),
        )


def visibility(metric_name: str) -> aws.wafv2.WebAclVisibilityConfigArgs:
    """Metrics under `metric_name`; no sampled requests, which WAF keeps unredacted (WAF API Reference,
    `VisibilityConfig`): the logs, with credentials redacted, show what was blocked."""
    return aws.wafv2.WebAclVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=False
    )


def _empty(kind: Callable[[], _T]) -> _T:
    """An empty settings block (`{}` in the API), such as `none` or `uri_path`: the provider's classes for
    these have untyped constructors."""
    return kind()


def _rule_visibility(metric_name: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=False
    )


def rules(settings: WafSettings) -> list[aws.wafv2.WebAclRuleArgs]:
    """The web ACL's rules in evaluation order: IP reputation first, so known-bad addresses never count
    towards a rate; the rate limit before the costlier inspection; then known bad inputs, the common rule
    set, and the body-size rule scoped to the paths that take large bodies."""
    exempt = settings.large_body_paths
    ordered = [
        _managed(IP_REPUTATION, settings.mode),
        _rate_limit(settings),
        _managed(KNOWN_BAD_INPUTS, settings.mode),
        _managed(COMMON, settings.mode, count_only=(SIZE_RESTRICTIONS_BODY,) if exempt else ()),
        *(_large_body_rules(exempt, settings.mode) if exempt else ()),
    ]
    for priority, rule in enumerate(ordered):
        rule.priority = priority
    return ordered


def _managed(group: ManagedGroup, mode: str, count_only: tuple[str, ...] = ()) -> aws.wafv2.WebAclRuleArgs:
    """A managed rule group: its own actions in block mode, every match only counted in count mode.
    `count_only` rules are counted in either mode: they still label what they match."""
    override = (
        aws.wafv2.WebAclRuleOverrideActionArgs(none=_empty(aws.wafv2.WebAclRuleOverrideActionNoneArgs))
        if mode == "block"
        else aws.wafv2.WebAclRuleOverrideActionArgs(count=_empty(aws.wafv2.WebAclRuleOverrideActionCountArgs))
    )
    return aws.wafv2.WebAclRuleArgs(
        name=group.rule,
        priority=0,
        override_action=override,
        statement=aws.wafv2.WebAclRuleStatementArgs(
            managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                name=group.name,
                vendor_name="AWS",
                rule_action_overrides=[
                    aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
                        name=rule,
                        action_to_use=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                            count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
                        ),
                    )
                    for rule in count_only
                ]
                or None,
            )
        ),
        visibility_config=_rule_visibility(group.rule),
    )


def _rate_limit(settings: WafSettings) -> aws.wafv2.WebAclRuleArgs:
    """Each client address (the ALB is the edge, so WAF sees the client's own) may send `rate_limit`
    requests in the window, counted over every node; beyond it, 429 until its rate falls. Static files
    are left out, as nginx leaves them out."""
    scope = aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementArgs
    return aws.wafv2.WebAclRuleArgs(
        name=RATE_LIMIT_RULE,
        priority=0,
        # Always blocks, whatever the mode: it replaces a limit nginx already enforces.
        action=aws.wafv2.WebAclRuleActionArgs(
            block=aws.wafv2.WebAclRuleActionBlockArgs(
                custom_response=aws.wafv2.WebAclRuleActionBlockCustomResponseArgs(
                    response_code=RATE_LIMITED_STATUS
                )
            )
        ),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                aggregate_key_type="IP",
                limit=settings.rate_limit,
                evaluation_window_sec=settings.window_seconds,
                scope_down_statement=scope(
                    not_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementNotStatementArgs(
                        statement=scope(
                            byte_match_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementArgs(
                                positional_constraint="STARTS_WITH",
                                search_string=STATIC_PREFIX,
                                field_to_match=aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementFieldToMatchArgs(
                                    uri_path=_empty(
                                        aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementFieldToMatchUriPathArgs
                                    )
                                ),
                                text_transformations=[
                                    aws.wafv2.WebAclRuleStatementRateBasedStatementScopeDownStatementByteMatchStatementTextTransformationArgs(
                                        priority=priority, type=kind
                                    )
                                    for priority, kind in enumerate(PATH_TRANSFORMATIONS)
                                ],
                            )
                        )
                    )
                ),
            )
        ),
        visibility_config=_rule_visibility(RATE_LIMIT_RULE),
    )


def _exact(
    field: aws.wafv2.WebAclRuleStatementByteMatchStatementFieldToMatchArgs, value: str, *, path: bool
) -> aws.wafv2.WebAclRuleStatementArgs:
    return aws.wafv2.WebAclRuleStatementArgs(
        byte_match_statement=aws.wafv2.WebAclRuleStatementByteMatchStatementArgs(
            positional_constraint="EXACTLY",
            search_string=value,
            field_to_match=field,
            text_transformations=[
                aws.wafv2.WebAclRuleStatementByteMatchStatementTextTransformationArgs(
                    priority=priority, type=kind
                )
                for priority, kind in enumerate(PATH_TRANSFORMATIONS if path else ("NONE",))
            ],
        )
    )


def _large_body_rules(paths: tuple[str, ...], mode: str) -> list[aws.wafv2.WebAclRuleArgs]:
    """The common rule set's body-size rule, counted there, acted on here except for a POST to one of
    `paths`. The ALB passes WAF only a body's first 8 KB (WAF Developer Guide, "Considerations for
    managing body inspection"), so that rule refuses every larger body, and the sample app's notes
    (`BODY_MAX` characters, app/notes/models.py) and uploads are larger. Two rules, as the provider's
    statement nesting allows: one refuses a large body on any other method, the other on any other path."""
    uri = aws.wafv2.WebAclRuleStatementByteMatchStatementFieldToMatchArgs(
        uri_path=_empty(aws.wafv2.WebAclRuleStatementByteMatchStatementFieldToMatchUriPathArgs)
    )
    method = aws.wafv2.WebAclRuleStatementByteMatchStatementFieldToMatchArgs(
        method=_empty(aws.wafv2.WebAclRuleStatementByteMatchStatementFieldToMatchMethodArgs)
    )
    matches = [_exact(uri, path, path=True) for path in paths]
    exempt_path = (
        matches[0]
        if len(matches) == 1
        else aws.wafv2.WebAclRuleStatementArgs(
            or_statement=aws.wafv2.WebAclRuleStatementOrStatementArgs(statements=matches)
        )
    )
    action = (
        aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs())
        if mode == "block"
        else aws.wafv2.WebAclRuleActionArgs(count=aws.wafv2.WebAclRuleActionCountArgs())
    )
    labelled = aws.wafv2.WebAclRuleStatementArgs(
        label_match_statement=aws.wafv2.WebAclRuleStatementLabelMatchStatementArgs(
            scope="LABEL", key=SIZE_RESTRICTIONS_LABEL
        )
    )

    def unless(exempt: aws.wafv2.WebAclRuleStatementArgs, rule: str) -> aws.wafv2.WebAclRuleArgs:
        return aws.wafv2.WebAclRuleArgs(
            name=rule,
            priority=0,
            action=action,
            statement=aws.wafv2.WebAclRuleStatementArgs(
                and_statement=aws.wafv2.WebAclRuleStatementAndStatementArgs(
                    statements=[
                        labelled,
                        aws.wafv2.WebAclRuleStatementArgs(
                            not_statement=aws.wafv2.WebAclRuleStatementNotStatementArgs(statement=exempt)
                        ),
                    ]
                )
            ),
            visibility_config=_rule_visibility(rule),
        )

    return [
        unless(_exact(method, EXEMPT_METHOD, path=False), LARGE_BODY_METHOD_RULE),
        unless(exempt_path, LARGE_BODY_PATH_RULE),
    ]
