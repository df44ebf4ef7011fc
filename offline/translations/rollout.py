"""The gated rollout (infra/rollout.py): what it names is checked in moto; the refresh itself is not run
offline."""

from __future__ import annotations

from infra.rollout import HOW
from offline.aws import Aws, Inputs
from offline.translations.registry import Outputs, translates

REFRESH = "how the refresh runs, which moto cannot (tests/infra/test_rollout.py checks the request)"


@translates(
    "pulumi-python:dynamic/rollout:Rollout",
    provider_only={"__provider": "the serialized provider Pulumi's dynamic provider host runs"},
    unchecked=dict.fromkeys(HOW, REFRESH),
)
def rollout(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """Nothing rolls offline: the group, the launch template version and the alarms a refresh would name
    must exist; on a new group the rollout starts no refresh anyway."""
    if aws.region != inputs["region"]:
        raise ValueError(f"the rollout's region {inputs['region']} is not the stack's {aws.region}")
    group_name = inputs["group_name"]
    groups = aws.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])
    if not groups["AutoScalingGroups"]:
        raise ValueError(f"ValidationError: auto scaling group {group_name!r} not found")
    version = str(int(inputs["launch_template_version"]))
    aws.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=inputs["launch_template_id"], Versions=[version]
    )
    alarm_names = list(inputs["alarm_names"])
    found = aws.client("cloudwatch").describe_alarms(AlarmNames=alarm_names)["MetricAlarms"]
    missing = set(alarm_names) - {alarm["AlarmName"] for alarm in found}
    if missing:
        raise ValueError(f"ValidationError: alarms {sorted(missing)} do not exist")
    return group_name, {"instance_refresh_id": None}
