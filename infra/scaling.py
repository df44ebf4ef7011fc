"""The autoscaling group, its target-tracking policies on CPU and on requests, and its scheduled actions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.config import ScheduledCapacity, SpotSettings

HEALTH_CHECK_GRACE_SECONDS = 300
"""Boot, Docker install and two image pulls before the ALB's verdict counts against a new node."""
INSTANCE_WARMUP_SECONDS = 300
"""The group's default instance warm-up: how long a new node is left out of the metrics the policies scale
on, and how long a refresh waits per node. It replaces each policy's and refresh's own warm-up (Auto Scaling
API, `EstimatedInstanceWarmup` and `RefreshPreferences.InstanceWarmup`), so neither sets one."""
TERMINATION_POLICIES = ("OldestInstance",)
"""Scale-in ends the oldest nodes first. During a rollout those are the previous release's, since every node
the refresh launches is newer, so a scale-in speeds the rollout rather than undoing it (docs/aws-contracts.md,
"Group and scaling")."""
GROUP_METRICS = (
    aws.autoscaling.Metric.GROUP_MIN_SIZE,
    aws.autoscaling.Metric.GROUP_MAX_SIZE,
    aws.autoscaling.Metric.GROUP_DESIRED_CAPACITY,
    aws.autoscaling.Metric.GROUP_IN_SERVICE_INSTANCES,
    aws.autoscaling.Metric.GROUP_PENDING_INSTANCES,
    aws.autoscaling.Metric.GROUP_STANDBY_INSTANCES,
    aws.autoscaling.Metric.GROUP_TERMINATING_INSTANCES,
    aws.autoscaling.Metric.GROUP_TOTAL_INSTANCES,
)
"""Group metrics published to CloudWatch each minute (free): capacity over time, refreshes in progress."""
SPOT_ALLOCATION_STRATEGY = "price-capacity-optimized"
"""The Spot pools least likely to be interrupted, the cheapest of those: AWS's recommended strategy; the API's
default, lowest-price, may lead to high interruption rates (API Reference, `InstancesDistribution`)."""
ON_DEMAND_ALLOCATION_STRATEGY = "prioritized"
"""The On-Demand nodes take the first type that has capacity, in the listed order: `instanceType` first."""
LAUNCH_TEMPLATE_VERSION_PATH = "mixedInstancesPolicy.launchTemplate.launchTemplateSpecification.version"
"""Where a Spot group keeps its launch template version: the rollout's, as `launchTemplate` is on others."""


def mixed_instances_policy(spot: SpotSettings) -> dict[str, Any]:
    """The group's mixed instances policy as the Auto Scaling API spells it, less its launch template
    specification: On-Demand up to the base, Spot above it (0 % On-Demand above the base)."""
    return {
        "LaunchTemplate": {"Overrides": [{"InstanceType": name} for name in spot.instance_types]},
        "InstancesDistribution": {
            "OnDemandAllocationStrategy": ON_DEMAND_ALLOCATION_STRATEGY,
            "OnDemandBaseCapacity": spot.on_demand_base_capacity,
            "OnDemandPercentageAboveBaseCapacity": 0,
            "SpotAllocationStrategy": SPOT_ALLOCATION_STRATEGY,
        },
    }


@dataclass(frozen=True, kw_only=True)
class ScalingArgs:
    """What to launch, where, behind which target group, and how many."""

    launch_template_id: pulumi.Input[str]
    launch_template_version: pulumi.Input[int]
    """The version the group is created with; later versions reach it only through the rollout
    (infra/rollout.py)."""
    subnet_ids: pulumi.Input[list[str]]
    target_group_arn: pulumi.Input[str]
    alb_arn_suffix: pulumi.Input[str]
    target_group_arn_suffix: pulumi.Input[str]
    """With `alb_arn_suffix`, the request-count policy's resource label."""
    listeners: Sequence[pulumi.Resource]
    """The listeners forwarding to the target group: the request-count policy is created after them."""
    min_size: int
    desired_capacity: int
    max_size: int
    cpu_target_percent: float
    request_target_per_minute: int
    schedules: Sequence[ScheduledCapacity]
    stack: str
    tags: Mapping[str, str]
    spot: SpotSettings | None = None
    """Spot capacity above the minimum size, or None: every node On-Demand, of the template's type."""


