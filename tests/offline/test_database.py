"""The database deployed to moto: prod as its file configures it, dev with the database switched on (what
`make plan STACK=dev` gives with `database: true`); then moto is asked what exists. And the refusals this
project adds where moto models less than RDS checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3  # type: ignore[import-untyped]
import pulumi_aws as aws
import pytest

from infra.config import DATABASE_PORT
from offline.stack import Deployment, deploy, project_name, stack_config
from tests.offline.test_rejections import network, rejected

PROJECT = project_name()


@pytest.fixture(scope="module", params=["prod", "dev"])
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """prod from its file; dev from its file with the database on."""
    config = {**stack_config(request.param), f"{PROJECT}:database": "true"}
    with deploy(request.param, config=config) as deployed:
        yield deployed


def client(deployment: Deployment, service: str) -> Any:
    return boto3.client(service, region_name=deployment.region)


def the_instance(deployment: Deployment) -> dict[str, Any]:
    (instance,) = client(deployment, "rds").describe_db_instances()["DBInstances"]
    return dict(instance)


def test_the_instance_is_encrypted_private_and_durable_in_prod_only(deployment: Deployment) -> None:
    instance = the_instance(deployment)
    prod = deployment.stack == "prod"
    assert instance["Engine"] == "postgres"
    assert instance["StorageEncrypted"] is True
    assert instance["PubliclyAccessible"] is False
    assert instance["Endpoint"]["Port"] == DATABASE_PORT
    assert instance["MultiAZ"] is prod
    assert instance["DeletionProtection"] is prod
    assert instance["DBInstanceClass"] == ("db.t4g.small" if prod else "db.t4g.micro")
    assert instance["EnabledCloudwatchLogsExports"] == ["postgresql"]
    assert deployment.outputs["database_endpoint"] == instance["Endpoint"]["Address"]


def test_the_subnet_group_spans_the_private_subnets_of_every_zone(deployment: Deployment) -> None:
    group = the_instance(deployment)["DBSubnetGroup"]
    zones = {s["SubnetAvailabilityZone"]["Name"] for s in group["Subnets"]}
    expected = json.loads(stack_config(deployment.stack)[f"{PROJECT}:availabilityZones"])
    assert zones == set(expected)
    ec2 = client(deployment, "ec2")
    subnets = ec2.describe_subnets(SubnetIds=[s["SubnetIdentifier"] for s in group["Subnets"]])["Subnets"]
    assert not any(s["MapPublicIpOnLaunch"] for s in subnets)


def test_the_parameter_group_forces_tls(deployment: Deployment) -> None:
    (group,) = the_instance(deployment)["DBParameterGroups"]
    rds = client(deployment, "rds")
    parameters = rds.describe_db_parameters(DBParameterGroupName=group["DBParameterGroupName"])["Parameters"]
    assert {p["ParameterName"]: p["ParameterValue"] for p in parameters}["rds.force_ssl"] == "1"


def test_rds_keeps_the_master_password_in_a_secret_with_username_and_password(deployment: Deployment) -> None:
    secret = the_instance(deployment)["MasterUserSecret"]
    assert deployment.outputs["database_secret_arn"] == secret["SecretArn"]
    manager = client(deployment, "secretsmanager")
    assert manager.describe_secret(SecretId=secret["SecretArn"])["OwningService"] == "rds"
    value = json.loads(manager.get_secret_value(SecretId=secret["SecretArn"])["SecretString"])
    assert set(value) == {"username", "password"}


def test_a_subnet_group_in_one_zone_is_refused() -> None:
    def program() -> None:
        _, subnets = network()
        aws.rds.SubnetGroup("db", subnet_ids=[subnets[0].id])

    assert "DBSubnetGroupDoesNotCoverEnoughAZs" in rejected(program)


def test_a_parameter_group_of_another_major_version_is_refused() -> None:
    def program() -> None:
        _, subnets = network()
        group = aws.rds.SubnetGroup("db", subnet_ids=[s.id for s in subnets])
        parameters = aws.rds.ParameterGroup("params", family="postgres15")
        aws.rds.Instance(
            "db",
            engine="postgres",
            engine_version="16",
            instance_class="db.t4g.micro",
            allocated_storage=20,
            username="postgres",
            manage_master_user_password=True,
            db_subnet_group_name=group.name,
            parameter_group_name=parameters.name,
            skip_final_snapshot=True,
        )

    message = rejected(program)
    assert "InvalidParameterCombination" in message
    assert "postgres16" in message
