"""CloudWatch Logs log groups, SNS topics and subscriptions, CloudWatch alarms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from offline.aws import Aws, Inputs, pascal, physical_name
from offline.translations.registry import Outputs, translates
from policies import AWS_MANAGED_SNS_KEY, cloudwatch_key_refusal, is_aws_managed_sns_key


@translates("aws:cloudwatch/logGroup:LogGroup")
def log_group(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateLogGroup, then its retention."""
    logs = aws.client("logs")
    group_name = physical_name(name, inputs, max_length=512)
    kms = {"kmsKeyId": inputs["kmsKeyId"]} if "kmsKeyId" in inputs else {}
    logs.create_log_group(logGroupName=group_name, tags=aws.tags(inputs), **kms)
    if "retentionInDays" in inputs:
        logs.put_retention_policy(logGroupName=group_name, retentionInDays=inputs["retentionInDays"])
    (created,) = logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"]
    # The provider's `arn` has no `:*`, the log group's ARN as IAM policies name it.
    return group_name, {"arn": created["arn"].removesuffix(":*"), "name": group_name}


@translates("aws:sns/topic:Topic")
def topic(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateTopic with its attributes."""
    topic_name = physical_name(name, inputs, max_length=256)
    given = inputs.renamed(
        {
            "kmsMasterKeyId": "KmsMasterKeyId",
            "displayName": "DisplayName",
            "policy": "Policy",
            "fifoTopic": "FifoTopic",
        }
    )
    attributes = {parameter: str(value) for parameter, value in given.items()}
    created = aws.client("sns").create_topic(
        Name=topic_name, Attributes=attributes, Tags=aws.tag_list(inputs)
    )
    return created["TopicArn"], {"arn": created["TopicArn"], "name": topic_name}


@translates(
    "aws:sns/topicSubscription:TopicSubscription",
    unchecked={"endpoint": "moto does not send the confirmation an email subscription waits for"},
)
def topic_subscription(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """Subscribe."""
    created = aws.client("sns").subscribe(
        TopicArn=inputs["topic"],
        Protocol=inputs["protocol"],
        Endpoint=inputs["endpoint"],
        ReturnSubscriptionArn=True,
    )
    return created["SubscriptionArn"], {"arn": created["SubscriptionArn"]}


def _may_publish(aws: Aws, action: str) -> None:
    """CloudWatch publishes to an encrypted topic only with a key it may use; AWS takes the alarm and drops
    every notification. moto publishes nothing, so the key's policy is evaluated as IAM would (policy
    alarm-topic-key-usable)."""
    if not action.startswith("arn:aws:sns:"):
        return
    attributes = aws.client("sns").get_topic_attributes(TopicArn=action)["Attributes"]
    reference = attributes.get("KmsMasterKeyId")
    if reference is None:
        return
    if is_aws_managed_sns_key(reference):
        refusal: str | None = (
            f"topic {action} is encrypted with {AWS_MANAGED_SNS_KEY}, which CloudWatch cannot use"
        )
    else:
        kms = aws.client("kms")
        key = kms.describe_key(KeyId=reference)["KeyMetadata"]
        policy = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"]
        refusal = cloudwatch_key_refusal(policy, key["Arn"])
    if refusal is not None:
        raise ValueError(f"CloudWatch cannot publish this alarm (policy alarm-topic-key-usable: {refusal})")


def _dimensions(dimensions: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in dimensions.items()]


def _metric_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """A `metricQuery` of `aws.cloudwatch.MetricAlarm` as a `MetricDataQuery`."""
    converted: dict[str, Any] = pascal({k: v for k, v in query.items() if k != "metric"})
    if "metric" in query:
        metric = query["metric"]
        converted["MetricStat"] = {
            "Metric": {
                "Namespace": metric["namespace"],
                "MetricName": metric["metricName"],
                "Dimensions": _dimensions(metric.get("dimensions", {})),
            },
            "Period": metric["period"],
            "Stat": metric["stat"],
            **({"Unit": metric["unit"]} if "unit" in metric else {}),
        }
    return converted


@translates("aws:cloudwatch/metricAlarm:MetricAlarm")
def metric_alarm(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """PutMetricAlarm, once CloudWatch could publish to each of its topics."""
    alarm_name = physical_name(name, inputs)
    parameters = inputs.renamed(
        {
            "alarmDescription": "AlarmDescription",
            "comparisonOperator": "ComparisonOperator",
            "threshold": "Threshold",
            "evaluationPeriods": "EvaluationPeriods",
            "datapointsToAlarm": "DatapointsToAlarm",
            "namespace": "Namespace",
            "metricName": "MetricName",
            "statistic": "Statistic",
            "extendedStatistic": "ExtendedStatistic",
            "period": "Period",
            "unit": "Unit",
            "treatMissingData": "TreatMissingData",
            "alarmActions": "AlarmActions",
            "okActions": "OKActions",
            "insufficientDataActions": "InsufficientDataActions",
            "actionsEnabled": "ActionsEnabled",
        }
    )
    if "dimensions" in inputs:
        parameters["Dimensions"] = _dimensions(inputs["dimensions"])
    if "metricQueries" in inputs:
        parameters["Metrics"] = [_metric_query(q) for q in inputs["metricQueries"]]
    for action in {*parameters.get("AlarmActions", []), *parameters.get("OKActions", [])}:
        _may_publish(aws, action)
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName=alarm_name, Tags=aws.tag_list(inputs), **parameters)
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
    return alarm_name, {"arn": alarm["AlarmArn"], "name": alarm_name}
