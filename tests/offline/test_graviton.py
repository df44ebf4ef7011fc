"""The prod stack on AWS Graviton (`architecture: arm64`, `t4g.small`) deployed to moto: the arm64 AMI of
the ECS-optimized Amazon Linux 2023 from its public parameter, and the release function on arm64."""

from __future__ import annotations

import boto3  # type: ignore[import-untyped]

from offline.stack import deploy, project_name, stack_config

PROJECT = project_name()
ARM64_AMI_PARAMETER = "/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id"
"""AWS's name for it (ECS Developer Guide, "Retrieving Amazon ECS-optimized Linux AMI metadata")."""


def test_graviton_nodes_launch_the_arm64_ecs_ami_and_the_release_runs_on_arm64() -> None:
    config = {
        **stack_config("prod"),
        f"{PROJECT}:architecture": "arm64",
        f"{PROJECT}:instanceType": "t4g.small",
    }
    with deploy("prod", config=config) as deployment:
        autoscaling = boto3.client("autoscaling", region_name=deployment.region)
        ec2 = boto3.client("ec2", region_name=deployment.region)
        (group,) = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
        (version,) = ec2.describe_launch_template_versions(
            LaunchTemplateId=group["LaunchTemplate"]["LaunchTemplateId"],
            Versions=[group["LaunchTemplate"]["Version"]],
        )["LaunchTemplateVersions"]
        data = version["LaunchTemplateData"]
        ami = boto3.client("ssm", region_name=deployment.region).get_parameter(Name=ARM64_AMI_PARAMETER)
        assert data["ImageId"] == ami["Parameter"]["Value"]
        (image,) = ec2.describe_images(ImageIds=[data["ImageId"]])["Images"]
        assert image["Architecture"] == "arm64"
        assert image["Name"].startswith("al2023-ami-ecs-hvm-")
        assert data["InstanceType"] == "t4g.small"
        (listed,) = ec2.describe_instance_types(InstanceTypes=["t4g.small"])["InstanceTypes"]
        assert listed["ProcessorInfo"]["SupportedArchitectures"] == ["arm64"]
        # A burstable Graviton type bursts as a t3 does: unlimited credits, so the group can scale on CPU.
        assert data["CreditSpecification"] == {"CpuCredits": "unlimited"}
        assert len(group["Instances"]) == group["DesiredCapacity"]
        function = boto3.client("lambda", region_name=deployment.region).get_function(
            FunctionName=f"{PROJECT}-prod-release"
        )["Configuration"]
        assert function["Architectures"] == ["arm64"]
