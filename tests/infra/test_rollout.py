"""infra/rollout.py: the gated rollout's state machine against the Auto Scaling API model (botocore's Stubber
checks every request and response shape; moto has no instance refresh), the provider as Pulumi's dynamic
provider host loads it, and what the program declares."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.stub import Stubber  # type: ignore[import-untyped]
from pulumi.dynamic.dynamic import serialize_provider

from infra.rollout import (
    Rollout,
    RolloutArgs,
    RolloutError,
    RolloutPreferences,
    RolloutProvider,
)
from tests.conftest import ROOT, Harness

GROUP = "scaling-asg-1a2b3c4"
TEMPLATE = "lt-0123456789abcdef0"
ALARMS = ["alarms-error-rate-1a2b3c4", "alarms-response-time-5d6e7f8", "alarms-healthy-hosts-9a0b1c2"]
REFRESH = "08b91cf7-8fa6-48af-b6a6-d227f40f1b9b"
OLDER = "0f0e0d0c-0b0a-4909-8807-060504030201"
ROLLOUT = "pulumi-python:dynamic/rollout:Rollout"
# As the host receives them: Pulumi sends numbers as floats.
PROPS: dict[str, Any] = {
    "region": "us-east-1",
    "group_name": GROUP,
    "launch_template_id": TEMPLATE,
    "launch_template_version": 8.0,
    "alarm_names": ALARMS,
    "min_healthy_percentage": 100.0,
    "max_healthy_percentage": 200.0,
    "checkpoint_percentages": [50.0, 100.0],
    "checkpoint_delay": 300.0,
    "bake_time": 300.0,
    "timeout_seconds": 2400.0,
}
# A Spot group's policy as the program passes it: no launch template specification, which the rollout adds.
OVERRIDES = [{"InstanceType": "t3.small"}, {"InstanceType": "t3a.small"}]
MIXED: dict[str, Any] = {
    "LaunchTemplate": {"Overrides": OVERRIDES},
    "InstancesDistribution": {
        "OnDemandAllocationStrategy": "prioritized",
        "OnDemandBaseCapacity": 2.0,
        "OnDemandPercentageAboveBaseCapacity": 0.0,
        "SpotAllocationStrategy": "price-capacity-optimized",
    },
}


def mixed_at(version: str) -> dict[str, Any]:
    """The group's mixed instances policy on `version` of the template, as the API spells it."""
    return {
        "LaunchTemplate": {
            "LaunchTemplateSpecification": {"LaunchTemplateId": TEMPLATE, "Version": version},
            "Overrides": OVERRIDES,
        },
        "InstancesDistribution": {
            "OnDemandAllocationStrategy": "prioritized",
            "OnDemandBaseCapacity": 2,
            "OnDemandPercentageAboveBaseCapacity": 0,
            "SpotAllocationStrategy": "price-capacity-optimized",
        },
    }


START: dict[str, Any] = {
    "AutoScalingGroupName": GROUP,
    "Strategy": "Rolling",
    "DesiredConfiguration": {"LaunchTemplate": {"LaunchTemplateId": TEMPLATE, "Version": "8"}},
    "Preferences": {
        "MinHealthyPercentage": 100,
        "MaxHealthyPercentage": 200,
        "SkipMatching": True,
        "AutoRollback": True,
        "BakeTime": 300,
        "ScaleInProtectedInstances": "Refresh",
        "StandbyInstances": "Ignore",
        "CheckpointPercentages": [50, 100],
        "CheckpointDelay": 300,
        "AlarmSpecification": {"Alarms": ALARMS},
    },
}


