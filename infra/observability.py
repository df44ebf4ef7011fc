"""Logs and alarms: the nodes' log group, and alarms on errors, unhealthy nodes, too few healthy nodes and
latency; three of them gate every rollout (infra/rollout.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming, policies

ALB_NAMESPACE = "AWS/ApplicationELB"
PERIOD_SECONDS = 60
ERROR_RATE_PERCENT = 5.0
"""Alarm when more than this share of requests ends in a 5xx (the ALB's own or the nodes')."""
RESPONSE_TIME_P95_SECONDS = 1.0
"""Alarm when the slowest 5 % of requests take longer than this at the nodes."""
EVALUATION_PERIODS = 5
DATAPOINTS_TO_ALARM = 3
"""3 bad minutes out of 5: a blip does not page, a trend does."""
ROLLOUT_ALARMS = ("error-rate", "response-time", "healthy-hosts")
"""The alarms whose ALARM state fails a rollout and rolls it back."""


def sum_per_minute(
    metric_id: str,
    *,
    namespace: str,
    metric_name: str,
    dimensions: pulumi.Input[Mapping[str, pulumi.Input[str]]],
) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
    """A metric alarm's query `metric_id`: the metric's sum over each minute, for metric math."""
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=metric_id,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=namespace,
            metric_name=metric_name,
            dimensions=dimensions,
            stat="Sum",
            period=PERIOD_SECONDS,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class NodeLogsArgs:
    """The stack's name and how long logs are kept."""

    stack: str
    retention_days: int


class NodeLogs(pulumi.ComponentResource):
    """The CloudWatch log group the containers on every node write to (awslogs driver)."""

    log_group: aws.cloudwatch.LogGroup
    """The nodes' log group: one stream per instance and container."""

    def __init__(self, name: str, args: NodeLogsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flask-nginx-aws:observability:NodeLogs", name, None, opts)
        self.log_group = aws.cloudwatch.LogGroup(
            naming.child(name, "node"),
            name=naming.physical("", naming.project(), args.stack, "node", max_length=512, separator="/"),
            retention_in_days=args.retention_days,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"log_group_name": self.log_group.name})


KEY_DELETION_WINDOW_DAYS = 30
"""The longest wait KMS allows before a scheduled key deletion: time to notice and cancel it."""


@dataclass(frozen=True, kw_only=True)
class AlarmsArgs:
    """What to watch, and who to tell."""

    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    alarm_email: str | None
    """Subscribed to the alarm topic when given (AWS asks the address to confirm)."""
    min_healthy_hosts: int
    """The group's minimum size: fewer healthy targets than this is lost capacity, never a rollout's doing,
    since a rollout keeps every serving node until its replacement is healthy (min healthy 100 %)."""


