"""infra/network.py: subnets per zone, NAT per zone or single, routes, flow logs; or an existing VPC."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest

from iam_eval import Decision, Principal, Request, evaluate
from infra.config import PROJECT, ExistingVpc, NewVpc
from infra.network import Network, NetworkArgs
from tests.conftest import ACCOUNT, Harness, spy_options

SUBNET = "aws:ec2/subnet:Subnet"
ROUTE_TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
NAT = "aws:ec2/natGateway:NatGateway"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"

THREE_ZONES = NewVpc(
    cidr="10.0.0.0/16",
    availability_zones=("us-east-1a", "us-east-1b", "us-east-1c"),
    public_subnet_cidrs=("10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"),
    private_subnet_cidrs=("10.0.16.0/20", "10.0.32.0/20", "10.0.48.0/20"),
    single_nat_gateway=False,
)


def build(harness: Harness, layout: NewVpc | ExistingVpc) -> Network:
    network: list[Network] = []

    def program() -> pulumi.Output[list[str]]:
        network.append(
            Network(
                "network", NetworkArgs(layout=layout, region="us-east-1", stack="prod", log_retention_days=30)
            )
        )
        return network[0].private_subnet_ids

    harness.evaluate(program)
    return network[0]


def test_public_and_private_subnets_in_every_zone(harness: Harness) -> None:
    build(harness, THREE_ZONES)
    subnets = {r.name: r.inputs for r in harness.mocks.of_type(SUBNET)}
    vpc = harness.mocks.one("aws:ec2/vpc:Vpc")
    assert vpc.inputs["cidrBlock"] == "10.0.0.0/16"
    for letter, public, private in zip(
        "abc", THREE_ZONES.public_subnet_cidrs, THREE_ZONES.private_subnet_cidrs, strict=True
    ):
        assert subnets[f"network-public-{letter}"]["cidrBlock"] == public
        assert subnets[f"network-private-{letter}"]["cidrBlock"] == private
        for kind in ("public", "private"):
            assert subnets[f"network-{kind}-{letter}"]["availabilityZone"] == f"us-east-1{letter}"
        assert subnets[f"network-private-{letter}"]["mapPublicIpOnLaunch"] is False
    assert len(subnets) == 6


def test_each_zone_egresses_through_its_own_nat(harness: Harness) -> None:
    build(harness, THREE_ZONES)
    nats = harness.mocks.of_type(NAT)
    assert len(nats) == 3
    tables = {r.name: r for r in harness.mocks.of_type(ROUTE_TABLE)}
    subnets = {r.id: r.name for r in harness.mocks.of_type(SUBNET)}
    nat_zone = {nat.id: subnets[nat.inputs["subnetId"]][-1] for nat in nats}
    for letter in "abc":
        (route,) = tables[f"network-private-{letter}-rt"].inputs["routes"]
        assert route["cidrBlock"] == "0.0.0.0/0"
        assert nat_zone[route["natGatewayId"]] == letter
    (public_route,) = tables["network-public-rt"].inputs["routes"]
    igw = harness.mocks.one("aws:ec2/internetGateway:InternetGateway")
    assert public_route["gatewayId"] == igw.id


def test_single_nat_serves_every_zone(harness: Harness) -> None:
    single = NewVpc(**{**THREE_ZONES.__dict__, "single_nat_gateway": True})
    build(harness, single)
    (nat,) = harness.mocks.of_type(NAT)
    tables = [r for r in harness.mocks.of_type(ROUTE_TABLE) if r.name.startswith("network-private")]
    assert len(tables) == 3
    assert {t.inputs["routes"][0]["natGatewayId"] for t in tables} == {nat.id}
    assert nat.inputs["subnetId"] == harness.mocks.one(SUBNET, "network-public-a").id
    assert len(harness.mocks.of_type("aws:ec2/eip:Eip")) == 1


def test_every_subnet_is_associated_with_its_route_table(harness: Harness) -> None:
    build(harness, THREE_ZONES)
    subnets = {r.id: r.name for r in harness.mocks.of_type(SUBNET)}
    tables = {r.id: r.name for r in harness.mocks.of_type(ROUTE_TABLE)}
    associated = {
        subnets[a.inputs["subnetId"]]: tables[a.inputs["routeTableId"]]
        for a in harness.mocks.of_type(ASSOCIATION)
    }
    # The public subnets share the table routing to the internet gateway; each private one has its own.
    assert associated == {
        **{f"network-public-{letter}": "network-public-rt" for letter in "abc"},
        **{f"network-private-{letter}": f"network-private-{letter}-rt" for letter in "abc"},
    }


def test_s3_is_reached_through_a_gateway_endpoint_on_every_private_route_table(harness: Harness) -> None:
    build(harness, THREE_ZONES)
    (endpoint,) = harness.mocks.of_type(ENDPOINT)
    assert endpoint.inputs["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert endpoint.inputs["vpcEndpointType"] == "Gateway"
    private = {r.id for r in harness.mocks.of_type(ROUTE_TABLE) if r.name.startswith("network-private")}
    assert len(private) == 3
    assert set(endpoint.inputs["routeTableIds"]) == private
    # AWS's default policy: the app's own S3 calls from these subnets go through it too.
    assert "policy" not in endpoint.inputs


def test_the_logs_endpoint_is_in_every_private_subnet_and_admits_only_their_https(harness: Harness) -> None:
    build(harness, NewVpc(**{**THREE_ZONES.__dict__, "logs_endpoint": True}))
    logs = harness.mocks.one(ENDPOINT, "network-logs").inputs
    assert logs["serviceName"] == "com.amazonaws.us-east-1.logs"
    assert logs["vpcEndpointType"] == "Interface"
    # Private DNS makes logs.<region>.amazonaws.com resolve to it: Docker's log driver needs no setting.
    assert logs["privateDnsEnabled"] is True
    private = {r.id for r in harness.mocks.of_type(SUBNET) if r.name.startswith("network-private")}
    assert set(logs["subnetIds"]) == private
    group = harness.mocks.one("aws:ec2/securityGroup:SecurityGroup", "network-logs-endpoint")
    assert logs["securityGroupIds"] == [group.id]
    admitted = {
        (rule.inputs["ipProtocol"], rule.inputs["fromPort"], rule.inputs["toPort"], rule.inputs["cidrIpv4"])
        for rule in harness.mocks.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if rule.inputs["securityGroupId"] == group.id
    }
    assert admitted == {("tcp", 443, 443, cidr) for cidr in THREE_ZONES.private_subnet_cidrs}
    assert not harness.mocks.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")


def test_no_logs_endpoint_unless_asked(harness: Harness) -> None:
    build(harness, THREE_ZONES)
    assert [r.name for r in harness.mocks.of_type(ENDPOINT)] == ["network-s3"]


def test_default_security_group_is_stripped_of_rules(harness: Harness) -> None:
    build(harness, THREE_ZONES)
    default = harness.mocks.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert default.inputs["ingress"] == []
    assert default.inputs["egress"] == []


def test_flow_logs_capture_all_traffic_into_their_log_group(harness: Harness) -> None:
    build(harness, THREE_ZONES)
    flow = harness.mocks.one("aws:ec2/flowLog:FlowLog")
    group = harness.mocks.one("aws:cloudwatch/logGroup:LogGroup")
    role = harness.mocks.one("aws:iam/role:Role")
    assert flow.inputs["trafficType"] == "ALL"
    assert flow.inputs["logDestination"] == group.state["arn"]
    assert flow.inputs["iamRoleArn"] == role.state["arn"]
    assert group.inputs["retentionInDays"] == 30
    assert group.inputs["name"] == f"/{PROJECT}/prod/vpc-flow-logs"
    assert harness.mocks.one("aws:iam/rolePolicy:RolePolicy").inputs["role"] == role.id


def test_the_flow_logs_service_may_assume_its_role_and_deliver_to_its_group_only(harness: Harness) -> None:
    # The calls the service makes (VPC User Guide, "IAM role for publishing flow logs to CloudWatch Logs"),
    # on the resources they touch, decided as IAM does on the declared policies.
    build(harness, THREE_ZONES)
    group = harness.mocks.one("aws:cloudwatch/logGroup:LogGroup").state["arn"]
    role = harness.mocks.one("aws:iam/role:Role")
    policy = harness.mocks.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"]
    service = Principal(service="vpc-flow-logs.amazonaws.com")
    flow_log = f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc-flow-log/fl-0123456789abcdef0"

    def assume(account: str, source: str) -> Decision:
        context = {"aws:SourceAccount": account, "aws:SourceArn": source}
        request = Request(
            principal=service, action="sts:AssumeRole", resource=role.state["arn"], context=context
        )
        return evaluate(role.inputs["assumeRolePolicy"], request)

    assert assume(ACCOUNT, flow_log) is Decision.ALLOW
    assert assume("999999999999", flow_log.replace(ACCOUNT, "999999999999")) is Decision.IMPLICIT_DENY
    assert assume(ACCOUNT, f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123") is Decision.IMPLICIT_DENY
    holder = Principal(arn=role.state["arn"])
    stream = f"{group}:log-stream:eni-0123456789abcdef0-all"
    for action, resource in (
        ("logs:DescribeLogGroups", "*"),
        ("logs:CreateLogGroup", group),
        ("logs:DescribeLogStreams", group),
        ("logs:CreateLogStream", stream),
        ("logs:PutLogEvents", stream),
    ):
        assert evaluate(policy, Request(principal=holder, action=action, resource=resource)) is Decision.ALLOW
    other = group.replace("vpc-flow-logs", "node") + ":log-stream:x"
    write_elsewhere = Request(principal=holder, action="logs:PutLogEvents", resource=other)
    assert evaluate(policy, write_elsewhere) is Decision.IMPLICIT_DENY


def test_flow_logs_start_only_once_their_role_may_deliver(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = spy_options(monkeypatch, aws.ec2.FlowLog)
    build(harness, THREE_ZONES)
    (opts,) = options
    assert [resource._name for resource in opts.depends_on] == ["network-flow-logs"]


def test_existing_vpc_creates_nothing_and_reads_the_cidr(harness: Harness) -> None:
    existing = ExistingVpc(
        vpc_id="vpc-0123456789abcdef0",
        public_subnet_ids=("subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"),
        private_subnet_ids=("subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"),
    )
    seen: dict[str, object] = {}

    def program() -> pulumi.Output[None]:
        network = Network(
            "network", NetworkArgs(layout=existing, region="us-east-1", stack="prod", log_retention_days=30)
        )
        return pulumi.Output.all(
            network.vpc_id, network.vpc_cidr, network.public_subnet_ids, network.private_subnet_ids
        ).apply(lambda values: seen.update(zip(("vpc", "cidr", "public", "private"), values, strict=True)))

    harness.evaluate(program)
    assert [r.typ for r in harness.mocks.resources] == [f"{PROJECT}:network:Network"]
    assert ("aws:ec2/getVpc:getVpc", {"id": "vpc-0123456789abcdef0"}) in harness.mocks.invokes
    assert seen == {
        "vpc": "vpc-0123456789abcdef0",
        "cidr": "172.31.0.0/16",
        "public": list(existing.public_subnet_ids),
        "private": list(existing.private_subnet_ids),
    }


def test_nodes_go_into_a_subnet_only_once_it_routes_through_its_nat(harness: Harness) -> None:
    # The autoscaling group takes the private subnet ids: they must carry the route table associations and
    # NAT gateways, or Pulumi launches nodes that cannot install Docker or pull their images.
    def program() -> pulumi.Output[None]:
        network = Network(
            "network",
            NetworkArgs(layout=THREE_ZONES, region="us-east-1", stack="prod", log_retention_days=30),
        )

        async def dependencies() -> list[str]:
            return sorted(resource._name for resource in await network.private_subnet_ids.resources())

        dependency_names: pulumi.Output[list[str]] = pulumi.Output.from_input(dependencies())
        return dependency_names.apply(seen.extend)

    seen: list[str] = []
    harness.evaluate(program)
    for letter in "abc":
        assert {f"network-private-{letter}", f"network-nat-{letter}"} <= set(seen)
    assert seen.count("network-private-a") == 2  # the subnet and its route table association
