"""infra/policies.py: what each policy document allows, and to whom."""

from __future__ import annotations

import json

from infra import policies

LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:/flask-nginx-aws/prod/node"
BUCKET = "arn:aws:s3:::web-access-logs-1a2b3c4"


def test_assume_role_trusts_one_service_and_optionally_one_account() -> None:
    statement = json.loads(
        policies.assume_role("vpc-flow-logs.amazonaws.com", source_account="123456789012")
    )["Statement"][0]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert "Condition" not in json.loads(policies.assume_role("ec2.amazonaws.com"))["Statement"][0]


def test_log_writers_reach_one_log_group_only() -> None:
    (statement,) = json.loads(policies.write_log_group(LOG_GROUP))["Statement"]
    assert statement["Resource"] == [LOG_GROUP, f"{LOG_GROUP}:log-stream:*"]
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    (flow_logs,) = json.loads(policies.write_log_group(LOG_GROUP, describe=True))["Statement"]
    assert "logs:DescribeLogStreams" in flow_logs["Action"]


def test_image_pulls_are_scoped_to_the_repositories() -> None:
    arns = ["arn:aws:ecr:us-east-1:123456789012:repository/flask-nginx-aws/prod/app"]
    token, pull = json.loads(policies.pull_images(arns))["Statement"]
    assert token["Action"] == "ecr:GetAuthorizationToken"
    assert pull["Resource"] == arns
    assert not any(action.startswith("ecr:Put") for action in pull["Action"])


def test_access_log_bucket_admits_the_elb_account_and_refuses_plain_http() -> None:
    allow, deny = json.loads(
        policies.access_log_bucket(
            BUCKET, elb_account_arn="arn:aws:iam::127311923021:root", account_id="123456789012"
        )
    )["Statement"]
    assert allow["Principal"] == {"AWS": "arn:aws:iam::127311923021:root"}
    assert allow["Resource"] == f"{BUCKET}/AWSLogs/123456789012/*"
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_lifecycle_keeps_the_last_images() -> None:
    (rule,) = json.loads(policies.keep_last_images(7))["rules"]
    assert rule["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 7}
    assert rule["action"] == {"type": "expire"}
