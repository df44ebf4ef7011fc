"""infra/architecture.py: an instance type's architecture read from its name, checked against what EC2 lists
for every instance type (moto's copy of DescribeInstanceTypes)."""

from __future__ import annotations

import boto3  # type: ignore[import-untyped]
import pytest
from moto import mock_aws

from infra import architecture, instance_types


def listed_architectures() -> dict[str, list[str]]:
    """Every instance type's SupportedArchitectures, as DescribeInstanceTypes answers."""
    with mock_aws():
        pages = boto3.client("ec2", region_name="us-east-1").get_paginator("describe_instance_types")
        return {
            listed["InstanceType"]: listed["ProcessorInfo"]["SupportedArchitectures"]
            for page in pages.paginate()
            for listed in page["InstanceTypes"]
        }


def test_the_name_gives_the_architecture_ec2_lists_for_every_instance_type() -> None:
    listed = listed_architectures()
    assert len(listed) > 1000
    wrong = {}
    for instance_type, architectures in listed.items():
        # The macOS types (x86_64_mac, arm64_mac) take no Amazon Linux AMI: the name refuses them.
        expected = None if any(a.endswith("_mac") for a in architectures) else architectures[-1]
        if architecture.of_instance_type(instance_type) != expected:
            wrong[instance_type] = architectures
    assert wrong == {}


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [
        ("t4g.small", "arm64"),
        ("c7gn.large", "arm64"),
        ("m8g.large", "arm64"),
        ("g5g.xlarge", "arm64"),  # Graviton with NVIDIA GPUs: g family, g processor
        ("a1.large", "arm64"),  # the first Graviton, before the letter
        ("g4dn.xlarge", "x86_64"),  # the g family of GPUs, Intel
        ("g5.xlarge", "x86_64"),
        ("t3.small", "x86_64"),
        ("t3a.small", "x86_64"),
        ("u-6tb1.112xlarge", "x86_64"),
        ("mac2.metal", None),
    ],
)
def test_graviton_is_the_g_after_the_generation(instance_type: str, expected: str | None) -> None:
    assert architecture.of_instance_type(instance_type) == expected


def test_the_spot_groups_known_types_are_of_the_architecture_their_name_gives() -> None:
    # A Spot group's types share instanceType's architecture (infra/instance_types.py), and instanceType is
    # of the configured one: both read the same.
    for architecture_name, families in instance_types.FAMILIES.items():
        for family in families:
            assert architecture.of_instance_type(f"{family}.large") == architecture_name, family
