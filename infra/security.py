"""Security groups: the internet reaches the ALB, the ALB reaches nginx, nothing reaches anything else."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.config import NGINX_HTTPS_PORT

INTERNET = "0.0.0.0/0"
HTTP_PORT = 80
HTTPS_PORT = 443


@dataclass(frozen=True, kw_only=True)
class SecurityArgs:
    """The VPC the groups belong to, and the stack they serve."""

    vpc_id: pulumi.Input[str]
    stack: str


class Security(pulumi.ComponentResource):
    """The ALB's and the instances' security groups and every rule between them. No SSH anywhere:
    operators reach instances through SSM Session Manager."""

    alb_security_group: aws.ec2.SecurityGroup
    """HTTP and HTTPS from the internet in; out only to the instances' nginx."""
    instance_security_group: aws.ec2.SecurityGroup
    """nginx's port from the ALB's group only; out only HTTPS (ECR, SSM, CloudWatch, package mirrors)."""

    def __init__(self, name: str, args: SecurityArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flask-nginx-aws:security:Security", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # No inline rules: each rule is its own resource below, so the two groups can refer to each other.
        self.alb_security_group = aws.ec2.SecurityGroup(
            naming.child(name, "alb"),
            vpc_id=args.vpc_id,
            description="ALB: HTTP and HTTPS from the internet",
            tags={"Name": naming.display(args.stack, "alb")},
            opts=child,
        )
        self.instance_security_group = aws.ec2.SecurityGroup(
            naming.child(name, "instance"),
            vpc_id=args.vpc_id,
            description="Instances: nginx from the ALB only",
            tags={"Name": naming.display(args.stack, "instance")},
            opts=child,
        )
        alb_id = self.alb_security_group.id
        instance_id = self.instance_security_group.id
        for port in (HTTP_PORT, HTTPS_PORT):
            aws.vpc.SecurityGroupIngressRule(
                naming.child(name, f"alb-in-{port}"),
                security_group_id=alb_id,
                description="Clients from the internet",
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4=INTERNET,
                opts=child,
            )
        # The ALB may open connections to nginx on the instances and nowhere else.
        aws.vpc.SecurityGroupEgressRule(
            naming.child(name, "alb-out-nginx"),
            security_group_id=alb_id,
            description="Forward to nginx and health-check it",
            ip_protocol="tcp",
            from_port=NGINX_HTTPS_PORT,
            to_port=NGINX_HTTPS_PORT,
            referenced_security_group_id=instance_id,
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            naming.child(name, "instance-in-nginx"),
            security_group_id=instance_id,
            description="nginx from the ALB only",
            ip_protocol="tcp",
            from_port=NGINX_HTTPS_PORT,
            to_port=NGINX_HTTPS_PORT,
            referenced_security_group_id=alb_id,
            opts=child,
        )
        # HTTPS out (through NAT) is all a node needs: ECR, S3 layers, SSM, CloudWatch Logs, dnf mirrors.
        # Security groups do not filter the Amazon DNS server, the Time Sync Service or the metadata service
        # (VPC User Guide, "Security group rules").
        aws.vpc.SecurityGroupEgressRule(
            naming.child(name, "instance-out-https"),
            security_group_id=instance_id,
            description="AWS APIs, ECR and package mirrors over HTTPS",
            ip_protocol="tcp",
            from_port=HTTPS_PORT,
            to_port=HTTPS_PORT,
            cidr_ipv4=INTERNET,
            opts=child,
        )
        self.register_outputs(
            {
                "alb_security_group_id": self.alb_security_group.id,
                "instance_security_group_id": self.instance_security_group.id,
            }
        )
