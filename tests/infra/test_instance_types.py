"""infra/instance_types.py: every type it knows against EC2's figures (moto's DescribeInstanceTypes)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import moto
import pytest

from infra import instance_types


def described() -> dict[str, Any]:
    """moto's copy of DescribeInstanceTypes, by type name."""
    path = Path(moto.__file__).parent / "ec2" / "resources" / "instance_types.json.gz"
    types: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    return types


@pytest.mark.parametrize("name", instance_types.known_names())
def test_each_known_type_has_ec2s_architecture_vcpus_memory_and_burstability(name: str) -> None:
    known = instance_types.lookup(name)
    assert known is not None
    ec2 = described()[name]
    assert known.architecture in ec2["ProcessorInfo"]["SupportedArchitectures"]
    assert known.vcpus == ec2["VCpuInfo"]["DefaultVCpus"]
    assert known.memory_gib * 1024 == ec2["MemoryInfo"]["SizeInMiB"]
    assert known.burstable == ec2["BurstablePerformanceSupported"]
    # A Spot group launches it.
    assert "spot" in ec2["SupportedUsageClasses"]


@pytest.mark.parametrize(
    "name", ["x2iedn.large", "m5.8xlarge", "m5.metal", "t3small", "c5.medium", "t3.4xlarge"]
)
def test_a_type_of_a_family_or_size_it_does_not_know_is_none(name: str) -> None:
    assert instance_types.lookup(name) is None


def test_the_same_class_keeps_kind_architecture_and_size_the_given_type_first() -> None:
    graviton = instance_types.lookup("m7g.large")
    assert graviton is not None
    assert instance_types.same_class(graviton) == ["m7g.large", "m6g.large"]