class Scaling(pulumi.ComponentResource):
    """An autoscaling group across the private subnets, scaled on average CPU and on requests per node, its
    bounds raised for known peaks; new launch template versions reach it through the rollout
    (infra/rollout.py)."""

    group: aws.autoscaling.Group
    """The autoscaling group."""
    cpu_policy: aws.autoscaling.Policy
    """The target-tracking policy on `ASGAverageCPUUtilization`."""
    request_policy: aws.autoscaling.Policy
    """The target-tracking policy on `ALBRequestCountPerTarget`."""
    schedules: list[aws.autoscaling.Schedule]
    """The scheduled actions, one per configured entry."""
    mixed_instances_policy: dict[str, Any] | None
    """A Spot group's policy as the API spells it, less the launch template specification (the rollout
    fills it in); None for a group on its launch template alone."""

    def __init__(self, name: str, args: ScalingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flask-nginx-aws:scaling:Scaling", name, None, opts)
        version = pulumi.Output.from_input(args.launch_template_version).apply(str)
        self.mixed_instances_policy = mixed_instances_policy(args.spot) if args.spot is not None else None
        self.group = aws.autoscaling.Group(
            naming.child(name, "asg"),
            min_size=args.min_size,
            desired_capacity=args.desired_capacity,
            max_size=args.max_size,
            vpc_zone_identifiers=args.subnet_ids,
            launch_template=(
                aws.autoscaling.GroupLaunchTemplateArgs(id=args.launch_template_id, version=version)
                if args.spot is None
                else None
            ),
            mixed_instances_policy=_mixed_instances_policy_args(args.spot, args.launch_template_id, version),
            # A Spot node at elevated risk of interruption is replaced before it is interrupted: the group
            # launches a new node and ends the old one once the new one is healthy (Auto Scaling guide, "Use
            # Capacity Rebalancing to handle Amazon EC2 Spot interruptions").
            capacity_rebalance=args.spot is not None,
            target_group_arns=[args.target_group_arn],
            # Replace nodes the ALB finds unhealthy, not only those EC2 finds dead.
            health_check_type="ELB",
            health_check_grace_period=HEALTH_CHECK_GRACE_SECONDS,
            default_instance_warmup=INSTANCE_WARMUP_SECONDS,
            termination_policies=list(TERMINATION_POLICIES),
            enabled_metrics=list(GROUP_METRICS),
            metrics_granularity="1Minute",
            tags=[
                aws.autoscaling.GroupTagArgs(key=key, value=value, propagate_at_launch=True)
                for key, value in {**args.tags, "Name": naming.display(args.stack, "node")}.items()
            ],
            # The scaling policy owns the desired capacity once the group exists; `pulumi up` must not
            # reset it to the configured starting value. The launch template version is the rollout's:
            # AWS saves it when a refresh succeeds, and the provider would save it before any refresh
            # (hashicorp/terraform-provider-aws#34189), so scale-outs would launch an unjudged release.
            opts=pulumi.ResourceOptions(
                parent=self,
                ignore_changes=[
                    "desiredCapacity",
                    "launchTemplate" if args.spot is None else LAUNCH_TEMPLATE_VERSION_PATH,
                ],
            ),
        )
        # AWS scales out when either policy asks and scales in only when both agree (Auto Scaling guide,
        # "Target tracking scaling policies"): requests catch load that gevent's waiting hides from CPU.
        self.cpu_policy = self._target_tracking(
            naming.child(name, "cpu"),
            aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                predefined_metric_type="ASGAverageCPUUtilization"
            ),
            args.cpu_target_percent,
        )
        self.request_policy = self._target_tracking(
            naming.child(name, "requests"),
            aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                predefined_metric_type="ALBRequestCountPerTarget",
                # `app/<alb>/<id>/targetgroup/<tg>/<id>` (API reference, PredefinedMetricSpecification).
                resource_label=pulumi.Output.concat(args.alb_arn_suffix, "/", args.target_group_arn_suffix),
            ),
            args.request_target_per_minute,
            # The metric exists once a listener forwards to the target group: the policy comes after.
            after=args.listeners,
        )
        self.schedules = [
            aws.autoscaling.Schedule(
                naming.child(name, f"schedule-{schedule.name}"),
                scheduled_action_name=schedule.name,
                autoscaling_group_name=self.group.name,
                recurrence=schedule.recurrence,
                time_zone=schedule.time_zone,
                min_size=schedule.min_size,
                max_size=schedule.max_size,
                # -1 leaves the desired capacity to the policies; left out, the provider would send 0.
                desired_capacity=-1,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for schedule in args.schedules
        ]
        self.register_outputs(
            {
                "group_name": self.group.name,
                "cpu_policy_arn": self.cpu_policy.arn,
                "request_policy_arn": self.request_policy.arn,
            }
        )

    def _target_tracking(
        self,
        name: str,
        metric: aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs,
        target: float,
        *,
        after: Sequence[pulumi.Resource] = (),
    ) -> aws.autoscaling.Policy:
        """A target-tracking policy on this group; its warm-up is the group's default."""
        return aws.autoscaling.Policy(
            name,
            autoscaling_group_name=self.group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                predefined_metric_specification=metric, target_value=target
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(after)),
        )


def _mixed_instances_policy_args(
    spot: SpotSettings | None, launch_template_id: pulumi.Input[str], version: pulumi.Input[str]
) -> aws.autoscaling.GroupMixedInstancesPolicyArgs | None:
    """`mixed_instances_policy(spot)` in the provider's types, on the launch template at `version`."""
    if spot is None:
        return None
    policy = mixed_instances_policy(spot)
    distribution = policy["InstancesDistribution"]
    return aws.autoscaling.GroupMixedInstancesPolicyArgs(
        launch_template=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs(
            launch_template_specification=(
                aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                    launch_template_id=launch_template_id, version=version
                )
            ),
            overrides=[
                aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(
                    instance_type=o["InstanceType"]
                )
                for o in policy["LaunchTemplate"]["Overrides"]
            ],
        ),
        instances_distribution=aws.autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs(
            on_demand_allocation_strategy=distribution["OnDemandAllocationStrategy"],
            on_demand_base_capacity=distribution["OnDemandBaseCapacity"],
            on_demand_percentage_above_base_capacity=distribution["OnDemandPercentageAboveBaseCapacity"],
            spot_allocation_strategy=distribution["SpotAllocationStrategy"],
        ),
    )
