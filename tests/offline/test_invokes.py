"""offline/invokes.py: the program's invokes answered from moto, and the test mocks' static answers
(`tests/conftest.py`) shaped alike."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import boto3  # type: ignore[import-untyped]
import pulumi
import pulumi_aws as aws
import pytest

from infra.architecture import AMI_PARAMETERS
from infra.config import PROJECT
from offline import invokes
from offline.aws import Aws
from offline.stack import deploy, stack_config
from tests.conftest import INVOKES, RELEASE_TAGS, Harness, pushed_digest

EXISTING_VPC = {
    **stack_config("prod"),
    f"{PROJECT}:existingVpcId": "vpc-0123456789abcdef0",
    f"{PROJECT}:existingPublicSubnetIds": json.dumps(
        ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"]
    ),
    f"{PROJECT}:existingPrivateSubnetIds": json.dumps(
        ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]
    ),
}
"""The prod stack in a VPC that exists: the only config under which the program looks a VPC up."""
PINNED = {**EXISTING_VPC, f"{PROJECT}:appImageDigest": pushed_digest(f"{PROJECT}/prod/app", RELEASE_TAGS[0])}
"""The same, rolled back to a release ECR holds: the only config under which the program lists images."""


def program_invokes(harness: Harness) -> dict[str, dict[str, Any]]:
    """Each invoke the program makes on the prod and dev stacks and on prod in an existing VPC, rolled back,
    run on the test mocks: its token and (the last) arguments."""
    made: dict[str, dict[str, Any]] = {}
    for stack, config in (("prod", None), ("dev", None), ("prod", EXISTING_VPC), ("prod", PINNED)):
        harness.use(stack, config)
        harness.evaluate(harness.run_program)
        made.update(harness.mocks.invokes)
    return made


def test_the_mocks_and_moto_answer_every_invoke_of_the_program_with_the_same_keys(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = program_invokes(harness)
    assert set(made) == set(INVOKES) == set(invokes.INVOKES)
    from_moto: dict[str, dict[str, Any]] = {}
    for token, answer in invokes.INVOKES.items():

        def record(aws: Aws, args: Mapping[str, Any], token: str = token, answer: Any = answer) -> Any:
            from_moto[token] = answer(aws, args)
            return from_moto[token]

        monkeypatch.setitem(invokes.INVOKES, token, record)
    # A rolled-back stack builds nothing, so asks no ECR token: both are deployed.
    for config in (EXISTING_VPC, PINNED):
        with deploy("prod", config=config):
            pass
    assert set(from_moto) == set(made)
    for token, args in made.items():
        assert sorted(INVOKES[token](args)) == sorted(from_moto[token]), token


def test_lookups_are_answered_from_moto() -> None:
    """The lookups the program makes, as moto has them: an existing VPC, the account, the AMI parameter and
    an ECR token."""
    seen: dict[str, Any] = {}

    def program() -> None:
        ec2 = boto3.client("ec2", region_name="us-east-1")
        seen["vpc_id"] = ec2.create_vpc(CidrBlock="172.20.0.0/16")["Vpc"]["VpcId"]
        pulumi.export("vpc_cidr", aws.ec2.get_vpc_output(id=seen["vpc_id"]).cidr_block)
        pulumi.export("account", aws.get_caller_identity_output().account_id)
        for architecture, parameter in AMI_PARAMETERS.items():
            ami = aws.ssm.get_parameter_output(name=parameter).value
            pulumi.export(f"ami-{architecture}", ami.apply(lambda v: v[:4]))
        pulumi.export("user", aws.ecr.get_authorization_token_output().user_name)

    with deploy("prod", program=program, managed_policies=False) as deployment:
        account = boto3.client("sts", region_name="us-east-1").get_caller_identity()["Account"]
    assert deployment.outputs == {
        "vpc_cidr": "172.20.0.0/16",
        "account": account,
        "ami-x86_64": "ami-",
        "ami-arm64": "ami-",
        "user": "AWS",
    }
