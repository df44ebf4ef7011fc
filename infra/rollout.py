"""The gated rollout: a new launch template version reaches the autoscaling group only through an instance
refresh that succeeds, and `pulumi up` waits for it.

Why a dynamic provider (Python, boto3) rather than the group's own `instance_refresh` block: that provider
saves the new version on the group, then starts a refresh and returns
(hashicorp/terraform-provider-aws#34189), so scale-outs launch the release before anything has judged it, a
rollback returns to it, and nobody waits.
Here the refresh carries the version as its desired configuration, which AWS saves on the group only once the
refresh succeeds (StartInstanceRefresh, `DesiredConfiguration`); the group's `launchTemplate` is left alone
after creation (infra/scaling.py). A Lambda function or a CI step could poll as well, but the provider runs
inside `pulumi up`, in order after the group and the release, and fails it with the refresh's reason.

The provider class lives in this module, so dill pickles it by reference (`infra.rollout.RolloutProvider`):
Pulumi's dynamic provider host (`python -m pulumi.dynamic`, started in the project directory, whose
relative `virtualenv` it resolves against `$PWD`) imports this module from there. Importing it declares
nothing and creates no client: clients are made per call, in the host.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3  # type: ignore[import-untyped]
import pulumi
import pulumi.dynamic

ACTIVE = frozenset({"Pending", "InProgress", "Baking", "Cancelling", "RollbackInProgress"})
"""Statuses of a refresh that has not ended (DescribeInstanceRefreshes, `Status`)."""
CANCELLABLE = frozenset({"Pending", "InProgress", "Baking"})
"""Active statuses CancelInstanceRefresh can still stop; the others are already on their way out."""
SUCCESSFUL = "Successful"
POLL_SECONDS = 15
"""How often `pulumi up` asks how the refresh is going: a node takes minutes, the API is rate limited."""
MAX_ALARMS = 10
"""StartInstanceRefresh takes up to 10 alarm names (API reference, `AlarmSpecification`)."""
MAX_DELAY_SECONDS = 172800
"""The longest checkpoint delay and bake time the API takes (API reference, `RefreshPreferences`)."""

HOW = (
    "min_healthy_percentage",
    "max_healthy_percentage",
    "checkpoint_percentages",
    "checkpoint_delay",
    "bake_time",
    "timeout_seconds",
)
"""The inputs that say how a refresh runs and how long `pulumi up` waits for it."""
INPUTS = (
    "region",
    "group_name",
    "launch_template_id",
    "launch_template_version",
    "mixed_instances_policy",
    "alarm_names",
    *HOW,
)
"""The resource's inputs, as the provider receives them."""
REPLACE_ON = ("region", "group_name")
"""Another group is another rollout: the old one's refresh is cancelled, the new group's version checked."""


class RolloutError(Exception):
    """A rollout that did not succeed: the message names the group, version, refresh and its reason."""


@dataclass(frozen=True, kw_only=True)
class RolloutPreferences:
    """How a refresh replaces the nodes (StartInstanceRefresh `Preferences`). Auto rollback and skip matching
    are always on: a failed release returns to the serving version, and nodes already on it are kept. No
    warm-up of its own: it would override the group's default (infra/scaling.py)."""

    min_healthy_percent: int = 100
    """No serving node goes away before its replacement is healthy and warm."""
    max_healthy_percent: int = 200
    """Room to launch every replacement first; with min 100 % a rollout never lowers capacity."""
    checkpoint_percentages: tuple[int, ...] = (50, 100)
    """Half the group on the release, then a pause while the alarms watch it, then the rest."""
    checkpoint_delay_seconds: int = 300
    """The alarms' window (3 bad minutes of 5, infra/observability.py) fits in the pause."""
    bake_seconds: int = 300
    """Once every node is replaced, the alarms watch the whole group this long before the refresh succeeds."""

    def problems(self) -> list[str]:
        """What StartInstanceRefresh would refuse, in words (API reference, `RefreshPreferences`)."""
        found = []
        if not 0 <= self.min_healthy_percent <= 100:
            found.append(f"min_healthy_percent {self.min_healthy_percent} is not 0 to 100")
        if not 100 <= self.max_healthy_percent <= 200:
            found.append(f"max_healthy_percent {self.max_healthy_percent} is not 100 to 200")
        if self.max_healthy_percent - self.min_healthy_percent > 100:
            found.append("max_healthy_percent exceeds min_healthy_percent by more than 100")
        checkpoints = list(self.checkpoint_percentages)
        if checkpoints != sorted(set(checkpoints)) or not all(0 < p <= 100 for p in checkpoints):
            found.append(f"checkpoint_percentages {checkpoints} are not unique, ascending and 1 to 100")
        if checkpoints and checkpoints[-1] != 100:
            found.append(f"checkpoint_percentages {checkpoints} stop before 100: the rest would never roll")
        for name in ("checkpoint_delay_seconds", "bake_seconds"):
            if not 0 <= getattr(self, name) <= MAX_DELAY_SECONDS:
                found.append(f"{name} {getattr(self, name)} is not 0 to {MAX_DELAY_SECONDS}")
        return found


