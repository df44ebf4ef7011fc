"""The prod stack on AWS Graviton (`architecture: arm64`, `t4g.small`) deployed to moto: the arm64 AMI of
the ECS-optimized Amazon Linux 2023 from its public parameter, and the release function on arm64."""

from __future__ import annotations

import boto3  # type: ignore[import-untyped]
import pytest

from offline.stack import deploy, project_name, stack_config

PROJECT = project_name()
ARM64_AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id"
"""AWS's name for it (ECS Developer Guide, "Retrieving Amazon ECS-optimized Linux AMI metadata")."""


# With spot, a class of two Graviton families: t4g is the only burstable one, and Spot wants two pools.
@pytest.mark.parametrize(
    ("instance_type", "spot"), [("t4g.small", False), ("m7g.large", True)], ids=["on-demand", "spot"]
)
def test_graviton_nodes_launch_the_arm64_ecs_ami_and_the_release_runs_on_arm64(
    instance_type: str, spot: bool
) -> None:
    config = {
        **stack_config("prod"),
        f"{PROJECT}:architecture": "arm64",
        f"{PROJECT}:instanceType": instance_type,
        f"{PROJECT}:spot": "true" if spot else "false",
    }
    with deploy("prod", config=config) as deployment:
        autoscaling = boto3.client("autoscaling", region_name=deployment.region)
        ec2 = boto3.client("ec2", region_name=deployment.region)
        (group,) = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
        mixed = group.get("MixedInstancesPolicy", {}).get("LaunchTemplate", {})
        template = mixed.get("LaunchTemplateSpecification") or group["LaunchTemplate"]
        (version,) = ec2.describe_launch_template_versions(
            LaunchTemplateId=template["LaunchTemplateId"], Versions=[template["Version"]]
        )["LaunchTemplateVersions"]
        data = version["LaunchTemplateData"]
        ami = boto3.client("ssm", region_name=deployment.region).get_parameter(Name=ARM64_AMI_PARAMETER)
        assert data["ImageId"] == ami["Parameter"]["Value"]
        (image,) = ec2.describe_images(ImageIds=[data["ImageId"]])["Images"]
        assert image["Architecture"] == "arm64"
        assert image["Name"].startswith("al2023-ami-ecs-hvm-")
        assert data["InstanceType"] == instance_type
        # Every type the group launches runs the AMI: the template's, or with spot each override's.
        launched = [o["InstanceType"] for o in mixed.get("Overrides", [])] or [instance_type]
        assert (len(launched) > 1) is spot
        for listed in ec2.describe_instance_types(InstanceTypes=launched)["InstanceTypes"]:
            assert listed["ProcessorInfo"]["SupportedArchitectures"] == ["arm64"]
        # A burstable Graviton type bursts as a t3 does: unlimited credits, so the group can scale on CPU.
        if instance_type.startswith("t4g"):
            assert data["CreditSpecification"] == {"CpuCredits": "unlimited"}
        assert len(group["Instances"]) == group["DesiredCapacity"]
        function = boto3.client("lambda", region_name=deployment.region).get_function(
            FunctionName=f"{PROJECT}-prod-release"
        )["Configuration"]
        assert function["Architectures"] == ["arm64"]
