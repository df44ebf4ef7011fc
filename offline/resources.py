"""One translation per `aws:*` resource type the program declares: the program's inputs (camelCase, as the
mocks receive them) become the AWS API calls the provider would make on create, against moto; the outputs
are what moto answers (ids, ARNs, DNS names), in the provider's camelCase.

Each translation reads every input it sends. An input it does not read must be listed as `provider_only`
(acted on by the provider alone, with no API call on create) or `unchecked` (moto cannot check it), each with
its reason; any other input fails the run, so nothing the program declares is silently dropped.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline.aws import Aws, Inputs, autoname, boolean, pascal, physical_name, require_known

Outputs = tuple[str, dict[str, Any]]
"""A created resource's id and its outputs (camelCase)."""
Create = Callable[[Aws, str, Inputs], Outputs]


@dataclass(frozen=True)
class Translation:
    """How one resource type is created in moto."""

    create: Create
    provider_only: Mapping[str, str] = field(default_factory=dict)
    """Inputs the provider acts on without any AWS call when it creates the resource, with what they do."""
    unchecked: Mapping[str, str] = field(default_factory=dict)
    """Inputs AWS would act on but moto cannot, with the reason."""


RESOURCES: dict[str, Translation] = {}
"""Every translated `aws:*` type token."""


def translates(
    token: str, *, provider_only: Mapping[str, str] | None = None, unchecked: Mapping[str, str] | None = None
) -> Callable[[Create], Create]:
    """Register a function as the translation of `token`."""

    def register(create: Create) -> Create:
        RESOURCES[token] = Translation(create, dict(provider_only or {}), dict(unchecked or {}))
        return create

    return register


def _arn_suffix(arn: str) -> str:
    """The part of an ELB ARN CloudWatch uses as a dimension (`app/...`, `targetgroup/...`)."""
    return arn.split(":", 5)[5].removeprefix("loadbalancer/")


# --- EC2: network -------------------------------------------------------------------------------------


@translates("aws:ec2/vpc:Vpc")
def vpc(aws: Aws, name: str, inputs: Inputs) -> Outputs:
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
    "ipv6CidrBlock": "DestinationIpv6CidrBlock",
    "destinationPrefixListId": "DestinationPrefixListId",
    "gatewayId": "GatewayId",
    "natGatewayId": "NatGatewayId",
    "egressOnlyGatewayId": "EgressOnlyInternetGatewayId",
    "networkInterfaceId": "NetworkInterfaceId",
    "transitGatewayId": "TransitGatewayId",
    "vpcEndpointId": "VpcEndpointId",
    "vpcPeeringConnectionId": "VpcPeeringConnectionId",
}
"""A route's destination and target keys in the provider and in `CreateRoute`."""


@translates("aws:ec2/routeTable:RouteTable")
def route_table(aws: Aws, name: str, inputs: Inputs) -> Outputs:
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
    target = {"SubnetId": inputs["subnetId"]} if "subnetId" in inputs else {"GatewayId": inputs["gatewayId"]}
    created = aws.client("ec2").associate_route_table(RouteTableId=inputs["routeTableId"], **target)
    return created["AssociationId"], {}


