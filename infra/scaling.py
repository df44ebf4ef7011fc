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
    """The version the group is created with; later versions reach it only through the rollout
    (infra/rollout.py)."""
    subnet_ids: pulumi.Input[list[str]]
    target_group_arn: pulumi.Input[str]
    min_size: int
    desired_capacity: int
    max_size: int
    cpu_target_percent: float
    stack: str
    tags: Mapping[str, str]


class Scaling(pulumi.ComponentResource):
    """An autoscaling group across the private subnets, scaled on average CPU; new launch template versions
    reach it through the rollout (infra/rollout.py)."""

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
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity", "launchTemplate"]),
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
