"""infra/observability.py: the nodes' log group, and alarms wired to the ALB, target group and topic."""

from __future__ import annotations

import dataclasses

import pulumi
import pytest

from iam_eval import Decision, Principal, Request, evaluate
from infra.config import PROJECT
from infra.observability import KEY_DELETION_WINDOW_DAYS, Alarms, AlarmsArgs, NodeLogs, NodeLogsArgs
from tests.conftest import ACCOUNT, Harness, Resource

ALB = "app/web-alb-1a2b3c4/0123456789abcdef"
TARGET_GROUP = "targetgroup/web-nginx-1a2b3c4/fedcba9876543210"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def build_alarms(harness: Harness, email: str | None) -> None:
    harness.evaluate(
        lambda: (
            Alarms(
                "alarms",
                AlarmsArgs(
                    alb_arn_suffix=ALB,
                    target_group_arn_suffix=TARGET_GROUP,
                    alarm_email=email,
                    min_healthy_hosts=2,
                ),
            ).topic.arn
        )
    )


@pytest.fixture
def alarms(harness: Harness) -> dict[str, Resource]:
    build_alarms(harness, "ops@example.com")
    return {r.name: r for r in harness.mocks.of_type(ALARM)}


def test_log_group_is_named_for_the_stack_and_expires(harness: Harness) -> None:
    def program() -> pulumi.Output[str]:
        return NodeLogs("logs", NodeLogsArgs(stack="prod", retention_days=90)).log_group.name

    harness.evaluate(program)
    group = harness.mocks.one("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs == {"name": f"/{PROJECT}/prod/node", "retentionInDays": 90}


def test_every_alarm_notifies_the_topic_on_alarm_and_recovery(
    harness: Harness, alarms: dict[str, Resource]
) -> None:
    topic = harness.mocks.one("aws:sns/topic:Topic")
    assert set(alarms) == {
        "alarms-error-rate",
        "alarms-unhealthy-hosts",
        "alarms-healthy-hosts",
        "alarms-response-time",
    }
    for alarm in alarms.values():
        assert alarm.inputs["alarmActions"] == [topic.state["arn"]]
        assert alarm.inputs["okActions"] == [topic.state["arn"]]
    subscription = harness.mocks.one("aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["topic"] == topic.state["arn"]
    assert (subscription.inputs["protocol"], subscription.inputs["endpoint"]) == ("email", "ops@example.com")


def test_cloudwatch_may_use_the_key_of_the_topic_its_alarms_publish_to(
    harness: Harness, alarms: dict[str, Resource]
) -> None:
    # CloudWatch publishes each alarm to the topic its actions name; SNS encrypts with the topic's key on
    # CloudWatch's behalf, so the key's policy must let CloudWatch generate data keys and decrypt.
    topics = {t.state["arn"]: t for t in harness.mocks.of_type("aws:sns/topic:Topic")}
    keys = {k.state["arn"]: k for k in harness.mocks.of_type("aws:kms/key:Key")}
    for alarm in alarms.values():
        for action in {*alarm.inputs["alarmActions"], *alarm.inputs["okActions"]}:
            key = keys[topics[action].inputs["kmsMasterKeyId"]]
            assert key.inputs["enableKeyRotation"] is True
            assert key.inputs["deletionWindowInDays"] == KEY_DELETION_WINDOW_DAYS
            for use in ("kms:GenerateDataKey", "kms:Decrypt"):
                cloudwatch = Request(
                    principal=Principal(service="cloudwatch.amazonaws.com"),
                    action=use,
                    resource=key.state["arn"],
                )
                assert evaluate(key.inputs["policy"], cloudwatch) is Decision.ALLOW
                stranger = Request(
                    principal=Principal(service="events.amazonaws.com"), action=use, resource=key.state["arn"]
                )
                assert evaluate(key.inputs["policy"], stranger) is Decision.IMPLICIT_DENY
            # CloudWatch may not manage the key; the account does, through IAM (the default key policy).
            schedule = Request(
                principal=Principal(service="cloudwatch.amazonaws.com"),
                action="kms:ScheduleKeyDeletion",
                resource=key.state["arn"],
            )
            assert evaluate(key.inputs["policy"], schedule) is Decision.IMPLICIT_DENY
            admin = dataclasses.replace(
                schedule, principal=Principal(arn=f"arn:aws:iam::{ACCOUNT}:role/admin")
            )
            assert evaluate(key.inputs["policy"], admin) is Decision.ALLOW


def test_error_rate_divides_all_5xx_by_requests(alarms: dict[str, Resource]) -> None:
    queries = {q["id"]: q for q in alarms["alarms-error-rate"].inputs["metricQueries"]}
    assert queries["rate"]["returnData"] is True
    assert "elb5xx" in queries["rate"]["expression"]
    assert "target5xx" in queries["rate"]["expression"]
    assert "/ requests" in queries["rate"]["expression"]
    for metric_id, metric_name in (
        ("elb5xx", "HTTPCode_ELB_5XX_Count"),
        ("target5xx", "HTTPCode_Target_5XX_Count"),
        ("requests", "RequestCount"),
    ):
        metric = queries[metric_id]["metric"]
        assert (metric["metricName"], metric["dimensions"], metric["stat"]) == (
            metric_name,
            {"LoadBalancer": ALB},
            "Sum",
        )


def test_unhealthy_hosts_and_response_time_watch_the_target_group(alarms: dict[str, Resource]) -> None:
    dimensions = {"LoadBalancer": ALB, "TargetGroup": TARGET_GROUP}
    unhealthy = alarms["alarms-unhealthy-hosts"].inputs
    assert (unhealthy["metricName"], unhealthy["dimensions"], unhealthy["threshold"]) == (
        "UnHealthyHostCount",
        dimensions,
        0,
    )
    latency = alarms["alarms-response-time"].inputs
    assert (latency["metricName"], latency["dimensions"], latency["extendedStatistic"]) == (
        "TargetResponseTime",
        dimensions,
        "p95",
    )


def test_too_few_healthy_hosts_means_fewer_than_the_groups_minimum_for_3_of_5_minutes(
    alarms: dict[str, Resource],
) -> None:
    healthy = alarms["alarms-healthy-hosts"].inputs
    assert (healthy["namespace"], healthy["metricName"], healthy["dimensions"]) == (
        "AWS/ApplicationELB",
        "HealthyHostCount",
        {"LoadBalancer": ALB, "TargetGroup": TARGET_GROUP},
    )
    # A rollout with min healthy 100 % never takes the count below the minimum size (2 here): only a
    # lasting loss of capacity does.
    assert (healthy["statistic"], healthy["comparisonOperator"], healthy["threshold"]) == (
        "Minimum",
        "LessThanThreshold",
        2,
    )
    assert (healthy["evaluationPeriods"], healthy["datapointsToAlarm"], healthy["period"]) == (5, 3, 60)


def test_a_rollout_watches_errors_latency_and_healthy_hosts_not_a_replacements_first_checks(
    harness: Harness,
) -> None:
    names: list[list[str]] = []

    def program() -> pulumi.Output[None]:
        built = Alarms(
            "alarms",
            AlarmsArgs(
                alb_arn_suffix=ALB,
                target_group_arn_suffix=TARGET_GROUP,
                alarm_email=None,
                min_healthy_hosts=1,
            ),
        )
        return built.rollout_alarm_names.apply(names.append)

    harness.evaluate(program)
    physical = {r.name: r.state["name"] for r in harness.mocks.of_type(ALARM)}
    assert names == [
        [physical["alarms-error-rate"], physical["alarms-response-time"], physical["alarms-healthy-hosts"]]
    ]


def test_no_email_no_subscription(harness: Harness) -> None:
    build_alarms(harness, None)
    assert harness.mocks.of_type("aws:sns/topicSubscription:TopicSubscription") == []
    assert len(harness.mocks.of_type(ALARM)) == 4
