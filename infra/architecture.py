"""The nodes' CPU architecture (config `architecture`): what it selects, and which instance types run it.

One architecture per stack: the nodes and the release function run the same images, so each image is built
for that one platform (docs/aws-contracts.md, "Architecture").
"""

from __future__ import annotations

import re

X86_64 = "x86_64"
ARM64 = "arm64"
ARCHITECTURES = (X86_64, ARM64)
"""EC2's names (DescribeInstanceTypes' SupportedArchitectures), which are also Lambda's `Architectures`."""

PLATFORMS = {X86_64: "linux/amd64", ARM64: "linux/arm64"}
"""The images' platform (Docker's name) for each architecture."""
AMI_PARAMETERS = {
    X86_64: "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id",
    ARM64: "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id",
}
"""AWS's public SSM parameters naming the latest Amazon ECS-optimized Amazon Linux 2023 AMI of each
architecture (ECS Developer Guide, "Retrieving Amazon ECS-optimized Linux AMI metadata")."""
EXAMPLE_TYPE = {X86_64: "t3.small", ARM64: "t4g.small"}
"""A type of each architecture, for error messages."""

# family, generation, then the processor and capability letters: `c7gn` is c, 7, gn; `u-6tb1` is u, 6, tb1.
_TYPE = re.compile(r"^(?P<family>[a-z]+)-?(?P<generation>\d+)(?P<attributes>[a-z0-9-]*)\.[a-z0-9-]+$")


def of_instance_type(instance_type: str) -> str | None:
    """The architecture of an EC2 instance type, from its name; None for a name of no family and generation,
    and for the macOS types (`mac1`, `mac-m4`), which run on Dedicated Hosts, not the Amazon Linux AMIs.

    The processor letter after the generation says it: `g` is AWS Graviton (arm64), in `t4g`, `c7gn`,
    `im4gn`, `g5g`; the `g` of the GPU families `g4dn`, `g5`, `g6` is their family, before the generation.
    `a1`, the first Graviton, predates the letter. Every other type is x86_64.
    tests/infra/test_architecture.py checks this against what EC2 lists for every type moto knows.
    """
    match = _TYPE.match(instance_type)
    if instance_type.startswith("mac") or match is None:
        return None
    if (match["family"], match["generation"]) == ("a", "1") or "g" in match["attributes"]:
        return ARM64
    return X86_64