@dataclass
class Clock:
    """Time that moves only when the provider sleeps: no test waits."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Aws:
    """An Auto Scaling client answering from a script of stubbed calls, each checked against the model."""

    client: Any
    stubber: Stubber
    clock: Clock
    #: CloudWatch, which the rollout asks which of its alarms are in ALARM before it starts a refresh.
    alarms: Stubber

    def provider(self) -> RolloutProvider:
        def client(service: str, region: str) -> Any:
            assert region == "us-east-1"
            return self.client if service == "autoscaling" else self.alarms.client

        return RolloutProvider(client=client, clock=self.clock, sleep=self.clock.sleep)

    def group(self, version: str | None, instances: list[str], *, mixed: bool = False) -> None:
        """DescribeAutoScalingGroups: the group saved on `version` (inside its mixed instances policy when
        `mixed`), with one instance per version given."""
        group: dict[str, Any] = {
            "AutoScalingGroupName": GROUP,
            "MinSize": 2,
            "MaxSize": 10,
            "DesiredCapacity": max(len(instances), 2),
            "DefaultCooldown": 300,
            "AvailabilityZones": ["us-east-1a", "us-east-1b"],
            "HealthCheckType": "ELB",
            "CreatedTime": datetime(2026, 12, 1, tzinfo=UTC),
            "Instances": [
                {
                    "InstanceId": f"i-0{index:016x}",
                    "AvailabilityZone": "us-east-1a",
                    "LifecycleState": "InService",
                    "HealthStatus": "Healthy",
                    "ProtectedFromScaleIn": False,
                    "LaunchTemplate": {"LaunchTemplateId": TEMPLATE, "Version": instance},
                }
                for index, instance in enumerate(instances)
            ],
        }
        if version is not None and mixed:
            group["MixedInstancesPolicy"] = mixed_at(version)
        elif version is not None:
            group["LaunchTemplate"] = {"LaunchTemplateId": TEMPLATE, "Version": version}
        self.stubber.add_response(
            "describe_auto_scaling_groups", {"AutoScalingGroups": [group]}, {"AutoScalingGroupNames": [GROUP]}
        )

    def no_group(self) -> None:
        self.stubber.add_response(
            "describe_auto_scaling_groups", {"AutoScalingGroups": []}, {"AutoScalingGroupNames": [GROUP]}
        )

    def active(self, *refreshes: dict[str, Any]) -> None:
        """DescribeInstanceRefreshes of the group (newest first)."""
        self.stubber.add_response(
            "describe_instance_refreshes",
            {"InstanceRefreshes": list(refreshes)},
            {"AutoScalingGroupName": GROUP},
        )

    def status(self, refresh_id: str, status: str, version: str = "8", reason: str | None = None) -> None:
        """DescribeInstanceRefreshes of one refresh."""
        self.stubber.add_response(
            "describe_instance_refreshes",
            {"InstanceRefreshes": [refresh(refresh_id, status, version, reason)]},
            {"AutoScalingGroupName": GROUP, "InstanceRefreshIds": [refresh_id]},
        )

    def start(
        self, refresh_id: str = REFRESH, params: dict[str, Any] | None = None, firing: tuple[str, ...] = ()
    ) -> None:
        """DescribeAlarms (those of ``firing`` in ALARM), then StartInstanceRefresh."""
        self.alarms.add_response(
            "describe_alarms",
            {"MetricAlarms": [{"AlarmName": name, "StateValue": "ALARM"} for name in firing]},
            {"AlarmNames": ALARMS, "StateValue": "ALARM"},
        )
        self.stubber.add_response(
            "start_instance_refresh",
            {"InstanceRefreshId": refresh_id},
            params if params is not None else START,
        )


def refresh(refresh_id: str, status: str, version: str = "8", reason: str | None = None) -> dict[str, Any]:
    described: dict[str, Any] = {
        "InstanceRefreshId": refresh_id,
        "AutoScalingGroupName": GROUP,
        "Status": status,
        "PercentageComplete": 100 if status == "Successful" else 50,
        "DesiredConfiguration": {"LaunchTemplate": {"LaunchTemplateId": TEMPLATE, "Version": version}},
    }
    if reason is not None:
        described["StatusReason"] = reason
    return described


@pytest.fixture
def aws() -> Iterator[Aws]:
    client = boto3.client(
        "autoscaling",
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLEEXAMPLE00",
        aws_secret_access_key="example",  # noqa: S106 - never sent: the stubber answers
    )
    cloudwatch = boto3.client(
        "cloudwatch",
        region_name="us-east-1",
        aws_access_key_id="AKIAEXAMPLEEXAMPLE00",
        aws_secret_access_key="example",  # noqa: S106 - never sent: the stubber answers
    )
    with Stubber(client) as stubber, Stubber(cloudwatch) as alarms:
        yield Aws(client, stubber, Clock(), alarms)
        stubber.assert_no_pending_responses()
        alarms.assert_no_pending_responses()


# The state machine.
def test_success_starts_a_gated_refresh_to_the_version_and_waits_for_it(aws: Aws) -> None:
    aws.group("7", ["7", "7"])
    aws.active()
    aws.start()
    for status in ("Pending", "InProgress", "Baking", "Successful"):
        aws.status(REFRESH, status)
    outs = aws.provider().update(GROUP, {**PROPS, "launch_template_version": 7.0}, PROPS).outs
    assert outs is not None
    assert outs["instance_refresh_id"] == REFRESH
    assert outs["launch_template_version"] == 8.0
    # It polled until the end, every 15 s, and never slept for real.
    assert aws.clock.sleeps == [15, 15, 15]


def test_an_alarm_rolls_the_release_back_and_fails_the_update_with_the_reason(aws: Aws) -> None:
    reason = (
        "The instance refresh was rolled back because the CloudWatch alarm alarms-error-rate-1a2b3c4 "
        "went into the ALARM state."
    )
    aws.group("7", ["7", "7"])
    aws.active()
    aws.start()
    aws.status(REFRESH, "InProgress")
    aws.status(REFRESH, "RollbackInProgress", reason=reason)
    aws.status(REFRESH, "RollbackSuccessful", reason=reason)
    with pytest.raises(RolloutError) as failed:
        aws.provider().update(GROUP, {**PROPS, "launch_template_version": 7.0}, PROPS)
    message = str(failed.value)
    assert f"instance refresh {REFRESH} ended RollbackSuccessful" in message
    assert reason in message
    assert f"version 8 of {TEMPLATE} on group {GROUP}" in message


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        # Auto rollback: new nodes that never pass the ALB's check fail the refresh, which rolls back.
        (
            "RollbackSuccessful",
            "The instance refresh was rolled back because instances failed health checks: "
            "Instance i-0123456789abcdef0 failed ELB health checks.",
        ),
        ("RollbackFailed", "Rollback failed: the previous launch template version could not launch."),
        ("Failed", "Instances failed to launch: InsufficientInstanceCapacity."),
        ("Cancelled", "The instance refresh was cancelled by user request."),
    ],
)
def test_every_end_but_success_fails_the_update_with_its_status_and_reason(
    aws: Aws, status: str, reason: str
) -> None:
    aws.group("7", ["7", "8"])
    aws.active()
    aws.start()
    aws.status(REFRESH, "InProgress")
    aws.status(REFRESH, status, reason=reason)
    with pytest.raises(RolloutError, match=f"ended {status}: ") as failed:
        aws.provider().update(GROUP, {**PROPS, "launch_template_version": 7.0}, PROPS)
    assert reason in str(failed.value)


def test_a_newer_release_cancels_the_one_still_rolling_and_waits_before_starting(aws: Aws) -> None:
    # An interrupted `pulumi up` left version 8 rolling out; version 9 supersedes it.
    aws.group("7", ["7", "8"])
    aws.active(refresh(OLDER, "InProgress", "8"), refresh(REFRESH, "Successful", "7"))
    aws.stubber.add_response(
        "cancel_instance_refresh", {"InstanceRefreshId": OLDER}, {"AutoScalingGroupName": GROUP}
    )
    aws.status(OLDER, "Cancelling", "8")
    aws.status(OLDER, "Cancelled", "8")
    aws.group("7", ["7", "8"])
    newer = "11111111-2222-4333-8444-555555555555"
    version_9 = {
        **START,
        "DesiredConfiguration": {"LaunchTemplate": {"LaunchTemplateId": TEMPLATE, "Version": "9"}},
    }
    aws.start(newer, version_9)
    aws.status(newer, "Successful", "9")
    outs = aws.provider().update(GROUP, PROPS, {**PROPS, "launch_template_version": 9.0}).outs
    assert outs is not None
    assert outs["instance_refresh_id"] == newer


def test_a_refresh_that_ends_while_being_cancelled_is_no_error(aws: Aws) -> None:
    aws.group("7", ["7"])
    aws.active(refresh(OLDER, "InProgress", "6"))
    aws.stubber.add_client_error(
        "cancel_instance_refresh",
        service_error_code="ActiveInstanceRefreshNotFound",
        expected_params={"AutoScalingGroupName": GROUP},
    )
    aws.status(OLDER, "Successful", "6")
    aws.group("6", ["6"])
    aws.start()
    aws.status(REFRESH, "Successful")
    outs = aws.provider().update(GROUP, {**PROPS, "launch_template_version": 7.0}, PROPS).outs
    assert outs is not None
    assert outs["instance_refresh_id"] == REFRESH


def test_the_same_release_still_rolling_is_adopted_not_restarted(aws: Aws) -> None:
    aws.group("7", ["7", "8"])
    aws.active(refresh(REFRESH, "InProgress", "8"))
    aws.status(REFRESH, "Baking")
    aws.status(REFRESH, "Successful")
    outs = aws.provider().update(GROUP, {**PROPS, "launch_template_version": 7.0}, PROPS).outs
    assert outs is not None
    assert outs["instance_refresh_id"] == REFRESH


def test_an_alarm_already_in_alarm_sits_the_refresh_out_so_a_fix_can_reach_the_fleet(aws: Aws) -> None:
    # During an incident the error-rate alarm is red: as a gate it would fail the fix's refresh at once.
    red = ALARMS[0]
    aws.group("7", ["7", "7"])
    aws.active()
    quiet = {**START["Preferences"], "AlarmSpecification": {"Alarms": ALARMS[1:]}}
    aws.start(params={**START, "Preferences": quiet}, firing=(red,))
    aws.status(REFRESH, "Successful")
    outs = aws.provider().update(GROUP, {**PROPS, "launch_template_version": 7.0}, PROPS).outs
    assert outs is not None
    assert outs["instance_refresh_id"] == REFRESH


def test_the_same_release_being_rolled_back_is_waited_out_then_started_anew(aws: Aws) -> None:
    # AWS is rolling back version 8 (an alarm fired while the last `pulumi up` was gone): adopting it would
    # report that rollback as this release's outcome.
    aws.group("7", ["7", "8"])
    aws.active(refresh(OLDER, "RollbackInProgress", "8"))
    aws.status(OLDER, "RollbackSuccessful", "8")
    aws.group("7", ["7", "7"])
    aws.start()
    aws.status(REFRESH, "Successful")
    outs = aws.provider().update(GROUP, {**PROPS, "launch_template_version": 7.0}, PROPS).outs
    assert outs is not None
    assert outs["instance_refresh_id"] == REFRESH


def test_out_of_time_the_rollout_is_rolled_back_waited_on_and_the_update_fails_saying_so(aws: Aws) -> None:
    props = {**PROPS, "timeout_seconds": 60.0}
    aws.group("7", ["7", "7"])
    aws.active()
    aws.start()
    aws.status(REFRESH, "Pending")
    for _ in range(4):
        aws.status(REFRESH, "InProgress")
    # Read once more at the deadline: still in progress, so the rollout rolls it back itself.
    aws.status(REFRESH, "InProgress")
    aws.stubber.add_response(
        "rollback_instance_refresh", {"InstanceRefreshId": REFRESH}, {"AutoScalingGroupName": GROUP}
    )
    aws.status(REFRESH, "RollbackInProgress", reason="Rollback requested by user.")
    aws.status(REFRESH, "RollbackSuccessful", reason="Rollback requested by user.")
    with pytest.raises(RolloutError) as failed:
        aws.provider().update(GROUP, {**props, "launch_template_version": 7.0}, props)
    message = str(failed.value)
    assert "did not finish within 60 s and was rolled back" in message
    assert f"instance refresh {REFRESH} ended RollbackSuccessful" in message
    # Four polls of 15 s reach the deadline; one more while the rollback runs.
    assert aws.clock.sleeps == [15, 15, 15, 15, 15]


def test_out_of_time_while_aws_rolls_back_already_the_rollout_only_waits(aws: Aws) -> None:
    props = {**PROPS, "timeout_seconds": 30.0}
    aws.group("7", ["7", "7"])
    aws.active()
    aws.start()
    aws.status(REFRESH, "InProgress")
    aws.status(REFRESH, "RollbackInProgress", reason="An alarm went into ALARM.")
    # At the deadline AWS is rolling back: no RollbackInstanceRefresh (it would be refused), only the wait.
    aws.status(REFRESH, "RollbackInProgress", reason="An alarm went into ALARM.")
    aws.status(REFRESH, "RollbackSuccessful", reason="An alarm went into ALARM.")
    with pytest.raises(RolloutError) as failed:
        aws.provider().update(GROUP, {**props, "launch_template_version": 7.0}, props)
    ended = f"instance refresh {REFRESH} ended RollbackSuccessful: An alarm went into ALARM."
    assert ended in str(failed.value)


def test_first_deploy_the_group_was_created_on_the_version_and_nothing_rolls(aws: Aws) -> None:
    aws.group("8", ["8", "8"])
    aws.active()
    outs = aws.provider().create(PROPS)
    assert outs.id == GROUP
    assert outs.outs is not None
    assert outs.outs["instance_refresh_id"] is None
    assert aws.clock.sleeps == []


def test_with_no_instance_the_version_is_set_on_the_group_directly(aws: Aws) -> None:
    aws.group("7", [])
    aws.active()
    aws.stubber.add_response(
        "update_auto_scaling_group",
        {},
        {"AutoScalingGroupName": GROUP, "LaunchTemplate": {"LaunchTemplateId": TEMPLATE, "Version": "8"}},
    )
    outs = aws.provider().update(GROUP, {**PROPS, "launch_template_version": 7.0}, PROPS).outs
    assert outs is not None
    assert outs["instance_refresh_id"] is None


def test_a_group_that_does_not_exist_fails_the_rollout(aws: Aws) -> None:
    aws.no_group()
    with pytest.raises(RolloutError, match=f"autoscaling group {GROUP} does not exist"):
        aws.provider().create(PROPS)


# A group with a mixed instances policy (Spot): the launch template version lives inside the policy.
def test_a_mixed_group_rolls_out_its_whole_policy_at_the_new_version(aws: Aws) -> None:
    props = {**PROPS, "mixed_instances_policy": MIXED}
    aws.group("7", ["7", "7"], mixed=True)
    aws.active()
    aws.start(params={**START, "DesiredConfiguration": {"MixedInstancesPolicy": mixed_at("8")}})
    aws.status(REFRESH, "InProgress")
    aws.status(REFRESH, "Successful")
    outs = aws.provider().update(GROUP, {**props, "launch_template_version": 7.0}, props).outs
    assert outs is not None
    assert outs["instance_refresh_id"] == REFRESH
    assert outs["mixed_instances_policy"] == MIXED


def test_a_mixed_group_already_on_the_version_rolls_nothing(aws: Aws) -> None:
    aws.group("8", ["8", "8"], mixed=True)
    aws.active()
    outs = aws.provider().create({**PROPS, "mixed_instances_policy": MIXED}).outs
    assert outs is not None
    assert outs["instance_refresh_id"] is None


def test_a_mixed_group_with_no_instance_gets_its_policy_at_the_version(aws: Aws) -> None:
    props = {**PROPS, "mixed_instances_policy": MIXED}
    aws.group("7", [], mixed=True)
    aws.active()
    aws.stubber.add_response(
        "update_auto_scaling_group",
        {},
        {"AutoScalingGroupName": GROUP, "MixedInstancesPolicy": mixed_at("8")},
    )
    outs = aws.provider().update(GROUP, {**props, "launch_template_version": 7.0}, props).outs
    assert outs is not None
    assert outs["instance_refresh_id"] is None


def test_a_mixed_groups_refresh_of_the_same_version_is_adopted(aws: Aws) -> None:
    props = {**PROPS, "mixed_instances_policy": MIXED}
    aws.group("7", ["7", "8"], mixed=True)
    running = {
        **refresh(REFRESH, "InProgress"),
        "DesiredConfiguration": {"MixedInstancesPolicy": mixed_at("8")},
    }
    aws.active(running)
    aws.status(REFRESH, "Successful")
    outs = aws.provider().update(GROUP, {**props, "launch_template_version": 7.0}, props).outs
    assert outs is not None
    assert outs["instance_refresh_id"] == REFRESH


def test_read_reports_the_version_a_mixed_group_has_saved_in_its_policy(aws: Aws) -> None:
    aws.group("7", ["7"], mixed=True)
    read = aws.provider().read(GROUP, {**PROPS, "mixed_instances_policy": MIXED})
    assert read.outs is not None
    assert read.outs["launch_template_version"] == 7


# The provider's own diff, delete and read.
def test_diff_replaces_for_another_group_and_updates_for_anything_else() -> None:
    provider = RolloutProvider()
    same = provider.diff(GROUP, PROPS, {**PROPS, "launch_template_version": 8})
    assert (same.changes, same.replaces) == (False, [])
    version = provider.diff(GROUP, PROPS, {**PROPS, "launch_template_version": 9})
    assert (version.changes, version.replaces) == (True, [])
    checkpoints = provider.diff(GROUP, PROPS, {**PROPS, "checkpoint_percentages": [25, 50, 100]})
    assert (checkpoints.changes, checkpoints.replaces) == (True, [])
    group = provider.diff(GROUP, PROPS, {**PROPS, "group_name": "scaling-asg-9z8y7x6"})
    assert (group.changes, group.replaces, group.delete_before_replace) == (True, ["group_name"], False)


def test_delete_cancels_a_refresh_in_progress_and_waits_for_it(aws: Aws) -> None:
    aws.group("7", ["7", "8"])
    aws.active(refresh(REFRESH, "InProgress"))
    aws.stubber.add_response(
        "cancel_instance_refresh", {"InstanceRefreshId": REFRESH}, {"AutoScalingGroupName": GROUP}
    )
    aws.status(REFRESH, "Cancelling")
    aws.status(REFRESH, "Cancelled")
    aws.provider().delete(GROUP, PROPS)
    assert aws.clock.sleeps == [15, 15]


def test_delete_with_nothing_rolling_or_no_group_left_calls_nothing_else(aws: Aws) -> None:
    aws.group("8", ["8"])
    aws.active(refresh(REFRESH, "Successful"))
    aws.provider().delete(GROUP, PROPS)
    aws.no_group()
    aws.provider().delete(GROUP, PROPS)


def test_read_reports_the_version_the_group_has_saved(aws: Aws) -> None:
    aws.group("7", ["7"])
    read = aws.provider().read(GROUP, PROPS)
    assert read.id == GROUP
    assert read.outs is not None
    assert read.outs["launch_template_version"] == 7
    aws.no_group()
    assert aws.provider().read(GROUP, PROPS).id is None


# The provider as Pulumi's dynamic provider host runs it.
LOAD = """
import base64, json, sys
import dill
from pulumi.runtime._serialization import _deserialize

