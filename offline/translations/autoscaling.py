"""Auto Scaling groups, their scaling policies and their scheduled actions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from offline.aws import Aws, Inputs, pascal, physical_name, require_known
from offline.translations.registry import Outputs, translates


@translates(
    "aws:autoscaling/group:Group",
    unchecked={
        "defaultInstanceWarmup": "moto accepts it and does not keep it: DescribeAutoScalingGroups leaves "
        "it out",
    },
)
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
    if "mixedInstancesPolicy" in inputs:
        # Every field is sent as the provider sends it; botocore's validation refuses a key the API lacks.
        parameters["MixedInstancesPolicy"] = pascal(inputs["mixedInstancesPolicy"])
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
    if "LaunchTemplate" in parameters:
        _check_architectures(aws, parameters["LaunchTemplate"])
    if "MixedInstancesPolicy" in parameters:
        mixed = parameters["MixedInstancesPolicy"]["LaunchTemplate"]
        overrides = [o["InstanceType"] for o in mixed.get("Overrides", []) if "InstanceType" in o]
        _check_architectures(aws, mixed["LaunchTemplateSpecification"], overrides)
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


def _check_architectures(aws: Aws, template: Mapping[str, str], overrides: Sequence[str] = ()) -> None:
    """The template's AMI is of an architecture each instance type the group launches runs (the template's,
    or a mixed instances policy's overrides), as CreateAutoScalingGroup requires (it refuses with this
    ValidationError; RunInstances with InvalidParameterValue); moto checks neither."""
    ec2 = aws.client("ec2")
    (version,) = ec2.describe_launch_template_versions(
        **{key: value for key, value in template.items() if key != "Version"},
        Versions=[template.get("Version", "$Default")],
    )["LaunchTemplateVersions"]
    data = version["LaunchTemplateData"]
    types = list(overrides) or ([data["InstanceType"]] if "InstanceType" in data else [])
    if "ImageId" not in data or not types:
        return
    (image,) = ec2.describe_images(ImageIds=[data["ImageId"]])["Images"]
    for listed in ec2.describe_instance_types(InstanceTypes=types)["InstanceTypes"]:
        supported = listed["ProcessorInfo"]["SupportedArchitectures"]
        if image["Architecture"] not in supported:
            raise ValueError(
                "ValidationError: You must use a valid fully-formed launch template. The architecture "
                f"'{supported[-1]}' of the specified instance type does not match the architecture "
                f"'{image['Architecture']}' of the specified AMI. Specify an instance type and an AMI that "
                "have matching architectures, and try again."
            )


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
    group = _existing_group(aws, group_name)
    label = parameters.get("TargetTrackingConfiguration", {}).get("PredefinedMetricSpecification", {})
    if "ResourceLabel" in label:
        _check_resource_label(label["ResourceLabel"], group)
    autoscaling.put_scaling_policy(AutoScalingGroupName=group_name, PolicyName=policy_name, **parameters)
    # Read back: moto's PutScalingPolicy answer names the ARN `PolicyArn`, which botocore drops.
    (created,) = autoscaling.describe_policies(AutoScalingGroupName=group_name, PolicyNames=[policy_name])[
        "ScalingPolicies"
    ]
    return policy_name, {"arn": created["PolicyARN"], "name": policy_name}


def _existing_group(aws: Aws, group_name: str) -> dict[str, Any]:
    """The group, as AWS requires for a policy or a scheduled action on it; moto creates either anyway."""
    groups = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])
    if not groups["AutoScalingGroups"]:
        raise ValueError(f"ValidationError: auto scaling group {group_name!r} not found")
    return dict(groups["AutoScalingGroups"][0])


def _check_resource_label(label: str, group: Mapping[str, Any]) -> None:
    """A request-count label names a target group attached to the group (API reference,
    PredefinedMetricSpecification: "You can't specify a resource label unless the target group is attached
    to the Auto Scaling group"), after its load balancer's `app/<name>/<id>`; moto checks neither."""
    balancer, separator, target_group = label.partition("/targetgroup/")
    attached = {arn.split(":", 5)[5] for arn in group.get("TargetGroupARNs", [])}
    if not separator or not balancer.startswith("app/") or f"targetgroup/{target_group}" not in attached:
        raise ValueError(
            f"ValidationError: resource label {label!r} is not app/<alb>/<id>/targetgroup/<name>/<id> of a "
            f"target group attached to the group (attached: {sorted(attached)})"
        )


@translates("aws:autoscaling/schedule:Schedule")
def schedule(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """PutScheduledUpdateGroupAction as the provider sends it: each size unless -1 (its
    `resourceSchedulePut`, which sends 0 for a size left out)."""
    action_name = inputs["scheduledActionName"]
    group_name = inputs["autoscalingGroupName"]
    _existing_group(aws, group_name)
    parameters = inputs.renamed({"recurrence": "Recurrence", "timeZone": "TimeZone"})
    for key, parameter in (
        ("minSize", "MinSize"),
        ("maxSize", "MaxSize"),
        ("desiredCapacity", "DesiredCapacity"),
    ):
        size = inputs.get(key, 0)
        if size != -1:
            parameters[parameter] = size
    autoscaling = aws.client("autoscaling")
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName=group_name, ScheduledActionName=action_name, **parameters
    )
    (created,) = autoscaling.describe_scheduled_actions(
        AutoScalingGroupName=group_name, ScheduledActionNames=[action_name]
    )["ScheduledUpdateGroupActions"]
    return action_name, {"scheduledActionName": created["ScheduledActionName"]}
