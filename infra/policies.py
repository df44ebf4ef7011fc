"""Policy documents as plain data: IAM, S3 bucket and ECR lifecycle policies. No Pulumi resources here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from infra.log_delivery import log_folder

PolicyDocument = dict[str, Any]


def _document(*statements: dict[str, Any]) -> PolicyDocument:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def assume_role(service: str, *, source_account: str | None = None, source_arn: str | None = None) -> str:
    """Trust policy letting an AWS service assume a role; `source_account` and `source_arn` (a pattern of
    the resources acting) stop confused deputies."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    condition: dict[str, dict[str, str]] = {}
    if source_account is not None:
        condition["StringEquals"] = {"aws:SourceAccount": source_account}
    if source_arn is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    if condition:
        statement["Condition"] = condition
    return json.dumps(_document(statement))


def _log_group_and_streams(log_group_arn: str) -> list[str]:
    return [log_group_arn, f"{log_group_arn}:log-stream:*"]


def write_log_group(log_group_arn: str) -> str:
    """Create streams in and write events to one log group (and nothing else)."""
    return json.dumps(
        _document(
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": _log_group_and_streams(log_group_arn),
            }
        )
    )


def deliver_flow_logs(log_group_arn: str) -> str:
    """What the flow-logs service must be allowed, at least (VPC User Guide, "IAM role for publishing flow
    logs to CloudWatch Logs"), scoped to one log group where the action allows it: DescribeLogGroups takes
    no resource but "*" (Service Authorization Reference, CloudWatch Logs)."""
    return json.dumps(
        _document(
            {"Sid": "ListLogGroups", "Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"},
            {
                "Sid": "WriteTheFlowLogGroup",
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                "Resource": _log_group_and_streams(log_group_arn),
            },
        )
    )


def pull_images(repository_arns: Sequence[str]) -> str:
    """Pull from these ECR repositories only. `GetAuthorizationToken` has no resource-level scope."""
    return json.dumps(
        _document(
            {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": [
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                ],
                "Resource": list(repository_arns),
            },
        )
    )


def access_log_bucket(bucket_arn: str, *, prefix: str, writers: dict[str, str], account_id: str) -> str:
    """Let Elastic Load Balancing write this account's ALB logs under `prefix`; refuse plain HTTP.

    The ALB writes `<bucket>/<prefix>/AWSLogs/<account>/...`, and a test file there when logging is switched
    on; without this grant AWS refuses the load balancer (ELB guide, "Enable access logs for your
    Application Load Balancer").
    """
    return json.dumps(
        _document(
            {
                "Sid": "AlbAccessLogs",
                "Effect": "Allow",
                "Principal": writers,
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/{log_folder(prefix, account_id)}*",
            },
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        )
    )


CLOUDWATCH_SERVICE = "cloudwatch.amazonaws.com"


def alarm_topic_key(account_id: str) -> str:
    """Key policy of the alarm topic's key: the account administers it through IAM (the default key policy),
    and CloudWatch may generate data keys and decrypt to publish alarms to the topic (SNS guide, "Configure
    AWS KMS permissions for AWS services")."""
    return json.dumps(
        _document(
            {
                "Sid": "AccountAdministersThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "CloudWatchPublishesAlarms",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDWATCH_SERVICE},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
            },
        )
    )


def keep_last_images(count: int) -> str:
    """ECR lifecycle policy: expire all but the newest `count` images."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Keep the last {count} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": count,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
    )