@translates("aws:ec2/eip:Eip")
def eip(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    created = aws.client("ec2").allocate_address(
        Domain=inputs.get("domain", "vpc"), TagSpecifications=aws.tag_specifications("elastic-ip", inputs)
    )
    return created["AllocationId"], {"allocationId": created["AllocationId"], "publicIp": created["PublicIp"]}


@translates("aws:ec2/natGateway:NatGateway")
def nat_gateway(aws: Aws, name: str, inputs: Inputs) -> Outputs:
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
    resource_type, resource_id = next(
        (kind, inputs[key])
        for key, kind in (("vpcId", "VPC"), ("subnetId", "Subnet"), ("eniId", "NetworkInterface"))
        if key in inputs
    )
    created = aws.client("ec2").create_flow_logs(
        ResourceIds=[resource_id],
        ResourceType=resource_type,
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


# --- EC2: security groups -----------------------------------------------------------------------------


INLINE_RULE_KEYS = (
    "protocol",
    "fromPort",
    "toPort",
    "cidrBlocks",
    "ipv6CidrBlocks",
    "securityGroups",
    "self",
    "description",
    "prefixListIds",
)
"""What an inline rule of `aws.ec2.SecurityGroup` may say."""


def _permission(rule: Mapping[str, Any], group_id: str) -> dict[str, Any]:
    """An inline rule of `aws.ec2.SecurityGroup` as an `IpPermissions` entry."""
    require_known(
        {k for k, v in rule.items() if v not in (None, [], False)},
        INLINE_RULE_KEYS,
        "ingress/egress",
    )
    description = {"Description": rule["description"]} if rule.get("description") else {}
    groups = list(rule.get("securityGroups", [])) + ([group_id] if rule.get("self") else [])
    permission: dict[str, Any] = {
        "IpProtocol": rule["protocol"],
        "IpRanges": [{"CidrIp": c, **description} for c in rule.get("cidrBlocks", [])],
        "Ipv6Ranges": [{"CidrIpv6": c, **description} for c in rule.get("ipv6CidrBlocks", [])],
        "UserIdGroupPairs": [{"GroupId": g, **description} for g in groups],
        "PrefixListIds": [{"PrefixListId": p, **description} for p in rule.get("prefixListIds", [])],
    }
    if rule["protocol"] != "-1":
        permission.update(FromPort=rule["fromPort"], ToPort=rule["toPort"])
    return permission


def _replace_rules(aws: Aws, group_id: str, inputs: Inputs) -> None:
    """What the provider does with a group's inline rules: revoke what AWS put there (the allow-all egress
    of a new group), then authorize exactly the declared `ingress` and `egress`."""
    ec2 = aws.client("ec2")
    (group,) = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"]
    if group["IpPermissions"]:
        ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=group["IpPermissions"])
    if group["IpPermissionsEgress"]:
        ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=group["IpPermissionsEgress"])
    if inputs.get("ingress"):
        ec2.authorize_security_group_ingress(
            GroupId=group_id, IpPermissions=[_permission(r, group_id) for r in inputs["ingress"]]
        )
    if inputs.get("egress"):
        ec2.authorize_security_group_egress(
            GroupId=group_id, IpPermissions=[_permission(r, group_id) for r in inputs["egress"]]
        )


