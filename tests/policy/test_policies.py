"""Each policy fires on a deliberately bad resource, with a message saying how to fix it, and stays
quiet on the good version of the same resource."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import PROJECT
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


def spot_policy(base: int = 2, strategy: str | None = "price-capacity-optimized") -> dict[str, Any]:
    """A mixed instances policy as the provider's inputs spell it."""
    distribution: dict[str, Any] = {"onDemandBaseCapacity": base, "onDemandPercentageAboveBaseCapacity": 0}
    if strategy is not None:
        distribution["spotAllocationStrategy"] = strategy
    return {
        "launchTemplate": {"overrides": [{"instanceType": "t3.small"}, {"instanceType": "t3a.small"}]},
        "instancesDistribution": distribution,
    }


SPOT_GROUP = {
    "vpcZoneIdentifiers": ["subnet-a", "subnet-b"],
    "minSize": 2,
    "capacityRebalance": True,
    "mixedInstancesPolicy": spot_policy(),
}
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
    (
        Declared(ASG, "spot-below-base", {**SPOT_GROUP, "mixedInstancesPolicy": spot_policy(base=1)}),
        "prod",
        "asg-spot-keeps-on-demand-base",
        "stack 'prod' keeps on_demand_base_capacity=1 below min_size=2",
    ),
    (
        Declared(
            ASG, "spot-lowest-price", {**SPOT_GROUP, "mixedInstancesPolicy": spot_policy(strategy=None)}
        ),
        "dev",
        "asg-spot-keeps-on-demand-base",
        "Spot allocation strategy is lowest-price (the API's default)",
    ),
    (
        Declared(ASG, "spot-no-rebalancing", {**SPOT_GROUP, "capacityRebalance": False}),
        "dev",
        "asg-spot-keeps-on-demand-base",
        "without capacity rebalancing: set capacity_rebalance=True",
    ),
]


def test_a_spot_group_with_its_minimum_on_demand_passes_in_production() -> None:
    assert resource_violations(Declared(ASG, "spot", SPOT_GROUP), "prod") == []


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
    assert [message.split(":")[0] for _, _, message in violations] == [
        "bucket logs has no public access block with blockPublicAcls, blockPublicPolicy, ignorePublicAcls, "
        "restrictPublicBuckets all true",
        "bucket logs has no default encryption",
    ]
    assert all(urn.endswith("::aws:s3/bucket:Bucket::logs") for _, urn, _ in violations)


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
    assert all("bucket logs" in message for _, _, message in violations)


