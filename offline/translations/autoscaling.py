"""Auto Scaling groups and their scaling policies."""

from __future__ import annotations

from offline.aws import Aws, Inputs, pascal, physical_name, require_known
from offline.translations.registry import Outputs, translates


@translates("aws:autoscaling/group:Group")
def group(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateAutoScalingGroup with the launch template, subnets, target groups and tags."""
    autoscaling = aws.client("autoscaling")
    group_name = physical_name(name, inputs, max_length=255)
    parameters = inputs.renamed(
        {
            "minSize": "MinSize",
            "maxSize": "MaxSize",
            "desiredCapacity": "DesiredCapacity",
            "healthCheckType": "HealthCheckType",
            "healthCheckGracePeriod": "HealthCheckGracePeriod",
            "targetGroupArns": "TargetGroupARNs",
            "defaultInstanceWarmup": "DefaultInstanceWarmup",
            "capacityRebalance": "CapacityRebalance",
            "terminationPolicies": "TerminationPolicies",
        }
    )
    if "vpcZoneIdentifiers" in inputs:
        parameters["VPCZoneIdentifier"] = ",".join(inputs["vpcZoneIdentifiers"])
    if "launchTemplate" in inputs:
        template = inputs["launchTemplate"]
        require_known(template, ("id", "name", "version"), "launchTemplate")
        parameters["LaunchTemplate"] = {
            **(
                {"LaunchTemplateId": template["id"]}
                if "id" in template
                else {"LaunchTemplateName": template["name"]}
            ),
            **({"Version": template["version"]} if "version" in template else {}),
        }
    parameters["Tags"] = [
        {
            "Key": tag["key"],
            "Value": tag["value"],
            "PropagateAtLaunch": tag["propagateAtLaunch"],
            "ResourceId": group_name,
            "ResourceType": "auto-scaling-group",
        }
        for tag in inputs.get("tags", [])
    ]
    autoscaling.create_auto_scaling_group(AutoScalingGroupName=group_name, **parameters)
    if "enabledMetrics" in inputs:
        autoscaling.enable_metrics_collection(
            AutoScalingGroupName=group_name,
            Metrics=inputs["enabledMetrics"],
            Granularity=inputs.get("metricsGranularity", "1Minute"),
        )
    (created,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])[
        "AutoScalingGroups"
    ]
    return group_name, {"arn": created["AutoScalingGroupARN"], "name": group_name}


@translates("aws:autoscaling/policy:Policy")
def scaling_policy(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """PutScalingPolicy on the group."""
    policy_name = physical_name(name, inputs)
    parameters = inputs.renamed(
        {
            "policyType": "PolicyType",
            "estimatedInstanceWarmup": "EstimatedInstanceWarmup",
            "adjustmentType": "AdjustmentType",
            "scalingAdjustment": "ScalingAdjustment",
            "cooldown": "Cooldown",
            "enabled": "Enabled",
        }
    )
    if "targetTrackingConfiguration" in inputs:
        parameters["TargetTrackingConfiguration"] = pascal(inputs["targetTrackingConfiguration"])
    autoscaling = aws.client("autoscaling")
    group_name = inputs["autoscalingGroupName"]
    # AWS refuses a policy for a group that does not exist; moto creates it anyway.
    if not autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"]:
        raise ValueError(f"ValidationError: auto scaling group {group_name!r} not found")
    autoscaling.put_scaling_policy(AutoScalingGroupName=group_name, PolicyName=policy_name, **parameters)
    # Read back: moto's PutScalingPolicy answer names the ARN `PolicyArn`, which botocore drops.
    (created,) = autoscaling.describe_policies(AutoScalingGroupName=group_name, PolicyNames=[policy_name])[
        "ScalingPolicies"
    ]
    return policy_name, {"arn": created["PolicyARN"], "name": policy_name}
