"""Policy documents as plain data: IAM, S3 bucket and ECR lifecycle policies. No Pulumi resources here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from infra.app_environment import Fetch
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


SSM_CONTEXT_KEY = "kms:EncryptionContext:PARAMETER_ARN"
"""Parameter Store encrypts each SecureString under the encryption context {"PARAMETER_ARN": <its ARN>}
(Systems Manager User Guide, "AWS KMS encryption for Parameter Store SecureString parameters")."""
SECRETS_MANAGER_CONTEXT_KEY = "kms:EncryptionContext:SecretARN"
"""Secrets Manager asks KMS with the encryption context {"SecretARN": <its ARN>, "SecretVersionId": ...}
(Secrets Manager User Guide, "Secret encryption and decryption in AWS Secrets Manager")."""


def _keys_of(arns: Sequence[str]) -> list[str]:
    """Every KMS key of the accounts and regions these ARNs are in: a service decrypts with a key of its
    own region and account, and which key (aws/ssm, aws/secretsmanager or a customer's) is not known here."""
    return sorted({f"arn:{a.split(':')[1]}:kms:{a.split(':')[3]}:{a.split(':')[4]}:key/*" for a in arns})


def _decrypt_through(service: str, context_key: str, arns: Sequence[str]) -> dict[str, Any]:
    """kms:Decrypt only when `service` asks for it (kms:ViaService) and only for these items (their ARN in
    the encryption context the service sets): never a direct Decrypt, never another item under that key."""
    return {
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": _keys_of(arns),
        "Condition": {
            "StringEquals": {
                "kms:ViaService": sorted({f"{service}.{a.split(':')[3]}.amazonaws.com" for a in arns}),
                context_key: sorted(arns),
            }
        },
    }


def leave_target_group(target_group_arn: str) -> str:
    """A Spot node's drain: deregister from its target group (resource type `targetgroup`), and read target
    health, which takes no resource but "*" (Service Authorization Reference, Elastic Load Balancing V2)."""
    return json.dumps(
        _document(
            {
                "Sid": "LeaveTargetGroup",
                "Effect": "Allow",
                "Action": "elasticloadbalancing:DeregisterTargets",
                "Resource": target_group_arn,
            },
            {
                "Sid": "WatchTheDrain",
                "Effect": "Allow",
                "Action": "elasticloadbalancing:DescribeTargetHealth",
                "Resource": "*",
            },
        )
    )


def read_app_secrets(fetches: Sequence[Fetch]) -> str:
    """Read exactly these parameters and secrets, and decrypt them only through their services.

    The AWS managed keys (aws/ssm, aws/secretsmanager) let every principal of the account decrypt through
    their service already; a customer managed key whose policy delegates to IAM needs the kms:Decrypt here
    (Systems Manager User Guide, "Restricting decryption of SecureString parameter values")."""
    parameters = sorted({f.arn for f in fetches if f.service == "ssm"})
    secrets = sorted({f.arn for f in fetches if f.service == "secretsmanager"})
    statements: list[dict[str, Any]] = []
    if parameters:
        statements += [
            {
                "Sid": "ReadParameters",
                "Effect": "Allow",
                "Action": "ssm:GetParameters",
                "Resource": parameters,
            },
            {"Sid": "DecryptParametersThroughSsm", **_decrypt_through("ssm", SSM_CONTEXT_KEY, parameters)},
        ]
    if secrets:
        statements += [
            {
                "Sid": "ReadSecrets",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": secrets,
            },
            {
                "Sid": "DecryptSecretsThroughSecretsManager",
                **_decrypt_through("secretsmanager", SECRETS_MANAGER_CONTEXT_KEY, secrets),
            },
        ]
    return json.dumps(_document(*statements))


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


VPC_INTERFACE_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
"""What Lambda needs of a function's role to place it in a VPC (the AWS managed policy
AWSLambdaVPCAccessExecutionRole, less its logs actions); the EC2 API scopes none of them to a subnet."""


def run_release(log_group_arn: str) -> str:
    """The release function's role: its network interfaces in the VPC, and its log group; the app's secrets
    come in a policy of their own (`read_app_secrets`)."""
    return json.dumps(
        _document(
            {
                "Sid": "NetworkInterfaces",
                "Effect": "Allow",
                "Action": list(VPC_INTERFACE_ACTIONS),
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": _log_group_and_streams(log_group_arn),
            },
        )
    )


def lambda_pulls_image(function_arn: str) -> str:
    """An ECR repository policy letting Lambda pull the image of one function (Lambda Developer Guide,
    "Amazon ECR permissions"; the source ARN keeps other functions of the account out)."""
    return json.dumps(
        _document(
            {
                "Sid": "LambdaPullsTheReleaseImage",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Condition": {"StringLike": {"aws:SourceArn": function_arn}},
            }
        )
    )