ROLLOUT_TIMEOUT_SECONDS = 2700
"""How long `pulumi up` waits before it rolls the release back: two halves of boot, warm-up and the alarms'
pause, then the bake, take about 30 minutes (35 if AWS also pauses at the last checkpoint); AWS keeps
retrying failed replacements for an hour before it fails a refresh (Auto Scaling guide, "Undo changes with
a manual or auto rollback"), so a release whose nodes never turn healthy is rolled back by this timeout
first."""


@dataclass(frozen=True, kw_only=True)
class RolloutArgs:
    """Which group takes which launch template version, watched by which alarms, how, and for how long."""

    region: str
    group_name: pulumi.Input[str]
    launch_template_id: pulumi.Input[str]
    launch_template_version: pulumi.Input[int]
    """A numbered version (AWS cannot roll back to `$Latest` or `$Default`)."""
    mixed_instances_policy: Mapping[str, Any] | None = None
    """The group's mixed instances policy as the Auto Scaling API spells it, without its launch template
    specification, which the rollout fills in with the version; None for a group on a launch template."""
    alarm_names: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Alarms that fail and roll back the refresh when they go to ALARM (at most 10)."""
    preferences: RolloutPreferences = field(default_factory=RolloutPreferences)
    timeout_seconds: int = ROLLOUT_TIMEOUT_SECONDS


def _number(value: Any) -> Any:
    """Pulumi sends numbers as floats: 7.0 is the version 7."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_number(item) for item in value]
    if isinstance(value, dict):
        return {key: _number(item) for key, item in value.items()}
    return value