@translates(
    "aws:ec2/securityGroup:SecurityGroup",
    provider_only={"revokeRulesOnDelete": "revokes the rules before deleting the group"},
)
def security_group(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    created = aws.client("ec2").create_security_group(
        GroupName=physical_name(name, inputs),
        Description=inputs.get("description", "Managed by Pulumi"),
        VpcId=inputs["vpcId"],
        TagSpecifications=aws.tag_specifications("security-group", inputs),
    )
    _replace_rules(aws, created["GroupId"], inputs)
    return created["GroupId"], {"arn": created["SecurityGroupArn"], "name": physical_name(name, inputs)}


@translates("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
def default_security_group(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """Adopts the VPC's default group and makes its rules exactly the declared ones."""
    ec2 = aws.client("ec2")
    filters = [{"Name": "vpc-id", "Values": [inputs["vpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    groups = ec2.describe_security_groups(Filters=filters)["SecurityGroups"]
    if not groups:
        raise ValueError(f"no default security group in VPC {inputs['vpcId']}")
    group_id = groups[0]["GroupId"]
    _replace_rules(aws, group_id, inputs)
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
    return _rule(aws, inputs, egress=False)


@translates("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
def egress_rule(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    return _rule(aws, inputs, egress=True)


# --- EC2: launch template -----------------------------------------------------------------------------


def _launch_template_data(inputs: Inputs) -> dict[str, Any]:
    """The provider's launch template arguments as `LaunchTemplateData`."""
    data: dict[str, Any] = {}
    simple = {
        "imageId": "ImageId",
        "instanceType": "InstanceType",
        "keyName": "KeyName",
        "userData": "UserData",
        "vpcSecurityGroupIds": "SecurityGroupIds",
        "ebsOptimized": "EbsOptimized",
        "disableApiTermination": "DisableApiTermination",
        "instanceInitiatedShutdownBehavior": "InstanceInitiatedShutdownBehavior",
    }
    for key, parameter in simple.items():
        if key in inputs:
            data[parameter] = boolean(inputs[key]) if key in {"ebsOptimized"} else inputs[key]
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


# --- IAM ----------------------------------------------------------------------------------------------


@translates("aws:iam/role:Role", provider_only={"forceDetachPolicies": "detaches policies before deleting"})
def role(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    role_name = physical_name(name, inputs, max_length=64)
    optional = {
        parameter: inputs[key]
        for key, parameter in (
            ("description", "Description"),
            ("path", "Path"),
            ("maxSessionDuration", "MaxSessionDuration"),
            ("permissionsBoundary", "PermissionsBoundary"),
        )
        if key in inputs
    }
    created = aws.client("iam").create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
        Tags=aws.tag_list(inputs),
        **optional,
    )["Role"]
    return role_name, {"arn": created["Arn"], "name": role_name, "uniqueId": created["RoleId"]}


@translates("aws:iam/rolePolicy:RolePolicy")
def role_policy(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    policy_name = physical_name(name, inputs, max_length=128)
    aws.client("iam").put_role_policy(
        RoleName=inputs["role"], PolicyName=policy_name, PolicyDocument=inputs["policy"]
    )
    return f"{inputs['role']}:{policy_name}", {"name": policy_name}


@translates("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
def role_policy_attachment(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    aws.client("iam").attach_role_policy(RoleName=inputs["role"], PolicyArn=inputs["policyArn"])
    return autoname(f"{inputs['role']}-{name}"), {}


@translates("aws:iam/instanceProfile:InstanceProfile")
def instance_profile(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    iam = aws.client("iam")
    profile_name = physical_name(name, inputs, max_length=128)
    created = iam.create_instance_profile(
        InstanceProfileName=profile_name, Path=inputs.get("path", "/"), Tags=aws.tag_list(inputs)
    )["InstanceProfile"]
    if "role" in inputs:
        iam.add_role_to_instance_profile(InstanceProfileName=profile_name, RoleName=inputs["role"])
    return profile_name, {
        "arn": created["Arn"],
        "name": profile_name,
        "uniqueId": created["InstanceProfileId"],
    }


# --- CloudWatch Logs, SNS, CloudWatch alarms -------------------------------------------------------------


@translates("aws:cloudwatch/logGroup:LogGroup")
def log_group(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    logs = aws.client("logs")
    group_name = physical_name(name, inputs, max_length=512)
    kms = {"kmsKeyId": inputs["kmsKeyId"]} if "kmsKeyId" in inputs else {}
    logs.create_log_group(logGroupName=group_name, tags=aws.tags(inputs), **kms)
    if "retentionInDays" in inputs:
        logs.put_retention_policy(logGroupName=group_name, retentionInDays=inputs["retentionInDays"])
    (created,) = logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"]
    # The provider's `arn` has no `:*`, the log group's ARN as IAM policies name it.
    return group_name, {"arn": created["arn"].removesuffix(":*"), "name": group_name}


@translates("aws:sns/topic:Topic")
def topic(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    topic_name = physical_name(name, inputs, max_length=256)
    attributes = {
        parameter: str(inputs[key])
        for key, parameter in (
            ("kmsMasterKeyId", "KmsMasterKeyId"),
            ("displayName", "DisplayName"),
            ("policy", "Policy"),
            ("fifoTopic", "FifoTopic"),
        )
        if key in inputs
    }
    created = aws.client("sns").create_topic(
        Name=topic_name, Attributes=attributes, Tags=aws.tag_list(inputs)
    )
    return created["TopicArn"], {"arn": created["TopicArn"], "name": topic_name}


@translates(
    "aws:sns/topicSubscription:TopicSubscription",
    unchecked={"endpoint": "moto does not send the confirmation an email subscription waits for"},
)
def topic_subscription(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    created = aws.client("sns").subscribe(
        TopicArn=inputs["topic"],
        Protocol=inputs["protocol"],
        Endpoint=inputs["endpoint"],
        ReturnSubscriptionArn=True,
    )
    return created["SubscriptionArn"], {"arn": created["SubscriptionArn"]}


def _dimensions(dimensions: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in dimensions.items()]


def _metric_query(query: Mapping[str, Any]) -> dict[str, Any]:
    """A `metricQuery` of `aws.cloudwatch.MetricAlarm` as a `MetricDataQuery`."""
    converted: dict[str, Any] = pascal({k: v for k, v in query.items() if k != "metric"})
    if "metric" in query:
        metric = query["metric"]
        converted["MetricStat"] = {
            "Metric": {
                "Namespace": metric["namespace"],
                "MetricName": metric["metricName"],
                "Dimensions": _dimensions(metric.get("dimensions", {})),
            },
            "Period": metric["period"],
            "Stat": metric["stat"],
            **({"Unit": metric["unit"]} if "unit" in metric else {}),
        }
    return converted


@translates("aws:cloudwatch/metricAlarm:MetricAlarm")
def metric_alarm(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    alarm_name = physical_name(name, inputs)
    keys = {
        "alarmDescription": "AlarmDescription",
        "comparisonOperator": "ComparisonOperator",
        "threshold": "Threshold",
        "evaluationPeriods": "EvaluationPeriods",
        "datapointsToAlarm": "DatapointsToAlarm",
        "namespace": "Namespace",
        "metricName": "MetricName",
        "statistic": "Statistic",
        "extendedStatistic": "ExtendedStatistic",
        "period": "Period",
        "unit": "Unit",
        "treatMissingData": "TreatMissingData",
        "alarmActions": "AlarmActions",
        "okActions": "OKActions",
        "insufficientDataActions": "InsufficientDataActions",
        "actionsEnabled": "ActionsEnabled",
    }
    parameters: dict[str, Any] = {parameter: inputs[key] for key, parameter in keys.items() if key in inputs}
    if "dimensions" in inputs:
        parameters["Dimensions"] = _dimensions(inputs["dimensions"])
    if "metricQueries" in inputs:
        parameters["Metrics"] = [_metric_query(q) for q in inputs["metricQueries"]]
    cloudwatch = aws.client("cloudwatch")
    cloudwatch.put_metric_alarm(AlarmName=alarm_name, Tags=aws.tag_list(inputs), **parameters)
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
    return alarm_name, {"arn": alarm["AlarmArn"]}


# --- ECR and images -----------------------------------------------------------------------------------


@translates(
    "aws:ecr/repository:Repository",
    provider_only={"forceDelete": "deletes the images with the repository on destroy"},
)
def repository(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    repository_name = physical_name(name, inputs, max_length=256)
    optional: dict[str, Any] = {}
    if "imageTagMutability" in inputs:
        optional["imageTagMutability"] = inputs["imageTagMutability"]
    if "imageScanningConfiguration" in inputs:
        optional["imageScanningConfiguration"] = dict(inputs["imageScanningConfiguration"])
    if "encryptionConfigurations" in inputs:
        (encryption,) = inputs["encryptionConfigurations"]
        optional["encryptionConfiguration"] = dict(encryption)
    created = aws.client("ecr").create_repository(
        repositoryName=repository_name, tags=aws.tag_list(inputs), **optional
    )["repository"]
    return repository_name, {
        "arn": created["repositoryArn"],
        "name": repository_name,
        "registryId": created["registryId"],
        "repositoryUrl": created["repositoryUri"],
    }


@translates("aws:ecr/lifecyclePolicy:LifecyclePolicy")
def lifecycle_policy(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    created = aws.client("ecr").put_lifecycle_policy(
        repositoryName=inputs["repository"], lifecyclePolicyText=inputs["policy"]
    )
    return inputs["repository"], {"registryId": created["registryId"]}


_STAGE = re.compile(r"^FROM\s+\S+(?:\s+AS\s+(?P<stage>\S+))?\s*$", re.IGNORECASE | re.MULTILINE)
_ECR_IMAGE = re.compile(
    r"^(?P<server>(?P<registry>\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com)/(?P<repository>[^:@]+):(?P<tag>[^:@/]+)$"
)


def push_image(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """`docker.Image`, without building: the Dockerfile and its target stage must exist, the registry
    credentials must be the ECR token's; then a manifest whose one layer stands for the build is pushed to
    the repository `imageName` names, so moto enforces that the repository exists and that its immutable
    tags are not pushed twice, and gives the digest the instances pull."""
    if inputs.get("skipPush"):
        raise ValueError("skipPush: the image would never reach the registry the instances pull from")
    build = inputs["build"]
    dockerfile = Path(build.get("dockerfile") or Path(build["context"]) / "Dockerfile")
    stages = {m["stage"] for m in _STAGE.finditer(dockerfile.read_text()) if m["stage"]}
    if "target" in build and build["target"] not in stages:
        raise ValueError(f"{dockerfile}: no stage {build['target']!r} (stages: {', '.join(sorted(stages))})")
    image_name = inputs["imageName"]
    match = _ECR_IMAGE.match(image_name)
    if match is None:
        raise ValueError(
            f"imageName {image_name!r}: expected <account>.dkr.ecr.<region>.amazonaws.com/<name>:<tag>"
        )
    ecr = aws.client("ecr")
    registry = inputs["registry"]
    (token,) = ecr.get_authorization_token(registryIds=[match["registry"]])["authorizationData"]
    username, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    if registry["server"].removeprefix("https://").split("/", 1)[0] != match["server"]:
        raise ValueError(f"registry server {registry['server']!r} is not the registry of {image_name!r}")
    if (registry.get("username"), registry.get("password")) != (username, password):
        raise ValueError("registry credentials: not the ECR authorization token's user name and password")
    build_digest = (
        "sha256:" + hashlib.sha256(json.dumps([build, image_name], sort_keys=True).encode()).hexdigest()
    )
    layer = {
        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "size": 0,
        "digest": build_digest,
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {**layer, "mediaType": "application/vnd.docker.container.image.v1+json"},
        "layers": [layer],
    }
    pushed = ecr.put_image(
        registryId=match["registry"],
        repositoryName=match["repository"],
        imageManifest=json.dumps(manifest),
        imageTag=match["tag"],
    )["image"]
    reference = f"{match['server']}/{match['repository']}@{pushed['imageId']['imageDigest']}"
    return reference, {"repoDigest": reference, "registryServer": match["server"]}


# --- ACM and Route 53 ---------------------------------------------------------------------------------


@translates("aws:acm/certificate:Certificate")
def certificate(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    acm = aws.client("acm")
    optional: dict[str, Any] = {}
    if "subjectAlternativeNames" in inputs:
        optional["SubjectAlternativeNames"] = inputs["subjectAlternativeNames"]
    if "keyAlgorithm" in inputs:
        optional["KeyAlgorithm"] = inputs["keyAlgorithm"]
    arn = acm.request_certificate(
        DomainName=inputs["domainName"],
        ValidationMethod=inputs["validationMethod"],
        Tags=aws.tag_list(inputs) or None,
        **optional,
    )["CertificateArn"]
    described = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    return arn, {
        "arn": arn,
        "status": described["Status"],
        "domainValidationOptions": [
            {
                "domainName": option["DomainName"],
                "resourceRecordName": option["ResourceRecord"]["Name"],
                "resourceRecordType": option["ResourceRecord"]["Type"],
                "resourceRecordValue": option["ResourceRecord"]["Value"],
            }
            for option in described["DomainValidationOptions"]
        ],
    }


def _resolve(aws: Aws, record_name: str, record_type: str) -> list[str]:
    """What DNS answers for a name, from the Route 53 zones in moto (the deepest zone containing it)."""
    route53 = aws.client("route53")
    fqdn = record_name.rstrip(".") + "."
    zones = [
        z
        for z in route53.list_hosted_zones()["HostedZones"]
        if fqdn.endswith("." + z["Name"]) or fqdn == z["Name"]
    ]
    if not zones:
        return []
    zone = max(zones, key=lambda z: len(z["Name"]))
    records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    return [
        value["Value"]
        for record in records
        if record["Name"] == fqdn and record["Type"] == record_type
        for value in record.get("ResourceRecords", [])
    ]


@translates("aws:acm/certificateValidation:CertificateValidation")
def certificate_validation(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """What the provider does: require the certificate's validation records among `validationRecordFqdns`,
    then wait until ACM issues it. ACM issues once the records resolve; here they must exist in Route 53
    (moto) with the values ACM asked for, and moto then issues the certificate."""
    acm = aws.client("acm")
    arn = inputs["certificateArn"]
    options = acm.describe_certificate(CertificateArn=arn)["Certificate"]["DomainValidationOptions"]
    declared = {fqdn.rstrip(".") for fqdn in inputs.get("validationRecordFqdns", [])}
    for option in options:
        record = option["ResourceRecord"]
        if declared and record["Name"].rstrip(".") not in declared:
            raise ValueError(f"validationRecordFqdns {sorted(declared)}: missing {record['Name']} for {arn}")
        answers = _resolve(aws, record["Name"], record["Type"])
        if record["Value"] not in answers:
            raise ValueError(
                f"certificate {arn} would never be issued: {record['Name']} {record['Type']} resolves to "
                f"{answers or 'nothing'}, ACM expects {record['Value']}"
            )
    status = acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"]
    if status != "ISSUED":
        raise ValueError(f"certificate {arn} is {status}, not ISSUED")
    return arn, {"certificateArn": arn}


@translates("aws:route53/record:Record", provider_only={"allowOverwrite": "UPSERT instead of CREATE"})
def record(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    record_set: dict[str, Any] = {"Name": inputs["name"], "Type": inputs["type"]}
    if "aliases" in inputs:
        (alias,) = inputs["aliases"]
        require_known(alias, ("zoneId", "name", "evaluateTargetHealth"), "aliases")
        record_set["AliasTarget"] = {
            "HostedZoneId": alias["zoneId"],
            "DNSName": alias["name"],
            "EvaluateTargetHealth": alias["evaluateTargetHealth"],
        }
    else:
        record_set.update(TTL=inputs["ttl"], ResourceRecords=[{"Value": v} for v in inputs["records"]])
    action = "UPSERT" if inputs.get("allowOverwrite") else "CREATE"
    aws.client("route53").change_resource_record_sets(
        HostedZoneId=inputs["zoneId"],
        ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": record_set}]},
    )
    return f"{inputs['zoneId']}_{inputs['name']}_{inputs['type']}", {"fqdn": inputs["name"].rstrip(".")}


# --- S3 -----------------------------------------------------------------------------------------------


@translates(
    "aws:s3/bucket:Bucket",
    provider_only={"forceDestroy": "empties the bucket before deleting it on destroy"},
)
def bucket(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    s3 = aws.client("s3")
    bucket_name = physical_name(name, inputs, key="bucket", max_length=63).lower()
    location = (
        {} if aws.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": aws.region}}
    )
    s3.create_bucket(Bucket=bucket_name, **location)
    tags = aws.tag_list(inputs)
    if tags:
        s3.put_bucket_tagging(Bucket=bucket_name, Tagging={"TagSet": tags})
    return bucket_name, {
        "arn": f"arn:aws:s3:::{bucket_name}",
        "bucket": bucket_name,
        "bucketDomainName": f"{bucket_name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{bucket_name}.s3.{aws.region}.amazonaws.com",
        "region": aws.region,
    }


@translates("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
def public_access_block(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    configuration = {key[:1].upper() + key[1:]: bool(inputs.get(key, False)) for key in keys}
    aws.client("s3").put_public_access_block(
        Bucket=inputs["bucket"], PublicAccessBlockConfiguration=configuration
    )
    return inputs["bucket"], {}


@translates("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
def ownership_controls(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    aws.client("s3").put_bucket_ownership_controls(
        Bucket=inputs["bucket"], OwnershipControls={"Rules": [pascal(inputs["rule"])]}
    )
    return inputs["bucket"], {}


@translates("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
def bucket_encryption(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    rules = pascal(inputs["rules"], {"sseAlgorithm": "SSEAlgorithm", "kmsMasterKeyId": "KMSMasterKeyID"})
    aws.client("s3").put_bucket_encryption(
        Bucket=inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
    )
    return inputs["bucket"], {}


@translates("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
def bucket_lifecycle(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    rules = pascal(inputs["rules"], {"id": "ID"})
    aws.client("s3").put_bucket_lifecycle_configuration(
        Bucket=inputs["bucket"], LifecycleConfiguration={"Rules": rules}
    )
    return inputs["bucket"], {}


@translates("aws:s3/bucketPolicy:BucketPolicy")
def bucket_policy(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    aws.client("s3").put_bucket_policy(Bucket=inputs["bucket"], Policy=inputs["policy"])
    return inputs["bucket"], {}


# --- Elastic Load Balancing ---------------------------------------------------------------------------

LOAD_BALANCER_ATTRIBUTES = {
    "enableDeletionProtection": "deletion_protection.enabled",
    "idleTimeout": "idle_timeout.timeout_seconds",
    "dropInvalidHeaderFields": "routing.http.drop_invalid_header_fields.enabled",
    "enableHttp2": "routing.http2.enabled",
    "desyncMitigationMode": "routing.http.desync_mitigation_mode",
    "enableCrossZoneLoadBalancing": "load_balancing.cross_zone.enabled",
}
"""Inputs of `aws.lb.LoadBalancer` the provider sets through `ModifyLoadBalancerAttributes`."""


def _attribute(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@translates("aws:lb/loadBalancer:LoadBalancer")
def load_balancer(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    elbv2 = aws.client("elbv2")
    lb_name = physical_name(name, inputs, max_length=32)
    created = elbv2.create_load_balancer(
        Name=lb_name,
        Subnets=inputs["subnets"],
        SecurityGroups=inputs.get("securityGroups", []),
        Scheme="internal" if inputs.get("internal") else "internet-facing",
        Type=inputs.get("loadBalancerType", "application"),
        IpAddressType=inputs.get("ipAddressType", "ipv4"),
        Tags=aws.tag_list(inputs) or [],
    )["LoadBalancers"][0]
    attributes = [
        {"Key": key, "Value": _attribute(inputs[prop])}
        for prop, key in LOAD_BALANCER_ATTRIBUTES.items()
        if prop in inputs
    ]
    if "accessLogs" in inputs:
        logs = inputs["accessLogs"]
        require_known(logs, ("enabled", "bucket", "prefix"), "accessLogs")
        attributes += [
            {"Key": "access_logs.s3.enabled", "Value": _attribute(logs.get("enabled", True))},
            {"Key": "access_logs.s3.bucket", "Value": logs["bucket"]},
            {"Key": "access_logs.s3.prefix", "Value": logs.get("prefix", "")},
        ]
    if attributes:
        elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=created["LoadBalancerArn"], Attributes=attributes
        )
    arn = created["LoadBalancerArn"]
    return arn, {
        "arn": arn,
        "arnSuffix": _arn_suffix(arn),
        "dnsName": created["DNSName"],
        "zoneId": created["CanonicalHostedZoneId"],
        "name": lb_name,
        "vpcId": created["VpcId"],
    }


@translates("aws:lb/targetGroup:TargetGroup")
def target_group(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    elbv2 = aws.client("elbv2")
    tg_name = physical_name(name, inputs, max_length=32)
    parameters: dict[str, Any] = {
        parameter: inputs[key]
        for key, parameter in (
            ("protocol", "Protocol"),
            ("protocolVersion", "ProtocolVersion"),
            ("port", "Port"),
            ("vpcId", "VpcId"),
            ("targetType", "TargetType"),
            ("ipAddressType", "IpAddressType"),
        )
        if key in inputs
    }
    if "healthCheck" in inputs:
        check = inputs["healthCheck"]
        names = {
            "enabled": "HealthCheckEnabled",
            "protocol": "HealthCheckProtocol",
            "port": "HealthCheckPort",
            "path": "HealthCheckPath",
            "interval": "HealthCheckIntervalSeconds",
            "timeout": "HealthCheckTimeoutSeconds",
            "healthyThreshold": "HealthyThresholdCount",
            "unhealthyThreshold": "UnhealthyThresholdCount",
        }
        require_known(check, [*names, "matcher"], "healthCheck")
        parameters.update({names[k]: v for k, v in check.items() if k in names})
        if "matcher" in check:
            parameters["Matcher"] = {"HttpCode": check["matcher"]}
    created = elbv2.create_target_group(Name=tg_name, Tags=aws.tag_list(inputs) or [], **parameters)
    arn = created["TargetGroups"][0]["TargetGroupArn"]
    if "deregistrationDelay" in inputs:
        elbv2.modify_target_group_attributes(
            TargetGroupArn=arn,
            Attributes=[
                {"Key": "deregistration_delay.timeout_seconds", "Value": str(inputs["deregistrationDelay"])}
            ],
        )
    return arn, {"arn": arn, "arnSuffix": _arn_suffix(arn), "name": tg_name}


def _action(action: Mapping[str, Any]) -> dict[str, Any]:
    """A listener `defaultAction` as an ELBv2 `Action`."""
    require_known(
        {k for k, v in action.items() if v is not None},
        ("type", "targetGroupArn", "order", "redirect", "fixedResponse", "forward"),
        "defaultActions",
    )
    converted: dict[str, Any] = {"Type": action["type"]}
    if "targetGroupArn" in action:
        converted["TargetGroupArn"] = action["targetGroupArn"]
    if "order" in action:
        converted["Order"] = action["order"]
    for key in ("redirect", "fixedResponse", "forward"):
        if key in action:
            converted[f"{key[:1].upper()}{key[1:]}Config"] = pascal(
                action[key], {"targetGroups": "TargetGroups"}
            )
    return converted


@translates("aws:lb/listener:Listener")
def listener(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    elbv2 = aws.client("elbv2")
    parameters: dict[str, Any] = {}
    # AWS refuses an unknown TLS policy and an HTTPS listener without a certificate; moto takes both.
    if "sslPolicy" in inputs:
        if not elbv2.describe_ssl_policies(Names=[inputs["sslPolicy"]])["SslPolicies"]:
            raise ValueError(f"SSLPolicyNotFound: {inputs['sslPolicy']!r} is not an ELB security policy")
        parameters["SslPolicy"] = inputs["sslPolicy"]
    if inputs["protocol"] in {"HTTPS", "TLS"} and "certificateArn" not in inputs:
        raise ValueError(
            f"ValidationError: a certificate must be specified for {inputs['protocol']} listeners"
        )
    if "certificateArn" in inputs:
        parameters["Certificates"] = [{"CertificateArn": inputs["certificateArn"]}]
    if "alpnPolicy" in inputs:
        parameters["AlpnPolicy"] = [inputs["alpnPolicy"]]
    created = elbv2.create_listener(
        LoadBalancerArn=inputs["loadBalancerArn"],
        Protocol=inputs["protocol"],
        Port=inputs["port"],
        DefaultActions=[_action(a) for a in inputs["defaultActions"]],
        Tags=aws.tag_list(inputs) or [],
        **parameters,
    )
    arn = created["Listeners"][0]["ListenerArn"]
    return arn, {"arn": arn}


# --- Auto Scaling -------------------------------------------------------------------------------------


@translates(
    "aws:autoscaling/group:Group",
    unchecked={
        "instanceRefresh": "moto has no instance refresh API; the provider starts one only when a later "
        "update changes the launch template, never on create",
    },
)
def group(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    autoscaling = aws.client("autoscaling")
    group_name = physical_name(name, inputs, max_length=255)
    parameters: dict[str, Any] = {
        parameter: inputs[key]
        for key, parameter in (
            ("minSize", "MinSize"),
            ("maxSize", "MaxSize"),
            ("desiredCapacity", "DesiredCapacity"),
            ("healthCheckType", "HealthCheckType"),
            ("healthCheckGracePeriod", "HealthCheckGracePeriod"),
            ("targetGroupArns", "TargetGroupARNs"),
            ("defaultInstanceWarmup", "DefaultInstanceWarmup"),
            ("capacityRebalance", "CapacityRebalance"),
            ("terminationPolicies", "TerminationPolicies"),
        )
        if key in inputs
    }
    if "vpcZoneIdentifiers" in inputs:
        parameters["VPCZoneIdentifier"] = ",".join(inputs["vpcZoneIdentifiers"])
    if "launchTemplate" in inputs:
        template = inputs["launchTemplate"]
        require_known(template, ("id", "name", "version"), "launchTemplate")
        parameters["LaunchTemplate"] = {
            **(
                {"LaunchTemplateId": template["id"]}
                if "id" in template
                else {"LaunchTemplateName": template["name"]}
            ),
            **({"Version": template["version"]} if "version" in template else {}),
        }
    parameters["Tags"] = [
        {
            "Key": tag["key"],
            "Value": tag["value"],
            "PropagateAtLaunch": tag["propagateAtLaunch"],
            "ResourceId": group_name,
            "ResourceType": "auto-scaling-group",
        }
        for tag in inputs.get("tags", [])
    ]
    autoscaling.create_auto_scaling_group(AutoScalingGroupName=group_name, **parameters)
    if "enabledMetrics" in inputs:
        autoscaling.enable_metrics_collection(
            AutoScalingGroupName=group_name,
            Metrics=inputs["enabledMetrics"],
            Granularity=inputs.get("metricsGranularity", "1Minute"),
        )
    (created,) = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])[
        "AutoScalingGroups"
    ]
    return group_name, {"arn": created["AutoScalingGroupARN"], "name": group_name}


@translates("aws:autoscaling/policy:Policy")
def scaling_policy(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    policy_name = physical_name(name, inputs)
    parameters: dict[str, Any] = {
        parameter: inputs[key]
        for key, parameter in (
            ("policyType", "PolicyType"),
            ("estimatedInstanceWarmup", "EstimatedInstanceWarmup"),
            ("adjustmentType", "AdjustmentType"),
            ("scalingAdjustment", "ScalingAdjustment"),
            ("cooldown", "Cooldown"),
            ("enabled", "Enabled"),
        )
        if key in inputs
    }
    if "targetTrackingConfiguration" in inputs:
        parameters["TargetTrackingConfiguration"] = pascal(inputs["targetTrackingConfiguration"])
    autoscaling = aws.client("autoscaling")
    group_name = inputs["autoscalingGroupName"]
    # AWS refuses a policy for a group that does not exist; moto creates it anyway.
    if not autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[group_name])["AutoScalingGroups"]:
        raise ValueError(f"ValidationError: auto scaling group {group_name!r} not found")
    autoscaling.put_scaling_policy(AutoScalingGroupName=group_name, PolicyName=policy_name, **parameters)
    # Read back: moto's PutScalingPolicy answer names the ARN `PolicyArn`, which botocore drops.
    (created,) = autoscaling.describe_policies(AutoScalingGroupName=group_name, PolicyNames=[policy_name])[
        "ScalingPolicies"
    ]
    return policy_name, {"arn": created["PolicyARN"], "name": policy_name}
