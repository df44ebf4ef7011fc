"""infra/scaling.py: the group starts on the template's latest version, leaves later ones to the rollout,
scales on CPU."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest

from infra.config import PROJECT
from infra.scaling import Scaling, ScalingArgs
from tests.conftest import Harness, spy_options

GROUP = "aws:autoscaling/group:Group"
TARGET_GROUP = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-nginx-1a2b3c4/0123456789abcdef"
)


def build(harness: Harness) -> Scaling:
    built: list[Scaling] = []

    def program() -> pulumi.Output[str]:
        launch_template = pulumi.Output.from_input("lt-0123456789abcdef0")
        built.append(
            Scaling(
                "scaling",
                ScalingArgs(
                    launch_template_id=launch_template,
                    launch_template_version=pulumi.Output.from_input(7),
                    subnet_ids=["subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"],
                    target_group_arn=TARGET_GROUP,
                    min_size=2,
                    desired_capacity=3,
                    max_size=10,
                    cpu_target_percent=65.0,
                    stack="prod",
                    tags={"Environment": "Production"},
                ),
            )
        )
        return built[0].policy.arn

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


def test_capacity_is_the_policys_and_the_version_the_rollouts_after_creation(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = spy_options(monkeypatch, aws.autoscaling.Group)
    build(harness)
    (opts,) = options
    assert opts.ignore_changes == ["desiredCapacity", "launchTemplate"]


def test_tags_propagate_at_launch_and_group_metrics_are_on(harness: Harness, scaling: Scaling) -> None:
    group = harness.mocks.one(GROUP).inputs
    assert group["tags"] == [
        {"key": "Environment", "value": "Production", "propagateAtLaunch": True},
        {"key": "Name", "value": f"{PROJECT}-prod-node", "propagateAtLaunch": True},
    ]
    assert "GroupInServiceInstances" in group["enabledMetrics"]
    assert group["metricsGranularity"] == "1Minute"


def test_policy_tracks_average_cpu_of_this_group(harness: Harness, scaling: Scaling) -> None:
    group = harness.mocks.one(GROUP)
    policy = harness.mocks.one("aws:autoscaling/policy:Policy").inputs
    assert policy["autoscalingGroupName"] == group.state["name"]
    assert policy["policyType"] == "TargetTrackingScaling"
    assert policy["targetTrackingConfiguration"] == {
        "predefinedMetricSpecification": {"predefinedMetricType": "ASGAverageCPUUtilization"},
        "targetValue": 65.0,
    }
    assert policy["estimatedInstanceWarmup"] > 0