provider = _deserialize(lambda: dill.loads(base64.b64decode(sys.stdin.read())))
diff = provider.diff("id", json.loads(sys.argv[1]), json.loads(sys.argv[2]))
print(json.dumps({
    "class": f"{type(provider).__module__}.{type(provider).__qualname__}",
    "changes": diff.changes,
    "replaces": diff.replaces,
}))
"""


def load_in_a_fresh_host(serialized: str, cwd: str) -> subprocess.CompletedProcess[str]:
    """Load the serialized provider as `python -m pulumi.dynamic` does (dill.loads under Pulumi's
    deserialization context), in a new interpreter started in `cwd`, which `python -m` puts on sys.path."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    news = {**PROPS, "group_name": "another"}
    return subprocess.run(
        [sys.executable, "-c", LOAD, json.dumps(PROPS), json.dumps(news)],
        input=serialized,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
        timeout=120,
    )


def test_the_host_started_in_the_project_directory_imports_the_provider_and_runs_it() -> None:
    serialized = serialize_provider(RolloutProvider())
    loaded = load_in_a_fresh_host(serialized, str(ROOT))
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout) == {
        "class": "infra.rollout.RolloutProvider",
        "changes": True,
        "replaces": ["group_name"],
    }


def test_the_provider_is_pickled_by_reference_so_the_host_needs_the_project_directory(tmp_path: Any) -> None:
    serialized = serialize_provider(RolloutProvider())
    # The state holds a reference to the class, not its code: a new release of this module takes effect
    # without a new serialized provider, and a host started elsewhere cannot find it.
    assert b"infra.rollout" in base64.b64decode(serialized)
    loaded = load_in_a_fresh_host(serialized, str(tmp_path))
    assert loaded.returncode != 0
    assert "No module named 'infra'" in loaded.stderr


