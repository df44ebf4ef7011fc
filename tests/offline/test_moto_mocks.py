"""The mocks themselves: what they refuse, what they only echo, what invokes answer, what they leave."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3  # type: ignore[import-untyped]
import pulumi
import pulumi_aws as aws
import pytest

from offline.aws import UntranslatedError
from offline.moto_mocks import UNMODELLED
from offline.plan import render
from offline.stack import deploy, stack_config
from offline.translations import RESOURCES

PROJECT = "flask-nginx-aws"


def untranslated(program: Callable[[], object]) -> str:
    """The message of the error a small program's deployment fails with for want of a translation."""
    with pytest.raises(UntranslatedError) as caught, deploy("dev", program=program, managed_policies=False):
        pass
    return str(caught.value)


def test_a_type_without_translation_fails_naming_it() -> None:
    def program() -> None:
        aws.ec2.VpcIpv4CidrBlockAssociation("extra", vpc_id="vpc-0123456789abcdef0", cidr_block="10.9.0.0/16")

    assert untranslated(program).startswith(
        "aws:ec2/vpcIpv4CidrBlockAssociation:VpcIpv4CidrBlockAssociation (extra): no translation"
    )


def test_an_input_no_translation_sends_fails_naming_it() -> None:
    def program() -> None:
        aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", enable_network_address_usage_metrics=True)

    assert "inputs ['enableNetworkAddressUsageMetrics'] are not sent to AWS" in untranslated(program)


def test_an_unmodelled_type_is_echoed_and_reported_unchecked() -> None:
    assert not set(UNMODELLED) & set(RESOURCES)

    def program() -> None:
        aws.ec2.InstanceMetadataDefaults("imds", http_tokens="required", http_put_response_hop_limit=1)

    with deploy("dev", program=program, managed_policies=False) as deployment:
        (created,) = deployment.mocks.created
    assert created.typ == "aws:ec2/instanceMetadataDefaults:InstanceMetadataDefaults"
    assert created.checked is False
    assert created.inputs == {"httpTokens": "required", "httpPutResponseHopLimit": 1}


def test_an_invoke_without_answer_fails_naming_it() -> None:
    def program() -> None:
        aws.ec2.get_ami_output(owners=["amazon"], most_recent=True)

    assert untranslated(program).startswith("invoke aws:ec2/getAmi:getAmi: not answered from moto")


def test_lookups_are_answered_from_moto() -> None:
    """An existing VPC and its subnets, zones and the hosted zone prod's config names, as moto has them."""
    seen: dict[str, Any] = {}

    def program() -> None:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc_id = ec2.create_vpc(CidrBlock="172.20.0.0/16")["Vpc"]["VpcId"]
        subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="172.20.1.0/24", AvailabilityZone="us-east-1b")[
            "Subnet"
        ]["SubnetId"]
        seen.update(vpc_id=vpc_id, subnet_id=subnet_id)
        vpc = aws.ec2.get_vpc_output(id=vpc_id)
        subnet = aws.ec2.get_subnet_output(id=subnet_id)
        subnets = aws.ec2.get_subnets_output(
            filters=[aws.ec2.GetSubnetsFilterArgs(name="vpc-id", values=[vpc_id])]
        )
        zones = aws.get_availability_zones_output(state="available")
        zone = aws.route53.get_zone_output(name="example.com")
        pulumi.export("vpc_cidr", vpc.cidr_block)
        pulumi.export("subnet_zone", subnet.availability_zone)
        pulumi.export("subnet_ids", subnets.ids)
        pulumi.export("zones", zones.names)
        pulumi.export("zone_id", zone.zone_id)
        pulumi.export("region", aws.get_region_output().region)

    with deploy("prod", program=program, managed_policies=False) as deployment:
        moto_zones = boto3.client("ec2", region_name="us-east-1").describe_availability_zones()
    assert deployment.outputs == {
        "vpc_cidr": "172.20.0.0/16",
        "subnet_zone": "us-east-1b",
        "subnet_ids": [seen["subnet_id"]],
        "zones": [z["ZoneName"] for z in moto_zones["AvailabilityZones"]],
        "zone_id": stack_config("prod")[f"{PROJECT}:hostedZoneId"],
        "region": "us-east-1",
    }


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


def test_a_deployment_leaves_no_runtime_state_behind() -> None:
    def program() -> None:
        aws.sns.Topic("topic")

    with deploy("dev", program=program, managed_policies=False):
        assert pulumi.runtime.get_root_resource() is not None
    assert pulumi.runtime.get_root_resource() is None
    assert pulumi.Config("aws").get("region") is None


def test_inline_rules_replace_the_default_egress_as_the_provider_does() -> None:
    def program() -> None:
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
        aws.ec2.SecurityGroup(
            "web",
            vpc_id=vpc.id,
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"], description="HTTPS"
                ),
                aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=8443, to_port=8443, self=True),
            ],
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="-1", from_port=0, to_port=0, cidr_blocks=["10.0.0.0/16"]
                )
            ],
        )

    with deploy("dev", program=program, managed_policies=False) as deployment:
        (group,) = [c for c in deployment.mocks.created if c.typ == "aws:ec2/securityGroup:SecurityGroup"]
        ec2 = boto3.client("ec2", region_name="us-east-1")
        rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group.id]}])
    assert {
        (
            r["IsEgress"],
            r["IpProtocol"],
            r["FromPort"],
            r["ToPort"],
            r.get("CidrIpv4") or r["ReferencedGroupInfo"]["GroupId"],
            r.get("Description"),
        )
        for r in rules["SecurityGroupRules"]
    } == {
        (False, "tcp", 443, 443, "0.0.0.0/0", "HTTPS"),
        (False, "tcp", 8443, 8443, group.id, None),
        (True, "-1", -1, -1, "10.0.0.0/16", None),
    }
