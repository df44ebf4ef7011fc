"""Each policy fires on a deliberately bad resource, with a message saying how to fix it, and stays
quiet on the good version of the same resource."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.policy.support import Declared, resource_violations, stack_violations

LT = "aws:ec2/launchTemplate:LaunchTemplate"
GOOD_LT = {
    "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 1, "httpEndpoint": "enabled"},
    "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {"encrypted": "true", "volumeType": "gp3"}}],
}
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LISTENER = "aws:lb/listener:Listener"
LB = "aws:lb/loadBalancer:LoadBalancer"
ECR = "aws:ecr/repository:Repository"
ASG = "aws:autoscaling/group:Group"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def admin(effect: str = "Allow") -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": effect, "Action": "*", "Resource": "*"}]}
    )


GOOD = [
    Declared(LT, "lt", GOOD_LT),
    Declared(
        INGRESS, "https", {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443}
    ),
    Declared(INGRESS, "http6", {"cidrIpv6": "::/0", "ipProtocol": "tcp", "fromPort": 80, "toPort": 80}),
    Declared(
        INGRESS, "from-alb", {"referencedSecurityGroupId": "sg-1", "ipProtocol": "tcp", "fromPort": 8443}
    ),
    Declared(
        LISTENER,
        "https",
        {"protocol": "HTTPS", "port": 443, "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"},
    ),
    Declared(
        LISTENER,
        "http",
        {
            "protocol": "HTTP",
            "port": 80,
            "defaultActions": [
                {"type": "redirect", "redirect": {"protocol": "HTTPS", "statusCode": "HTTP_301"}}
            ],
        },
    ),
    Declared(LB, "alb", {"loadBalancerType": "application", "dropInvalidHeaderFields": True}),
    Declared(LB, "nlb", {"loadBalancerType": "network"}),
    Declared(
        ECR, "app", {"imageScanningConfiguration": {"scanOnPush": True}, "imageTagMutability": "IMMUTABLE"}
    ),
    Declared(ASG, "asg", {"vpcZoneIdentifiers": ["subnet-a", "subnet-b"], "minSize": 2}),
    Declared(
        ROLE_POLICY,
        "read",
        {"policy": {"Statement": [{"Effect": "Allow", "Action": ["ecr:BatchGetImage"], "Resource": "*"}]}},
    ),
    Declared(ROLE_POLICY, "deny-all", {"policy": admin("Deny")}),
]


@pytest.mark.parametrize("resource", GOOD, ids=[f"{r.type.split(':')[-1]}-{r.name}" for r in GOOD])
def test_good_resources_pass(resource: Declared) -> None:
    assert resource_violations(resource) == []


BAD: list[tuple[Declared, str, str, str]] = [
    (
        Declared(LT, "imdsv1", {**GOOD_LT, "metadataOptions": {"httpTokens": "optional"}}),
        "prod",
        "launch-template-imdsv2",
        'http_tokens="required"',
    ),
    (
        Declared(
            LT,
            "hops",
            {**GOOD_LT, "metadataOptions": {"httpTokens": "required", "httpPutResponseHopLimit": 2}},
        ),
        "prod",
        "launch-template-imdsv2",
        "http_put_response_hop_limit=1",
    ),
    (
        Declared(
            LT, "plain-disk", {**GOOD_LT, "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {}}]}
        ),
        "prod",
        "ebs-encrypted",
        "volume /dev/xvda is not encrypted: set encrypted=True",
    ),
    (
        Declared(LT, "no-disk", {"metadataOptions": {"httpTokens": "required"}}),
        "prod",
        "ebs-encrypted",
        "declares no root volume",
    ),
    (
        Declared("aws:ec2/instance:Instance", "vm", {"rootBlockDevice": {"encrypted": False}}),
        "prod",
        "ebs-encrypted",
        "root volume is not encrypted",
    ),
    (
        Declared(
            SG,
            "ssh",
            {"ingress": [{"cidrBlocks": ["0.0.0.0/0"], "protocol": "tcp", "fromPort": 22, "toPort": 22}]},
        ),
        "prod",
        "no-public-ingress",
        "ingress from 0.0.0.0/0 on tcp 22-22",
    ),
    (
        Declared(INGRESS, "all6", {"cidrIpv6": "::/0", "ipProtocol": "-1"}),
        "prod",
        "no-public-ingress",
        "ingress from ::/0 on -1",
    ),
    (
        Declared(
            INGRESS, "range", {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 80, "toPort": 443}
        ),
        "prod",
        "no-public-ingress",
        "only the ALB's TCP 80 and 443",
    ),
    (
        Declared(
            "aws:ec2/securityGroupRule:SecurityGroupRule",
            "rule",
            {
                "type": "ingress",
                "cidrBlocks": ["0.0.0.0/0"],
                "protocol": "tcp",
                "fromPort": 8443,
                "toPort": 8443,
            },
        ),
        "prod",
        "no-public-ingress",
        "tcp 8443-8443",
    ),
    (
        Declared(LISTENER, "old-tls", {"protocol": "HTTPS", "sslPolicy": "ELBSecurityPolicy-2016-08"}),
        "prod",
        "alb-listeners-https",
        "TLS policy 'ELBSecurityPolicy-2016-08'",
    ),
    (
        Declared(LISTENER, "forward", {"protocol": "HTTP", "defaultActions": [{"type": "forward"}]}),
        "prod",
        "alb-listeners-https",
        "plain HTTP listener that does not redirect",
    ),
    (
        Declared(
            LISTENER,
            "http-redirect",
            {"defaultActions": [{"type": "redirect", "redirect": {"protocol": "HTTP"}}]},
        ),
        "prod",
        "alb-listeners-https",
        'protocol="HTTPS"',
    ),
    (
        Declared(LB, "alb", {"dropInvalidHeaderFields": False}),
        "prod",
        "alb-drops-invalid-headers",
        "drop_invalid_header_fields=True",
    ),
    (
        Declared(ECR, "unscanned", {"imageTagMutability": "IMMUTABLE"}),
        "prod",
        "ecr-scan-and-immutable",
        "scan_on_push=True",
    ),
    (
        Declared(
            ECR,
            "mutable",
            {"imageScanningConfiguration": {"scanOnPush": True}, "imageTagMutability": "MUTABLE"},
        ),
        "prod",
        "ecr-scan-and-immutable",
        'image_tag_mutability="IMMUTABLE"',
    ),
    (
        Declared(ROLE_POLICY, "admin", {"policy": admin()}),
        "prod",
        "iam-no-admin-wildcard",
        'Action "*" on Resource "*"',
    ),
    (
        Declared("aws:iam/role:Role", "inline", {"inlinePolicies": [{"name": "x", "policy": admin()}]}),
        "prod",
        "iam-no-admin-wildcard",
        'Action "*" on Resource "*"',
    ),
    (
        Declared(ASG, "one-az", {"vpcZoneIdentifiers": ["subnet-a"], "minSize": 2}),
        "dev",
        "asg-multi-az",
        "spans 1 subnet(s)",
    ),
    (
        Declared(ASG, "min-one", {"vpcZoneIdentifiers": ["subnet-a", "subnet-b"], "minSize": 1}),
        "prod",
        "asg-multi-az",
        "stack 'prod' keeps min_size=1: production needs min_size >= 2",
    ),
]


@pytest.mark.parametrize(
    ("resource", "stack", "policy", "message"), BAD, ids=[f"{policy}-{r.name}" for r, _, policy, _ in BAD]
)
def test_each_policy_fires_with_a_fix(resource: Declared, stack: str, policy: str, message: str) -> None:
    violations = resource_violations(resource, stack)
    assert [name for name, _ in violations] == [policy]
    assert message in violations[0][1]


def test_min_size_one_is_fine_outside_production() -> None:
    resource = Declared(ASG, "dev", {"vpcZoneIdentifiers": ["subnet-a", "subnet-b"], "minSize": 1})
    assert resource_violations(resource, "dev") == []


BUCKET = "aws:s3/bucket:Bucket"
BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
ALL_BLOCKED: dict[str, Any] = {
    "blockPublicAcls": True,
    "blockPublicPolicy": True,
    "ignorePublicAcls": True,
    "restrictPublicBuckets": True,
}


def test_bucket_with_encryption_and_public_access_block_passes() -> None:
    resources = [
        Declared(BUCKET, "logs", {}),
        Declared(BLOCK, "logs-block", ALL_BLOCKED, {"bucket": ["logs"]}),
        Declared(SSE, "logs-sse", {}, {"bucket": ["logs"]}),
    ]
    assert stack_violations(resources) == []


def test_bucket_without_either_is_reported_twice() -> None:
    violations = stack_violations([Declared(BUCKET, "logs", {})])
    assert [message.split(":")[0] for _, message in violations] == [
        "bucket logs has no public access block with blockPublicAcls, blockPublicPolicy, ignorePublicAcls, "
        "restrictPublicBuckets all true",
        "bucket logs has no default encryption",
    ]
    assert all(urn.endswith("::aws:s3/bucket:Bucket::logs") for urn, _ in violations)


def test_partial_public_access_block_and_another_buckets_encryption_do_not_count() -> None:
    resources = [
        Declared(BUCKET, "logs", {}),
        Declared(BUCKET, "other", {}),
        Declared(BLOCK, "logs-block", {**ALL_BLOCKED, "restrictPublicBuckets": False}, {"bucket": ["logs"]}),
        Declared(BLOCK, "other-block", ALL_BLOCKED, {"bucket": ["other"]}),
        Declared(SSE, "other-sse", {}, {"bucket": ["other"]}),
    ]
    violations = stack_violations(resources)
    assert len(violations) == 2
    assert all("bucket logs" in message for _, message in violations)
