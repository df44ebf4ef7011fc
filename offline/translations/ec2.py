"""EC2: the VPC, its subnets, gateways and routes, flow logs, security groups, launch templates."""

from __future__ import annotations

from typing import Any

from offline.aws import Aws, Inputs, UntranslatedError, boolean, pascal, physical_name, require_known
from offline.translations.registry import Outputs, translates


@translates("aws:ec2/vpc:Vpc")
def vpc(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateVpc, then the DNS attributes the provider sets one by one."""
    ec2 = aws.client("ec2")
    created = ec2.create_vpc(
        CidrBlock=inputs["cidrBlock"],
        InstanceTenancy=inputs.get("instanceTenancy", "default"),
        TagSpecifications=aws.tag_specifications("vpc", inputs),
    )["Vpc"]
    vpc_id = created["VpcId"]
    for key, attribute in (
        ("enableDnsSupport", "EnableDnsSupport"),
        ("enableDnsHostnames", "EnableDnsHostnames"),
    ):
        if key in inputs:
            ec2.modify_vpc_attribute(VpcId=vpc_id, **{attribute: {"Value": bool(inputs[key])}})
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}]
    default_group = ec2.describe_security_groups(
        Filters=[*filters, {"Name": "group-name", "Values": ["default"]}]
    )
    main_table = ec2.describe_route_tables(
        Filters=[*filters, {"Name": "association.main", "Values": ["true"]}]
    )
    return vpc_id, {
        "arn": f"arn:aws:ec2:{aws.region}:{created['OwnerId']}:vpc/{vpc_id}",
        "cidrBlock": created["CidrBlock"],
        "defaultSecurityGroupId": default_group["SecurityGroups"][0]["GroupId"],
        "mainRouteTableId": main_table["RouteTables"][0]["RouteTableId"],
        "ownerId": created["OwnerId"],
    }


@translates("aws:ec2/subnet:Subnet")
def subnet(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateSubnet, then its public-address attribute."""
    ec2 = aws.client("ec2")
    created = ec2.create_subnet(
        VpcId=inputs["vpcId"],
        CidrBlock=inputs["cidrBlock"],
        AvailabilityZone=inputs["availabilityZone"],
        TagSpecifications=aws.tag_specifications("subnet", inputs),
    )["Subnet"]
    if "mapPublicIpOnLaunch" in inputs:
        ec2.modify_subnet_attribute(
            SubnetId=created["SubnetId"], MapPublicIpOnLaunch={"Value": bool(inputs["mapPublicIpOnLaunch"])}
        )
    return created["SubnetId"], {
        "arn": created["SubnetArn"],
        "availabilityZoneId": created["AvailabilityZoneId"],
    }


@translates("aws:ec2/internetGateway:InternetGateway")
def internet_gateway(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateInternetGateway, attached to its VPC."""
    ec2 = aws.client("ec2")
    created = ec2.create_internet_gateway(
        TagSpecifications=aws.tag_specifications("internet-gateway", inputs)
    )
    gateway_id = created["InternetGateway"]["InternetGatewayId"]
    if "vpcId" in inputs:
        ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=inputs["vpcId"])
    return gateway_id, {"arn": f"arn:aws:ec2:{aws.region}:{aws.account_id}:internet-gateway/{gateway_id}"}


ROUTE_TARGETS = {
    "cidrBlock": "DestinationCidrBlock",
    "gatewayId": "GatewayId",
    "natGatewayId": "NatGatewayId",
}
"""The route destinations and targets the program declares, in the provider and in `CreateRoute`; any other
fails naming it."""


@translates("aws:ec2/routeTable:RouteTable")
def route_table(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateRouteTable and each declared route."""
    ec2 = aws.client("ec2")
    created = ec2.create_route_table(
        VpcId=inputs["vpcId"], TagSpecifications=aws.tag_specifications("route-table", inputs)
    )["RouteTable"]
    table_id = created["RouteTableId"]
    for route in inputs.get("routes", []):
        require_known({k for k, v in route.items() if v}, ROUTE_TARGETS, "routes")
        ec2.create_route(RouteTableId=table_id, **{ROUTE_TARGETS[k]: v for k, v in route.items() if v})
    return table_id, {"arn": f"arn:aws:ec2:{aws.region}:{created['OwnerId']}:route-table/{table_id}"}


@translates("aws:ec2/routeTableAssociation:RouteTableAssociation")
def route_table_association(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """AssociateRouteTable with a subnet or a gateway."""
    target = {"SubnetId": inputs["subnetId"]} if "subnetId" in inputs else {"GatewayId": inputs["gatewayId"]}
    created = aws.client("ec2").associate_route_table(RouteTableId=inputs["routeTableId"], **target)
    return created["AssociationId"], {}


@translates("aws:ec2/vpcEndpoint:VpcEndpoint")
def vpc_endpoint(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateVpcEndpoint: a gateway on route tables, or an interface in subnets with its groups."""
    arguments: dict[str, Any] = {
        "VpcId": inputs["vpcId"],
        "ServiceName": inputs["serviceName"],
        "VpcEndpointType": inputs["vpcEndpointType"],
        "TagSpecifications": aws.tag_specifications("vpc-endpoint", inputs),
    }
    for key, parameter in (
        ("routeTableIds", "RouteTableIds"),
        ("subnetIds", "SubnetIds"),
        ("securityGroupIds", "SecurityGroupIds"),
        ("privateDnsEnabled", "PrivateDnsEnabled"),
    ):
        if key in inputs:
            arguments[parameter] = inputs[key]
    created = aws.client("ec2").create_vpc_endpoint(**arguments)["VpcEndpoint"]
    endpoint_id = created["VpcEndpointId"]
    return endpoint_id, {"arn": f"arn:aws:ec2:{aws.region}:{aws.account_id}:vpc-endpoint/{endpoint_id}"}


@translates("aws:ec2/eip:Eip")
def eip(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """AllocateAddress."""
    created = aws.client("ec2").allocate_address(
        Domain=inputs.get("domain", "vpc"), TagSpecifications=aws.tag_specifications("elastic-ip", inputs)
    )
    return created["AllocationId"], {"allocationId": created["AllocationId"], "publicIp": created["PublicIp"]}


@translates("aws:ec2/natGateway:NatGateway")
def nat_gateway(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateNatGateway in a public subnet with its address."""
    created = aws.client("ec2").create_nat_gateway(
        SubnetId=inputs["subnetId"],
        AllocationId=inputs["allocationId"],
        ConnectivityType=inputs.get("connectivityType", "public"),
        TagSpecifications=aws.tag_specifications("natgateway", inputs),
    )["NatGateway"]
    address = created["NatGatewayAddresses"][0]
    return created["NatGatewayId"], {
        "publicIp": address.get("PublicIp"),
        "privateIp": address.get("PrivateIp"),
    }


@translates("aws:ec2/flowLog:FlowLog")
def flow_log(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateFlowLogs for a VPC, the flow log the program declares."""
    created = aws.client("ec2").create_flow_logs(
        ResourceIds=[inputs["vpcId"]],
        ResourceType="VPC",
        TrafficType=inputs["trafficType"],
        LogDestinationType=inputs.get("logDestinationType", "cloud-watch-logs"),
        LogDestination=inputs["logDestination"],
        DeliverLogsPermissionArn=inputs["iamRoleArn"],
        MaxAggregationInterval=inputs.get("maxAggregationInterval", 600),
        TagSpecifications=aws.tag_specifications("vpc-flow-log", inputs),
    )
    if created["Unsuccessful"]:
        raise ValueError(f"CreateFlowLogs: {created['Unsuccessful'][0]['Error']['Message']}")
    flow_log_id = created["FlowLogIds"][0]
    return flow_log_id, {"arn": f"arn:aws:ec2:{aws.region}:{aws.account_id}:vpc-flow-log/{flow_log_id}"}


def _strip_rules(aws: Aws, group_id: str, inputs: Inputs) -> None:
    """What the provider does to a group declared without inline rules: revoke what AWS put there (the
    allow-all egress of a new group). The program declares every rule as a resource of its own."""
    if inputs.get("ingress") or inputs.get("egress"):
        raise UntranslatedError(
            "inline ingress/egress rules are not translated: declare each rule as an "
            "aws.vpc.SecurityGroupIngressRule or SecurityGroupEgressRule, as the program does"
        )
    ec2 = aws.client("ec2")
    (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    if group["IpPermissions"]:
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=group["IpPermissions"])
    if group["IpPermissionsEgress"]:
        ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=group["IpPermissionsEgress"])


@translates(
    "aws:ec2/securityGroup:SecurityGroup",
    provider_only={"revokeRulesOnDelete": "revokes the rules before deleting the group"},
)
def security_group(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateSecurityGroup, stripped of AWS's default egress as the provider does."""
    created = aws.client("ec2").create_security_group(
        GroupName=physical_name(name, inputs),
        Description=inputs.get("description", "Managed by Pulumi"),
        VpcId=inputs["vpcId"],
        TagSpecifications=aws.tag_specifications("security-group", inputs),
    )
    _strip_rules(aws, created["GroupId"], inputs)
    return created["GroupId"], {"arn": created["SecurityGroupArn"], "name": physical_name(name, inputs)}


@translates("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
def default_security_group(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """Adopts the VPC's default group and strips it of every rule."""
    ec2 = aws.client("ec2")
    filters = [{"Name": "vpc-id", "Values": [inputs["vpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    groups = ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
    if not groups:
        raise ValueError(f"no default security group in VPC {inputs['vpcId']}")
    group_id = groups[0]["GroupId"]
    _strip_rules(aws, group_id, inputs)
    tags = aws.tag_list(inputs)
    if tags:
        ec2.create_tags(Resources=[group_id], Tags=tags)
    return group_id, {"arn": groups[0]["SecurityGroupArn"], "name": "default"}


def _rule(aws: Aws, inputs: Inputs, *, egress: bool) -> Outputs:
    """`aws.vpc.SecurityGroup{In,E}gressRule`: one rule, one peer, with its own id."""
    permission: dict[str, Any] = {"IpProtocol": inputs["ipProtocol"]}
    if inputs["ipProtocol"] != "-1":
        permission.update(FromPort=inputs["fromPort"], ToPort=inputs["toPort"])
    description = {"Description": inputs["description"]} if "description" in inputs else {}
    if "cidrIpv4" in inputs:
        permission["IpRanges"] = [{"CidrIp": inputs["cidrIpv4"], **description}]
    if "cidrIpv6" in inputs:
        permission["Ipv6Ranges"] = [{"CidrIpv6": inputs["cidrIpv6"], **description}]
    if "referencedSecurityGroupId" in inputs:
        permission["UserIdGroupPairs"] = [{"GroupId": inputs["referencedSecurityGroupId"], **description}]
    if "prefixListId" in inputs:
        permission["PrefixListIds"] = [{"PrefixListId": inputs["prefixListId"], **description}]
    ec2 = aws.client("ec2")
    authorize = ec2.authorize_security_group_egress if egress else ec2.authorize_security_group_ingress
    created = authorize(
        GroupId=inputs["securityGroupId"],
        IpPermissions=[permission],
        TagSpecifications=aws.tag_specifications("security-group-rule", inputs),
    )
    rule_id = created["SecurityGroupRules"][0]["SecurityGroupRuleId"]
    return rule_id, {
        "arn": f"arn:aws:ec2:{aws.region}:{aws.account_id}:security-group-rule/{rule_id}",
        "securityGroupRuleId": rule_id,
    }


@translates("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
def ingress_rule(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """AuthorizeSecurityGroupIngress for one rule."""
    return _rule(aws, inputs, egress=False)


@translates("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
def egress_rule(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """AuthorizeSecurityGroupEgress for one rule."""
    return _rule(aws, inputs, egress=True)


def _launch_template_data(inputs: Inputs) -> dict[str, Any]:
    """The provider's launch template arguments as `LaunchTemplateData`."""
    data = inputs.renamed(
        {
            "imageId": "ImageId",
            "instanceType": "InstanceType",
            "keyName": "KeyName",
            "userData": "UserData",
            "vpcSecurityGroupIds": "SecurityGroupIds",
            "ebsOptimized": "EbsOptimized",
            "disableApiTermination": "DisableApiTermination",
            "instanceInitiatedShutdownBehavior": "InstanceInitiatedShutdownBehavior",
        }
    )
    if "EbsOptimized" in data:
        data["EbsOptimized"] = boolean(data["EbsOptimized"])
    for key in ("iamInstanceProfile", "metadataOptions", "monitoring", "creditSpecification"):
        if key in inputs:
            data[key[:1].upper() + key[1:]] = pascal(inputs[key])
    if "blockDeviceMappings" in inputs:
        data["BlockDeviceMappings"] = [
            {
                **pascal({k: v for k, v in mapping.items() if k != "ebs"}),
                **(
                    {
                        "Ebs": pascal(
                            {
                                k: boolean(v) if k in {"encrypted", "deleteOnTermination"} else v
                                for k, v in mapping["ebs"].items()
                            }
                        )
                    }
                    if "ebs" in mapping
                    else {}
                ),
            }
            for mapping in inputs["blockDeviceMappings"]
        ]
    if "tagSpecifications" in inputs:
        data["TagSpecifications"] = [
            {
                "ResourceType": spec["resourceType"],
                "Tags": [{"Key": k, "Value": v} for k, v in spec["tags"].items()],
            }
            for spec in inputs["tagSpecifications"]
        ]
    return data


@translates(
    "aws:ec2/launchTemplate:LaunchTemplate",
    provider_only={"updateDefaultVersion": "on create, version 1 is the default version anyway"},
)
def launch_template(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateLaunchTemplate; the provider's `latestVersion` is its first version."""
    template_name = physical_name(name, inputs, max_length=128)
    description = {"VersionDescription": inputs["description"]} if "description" in inputs else {}
    created = aws.client("ec2").create_launch_template(
        LaunchTemplateName=template_name,
        LaunchTemplateData=_launch_template_data(inputs),
        TagSpecifications=aws.tag_specifications("launch-template", inputs),
        **description,
    )["LaunchTemplate"]
    template_id = created["LaunchTemplateId"]
    return template_id, {
        "arn": f"arn:aws:ec2:{aws.region}:{aws.account_id}:launch-template/{template_id}",
        "name": template_name,
        "latestVersion": created["LatestVersionNumber"],
        "defaultVersion": created["DefaultVersionNumber"],
    }
