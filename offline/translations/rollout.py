"""The gated rollout (infra/rollout.py): what it names is checked in moto; the refresh itself is not run
offline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.rollout import HOW, saved
from offline.aws import Aws, Inputs, reveal
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
    (group,) = groups["AutoScalingGroups"]
    version = str(int(inputs["launch_template_version"]))
    aws.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=inputs["launch_template_id"], Versions=[version]
    )
    # The group is created on the version; the rollout reads it where the group keeps it.
    if saved(group) != (inputs["launch_template_id"], version):
        raise ValueError(f"the group is saved on {saved(group)}, not the rollout's version {version}")
    _check_policy(group, inputs.get("mixed_instances_policy"))
    alarm_names = list(inputs["alarm_names"])
    found = aws.client("cloudwatch").describe_alarms(AlarmNames=alarm_names)["MetricAlarms"]
    missing = set(alarm_names) - {alarm["AlarmName"] for alarm in found}
    if missing:
        raise ValueError(f"ValidationError: alarms {sorted(missing)} do not exist")
    return group_name, {"instance_refresh_id": None}


def _check_policy(group: Mapping[str, Any], policy: Mapping[str, Any] | None) -> None:
    """The policy a refresh would carry is the group's own, but for its launch template specification:
    otherwise the refresh's success would change the group's types or distribution."""
    stored = group.get("MixedInstancesPolicy")
    if policy is None or stored is None:
        if policy is not None or stored is not None:
            raise ValueError("the rollout and the group disagree on a mixed instances policy")
        return
    kept = {
        **stored,
        "LaunchTemplate": {
            k: v for k, v in stored["LaunchTemplate"].items() if k != "LaunchTemplateSpecification"
        },
    }
    if kept != reveal(dict(policy)):
        raise ValueError(f"the rollout's mixed instances policy {dict(policy)} is not the group's {kept}")