IMAGE = "docker:index/image:Image"
GOOD_IMAGE: dict[str, Any] = {
    "build": {"context": "docker", "dockerfile": "docker/Dockerfile", "target": "app"},
    "imageName": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:3f9a1c0b7d2e4f68",
}


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({**GOOD_IMAGE, "build": {**GOOD_IMAGE["build"], "context": "/home/me/app/docker"}}, "build.context"),
        (
            {**GOOD_IMAGE, "build": {**GOOD_IMAGE["build"], "dockerfile": "/ci/docker/Dockerfile"}},
            "dockerfile",
        ),
        ({**GOOD_IMAGE, "imageName": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:latest"}, "'latest'"),
        ({**GOOD_IMAGE, "imageName": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app"}, "'latest'"),
        ({**GOOD_IMAGE, "imageName": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1"}, "'v1'"),
    ],
)
def test_images_whose_rebuild_would_reuse_a_tag_are_refused(props: dict[str, Any], message: str) -> None:
    violations = resource_violations(Declared(IMAGE, "image", props))
    assert [name for name, _ in violations] == ["ecr-tags-never-reused"]
    assert message in violations[0][1]


def test_an_image_tagged_by_its_build_digest_passes() -> None:
    assert resource_violations(Declared(IMAGE, "image", GOOD_IMAGE)) == []


def test_images_for_other_registries_are_not_judged() -> None:
    hub = {**GOOD_IMAGE, "imageName": "ghcr.io/example/app:v1.2.3"}
    assert resource_violations(Declared(IMAGE, "image", hub)) == []


ALB_ARN = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef"
LOGGING_ALB = Declared(
    LB, "web", {"arn": ALB_ARN, "accessLogs": {"bucket": "logs", "prefix": "web", "enabled": True}}
)


def bucket_policy(resource: str, principal: dict[str, str] | None = None) -> Declared:
    statement = {
        "Effect": "Allow",
        "Principal": principal or {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": resource,
    }
    return Declared(
        "aws:s3/bucketPolicy:BucketPolicy",
        "logs-policy",
        {"bucket": "logs", "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})},
    )


def access_log_violations(*resources: Declared) -> list[str]:
    return [m for name, _, m in stack_violations(resources) if name == "alb-access-logs-deliverable"]


def test_an_alb_logging_where_its_bucket_policy_admits_the_write_passes() -> None:
    assert (
        access_log_violations(LOGGING_ALB, bucket_policy("arn:aws:s3:::logs/web/AWSLogs/123456789012/*"))
        == []
    )
    # Logging off: nothing is written, nothing to check.
    off = Declared(LB, "web", {**LOGGING_ALB.props, "accessLogs": {"bucket": "logs", "enabled": False}})
    assert access_log_violations(off) == []


def test_the_regions_elb_account_may_write_where_it_has_one() -> None:
    # AWS's documented policy for regions opened before August 2022 names the region's ELB account.
    elb_only = bucket_policy(
        "arn:aws:s3:::logs/web/AWSLogs/123456789012/*", {"AWS": "arn:aws:iam::127311923021:root"}
    )
    assert access_log_violations(LOGGING_ALB, elb_only) == []
    newer = Declared(LB, "web", {**LOGGING_ALB.props, "arn": ALB_ARN.replace("us-east-1", "il-central-1")})
    (violation,) = access_log_violations(newer, elb_only)
    assert "logdelivery.elasticloadbalancing.amazonaws.com" in violation


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ((LOGGING_ALB, bucket_policy("arn:aws:s3:::logs/AWSLogs/123456789012/*")), "implicit deny"),
        ((LOGGING_ALB, bucket_policy("arn:aws:s3:::logs/web/AWSLogs/999999999999/*")), "implicit deny"),
        ((LOGGING_ALB,), "has no bucket policy"),
    ],
    ids=["without-prefix", "other-account", "no-policy"],
)
def test_an_alb_whose_bucket_refuses_log_delivery_is_reported(
    resources: tuple[Declared, ...], message: str
) -> None:
    (violation,) = access_log_violations(*resources)
    assert "Access Denied for bucket" in violation
    assert "logs/web/AWSLogs/123456789012/ELBAccessLogTestFile" in violation
    assert message in violation


TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:alarms"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
ALARM = Declared("aws:cloudwatch/metricAlarm:MetricAlarm", "alarm", {"alarmActions": [TOPIC_ARN]})


def topic(key: str | None) -> Declared:
    return Declared("aws:sns/topic:Topic", "alarms", {"arn": TOPIC_ARN, "kmsMasterKeyId": key})


def key(*principals: dict[str, str]) -> Declared:
    statements = [
        {
            "Effect": "Allow",
            "Principal": p,
            "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
            "Resource": "*",
        }
        for p in principals
    ]
    policy = json.dumps({"Version": "2012-10-17", "Statement": statements})
    return Declared("aws:kms/key:Key", "key", {"arn": KEY_ARN, "keyId": KEY_ARN[-36:], "policy": policy})


def key_violations(*resources: Declared) -> list[str]:
    return [m for name, _, m in stack_violations(resources) if name == "alarm-topic-key-usable"]


def test_alarms_to_a_topic_whose_key_admits_cloudwatch_pass() -> None:
    cloudwatch = key({"Service": "cloudwatch.amazonaws.com"})
    assert key_violations(ALARM, topic(KEY_ARN), cloudwatch) == []
    assert key_violations(ALARM, topic(KEY_ARN[-36:]), cloudwatch) == []
    alias = Declared("aws:kms/alias:Alias", "alias", {"name": "alias/alarms", "targetKeyId": KEY_ARN[-36:]})
    assert key_violations(ALARM, topic("alias/alarms"), alias, cloudwatch) == []
    assert key_violations(ALARM, topic(None)) == []


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ((ALARM, topic("alias/aws/sns")), "encrypted with alias/aws/sns"),
        ((ALARM, topic("arn:aws:kms:us-east-1:123456789012:alias/aws/sns")), "encrypted with"),
        (
            (ALARM, topic(KEY_ARN), key({"AWS": "arn:aws:iam::123456789012:root"})),
            "kms:GenerateDataKey: implicit",
        ),
    ],
    ids=["aws-managed-key", "aws-managed-key-by-arn", "key-without-cloudwatch"],
)
def test_alarms_to_a_topic_whose_key_cloudwatch_cannot_use_are_reported(
    resources: tuple[Declared, ...], message: str
) -> None:
    (violation,) = key_violations(*resources)
    assert "never notifies" in violation
    assert message in violation


GROUP_ARN = f"arn:aws:logs:us-east-1:123456789012:log-group:/{PROJECT}/prod/vpc-flow-logs"


def allowing(action: str, resource: object, typ: str = ROLE_POLICY) -> Declared:
    statement = {"Effect": "Allow", "Action": action, "Resource": resource}
    return Declared(typ, "grant", {"policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})})


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (allowing("ecr:BatchGetImages", "*"), "ecr:BatchGetImages: no such action"),
        (allowing("ecs2:RunInstances", "*"), "no service 'ecs2'"),
        (allowing("kms:GenerateDataKeys*", "*"), "matches no action of kms"),
        (allowing("logs:DescribeLogGroups", GROUP_ARN), 'takes no resource but "*"'),
        (
            allowing("s3:PutObject", "arn:aws:s3:::logs", "aws:s3/bucketPolicy:BucketPolicy"),
            "arn:${Partition}:s3:::${BucketName}/${ObjectName}",
        ),
        (allowing("logs:PutLogEvents", "arn:aws:s3:::logs/*"), "log-stream"),
    ],
    ids=[
        "misspelt",
        "no-service",
        "wildcard-matching-nothing",
        "list-scoped",
        "object-on-bucket",
        "wrong-kind",
    ],
)
def test_grants_that_grant_nothing_are_refused(resource: Declared, message: str) -> None:
    violations = resource_violations(resource)
    assert [name for name, _ in violations] == ["iam-actions-exist-and-fit"]
    assert message in violations[0][1]


@pytest.mark.parametrize(
    "resource",
    [
        allowing("logs:DescribeLogGroups", "*"),
        allowing("logs:PutLogEvents", f"{GROUP_ARN}:log-stream:*"),
        allowing(
            "s3:PutObject", "arn:aws:s3:::logs/web/AWSLogs/123456789012/*", "aws:s3/bucketPolicy:BucketPolicy"
        ),
        allowing("kms:GenerateDataKey*", "*", "aws:kms/key:Key"),
        allowing("ecr:BatchGetImage", f"arn:aws:ecr:us-east-1:123456789012:repository/{PROJECT}/prod/app"),
        # Wildcards may stand for ':' and '/' too, as in AWS's own examples.
        allowing("logs:PutLogEvents", "arn:aws:logs:*:*:*"),
        allowing("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/app*"),
        allowing("logs:CreateLogStream", f"{GROUP_ARN}:*"),
        allowing("s3:GetObject", "arn:aws:s3:::*"),
        allowing("s3:GetObject", "arn:aws:s3:::my-bucket*"),
    ],
    ids=[
        "list",
        "streams",
        "objects",
        "key-wildcard",
        "repository",
        "any-log",
        "group-prefix",
        "group-and-streams",
        "any-object",
        "bucket-prefix",
    ],
)
def test_grants_that_fit_pass(resource: Declared) -> None:
    assert resource_violations(resource) == []


ROLLOUT = "pulumi-python:dynamic/rollout:Rollout"
GATED_GROUP = Declared(ASG, "asg", {"vpcZoneIdentifiers": ["subnet-a", "subnet-b"], "minSize": 2})


def test_a_group_gated_by_a_rollout_with_alarms_passes() -> None:
    rollout = Declared(ROLLOUT, "rollout", {"alarm_names": ["errors"]}, depends_on={"group_name": ["asg"]})
    violations = stack_violations([GATED_GROUP, rollout])
    assert [name for name, _, _ in violations if name == "asg-gated-rollout"] == []


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ([GATED_GROUP], "no rollout gates this group"),
        (
            [
                Declared(ASG, "asg", {"instanceRefresh": {"strategy": "Rolling"}}),
                Declared(ROLLOUT, "rollout", {"alarm_names": ["errors"]}, depends_on={"group_name": ["asg"]}),
            ],
            "the group has an instance_refresh block",
        ),
        (
            [
                GATED_GROUP,
                Declared(ROLLOUT, "rollout", {"alarm_names": []}, depends_on={"group_name": ["asg"]}),
            ],
            "this rollout watches no alarm",
        ),
    ],
)
def test_a_group_rolled_out_without_the_gate_is_reported(resources: list[Declared], message: str) -> None:
    violations = stack_violations(resources)
    gated = [text.startswith(message) for name, _, text in violations if name == "asg-gated-rollout"]
    assert gated == [True]


LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
IMAGE = "docker:index/image:Image"
FUNCTION = "aws:lambda/function:Function"


def architecture_violations(*resources: Declared) -> list[tuple[str, str]]:
    return [(urn, text) for name, urn, text in stack_violations(resources) if name == "one-architecture"]


@pytest.mark.parametrize(
    ("instance_type", "platform", "architectures"),
    [("t3.small", "linux/amd64", None), ("t4g.small", "linux/arm64", ["arm64"])],
)
def test_nodes_images_and_release_function_of_one_architecture_pass(
    instance_type: str, platform: str, architectures: list[str] | None
) -> None:
    function = {"packageType": "Image", **({"architectures": architectures} if architectures else {})}
    assert (
        architecture_violations(
            Declared(LAUNCH_TEMPLATE, "lt", {"instanceType": instance_type}),
            Declared(IMAGE, "app", {"build": {"platform": platform}}),
            Declared(FUNCTION, "release", function),
        )
        == []
    )


@pytest.mark.parametrize(
    ("resources", "culprit", "message"),
    [
        (
            [
                Declared(LAUNCH_TEMPLATE, "lt", {"instanceType": "t4g.small"}),
                Declared(IMAGE, "app", {"build": {"platform": "linux/amd64"}}),
            ],
            "app",
            "the image is built for linux/amd64, and the nodes' instance types are arm64: build it for "
            "linux/arm64",
        ),
        (
            # Without architectures, Lambda runs x86_64.
            [
                Declared(LAUNCH_TEMPLATE, "lt", {"instanceType": "c7g.large"}),
                Declared(FUNCTION, "release", {"packageType": "Image"}),
            ],
            "release",
            "the function runs on ['x86_64'], and the images are built for the nodes' arm64: set "
            "architectures=['arm64']",
        ),
        (
            [
                Declared(LAUNCH_TEMPLATE, "lt", {"instanceType": "t3.small"}),
                Declared(LAUNCH_TEMPLATE, "graviton", {"instanceType": "t4g.small"}),
            ],
            "graviton",
            "instance type t4g.small is arm64, and the stack's launch templates take ['arm64', 'x86_64']",
        ),
    ],
)
def test_an_image_or_function_of_another_architecture_than_the_nodes_is_reported(
    resources: list[Declared], culprit: str, message: str
) -> None:
    found = architecture_violations(*resources)
    assert any(urn.endswith(f"::{culprit}") and text.startswith(message) for urn, text in found), found
