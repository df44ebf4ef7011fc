"""The autoscaling group and its CPU target-tracking policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming

HEALTH_CHECK_GRACE_SECONDS = 300
"""Boot, Docker install and two image pulls before the ALB's verdict counts against a new node."""
INSTANCE_WARMUP_SECONDS = 300
"""How long a new node's CPU is left out of the group's average, and how long a refresh waits per node."""
MIN_HEALTHY_PERCENT = 100
"""During an instance refresh no serving node goes away before its replacement is healthy."""
MAX_HEALTHY_PERCENT = 200
"""Room to launch replacements first; with min healthy 100 %, a refresh never lowers capacity."""
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


@dataclass(frozen=True, kw_only=True)
class ScalingArgs:
    """What to launch, where, behind which target group, and how many."""

    launch_template_id: pulumi.Input[str]
    launch_template_version: pulumi.Input[int]
    """The template's `latest_version`: a new version starts an instance refresh ("$Latest" would not)."""
    subnet_ids: pulumi.Input[list[str]]
    target_group_arn: pulumi.Input[str]
    min_size: int
    desired_capacity: int
    max_size: int
    cpu_target_percent: float
    stack: str
    tags: Mapping[str, str]


class Scaling(pulumi.ComponentResource):
    """An autoscaling group across the private subnets, replaced node by node on every new launch template
    version, scaled on average CPU."""

    group: aws.autoscaling.Group
    """The autoscaling group."""
    policy: aws.autoscaling.Policy
    """The target-tracking policy on `ASGAverageCPUUtilization`."""

    def __init__(self, name: str, args: ScalingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flask-nginx-aws:scaling:Scaling", name, None, opts)
        self.group = aws.autoscaling.Group(
            naming.child(name, "asg"),
            min_size=args.min_size,
            desired_capacity=args.desired_capacity,
            max_size=args.max_size,
            vpc_zone_identifiers=args.subnet_ids,
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=args.launch_template_id,
                version=pulumi.Output.from_input(args.launch_template_version).apply(str),
            ),
            target_group_arns=[args.target_group_arn],
            # Replace nodes the ALB finds unhealthy, not only those EC2 finds dead.
            health_check_type="ELB",
            health_check_grace_period=HEALTH_CHECK_GRACE_SECONDS,
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                    min_healthy_percentage=MIN_HEALTHY_PERCENT,
                    max_healthy_percentage=MAX_HEALTHY_PERCENT,
                    instance_warmup=str(INSTANCE_WARMUP_SECONDS),
                    # Off: the provider saves the new launch template version on the group before it starts
                    # the refresh, so a rollback would relaunch that same version
                    # (hashicorp/terraform-provider-aws#34189). A failed refresh stops where it is instead.
                    auto_rollback=False,
                    skip_matching=True,
                ),
            ),
            enabled_metrics=list(GROUP_METRICS),
            metrics_granularity="1Minute",
            tags=[
                aws.autoscaling.GroupTagArgs(key=key, value=value, propagate_at_launch=True)
                for key, value in {**args.tags, "Name": naming.display(args.stack, "node")}.items()
            ],
            # The scaling policy owns the desired capacity once the group exists; `pulumi up` must not
            # reset it to the configured starting value.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity"]),
        )
        self.policy = aws.autoscaling.Policy(
            naming.child(name, "cpu"),
            autoscaling_group_name=self.group.name,
            policy_type="TargetTrackingScaling",
            estimated_instance_warmup=INSTANCE_WARMUP_SECONDS,
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                predefined_metric_specification=aws.autoscaling.PolicyTargetTrackingConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ASGAverageCPUUtilization"
                ),
                target_value=args.cpu_target_percent,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"group_name": self.group.name, "policy_arn": self.policy.arn})
