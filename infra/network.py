"""The network: a new VPC across availability zones, or an existing VPC and subnets named in config."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming, policies
from infra.config import ExistingVpc, NewVpc

FLOW_LOGS_SERVICE = "vpc-flow-logs.amazonaws.com"
HTTPS_PORT = 443


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    """A new VPC's layout or an existing VPC's ids, and how long flow logs are kept."""

    layout: NewVpc | ExistingVpc
    region: str
    """The region of the VPC: names the flow logs the flow-logs role may act for."""
    stack: str
    """Names the flow log group and the `Name` tags, so stacks sharing an account stay apart."""
    log_retention_days: int


class Network(pulumi.ComponentResource):
    """Public subnets for the ALB, private subnets for the instances, in at least two zones."""

    vpc_id: pulumi.Output[str]
    """The VPC's id."""
    vpc_cidr: pulumi.Output[str]
    """The VPC's CIDR: the only addresses nginx trusts for X-Forwarded-For."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Subnets routed to the internet gateway: the ALB's."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Subnets without public addresses, egress through NAT: the instances'."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flask-nginx-aws:network:Network", name, None, opts)
        if isinstance(args.layout, ExistingVpc):
            self._use_existing(args.layout)
        else:
            self._create(name, args.layout, args)
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "vpc_cidr": self.vpc_cidr,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )

    def _use_existing(self, layout: ExistingVpc) -> None:
        vpc = aws.ec2.get_vpc_output(id=layout.vpc_id, opts=pulumi.InvokeOutputOptions(parent=self))
        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        self.public_subnet_ids = pulumi.Output.from_input(list(layout.public_subnet_ids))
        self.private_subnet_ids = pulumi.Output.from_input(list(layout.private_subnet_ids))

    def _create(self, name: str, layout: NewVpc, args: NetworkArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        vpc = aws.ec2.Vpc(
            naming.child(name, "vpc"),
            cidr_block=layout.cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": naming.display(args.stack)},
            opts=child,
        )
        # The default security group allows all traffic between its members: strip it of every rule, so
        # nothing placed in it by mistake is reachable (terraform-aws-vpc's manage_default_security_group).
        aws.ec2.DefaultSecurityGroup(
            naming.child(name, "default-sg"), vpc_id=vpc.id, ingress=[], egress=[], opts=child
        )
        gateway = aws.ec2.InternetGateway(
            naming.child(name, "igw"), vpc_id=vpc.id, tags={"Name": naming.display(args.stack)}, opts=child
        )
        public_routes = aws.ec2.RouteTable(
            naming.child(name, "public-rt"),
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            tags={"Name": naming.display(args.stack, "public")},
            opts=child,
        )
        public_subnets: list[aws.ec2.Subnet] = []
        private_subnets: list[pulumi.Output[str]] = []
        private_route_tables: list[aws.ec2.RouteTable] = []
        nat_gateways: list[aws.ec2.NatGateway] = []
        for zone, public_cidr, private_cidr in zip(
            layout.availability_zones, layout.public_subnet_cidrs, layout.private_subnet_cidrs, strict=True
        ):
            letter = zone[-1]
            public = aws.ec2.Subnet(
                naming.child(name, f"public-{letter}"),
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=public_cidr,
                # Nothing in these subnets needs an address of its own: the ALB and NAT get theirs.
                map_public_ip_on_launch=False,
                tags={"Name": naming.display(args.stack, f"public-{letter}")},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                naming.child(name, f"public-{letter}"),
                subnet_id=public.id,
                route_table_id=public_routes.id,
                opts=child,
            )
            public_subnets.append(public)
            if not layout.single_nat_gateway or not nat_gateways:
                address = aws.ec2.Eip(
                    naming.child(name, f"nat-{letter}"),
                    domain="vpc",
                    tags={"Name": naming.display(args.stack, f"nat-{letter}")},
                    opts=child,
                )
                nat_gateways.append(
                    aws.ec2.NatGateway(
                        naming.child(name, f"nat-{letter}"),
                        allocation_id=address.allocation_id,
                        subnet_id=public.id,
                        tags={"Name": naming.display(args.stack, f"nat-{letter}")},
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
                    )
                )
            private = aws.ec2.Subnet(
                naming.child(name, f"private-{letter}"),
                vpc_id=vpc.id,
                availability_zone=zone,
                cidr_block=private_cidr,
                map_public_ip_on_launch=False,
                tags={"Name": naming.display(args.stack, f"private-{letter}")},
                opts=child,
            )
            private_routes = aws.ec2.RouteTable(
                naming.child(name, f"private-{letter}-rt"),
                vpc_id=vpc.id,
                # Each zone egresses through its own NAT gateway, or through the single one.
                routes=[
                    aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat_gateways[-1].id)
                ],
                tags={"Name": naming.display(args.stack, f"private-{letter}")},
                opts=child,
            )
            private_route_tables.append(private_routes)
            association = aws.ec2.RouteTableAssociation(
                naming.child(name, f"private-{letter}"),
                subnet_id=private.id,
                route_table_id=private_routes.id,
                opts=child,
            )
            # A private subnet is ready for nodes once its route to the NAT gateway is in place: nodes
            # launched earlier could not install Docker or pull the images.
            private_subnets.append(
                pulumi.Output.all(private.id, association.id, nat_gateways[-1].id).apply(lambda ids: ids[0])
            )
        # ECR keeps image layers in S3: a gateway endpoint takes every pull off the NAT gateways, which bill
        # per GB, and costs nothing itself. AWS's default policy (full access) stays: it applies to every S3
        # call from these subnets, the app's own too.
        aws.ec2.VpcEndpoint(
            naming.child(name, "s3"),
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.s3",
            vpc_endpoint_type="Gateway",
            route_table_ids=[table.id for table in private_route_tables],
            tags={"Name": naming.display(args.stack, "s3")},
            opts=child,
        )
        if layout.logs_endpoint:
            self._logs_endpoint(name, vpc, layout, args, pulumi.Output.all(*private_subnets))
        self._flow_logs(name, vpc, args)
        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])
        self.private_subnet_ids = pulumi.Output.all(*private_subnets)

    def _logs_endpoint(
        self,
        name: str,
        vpc: aws.ec2.Vpc,
        layout: NewVpc,
        args: NetworkArgs,
        subnet_ids: pulumi.Output[list[str]],
    ) -> None:
        """CloudWatch Logs through an interface endpoint in each private subnet: its private DNS name makes
        the nodes' log driver and the app use it, without the NAT gateways."""
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(
            naming.child(name, "logs-endpoint"),
            vpc_id=vpc.id,
            description="CloudWatch Logs endpoint: HTTPS from the private subnets",
            tags={"Name": naming.display(args.stack, "logs-endpoint")},
            opts=child,
        )
        for cidr, zone in zip(layout.private_subnet_cidrs, layout.availability_zones, strict=True):
            aws.vpc.SecurityGroupIngressRule(
                naming.child(name, f"logs-endpoint-{zone[-1]}"),
                security_group_id=group.id,
                description=f"HTTPS from the private subnet in {zone}",
                ip_protocol="tcp",
                from_port=HTTPS_PORT,
                to_port=HTTPS_PORT,
                cidr_ipv4=cidr,
                opts=child,
            )
        aws.ec2.VpcEndpoint(
            naming.child(name, "logs"),
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{args.region}.logs",
            vpc_endpoint_type="Interface",
            private_dns_enabled=True,
            subnet_ids=subnet_ids,
            security_group_ids=[group.id],
            tags={"Name": naming.display(args.stack, "logs")},
            opts=child,
        )

    def _flow_logs(self, name: str, vpc: aws.ec2.Vpc, args: NetworkArgs) -> None:
        """Every accepted and rejected flow to CloudWatch Logs: the audit trail of who talked to what."""
        child = pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            naming.child(name, "flow-logs"),
            name=naming.physical(
                "", naming.project(), args.stack, "vpc-flow-logs", max_length=512, separator="/"
            ),
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        role = aws.iam.Role(
            naming.child(name, "flow-logs"),
            description=f"VPC flow logs of {name} to CloudWatch Logs",
            assume_role_policy=account.account_id.apply(
                lambda account_id: policies.assume_role(
                    FLOW_LOGS_SERVICE,
                    source_account=account_id,
                    source_arn=f"arn:aws:ec2:{args.region}:{account_id}:vpc-flow-log/*",
                )
            ),
            opts=child,
        )
        delivery = aws.iam.RolePolicy(
            naming.child(name, "flow-logs"),
            role=role.id,
            policy=log_group.arn.apply(policies.deliver_flow_logs),
            opts=child,
        )
        aws.ec2.FlowLog(
            naming.child(name, "flow-logs"),
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            # A flow log whose role cannot write yet reports an access error and delivers nothing.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[delivery]),
        )
