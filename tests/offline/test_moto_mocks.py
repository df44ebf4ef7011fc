"""offline/moto_mocks.py: what the mocks refuse, what they do as the provider does, what they leave behind."""

from __future__ import annotations

from collections.abc import Callable

import boto3  # type: ignore[import-untyped]
import pulumi
import pulumi_aws as aws
import pytest

from offline.aws import UntranslatedError
from offline.stack import deploy


def untranslated(program: Callable[[], object]) -> str:
    """The message of the error a small program's deployment fails with for want of a translation."""
    with pytest.raises(UntranslatedError) as caught, deploy("dev", program=program, managed_policies=False):
        pass
    return str(caught.value)


def test_a_type_without_translation_fails_naming_it() -> None:
    def program() -> None:
        aws.ec2.VpcIpv4CidrBlockAssociation("extra", vpc_id="vpc-0123456789abcdef0", cidr_block="10.9.0.0/16")

    assert untranslated(program).startswith(
        "aws:ec2/vpcIpv4CidrBlockAssociation:VpcIpv4CidrBlockAssociation (extra): the program declares"
    )


def test_an_input_no_translation_sends_fails_naming_it() -> None:
    def program() -> None:
        aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16", enable_network_address_usage_metrics=True)

    assert "inputs ['enableNetworkAddressUsageMetrics'] are not sent to AWS" in untranslated(program)


def test_an_invoke_without_answer_fails_naming_it() -> None:
    def program() -> None:
        aws.ec2.get_ami_output(owners=["amazon"], most_recent=True)

    assert untranslated(program).startswith("invoke aws:ec2/getAmi:getAmi: not answered from moto")


def test_a_lookup_the_program_does_not_make_fails_naming_it() -> None:
    def program() -> None:
        aws.get_region_output()

    assert untranslated(program).startswith("invoke aws:index/getRegion:getRegion: not answered from moto")


def test_a_deployment_leaves_no_runtime_state_behind() -> None:
    def program() -> None:
        aws.sns.Topic("topic")

    with deploy("dev", program=program, managed_policies=False):
        assert pulumi.runtime.get_root_resource() is not None
    assert pulumi.runtime.get_root_resource() is None
    assert pulumi.Config("aws").get("region") is None


def test_a_new_group_loses_the_default_egress_as_the_provider_does() -> None:
    def program() -> None:
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
        aws.ec2.SecurityGroup("web", vpc_id=vpc.id)

    with deploy("dev", program=program, managed_policies=False) as deployment:
        (group,) = [c for c in deployment.mocks.created if c.typ == "aws:ec2/securityGroup:SecurityGroup"]
        ec2 = boto3.client("ec2", region_name="us-east-1")
        rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [group.id]}])
    assert rules["SecurityGroupRules"] == []


def test_inline_rules_fail_naming_the_resources_to_use() -> None:
    def program() -> None:
        vpc = aws.ec2.Vpc("vpc", cidr_block="10.0.0.0/16")
        aws.ec2.SecurityGroup(
            "web",
            vpc_id=vpc.id,
            ingress=[aws.ec2.SecurityGroupIngressArgs(protocol="tcp", from_port=443, to_port=443)],
        )

    assert "aws.vpc.SecurityGroupIngressRule" in untranslated(program)