# What the program declares.
def test_the_program_rolls_the_templates_latest_version_out_to_its_group_gated_by_three_alarms(
    harness: Harness,
) -> None:
    outputs: dict[str, Any] = {}
    harness.evaluate(lambda: harness.run_program().apply(outputs.update))
    rollout = harness.mocks.one(ROLLOUT).inputs
    group = harness.mocks.one("aws:autoscaling/group:Group")
    template = harness.mocks.one("aws:ec2/launchTemplate:LaunchTemplate")
    alarms = {
        r.name: r.state["name"] for r in harness.mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    }
    assert "instanceRefresh" not in group.inputs
    assert rollout["region"] == "us-east-1"
    assert rollout["group_name"] == group.state["name"] == outputs["asg_name"]
    assert (rollout["launch_template_id"], rollout["launch_template_version"]) == (
        template.id,
        template.state["latestVersion"],
    )
    assert rollout["alarm_names"] == [
        alarms["alarms-error-rate"],
        alarms["alarms-response-time"],
        alarms["alarms-healthy-hosts"],
    ]
    assert (rollout["min_healthy_percentage"], rollout["max_healthy_percentage"]) == (100, 200)
    assert rollout["checkpoint_percentages"][-1] == 100
    assert rollout["bake_time"] > 0
    # Above a healthy rollout's length, below AWS's hour of retries before it fails a refresh.
    assert 1200 <= rollout["timeout_seconds"] < 3600
    assert "__provider" in rollout


