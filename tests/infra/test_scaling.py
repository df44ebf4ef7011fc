"""infra/scaling.py: the group starts on the template's latest version and leaves later ones to the rollout,
scales on CPU and on requests, ends its oldest nodes first, and raises its bounds on schedule."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pytest

from infra.config import PROJECT, ScheduledCapacity, SpotSettings
from infra.scaling import INSTANCE_WARMUP_SECONDS, Scaling, ScalingArgs
from tests.conftest import Harness, spy_options

GROUP = "aws:autoscaling/group:Group"
POLICY = "aws:autoscaling/policy:Policy"
SCHEDULE = "aws:autoscaling/schedule:Schedule"
TARGET_GROUP_SUFFIX = "targetgroup/web-nginx-1a2b3c4/0123456789abcdef"
TARGET_GROUP = f"arn:aws:elasticloadbalancing:us-east-1:123456789012:{TARGET_GROUP_SUFFIX}"
ALB_SUFFIX = "app/web-alb-5d6e7f8/fedcba9876543210"
PEAK = ScheduledCapacity(
    name="weekday-peak", recurrence="0 8 * * 1-5", time_zone="Europe/Berlin", min_size=4, max_size=10
)
EVENING = ScheduledCapacity(
    name="weekday-evening", recurrence="0 20 * * 1-5", time_zone="Europe/Berlin", min_size=2, max_size=10
)


SPOT = SpotSettings(instance_types=("t3.small", "t3a.small"), on_demand_base_capacity=2)


def build(
    harness: Harness, schedules: Sequence[ScheduledCapacity] = (), spot: SpotSettings | None = None
) -> Scaling:
    built: list[Scaling] = []

    def program() -> pulumi.Output[list[str]]:
        launch_template = pulumi.Output.from_input("lt-0123456789abcdef0")
        listener = aws.lb.Listener(
            "web-https",
            load_balancer_arn=f"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/{ALB_SUFFIX}",
            port=443,
            protocol="HTTPS",
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=TARGET_GROUP)],
        )
        built.append(
            Scaling(
                "scaling",
                ScalingArgs(
                    launch_template_id=launch_template,
                    launch_template_version=pulumi.Output.from_input(7),
                    subnet_ids=["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
                    target_group_arn=TARGET_GROUP,
                    alb_arn_suffix=pulumi.Output.from_input(ALB_SUFFIX),
                    target_group_arn_suffix=pulumi.Output.from_input(TARGET_GROUP_SUFFIX),
                    listeners=[listener],
                    min_size=2,
                    desired_capacity=3,
                    max_size=10,
                    cpu_target_percent=65.0,
                    request_target_per_minute=60000,
                    schedules=schedules,
                    stack="prod",
                    tags={"Environment": "Production"},
                    spot=spot,
                ),
            )
        )
        scaling = built[0]
        return pulumi.Output.all(
            scaling.cpu_policy.arn, scaling.request_policy.arn, *(s.id for s in scaling.schedules)
        )

    harness.evaluate(program)
    return built[0]


@pytest.fixture
def scaling(harness: Harness) -> Scaling:
    return build(harness)


def test_the_group_takes_the_sizes_subnets_and_target_group_it_is_given(
    harness: Harness, scaling: Scaling
) -> None:
    group = harness.mocks.one(GROUP).inputs
    assert (group["minSize"], group["desiredCapacity"], group["maxSize"]) == (2, 3, 10)
    assert group["vpcZoneIdentifiers"] == ["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"]
    assert group["targetGroupArns"] == [TARGET_GROUP]


def test_group_is_created_on_the_launch_templates_latest_version(harness: Harness, scaling: Scaling) -> None:
    assert harness.mocks.one(GROUP).inputs["launchTemplate"] == {"id": "lt-0123456789abcdef0", "version": "7"}


def test_alb_health_decides_and_new_nodes_get_a_grace_period(harness: Harness, scaling: Scaling) -> None:
    group = harness.mocks.one(GROUP).inputs
    assert group["healthCheckType"] == "ELB"
    assert group["healthCheckGracePeriod"] >= 120


def test_the_group_has_no_refresh_of_its_own(harness: Harness, scaling: Scaling) -> None:
    # The provider's refresh saves the new version on the group before it starts
    # (hashicorp/terraform-provider-aws#34189): releases go through infra/rollout.py instead.
    assert "instanceRefresh" not in harness.mocks.one(GROUP).inputs


def test_one_warm_up_for_the_group_and_none_of_its_own_in_the_policies(
    harness: Harness, scaling: Scaling
) -> None:
    group = harness.mocks.one(GROUP).inputs
    # A new node boots, installs and pulls within the health-check grace period: it is not warm before.
    assert group["defaultInstanceWarmup"] == INSTANCE_WARMUP_SECONDS >= group["healthCheckGracePeriod"]
    # A warm-up of their own would override the group's (Auto Scaling API reference).
    assert all("estimatedInstanceWarmup" not in p.inputs for p in harness.mocks.of_type(POLICY))


def test_scale_in_ends_the_oldest_node_first(harness: Harness, scaling: Scaling) -> None:
    # Not OldestLaunchTemplate: during a rollout the group's saved version is the previous one.
    assert harness.mocks.one(GROUP).inputs["terminationPolicies"] == ["OldestInstance"]


def test_capacity_is_the_policys_and_the_version_the_rollouts_after_creation(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = spy_options(monkeypatch, aws.autoscaling.Group)
    build(harness)
    (opts,) = options
    assert opts.ignore_changes == ["desiredCapacity", "launchTemplate"]


def test_a_spot_group_keeps_the_minimum_on_demand_and_spot_above_it_over_several_types(
    harness: Harness,
) -> None:
    build(harness, spot=SPOT)
    group = harness.mocks.one(GROUP).inputs
    assert "launchTemplate" not in group
    policy = group["mixedInstancesPolicy"]
    assert policy["launchTemplate"] == {
        "launchTemplateSpecification": {"launchTemplateId": "lt-0123456789abcdef0", "version": "7"},
        "overrides": [{"instanceType": "t3.small"}, {"instanceType": "t3a.small"}],
    }
    assert policy["instancesDistribution"] == {
        "onDemandAllocationStrategy": "prioritized",
        "onDemandBaseCapacity": group["minSize"],
        "onDemandPercentageAboveBaseCapacity": 0,
        "spotAllocationStrategy": "price-capacity-optimized",
    }
    assert group["capacityRebalance"] is True


def test_an_on_demand_group_has_no_mixed_instances_policy_and_no_rebalancing(
    harness: Harness, scaling: Scaling
) -> None:
    group = harness.mocks.one(GROUP).inputs
    assert "mixedInstancesPolicy" not in group
    assert group["capacityRebalance"] is False
    assert scaling.mixed_instances_policy is None


def test_a_spot_groups_version_inside_its_policy_is_the_rollouts_after_creation(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = spy_options(monkeypatch, aws.autoscaling.Group)
    scaling = build(harness, spot=SPOT)
    (opts,) = options
    assert opts.ignore_changes == [
        "desiredCapacity",
        "mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.version",
    ]
    # What the rollout hands to StartInstanceRefresh, but for the launch template specification it adds.
    assert scaling.mixed_instances_policy is not None
    assert scaling.mixed_instances_policy["InstancesDistribution"]["OnDemandBaseCapacity"] == 2
    assert "LaunchTemplateSpecification" not in scaling.mixed_instances_policy["LaunchTemplate"]


def test_tags_propagate_at_launch_and_group_metrics_are_on(harness: Harness, scaling: Scaling) -> None:
    group = harness.mocks.one(GROUP).inputs
    assert group["tags"] == [
        {"key": "Environment", "value": "Production", "propagateAtLaunch": True},
        {"key": "Name", "value": f"{PROJECT}-prod-node", "propagateAtLaunch": True},
    ]
    assert "GroupInServiceInstances" in group["enabledMetrics"]
    assert group["metricsGranularity"] == "1Minute"


def test_cpu_policy_tracks_average_cpu_of_this_group(harness: Harness, scaling: Scaling) -> None:
    group = harness.mocks.one(GROUP)
    policy = harness.mocks.one(POLICY, "scaling-cpu").inputs
    assert policy["autoscalingGroupName"] == group.state["name"]
    assert policy["policyType"] == "TargetTrackingScaling"
    assert policy["targetTrackingConfiguration"] == {
        "predefinedMetricSpecification": {"predefinedMetricType": "ASGAverageCPUUtilization"},
        "targetValue": 65.0,
    }


def test_request_policy_tracks_requests_per_node_of_this_groups_target_group(
    harness: Harness, scaling: Scaling
) -> None:
    group = harness.mocks.one(GROUP)
    policy = harness.mocks.one(POLICY, "scaling-requests").inputs
    assert policy["autoscalingGroupName"] == group.state["name"]
    assert policy["policyType"] == "TargetTrackingScaling"
    # The label joins the ALB's ARN suffix and the target group's (API reference, ResourceLabel).
    assert policy["targetTrackingConfiguration"] == {
        "predefinedMetricSpecification": {
            "predefinedMetricType": "ALBRequestCountPerTarget",
            "resourceLabel": f"{ALB_SUFFIX}/{TARGET_GROUP_SUFFIX}",
        },
        "targetValue": 60000,
    }


def test_request_policy_waits_for_the_listeners_and_the_cpu_policy_for_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = spy_options(monkeypatch, aws.autoscaling.Policy)
    build(harness)
    cpu, requests = options
    assert cpu.depends_on == []
    assert [resource._name for resource in requests.depends_on] == ["web-https"]


def test_no_schedule_no_scheduled_action(harness: Harness, scaling: Scaling) -> None:
    assert scaling.schedules == []
    assert harness.mocks.of_type(SCHEDULE) == []


def test_each_schedule_sets_the_groups_bounds_and_leaves_its_desired_capacity(harness: Harness) -> None:
    build(harness, [PEAK, EVENING])
    group = harness.mocks.one(GROUP)
    actions = harness.mocks.of_type(SCHEDULE)
    assert [action.name for action in actions] == [
        "scaling-schedule-weekday-peak",
        "scaling-schedule-weekday-evening",
    ]
    peak = actions[0].inputs
    assert peak == {
        "scheduledActionName": "weekday-peak",
        "autoscalingGroupName": group.state["name"],
        "recurrence": "0 8 * * 1-5",
        "timeZone": "Europe/Berlin",
        "minSize": 4,
        "maxSize": 10,
        # The provider sends DesiredCapacity 0 unless told -1 (its `resourceSchedulePut`).
        "desiredCapacity": -1,
    }
    assert (actions[1].inputs["minSize"], actions[1].inputs["desiredCapacity"]) == (2, -1)
