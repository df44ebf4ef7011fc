"""infra/policies.py: what each policy document allows, and to whom."""

from __future__ import annotations

import dataclasses
import json

from iam_eval import Decision, Principal, evaluate
from infra import policies
from infra.config import PROJECT
from infra.log_delivery import LOG_DELIVERY_SERVICE, log_writers
from policies import access_log_test_write

LOG_GROUP = f"arn:aws:logs:us-east-1:123456789012:log-group:/{PROJECT}/prod/node"
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


def test_image_pulls_are_scoped_to_the_repositories() -> None:
    arns = [f"arn:aws:ecr:us-east-1:123456789012:repository/{PROJECT}/prod/app"]
    token, pull = json.loads(policies.pull_images(arns))["Statement"]
    assert token["Action"] == "ecr:GetAuthorizationToken"
    assert pull["Resource"] == arns
    assert not any(action.startswith("ecr:Put") for action in pull["Action"])


def test_access_log_bucket_admits_log_delivery_under_the_prefix_and_refuses_plain_http() -> None:
    document = policies.access_log_bucket(
        BUCKET, prefix="web", writers=log_writers("us-east-1"), account_id="123456789012"
    )
    write = access_log_test_write(
        bucket="web-access-logs-1a2b3c4",
        prefix="web",
        account_id="123456789012",
        writer=Principal(service=LOG_DELIVERY_SERVICE),
    )
    assert evaluate(document, write) is Decision.ALLOW
    log = dataclasses.replace(
        write, resource=write.resource.replace("ELBAccessLogTestFile", "elasticloadbalancing/us-east-1/x.gz")
    )
    assert evaluate(document, log) is Decision.ALLOW
    elb_account = dataclasses.replace(write, principal=Principal(arn="arn:aws:iam::127311923021:root"))
    assert evaluate(document, elb_account) is Decision.ALLOW
    intruder = dataclasses.replace(write, principal=Principal(arn="arn:aws:iam::999999999999:root"))
    assert evaluate(document, intruder) is Decision.IMPLICIT_DENY
    reader = dataclasses.replace(write, action="s3:GetObject")
    assert evaluate(document, reader) is Decision.IMPLICIT_DENY
    plain = dataclasses.replace(write, context={**write.context, "aws:SecureTransport": False})
    assert evaluate(document, plain) is Decision.EXPLICIT_DENY


def test_lifecycle_keeps_the_last_images() -> None:
    (rule,) = json.loads(policies.keep_last_images(7))["rules"]
    assert rule["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 7}
    assert rule["action"] == {"type": "expire"}
