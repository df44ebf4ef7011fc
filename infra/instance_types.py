"""EC2 instance types this project can size: their architecture, vCPUs and memory, and the Spot group's
default types, those of the same size class as `instanceType`. Pure data and functions.

The figures follow EC2's rules for these families (EC2 Instance Types guide, "Amazon EC2 instance type
specifications"); tests/infra/test_instance_types.py checks every type against moto's copy of
DescribeInstanceTypes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BURSTABLE_MEMORY_GIB = {
    "nano": 0.5,
    "micro": 1,
    "small": 2,
    "medium": 4,
    "large": 8,
    "xlarge": 16,
    "2xlarge": 32,
}
"""Memory of the t3, t3a and t4g sizes; each has 2 vCPUs up to `large`, 4 at `xlarge`, 8 at `2xlarge`."""
MEMORY_GIB_PER_VCPU = {"c": 2, "m": 4, "r": 8}
"""Compute-optimised, general-purpose and memory-optimised families: `large` has 2 vCPUs, `xlarge` 4,
`<n>xlarge` 4n."""
SIZES = ("large", "xlarge", "2xlarge", "4xlarge")
"""The sizes of the m, c and r families known here: every family above has each (c5 has no 8xlarge)."""
FAMILIES: dict[str, tuple[str, ...]] = {
    "x86_64": (
        "t3", "t3a",
        "m5", "m5a", "m6i", "m6a", "m7i", "m7a",
        "c5", "c5a", "c6i", "c6a", "c7i", "c7a",
        "r5", "r5a", "r6i", "r6a", "r7i", "r7a",
    ),
    "arm64": ("t4g", "m6g", "m7g", "c6g", "c7g", "r6g", "r7g"),
}  # fmt: skip
"""The families this project knows, by architecture: Intel and AMD, and Graviton. Within a kind (t, m, c, r)
and an architecture, one size has the same vCPUs and memory in every family, so any of them can stand in for
another in a Spot group."""
_TYPE = re.compile(r"^(?P<family>[a-z][a-z0-9]*)\.(?P<size>[a-z0-9]+)$")
_XLARGE = re.compile(r"^(?P<n>\d*)xlarge$")


@dataclass(frozen=True)
class InstanceType:
    """What a Spot group's types must share: architecture, vCPUs, memory, and burstable or not (the launch
    template's CPU credit setting applies to every type it launches)."""

    name: str
    architecture: str
    vcpus: int
    memory_gib: float
    burstable: bool

    @property
    def kind(self) -> str:
        """The family's letter: t (burstable), m, c or r."""
        return self.name[0]

    @property
    def size(self) -> str:
        """What follows the dot: `small`, `large`, `2xlarge`..."""
        return self.name.split(".", 1)[1]

    def size_class(self) -> tuple[str, int, float, bool]:
        """What two types must share to stand in for each other."""
        return (self.architecture, self.vcpus, self.memory_gib, self.burstable)


def lookup(name: str) -> InstanceType | None:
    """The type's figures, or None for a type of a family or size this project does not know."""
    match = _TYPE.match(name)
    if match is None:
        return None
    family, size = match["family"], match["size"]
    architecture = next((arch for arch, families in FAMILIES.items() if family in families), None)
    if architecture is None:
        return None
    if family.startswith("t"):
        if size not in BURSTABLE_MEMORY_GIB:
            return None
        vcpus = {"xlarge": 4, "2xlarge": 8}.get(size, 2)
        return InstanceType(name, architecture, vcpus, BURSTABLE_MEMORY_GIB[size], burstable=True)
    if size not in SIZES:
        return None
    xlarge = _XLARGE.match(size)
    vcpus = 4 * int(xlarge["n"] or 1) if xlarge is not None else 2
    return InstanceType(name, architecture, vcpus, vcpus * MEMORY_GIB_PER_VCPU[family[0]], burstable=False)


def known_names() -> list[str]:
    """Every type name `lookup` answers for: what the tests check against EC2's figures."""
    return [
        f"{family}.{size}"
        for families in FAMILIES.values()
        for family in families
        for size in (BURSTABLE_MEMORY_GIB if family.startswith("t") else SIZES)
    ]


def same_class(instance_type: InstanceType) -> list[str]:
    """The types of every known family of the same kind and architecture at the same size, `instance_type`
    first: the Spot group's default, as many pools as the project knows for it."""
    siblings = [
        f"{family}.{instance_type.size}"
        for family in FAMILIES[instance_type.architecture]
        if family[0] == instance_type.kind
    ]
    found = [n for n in siblings if (other := lookup(n)) and other.size_class() == instance_type.size_class()]
    return [instance_type.name, *(name for name in found if name != instance_type.name)]
