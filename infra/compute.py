"""What one node is: its IAM role and its launch template (AMI, hardening, user data)."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra import app_environment, naming, policies, spot_drain, user_data
from infra.architecture import AMI_PARAMETERS
from infra.config import SpotSettings

SSM_MANAGED_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
"""Session Manager: the way operators reach a node (no SSH, no key pair, no open port)."""
ROOT_DEVICE = "/dev/xvda"
"""The ECS-optimized AL2023 AMI's root device (aws/amazon-ecs-ami al2023.pkr.hcl)."""
_BURSTABLE = re.compile(r"^t\d+[a-z]*\.")


def credit_specification(instance_type: str) -> aws.ec2.LaunchTemplateCreditSpecificationArgs | None:
    """Unlimited CPU credits for burstable types, nothing for the others.

    In "standard" mode a T instance that has spent its credits is held at its baseline (20% on a t3.small),
    below the CPU target: the nodes would be throttled while the group sees no reason to scale out.
    Sustained load above the baseline is billed as surplus credits (see the README's costs).
    """
    if _BURSTABLE.match(instance_type) is None:
        return None
    return aws.ec2.LaunchTemplateCreditSpecificationArgs(cpu_credits="unlimited")


@dataclass(frozen=True, kw_only=True)
class ComputeArgs:
    """The node's size, network placement, images and logs."""

    stack: str
    region: str
    instance_type: str
    root_volume_size_gib: int
    architecture: str
    """The instance type's architecture, which the AMI and the images are of."""
    security_group_id: pulumi.Input[str]
    repository_arns: pulumi.Input[list[str]]
    """The ECR repositories the node may pull from, and no others."""
    app_image: pulumi.Input[str]
    proxy_image: pulumi.Input[str]
    log_group_name: pulumi.Input[str]
    log_group_arn: pulumi.Input[str]
    vpc_cidr: pulumi.Input[str]
    server_name: pulumi.Input[str]
    https_port: int
    rate_limit: user_data.NginxRateLimit
    """nginx's per-client limit on each node, derived from the web ACL's (infra/firewall.py)."""
    tags: Mapping[str, str]
    """Tags for the instances and volumes the template launches (provider default tags do not reach them)."""
    target_group_arn: pulumi.Input[str]
    """The target group the nodes serve in: a Spot node leaves it on an interruption notice."""
    deregistration_delay_seconds: int
    """The target group's drain, which a Spot node waits out before it stops its containers."""
    spot: SpotSettings | None = None
    """Spot capacity: the nodes run the drain (infra/spot_drain.py) and may leave the target group."""
    app: app_environment.AppEnvironment = field(default_factory=app_environment.AppEnvironment.empty)
    """The app container's settings, and the secrets its nodes may read and fetch at boot."""
    after: Sequence[pulumi.Resource] = ()
    """What must succeed before any node may launch these images: the release phase (infra/release.py)."""


class Compute(pulumi.ComponentResource):
    """The instance role and profile, and a launch template whose every version is a complete node."""

    role: aws.iam.Role
    """The instances' role: SSM, pull from this stack's repositories, write its log group. Nothing else."""
    launch_template: aws.ec2.LaunchTemplate
    """The launch template; each change (image digest, AMI, size) makes a new `latest_version`."""

    def __init__(self, name: str, args: ComputeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flask-nginx-aws:compute:Compute", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.role = aws.iam.Role(
            naming.child(name, "role"),
            description="Nodes of the Flask service: SSM, ECR pull, CloudWatch Logs",
            assume_role_policy=policies.assume_role("ec2.amazonaws.com"),
            opts=child,
        )
        documents = {
            "ecr-pull": pulumi.Output.from_input(args.repository_arns).apply(policies.pull_images),
            "logs": pulumi.Output.from_input(args.log_group_arn).apply(policies.write_log_group),
        }
        fetches = app_environment.resolved(args.app, region=args.region, parent=self)
        if args.app.secrets:
            documents["app-secrets"] = fetches.apply(policies.read_app_secrets)
        if args.spot is not None:
            documents["spot-drain"] = pulumi.Output.from_input(args.target_group_arn).apply(
                policies.leave_target_group
            )
        grants: list[pulumi.Resource] = [
            aws.iam.RolePolicyAttachment(
                naming.child(name, "ssm"), role=self.role.name, policy_arn=SSM_MANAGED_POLICY, opts=child
            ),
            *(
                aws.iam.RolePolicy(naming.child(name, grant), role=self.role.id, policy=document, opts=child)
                for grant, document in documents.items()
            ),
        ]
        profile = aws.iam.InstanceProfile(naming.child(name, "profile"), role=self.role.name, opts=child)
        # The ECS-optimized Amazon Linux 2023 AMI of the nodes' architecture: AL2023 with Docker installed, so
        # a booting node installs no package (docs/aws-contracts.md). Resolved at deploy time, not with
        # "resolve:ssm:" at launch: a new AMI makes a new template version (and an instance refresh), and
        # instance refresh rollback refuses templates with SSM image ids.
        ami = aws.ssm.get_parameter_output(
            name=AMI_PARAMETERS[args.architecture], opts=pulumi.InvokeOutputOptions(parent=self)
        )
        # The settings a program added from other resources (a database's address) are known at deploy time.
        app_settings = pulumi.Output.from_input(dict(args.app.settings))
        script = pulumi.Output.all(
            args.app_image,
            args.proxy_image,
            args.log_group_name,
            args.vpc_cidr,
            args.server_name,
            fetches,
            app_settings,
            args.target_group_arn,
        ).apply(
            lambda values: user_data.render(
                user_data.NodeSettings(
                    region=args.region,
                    app_image=values[0],
                    proxy_image=values[1],
                    log_group=values[2],
                    vpc_cidr=values[3],
                    server_name=values[4],
                    https_port=args.https_port,
                    rate_limit=args.rate_limit,
                    app_settings=values[6],
                    app_secrets=values[5],
                    spot_drain=(
                        spot_drain.SpotDrain(
                            target_group_arn=values[7],
                            port=args.https_port,
                            deregistration_delay_seconds=args.deregistration_delay_seconds,
                        )
                        if args.spot is not None
                        else None
                    ),
                )
            )
        )
        instance_tags = {**args.tags, "Name": naming.display(args.stack, "node")}
        self.launch_template = aws.ec2.LaunchTemplate(
            naming.child(name, "lt"),
            description="A node: Docker running the app and proxy images by digest",
            image_id=ami.value,
            instance_type=args.instance_type,
            credit_specification=credit_specification(args.instance_type),
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            vpc_security_group_ids=[args.security_group_id],
            # IMDSv2 only, and one hop: a container on a bridge network (a hop further) gets no token (EC2
            # User Guide, "Configure the Instance Metadata Service options"). Ours share the host's network,
            # so the user data refuses IMDS to every user but root (user_data.imds_guard_unit).
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=ROOT_DEVICE,
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_type="gp3",
                        volume_size=args.root_volume_size_gib,
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            # One-minute CPU metrics: the target-tracking policy reacts in minutes, not in a quarter hour.
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=instance_tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            user_data=script.apply(lambda text: base64.b64encode(text.encode()).decode()),
            update_default_version=True,
            # A node booted before its role's grants exist fails its ECR login and its containers' log
            # driver; nothing retries the user data.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*grants, *args.after]),
        )
        self.register_outputs(
            {
                "role_arn": self.role.arn,
                "launch_template_id": self.launch_template.id,
                "launch_template_version": self.launch_template.latest_version,
            }
        )
