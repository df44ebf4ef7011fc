"""Scheduled scaling on moto: the prod stack with two daily scheduled actions, as AWS stores them."""

from __future__ import annotations

import json

import boto3  # type: ignore[import-untyped]

from offline.stack import deploy, project_name, stack_config

PROJECT = project_name()
ROLLOUT = "pulumi-python:dynamic/rollout:Rollout"
SCHEDULES = [
    {
        "name": "weekday-peak",
        "recurrence": "0 8 * * 1-5",
        "timeZone": "Europe/Berlin",
        "minSize": 4,
        "maxSize": 10,
    },
    {
        "name": "weekday-evening",
        "recurrence": "0 20 * * 1-5",
        "timeZone": "Europe/Berlin",
        "minSize": 2,
        "maxSize": 10,
    },
]


def test_scheduled_actions_set_the_bounds_in_their_time_zone_and_never_the_desired_capacity() -> None:
    config = {**stack_config("prod"), f"{PROJECT}:scheduledScaling": json.dumps(SCHEDULES)}
    with deploy("prod", config=config) as deployment:
        autoscaling = boto3.client("autoscaling", region_name=deployment.region)
        (group,) = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
        actions = autoscaling.describe_scheduled_actions(AutoScalingGroupName=group["AutoScalingGroupName"])
        stored = {
            action["ScheduledActionName"]: {
                key: action[key] for key in ("Recurrence", "TimeZone", "MinSize", "MaxSize") if key in action
            }
            for action in actions["ScheduledUpdateGroupActions"]
        }
        assert stored == {
            schedule["name"]: {
                "Recurrence": schedule["recurrence"],
                "TimeZone": schedule["timeZone"],
                "MinSize": schedule["minSize"],
                "MaxSize": schedule["maxSize"],
            }
            for schedule in SCHEDULES
        }
        # No DesiredCapacity: at each time the policies keep deciding it, within the new bounds.
        assert all("DesiredCapacity" not in action for action in actions["ScheduledUpdateGroupActions"])


def test_a_spot_stack_keeps_its_minimum_on_demand_over_the_size_class_and_rebalances() -> None:
    config = {**stack_config("prod"), f"{PROJECT}:spot": "true"}
    with deploy("prod", config=config) as deployment:
        autoscaling = boto3.client("autoscaling", region_name=deployment.region)
        (group,) = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
        assert group["CapacityRebalance"] is True
        assert "LaunchTemplate" not in group or group["LaunchTemplate"] is None
        policy = group["MixedInstancesPolicy"]
        assert [o["InstanceType"] for o in policy["LaunchTemplate"]["Overrides"]] == ["t3.small", "t3a.small"]
        assert policy["InstancesDistribution"] == {
            "OnDemandAllocationStrategy": "prioritized",
            "OnDemandBaseCapacity": group["MinSize"],
            "OnDemandPercentageAboveBaseCapacity": 0,
            "SpotAllocationStrategy": "price-capacity-optimized",
        }
        # Created on the template's latest version, inside the policy, which the rollout reads from there.
        (rollout,) = (c for c in deployment.mocks.created if c.typ == ROLLOUT)
        specification = policy["LaunchTemplate"]["LaunchTemplateSpecification"]
        assert specification["Version"] == str(int(rollout.inputs["launch_template_version"]))
        # The nodes launched from it serve the target group (moto launches them On-Demand, of the first type).
        assert len(group["Instances"]) == group["DesiredCapacity"]
        assert all(i["LaunchTemplate"]["Version"] == specification["Version"] for i in group["Instances"])
        # Their role may take them out of that target group, and no other.
        iam = boto3.client("iam", region_name=deployment.region)
        (role,) = (r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("nodes-role"))
        names = iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]
        (drain,) = (n for n in names if n.startswith("nodes-spot-drain"))
        document = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=drain)["PolicyDocument"]
        assert document["Statement"][0]["Resource"] == group["TargetGroupARNs"][0]