def _template(configuration: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The launch template specification of a group, an instance or a desired configuration: its own
    `LaunchTemplate`, or the one inside its `MixedInstancesPolicy` (API Reference, `AutoScalingGroup`,
    `DesiredConfiguration`)."""
    mixed = configuration.get("MixedInstancesPolicy")
    if mixed:
        return mixed.get("LaunchTemplate", {}).get("LaunchTemplateSpecification")  # type: ignore[no-any-return]
    return configuration.get("LaunchTemplate")


def _desired(refresh: Mapping[str, Any]) -> tuple[str, str] | None:
    """The launch template (id, version) a refresh rolls out, or None for a refresh without one."""
    template = _template(refresh.get("DesiredConfiguration", {}))
    if not template or "LaunchTemplateId" not in template:
        return None
    return template["LaunchTemplateId"], str(template.get("Version", ""))


def saved(holder: Mapping[str, Any]) -> tuple[str, str] | None:
    """The launch template (id, version) a group, or one of its instances, is on."""
    template = _template(holder)
    if not template:
        return None
    return template.get("LaunchTemplateId", ""), str(template.get("Version", ""))


def _configuration(props: Mapping[str, Any], target: tuple[str, str]) -> dict[str, Any]:
    """The group's launch configuration at the target version, as UpdateAutoScalingGroup and a refresh's
    `DesiredConfiguration` take it. A group with a mixed instances policy gets the whole policy: a desired
    configuration of a launch template alone would replace the policy once the refresh succeeds."""
    specification = {"LaunchTemplateId": target[0], "Version": target[1]}
    mixed = props.get("mixed_instances_policy")
    if not mixed:
        return {"LaunchTemplate": specification}
    policy = _number(dict(mixed))
    policy["LaunchTemplate"] = {
        **policy.get("LaunchTemplate", {}),
        "LaunchTemplateSpecification": specification,
    }
    return {"MixedInstancesPolicy": policy}


def _describe(refresh: Mapping[str, Any]) -> str:
    reason = refresh.get("StatusReason") or "no reason given"
    return f"instance refresh {refresh['InstanceRefreshId']} ended {refresh['Status']}: {reason}"


class RolloutProvider(pulumi.dynamic.ResourceProvider):
    """Create, update, delete and read of a rollout: the group's version moves only through a refresh that
    succeeds. `client` (service, region), `clock` and `sleep` are for tests; left None, the host uses boto3
    and real time."""

    serialize_as_secret_always = False
    """The serialized provider holds no secret; plain state keeps `pulumi stack export` readable."""

    def __init__(
        self,
        *,
        client: Callable[[str, str], Any] | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        super().__init__()
        self.client_factory = client
        self.clock = clock
        self.sleeper = sleep
        self.poll_seconds = poll_seconds

    # What the host calls.
    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        """Replace for another group, update for another version, alarms, preferences or timeout."""
        changed = [key for key in INPUTS if _number(olds.get(key)) != _number(news.get(key))]
        return pulumi.dynamic.DiffResult(
            changes=bool(changed),
            replaces=[key for key in REPLACE_ON if key in changed],
            stables=list(REPLACE_ON),
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        """Bring the group to the version: nothing on a new group, a refresh on one that serves another."""
        return pulumi.dynamic.CreateResult(props["group_name"], self._roll_out(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        """Roll the new version out, gated by the alarms, waiting for the outcome."""
        return pulumi.dynamic.UpdateResult(self._roll_out(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Stop a refresh still running on the group; a group already gone is fine."""
        client = self._client(props["region"])
        name = props["group_name"]
        if self._group(client, name) is None:
            return
        active = self._active(client, name)
        if active is not None:
            self._end(client, name, active, self._now() + _number(props["timeout_seconds"]))

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        """`pulumi refresh`: the version the group has saved (a rollback done by hand shows as a change)."""
        client = self._client(props["region"])
        group = self._group(client, props["group_name"])
        if group is None:
            return pulumi.dynamic.ReadResult(None, {})
        current = saved(group)
        outs = dict(props)
        if current is not None and current[0] == props["launch_template_id"] and current[1].isdigit():
            outs["launch_template_version"] = int(current[1])
        return pulumi.dynamic.ReadResult(id_, outs)

    # The state machine.
    def _roll_out(self, props: Mapping[str, Any]) -> dict[str, Any]:
        client = self._client(props["region"])
        name = props["group_name"]
        target = (props["launch_template_id"], str(_number(props["launch_template_version"])))
        deadline = self._now() + _number(props["timeout_seconds"])
        group = self._group(client, name)
        if group is None:
            raise RolloutError(f"autoscaling group {name} does not exist")
        active = self._active(client, name)
        if active is not None and active["Status"] in CANCELLABLE and _desired(active) == target:
            # An interrupted `pulumi up` started this very rollout: adopt it.
            return self._outs(props, self._finish(client, props, active, deadline))
        if active is not None:
            # An older release still rolling out (superseded), or a rollback still running: waited out
            # (cancelled first, where it can be); the nodes it left are redone below.
            self._end(client, name, active, deadline)
            group = self._group(client, name)
            if group is None:
                raise RolloutError(f"autoscaling group {name} is gone")
        instances = group.get("Instances", [])
        if not instances:
            # Nothing serves yet (the first deploy, or a group scaled to zero): nothing to gate.
            if saved(group) != target:
                client.update_auto_scaling_group(AutoScalingGroupName=name, **_configuration(props, target))
            return self._outs(props, None)
        if saved(group) == target and all(saved(instance) == target for instance in instances):
            return self._outs(props, None)
        started = client.start_instance_refresh(
            AutoScalingGroupName=name,
            Strategy="Rolling",
            DesiredConfiguration=_configuration(props, target),
            Preferences=self._preferences(props, self._quiet_alarms(props)),
        )
        refresh = self._refresh(client, name, started["InstanceRefreshId"])
        return self._outs(props, self._finish(client, props, refresh, deadline))

    def _finish(
        self, client: Any, props: Mapping[str, Any], refresh: Mapping[str, Any], deadline: float
    ) -> str:
        """Wait for the refresh; its id when it succeeded, RolloutError otherwise."""
        name = props["group_name"]
        version = _number(props["launch_template_version"])
        release = f"version {version} of {props['launch_template_id']} on group {name}"
        ended = self._wait(client, name, refresh, deadline)
        if ended is None:
            # Out of time: roll back ourselves, unless AWS is already rolling back or cancelling (it refuses
            # a rollback then), and wait for the serving version to be back.
            rollback = self._refresh(client, name, refresh["InstanceRefreshId"])
            if rollback["Status"] in CANCELLABLE:
                rollback_id = client.rollback_instance_refresh(AutoScalingGroupName=name)["InstanceRefreshId"]
                rollback = self._refresh(client, name, rollback_id)
            rollback_id = rollback["InstanceRefreshId"]
            back = self._wait(client, name, rollback, self._now() + _number(props["timeout_seconds"]))
            outcome = _describe(back) if back is not None else f"rollback {rollback_id} still running"
            raise RolloutError(
                f"rollout of {release} did not finish within {_number(props['timeout_seconds'])} s and "
                f"was rolled back; {outcome}"
            )
        if ended["Status"] != SUCCESSFUL:
            raise RolloutError(f"rollout of {release} failed; {_describe(ended)}")
        return str(ended["InstanceRefreshId"])

    def _end(self, client: Any, name: str, refresh: Mapping[str, Any], deadline: float) -> None:
        """Cancel a refresh (unless it is already ending) and wait until it has."""
        if refresh["Status"] in CANCELLABLE:
            # It may have ended between the two calls.
            with contextlib.suppress(client.exceptions.ActiveInstanceRefreshNotFoundFault):
                client.cancel_instance_refresh(AutoScalingGroupName=name)
        if self._wait(client, name, refresh, deadline) is None:
            raise RolloutError(
                f"instance refresh {refresh['InstanceRefreshId']} on group {name} did not end in time "
                "after it was cancelled; see `aws autoscaling describe-instance-refreshes`"
            )

    def _wait(
        self, client: Any, name: str, refresh: Mapping[str, Any], deadline: float
    ) -> Mapping[str, Any] | None:
        """The refresh once it has ended, or None when the deadline came first."""
        while refresh["Status"] in ACTIVE:
            if self._now() >= deadline:
                return None
            self._pause()
            refresh = self._refresh(client, name, refresh["InstanceRefreshId"])
        return refresh

    # AWS.
    def _client(self, region: str, service: str = "autoscaling") -> Any:
        if self.client_factory is not None:
            return self.client_factory(service, region)
        return boto3.client(service, region_name=region)

    def _quiet_alarms(self, props: Mapping[str, Any]) -> list[str]:
        """The gate's alarms that are not in ALARM now. One already in ALARM would fail the refresh at once:
        a fix deployed during an incident could never reach the fleet, so that alarm sits this one out."""
        names = list(props["alarm_names"])
        if not names:
            return []
        found = self._client(props["region"], "cloudwatch").describe_alarms(
            AlarmNames=names, StateValue="ALARM"
        )
        firing = {
            alarm["AlarmName"]
            for kind in ("MetricAlarms", "CompositeAlarms")
            for alarm in found.get(kind, [])
        }
        return [name for name in names if name not in firing]

    @staticmethod
    def _group(client: Any, name: str) -> Mapping[str, Any] | None:
        groups = client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
        return groups[0] if groups else None

    @staticmethod
    def _active(client: Any, name: str) -> Mapping[str, Any] | None:
        """The group's refresh that has not ended, if any (newest first; one at a time per group)."""
        refreshes = client.describe_instance_refreshes(AutoScalingGroupName=name)["InstanceRefreshes"]
        return next((r for r in refreshes if r["Status"] in ACTIVE), None)

    @staticmethod
    def _refresh(client: Any, name: str, refresh_id: str) -> Mapping[str, Any]:
        (refresh,) = client.describe_instance_refreshes(
            AutoScalingGroupName=name, InstanceRefreshIds=[refresh_id]
        )["InstanceRefreshes"]
        return refresh  # type: ignore[no-any-return]

    @staticmethod
    def _preferences(props: Mapping[str, Any], alarms: Sequence[str]) -> dict[str, Any]:
        preferences: dict[str, Any] = {
            "MinHealthyPercentage": _number(props["min_healthy_percentage"]),
            "MaxHealthyPercentage": _number(props["max_healthy_percentage"]),
            "SkipMatching": True,
            "AutoRollback": True,
            "BakeTime": _number(props["bake_time"]),
            # The API's default for both is Wait: one node in Standby (an operator's) or protected from
            # scale-in would hold every rollout until its timeout. A protected node serves, so it is
            # replaced; one in Standby serves nothing and is left to its operator.
            "ScaleInProtectedInstances": "Refresh",
            "StandbyInstances": "Ignore",
        }
        if props["checkpoint_percentages"]:
            preferences["CheckpointPercentages"] = _number(props["checkpoint_percentages"])
            preferences["CheckpointDelay"] = _number(props["checkpoint_delay"])
        if alarms:
            preferences["AlarmSpecification"] = {"Alarms": list(alarms)}
        return preferences

    @staticmethod
    def _outs(props: Mapping[str, Any], refresh_id: str | None) -> dict[str, Any]:
        return {**{key: props.get(key) for key in INPUTS}, "instance_refresh_id": refresh_id}

    # Time.
    def _now(self) -> float:
        return self.clock() if self.clock is not None else time.monotonic()

    def _pause(self) -> None:
        (self.sleeper if self.sleeper is not None else time.sleep)(self.poll_seconds)


class Rollout(pulumi.dynamic.Resource, module="rollout", name="Rollout"):
    """The group's launch template version, moved only by an instance refresh that succeeds, with checkpoints,
    alarms and automatic rollback; `pulumi up` waits for it and fails with the refresh's reason."""

    instance_refresh_id: pulumi.Output[str | None]
    """The refresh that brought the version, or None when none was needed (first deploy, nothing running)."""
    launch_template_version: pulumi.Output[int]
    """The version the group serves."""

    def __init__(
        self,
        name: str,
        args: RolloutArgs,
        opts: pulumi.ResourceOptions | None = None,
        provider: RolloutProvider | None = None,
    ) -> None:
        problems = args.preferences.problems()
        if args.timeout_seconds <= 0:
            problems.append(f"timeout_seconds {args.timeout_seconds} is not positive")
        if problems:
            raise ValueError(f"rollout {name}: " + "; ".join(problems))
        preferences = args.preferences
        alarm_names = pulumi.Output.from_input(args.alarm_names).apply(_checked_alarms)
        super().__init__(
            provider if provider is not None else RolloutProvider(),
            name,
            {
                "region": args.region,
                "group_name": args.group_name,
                "launch_template_id": args.launch_template_id,
                "launch_template_version": args.launch_template_version,
                "mixed_instances_policy": dict(args.mixed_instances_policy)
                if args.mixed_instances_policy
                else None,
                "alarm_names": alarm_names,
                "min_healthy_percentage": preferences.min_healthy_percent,
                "max_healthy_percentage": preferences.max_healthy_percent,
                "checkpoint_percentages": list(preferences.checkpoint_percentages),
                "checkpoint_delay": preferences.checkpoint_delay_seconds,
                "bake_time": preferences.bake_seconds,
                "timeout_seconds": args.timeout_seconds,
                "instance_refresh_id": None,
            },
            opts,
        )


def _checked_alarms(names: Sequence[Any]) -> list[str]:
    if not 0 < len(names) <= MAX_ALARMS:
        raise ValueError(f"a rollout watches 1 to {MAX_ALARMS} alarms (AlarmSpecification); got {len(names)}")
    if not all(isinstance(name, str) and name for name in names):
        raise ValueError(f"a rollout watches alarms by name; got {list(names)}")
    return list(names)