@pytest.mark.parametrize(
    ("preferences", "message"),
    [
        (RolloutPreferences(min_healthy_percent=90, max_healthy_percent=210), "max_healthy_percent 210"),
        (RolloutPreferences(min_healthy_percent=50, max_healthy_percent=200), "more than 100"),
        (RolloutPreferences(checkpoint_percentages=(50, 20, 100)), "not unique, ascending"),
        (RolloutPreferences(checkpoint_percentages=(20, 50)), "stop before 100"),
        (RolloutPreferences(checkpoint_delay_seconds=200000), "checkpoint_delay_seconds 200000"),
        (RolloutPreferences(bake_seconds=-1), "bake_seconds -1"),
    ],
)
def test_preferences_aws_would_refuse_are_refused_before_any_call(
    harness: Harness, preferences: RolloutPreferences, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Rollout("rollout", rollout_args(alarm_names=ALARMS, preferences=preferences))


def test_a_rollout_without_alarms_is_refused(harness: Harness) -> None:
    with pytest.raises(Exception, match="a rollout watches 1 to 10 alarms"):
        harness.evaluate(lambda: Rollout("rollout", rollout_args(alarm_names=[])).urn)


def rollout_args(**changes: Any) -> RolloutArgs:
    return RolloutArgs(
        region="us-east-1",
        group_name=GROUP,
        launch_template_id=TEMPLATE,
        launch_template_version=8,
        **changes,
    )
