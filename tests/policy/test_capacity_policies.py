"""The capacity policies: production groups track CPU and requests; scheduled actions set bounds only.
Each fires on a deliberately bad declaration with a message saying how to fix it, and stays quiet on the
good one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.policy.support import Declared, resource_violations, stack_violations

GROUP = "aws:autoscaling/group:Group"
POLICY = "aws:autoscaling/policy:Policy"
SCHEDULE = "aws:autoscaling/schedule:Schedule"
GOOD_SCHEDULE = {
    "scheduledActionName": "weekday-peak",
    "autoscalingGroupName": "scaling-asg-1a2b3c4",
    "recurrence": "0 8 * * 1-5",
    "timeZone": "Europe/Berlin",
    "minSize": 4,
    "maxSize": 10,
    "desiredCapacity": -1,
}


def group() -> Declared:
    return Declared(GROUP, "scaling-asg", {"minSize": 2, "maxSize": 10, "vpcZoneIdentifiers": ["a", "b"]})


def tracking(name: str, metric: str, *, linked: bool = True) -> Declared:
    return Declared(
        POLICY,
        name,
        {
            "policyType": "TargetTrackingScaling",
            "targetTrackingConfiguration": {
                "predefinedMetricSpecification": {"predefinedMetricType": metric},
                "targetValue": 60,
            },
        },
        depends_on={"autoscalingGroupName": ["scaling-asg"]} if linked else {},
    )


CPU = tracking("scaling-cpu", "ASGAverageCPUUtilization")
REQUESTS = tracking("scaling-requests", "ALBRequestCountPerTarget")


def capacity_violations(resources: list[Declared], stack: str) -> list[tuple[str, str]]:
    return [
        (policy, message)
        for policy, _, message in stack_violations(resources, stack)
        if policy == "asg-scales-on-cpu-and-requests"
    ]


def test_a_production_group_tracking_cpu_and_requests_passes() -> None:
    assert capacity_violations([group(), CPU, REQUESTS], "prod") == []


@pytest.mark.parametrize(
    ("policies", "missing"),
    [
        ([CPU], "ALBRequestCountPerTarget"),
        ([REQUESTS], "ASGAverageCPUUtilization"),
        ([], "ASGAverageCPUUtilization or ALBRequestCountPerTarget"),
        # Policies of another group do not count for this one.
        (
            [
                tracking("other-cpu", "ASGAverageCPUUtilization", linked=False),
                tracking("other-requests", "ALBRequestCountPerTarget", linked=False),
            ],
            "ASGAverageCPUUtilization or ALBRequestCountPerTarget",
        ),
    ],
    ids=["no-requests", "no-cpu", "none", "another-groups"],
)
def test_a_production_group_missing_a_tracked_metric_is_reported(
    policies: list[Declared], missing: str
) -> None:
    ((policy, message),) = capacity_violations([group(), *policies], "prod")
    assert policy == "asg-scales-on-cpu-and-requests"
    assert f"scaling-asg has no target-tracking policy on {missing}: add an aws.autoscaling.Policy" in message


def test_a_dev_group_may_scale_on_cpu_alone() -> None:
    assert capacity_violations([group(), CPU], "dev") == []


def test_a_schedule_that_sets_only_the_bounds_passes_in_prod() -> None:
    assert (
        resource_violations(Declared(SCHEDULE, "scaling-schedule-weekday-peak", GOOD_SCHEDULE), "prod") == []
    )


@pytest.mark.parametrize(
    ("changes", "stack", "message"),
    [
        ({"desiredCapacity": 4}, "dev", "sets desired_capacity=4 (the provider sends 0 when it is left out)"),
        ({"desiredCapacity": None}, "dev", "sets desired_capacity=0 (the provider sends 0"),
        ({"minSize": 1}, "prod", "stack 'prod': the scheduled action sets min_size=1: production needs"),
        ({"minSize": None}, "prod", "stack 'prod': the scheduled action sets min_size=0"),
    ],
    ids=["desired-set", "desired-left-out", "prod-min-below-2", "prod-min-left-out"],
)
def test_a_schedule_that_would_set_the_desired_capacity_or_drop_productions_minimum_is_reported(
    changes: dict[str, Any], stack: str, message: str
) -> None:
    props = {key: value for key, value in {**GOOD_SCHEDULE, **changes}.items() if value is not None}
    found = resource_violations(Declared(SCHEDULE, "scaling-schedule-weekday-peak", props), stack)
    assert [policy for policy, _ in found] == ["scheduled-actions-leave-desired-capacity"]
    assert message in found[0][1]


def test_a_dev_schedule_may_lower_the_minimum_to_one() -> None:
    props = {**GOOD_SCHEDULE, "minSize": 1}
    assert resource_violations(Declared(SCHEDULE, "scaling-schedule-night", props), "dev") == []
