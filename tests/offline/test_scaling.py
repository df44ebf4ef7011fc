"""Scheduled scaling on moto: the prod stack with two daily scheduled actions, as AWS stores them."""

from __future__ import annotations

import json

import boto3  # type: ignore[import-untyped]

from offline.stack import deploy, project_name, stack_config

PROJECT = project_name()
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
