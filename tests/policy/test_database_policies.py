"""The database's policies: each fires on a deliberately bad database or security group, with a message
saying how to fix it, and stays quiet on the good version; the stack's own database passes them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness
from tests.policy.support import Declared, resource_violations, stack_violations
from tests.policy.test_program_policies import violations

DB = "aws:rds/instance:Instance"
SG = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
GOOD_DB = {
    "engine": "postgres",
    "port": 5432,
    "storageEncrypted": True,
    "publiclyAccessible": False,
    "multiAz": True,
    "deletionProtection": True,
    "skipFinalSnapshot": False,
    "finalSnapshotIdentifier": "flask-nginx-aws-prod-final",
    "backupRetentionPeriod": 14,
    "vpcSecurityGroupIds": ["sg-db"],
}


def database(**changes: Any) -> Declared:
    return Declared(DB, "database-instance", {**GOOD_DB, **changes})


def test_a_good_database_passes_in_prod_and_dev() -> None:
    assert resource_violations(database(), "prod") == []
    dev = database(multiAz=False, deletionProtection=False, skipFinalSnapshot=True, backupRetentionPeriod=1)
    assert resource_violations(dev, "dev") == []


@pytest.mark.parametrize(
    ("changes", "stack", "policy", "message"),
    [
        ({"storageEncrypted": False}, "dev", "rds-encrypted-and-private", "set storage_encrypted=True"),
        ({"storageEncrypted": None}, "dev", "rds-encrypted-and-private", "set storage_encrypted=True"),
        ({"publiclyAccessible": True}, "dev", "rds-encrypted-and-private", "set publicly_accessible=False"),
        ({"multiAz": False}, "prod", "rds-durable-in-production", "set multi_az=True"),
        ({"deletionProtection": False}, "prod", "rds-durable-in-production", "set deletion_protection=True"),
        ({"skipFinalSnapshot": True}, "prod", "rds-durable-in-production", "skip_final_snapshot=False"),
        ({"finalSnapshotIdentifier": None}, "prod", "rds-durable-in-production", "final_snapshot_identifier"),
        ({"backupRetentionPeriod": 1}, "prod", "rds-durable-in-production", "at least 7 days"),
    ],
    ids=[
        "unencrypted",
        "encryption-unset",
        "public",
        "single-az-prod",
        "unprotected-prod",
        "no-snapshot-prod",
        "snapshot-unnamed-prod",
        "one-day-backups-prod",
    ],
)
def test_bad_databases_are_reported(changes: dict[str, Any], stack: str, policy: str, message: str) -> None:
    (found,) = resource_violations(database(**changes), stack)
    assert found[0] == policy
    assert message in found[1]


def group_with(rule: dict[str, Any] | None = None, **db_changes: Any) -> list[Declared]:
    """The database, its group and (when given) one ingress rule on that group."""
    resources = [
        Declared(SG, "database-sg", {"vpcId": "vpc-1"}),
        Declared(
            DB,
            "database-instance",
            {**GOOD_DB, **db_changes},
            depends_on={"vpcSecurityGroupIds": ["database-sg"]},
        ),
    ]
    if rule is not None:
        props = {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, **rule}
        resources.append(Declared(INGRESS, "rule", props, depends_on={"securityGroupId": ["database-sg"]}))
    return resources


def test_a_database_admitting_the_nodes_group_on_its_port_passes() -> None:
    assert stack_violations(group_with({"referencedSecurityGroupId": "sg-nodes"})) == []


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"cidrIpv4": "10.0.0.0/16"}, "admits an address range"),
        ({"cidrIpv6": "::/0", "referencedSecurityGroupId": "sg-nodes"}, "admits an address range"),
        ({"prefixListId": "pl-1234"}, "admits an address range"),
        ({"referencedSecurityGroupId": "sg-nodes", "fromPort": 0, "toPort": 65535}, "opens 0-65535"),
        ({}, "admits no security group"),
    ],
    ids=["vpc-cidr", "internet-v6", "prefix-list", "all-ports", "no-peer"],
)
def test_a_database_group_admitting_more_than_groups_on_its_port_is_reported(
    rule: dict[str, Any], message: str
) -> None:
    ((policy, urn, text),) = stack_violations(group_with(rule))
    assert policy == "rds-admits-security-groups-only"
    assert urn.endswith("::database-sg")
    assert message in text


def test_inline_cidr_ingress_on_a_database_group_is_reported() -> None:
    resources = group_with()
    resources[0] = Declared(
        SG, "database-sg", {"ingress": [{"cidrBlocks": ["0.0.0.0/0"], "fromPort": 5432, "toPort": 5432}]}
    )
    ((policy, _, text),) = stack_violations(resources)
    assert (policy, "admits an address range" in text) == ("rds-admits-security-groups-only", True)


def test_a_database_without_a_group_of_its_own_is_reported() -> None:
    ((policy, urn, text),) = stack_violations([database(vpcSecurityGroupIds=[])])
    assert policy == "rds-admits-security-groups-only"
    assert urn.endswith("::database-instance")
    assert "not the VPC's default group" in text


def test_the_prod_database_is_checked_and_passes(harness: Harness) -> None:
    resources, found = violations(harness, "prod")
    assert found == []
    (db,) = [r for r in resources if r.type == DB]
    assert db.depends_on["vpcSecurityGroupIds"] == ["database-sg"]
    rules = [
        r for r in resources if r.type == INGRESS and "database-sg" in r.depends_on.get("securityGroupId", [])
    ]
    assert [r.name for r in rules] == ["database-in-postgres"]