class Alarms(pulumi.ComponentResource):
    """An SNS topic, and alarms on the 5xx rate, unhealthy nodes, too few healthy nodes and response time."""

    topic: aws.sns.Topic
    """Where alarms and recoveries are published."""
    key: aws.kms.Key
    """The topic's encryption key, which CloudWatch may use."""
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    """The alarms by purpose: `error-rate`, `unhealthy-hosts`, `healthy-hosts`, `response-time`."""
    rollout_alarm_names: pulumi.Output[list[str]]
    """The alarms that fail and roll back a rollout: 5xx rate, response time, too few healthy nodes. Not
    `unhealthy-hosts`: a replacement failing its first checks is the refresh's own health gate."""

    def __init__(self, name: str, args: AlarmsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flask-nginx-aws:observability:Alarms", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Encrypted at rest with a key of the stack's own: CloudWatch cannot use the AWS-managed
        # alias/aws/sns, so alarms would never reach a topic encrypted with it (SNS guide, key management).
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self.key = aws.kms.Key(
            naming.child(name, "key"),
            description="Encrypts the alarm topic; CloudWatch may use it to publish alarms",
            enable_key_rotation=True,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            policy=account.account_id.apply(policies.alarm_topic_key),
            opts=child,
        )
        self.topic = aws.sns.Topic(naming.child(name, "topic"), kms_master_key_id=self.key.arn, opts=child)
        if args.alarm_email is not None:
            aws.sns.TopicSubscription(
                naming.child(name, "email"),
                topic=self.topic.arn,
                protocol="email",
                endpoint=args.alarm_email,
                opts=child,
            )
        actions = [self.topic.arn]
        alb = {"LoadBalancer": args.alb_arn_suffix}
        target_group = {"LoadBalancer": args.alb_arn_suffix, "TargetGroup": args.target_group_arn_suffix}

        def alb_metric(metric_id: str, metric_name: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
            return sum_per_minute(metric_id, namespace=ALB_NAMESPACE, metric_name=metric_name, dimensions=alb)

        self.alarms = {
            "error-rate": aws.cloudwatch.MetricAlarm(
                naming.child(name, "error-rate"),
                alarm_description=f"More than {ERROR_RATE_PERCENT:g}% of requests answered with a 5xx",
                comparison_operator="GreaterThanThreshold",
                threshold=ERROR_RATE_PERCENT,
                evaluation_periods=EVALUATION_PERIODS,
                datapoints_to_alarm=DATAPOINTS_TO_ALARM,
                metric_queries=[
                    aws.cloudwatch.MetricAlarmMetricQueryArgs(
                        id="rate",
                        expression="100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / requests",
                        label="5xx responses (%)",
                        return_data=True,
                    ),
                    alb_metric("elb5xx", "HTTPCode_ELB_5XX_Count"),
                    alb_metric("target5xx", "HTTPCode_Target_5XX_Count"),
                    alb_metric("requests", "RequestCount"),
                ],
                # No requests, no errors.
                treat_missing_data="notBreaching",
                alarm_actions=actions,
                ok_actions=actions,
                opts=child,
            ),
            "unhealthy-hosts": aws.cloudwatch.MetricAlarm(
                naming.child(name, "unhealthy-hosts"),
                alarm_description="A node fails the ALB's health check",
                namespace=ALB_NAMESPACE,
                metric_name="UnHealthyHostCount",
                dimensions=target_group,
                statistic="Maximum",
                period=PERIOD_SECONDS,
                comparison_operator="GreaterThanThreshold",
                threshold=0,
                evaluation_periods=EVALUATION_PERIODS,
                datapoints_to_alarm=DATAPOINTS_TO_ALARM,
                alarm_actions=actions,
                ok_actions=actions,
                opts=child,
            ),
            "healthy-hosts": aws.cloudwatch.MetricAlarm(
                naming.child(name, "healthy-hosts"),
                alarm_description=f"Fewer than {args.min_healthy_hosts} nodes pass the ALB's health check",
                namespace=ALB_NAMESPACE,
                metric_name="HealthyHostCount",
                dimensions=target_group,
                # The lowest count in each minute: a dip shows even when the minute's average hides it.
                statistic="Minimum",
                period=PERIOD_SECONDS,
                comparison_operator="LessThanThreshold",
                threshold=args.min_healthy_hosts,
                evaluation_periods=EVALUATION_PERIODS,
                datapoints_to_alarm=DATAPOINTS_TO_ALARM,
                alarm_actions=actions,
                ok_actions=actions,
                opts=child,
            ),
            "response-time": aws.cloudwatch.MetricAlarm(
                naming.child(name, "response-time"),
                alarm_description=f"p95 response time at the nodes above {RESPONSE_TIME_P95_SECONDS:g} s",
                namespace=ALB_NAMESPACE,
                metric_name="TargetResponseTime",
                dimensions=target_group,
                extended_statistic="p95",
                period=PERIOD_SECONDS,
                comparison_operator="GreaterThanThreshold",
                threshold=RESPONSE_TIME_P95_SECONDS,
                evaluation_periods=EVALUATION_PERIODS,
                datapoints_to_alarm=DATAPOINTS_TO_ALARM,
                treat_missing_data="notBreaching",
                alarm_actions=actions,
                ok_actions=actions,
                opts=child,
            ),
        }
        self.rollout_alarm_names = pulumi.Output.all(
            *(self.alarms[purpose].name for purpose in ROLLOUT_ALARMS)
        ).apply(list)
        self.register_outputs({"topic_arn": self.topic.arn, "rollout_alarm_names": self.rollout_alarm_names})
