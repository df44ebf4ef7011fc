"""offline/existing.py: what the config names as existing gets a stand-in in moto before the program runs."""

from __future__ import annotations

import json

import boto3  # type: ignore[import-untyped]
import pytest

from infra.config import PROJECT
from offline.existing import hosted_zone_name
from offline.plan import render
from offline.stack import deploy, stack_config


@pytest.mark.parametrize(
    ("domain", "zone"), [("app.example.com", "example.com"), ("example.com", "example.com")]
)
def test_a_domains_records_go_in_its_parent_zone_or_in_the_apex_itself(domain: str, zone: str) -> None:
    assert hosted_zone_name(domain) == zone


def test_an_existing_vpc_and_certificate_named_in_config_get_stand_ins() -> None:
    """What the config names as existing is created in moto (under moto's ids) before the program runs."""
    named_public, named_private = (
        ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"],
        [
            "subnet-0bbbbbbbbbbbbbbb1",
            "subnet-0bbbbbbbbbbbbbbb2",
        ],
    )
    named_certificate = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    config = {
        **stack_config("prod"),
        f"{PROJECT}:existingVpcId": "vpc-0123456789abcdef0",
        f"{PROJECT}:existingPublicSubnetIds": json.dumps(named_public),
        f"{PROJECT}:existingPrivateSubnetIds": json.dumps(named_private),
        f"{PROJECT}:certificateArn": named_certificate,
    }
    with deploy("prod", config=config) as deployment:
        stand_ins = {s.key: (s.named, s.stand_in) for s in deployment.stand_ins}
        ec2 = boto3.client("ec2", region_name="us-east-1")
        (vpc,) = [v for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]]
        (group,) = boto3.client("autoscaling", region_name="us-east-1").describe_auto_scaling_groups()[
            "AutoScalingGroups"
        ]
        elbv2 = boto3.client("elbv2", region_name="us-east-1")
        (balancer,) = elbv2.describe_load_balancers()["LoadBalancers"]
        https = [
            listener
            for listener in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
            if listener["Port"] == 443
        ]
        plan = list(render(deployment))
    assert stand_ins[f"{PROJECT}:existingVpcId"] == ("vpc-0123456789abcdef0", vpc["VpcId"])
    private = json.loads(stand_ins[f"{PROJECT}:existingPrivateSubnetIds"][1])
    assert sorted(group["VPCZoneIdentifier"].split(",")) == sorted(private)
    assert balancer["VpcId"] == vpc["VpcId"]
    assert not any(
        c.typ in {"aws:ec2/vpc:Vpc", "aws:acm/certificate:Certificate"} for c in deployment.mocks.created
    )
    (certificate,) = https[0]["Certificates"]
    assert stand_ins[f"{PROJECT}:certificateArn"] == (named_certificate, certificate["CertificateArn"])
    section = plan[
        plan.index("Stand-ins for what the config names as existing (moto chooses its own ids)") + 1 :
    ]
    assert section[0] == f"  {PROJECT}:existingVpcId: vpc-0123456789abcdef0 -> {vpc['VpcId']}"
