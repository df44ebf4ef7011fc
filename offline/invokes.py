"""The program's data-source invokes, answered from moto through boto3 (what the provider would ask AWS)."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from offline.aws import Aws

Invoke = Callable[[Aws, Mapping[str, Any]], dict[str, Any]]


def caller_identity(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    identity = aws.client("sts").get_caller_identity()
    return {
        "accountId": identity["Account"],
        "arn": identity["Arn"],
        "id": identity["Account"],
        "userId": identity["UserId"],
    }


def region(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    (found,) = aws.client("ec2").describe_regions(RegionNames=[args.get("region") or aws.region])["Regions"]
    return {
        "id": found["RegionName"],
        "name": found["RegionName"],
        "region": found["RegionName"],
        "endpoint": found["Endpoint"],
    }


def availability_zones(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    state = [{"Name": "state", "Values": [args["state"]]}] if args.get("state") else []
    zones = aws.client("ec2").describe_availability_zones(Filters=state)["AvailabilityZones"]
    return {
        "id": aws.region,
        "names": [z["ZoneName"] for z in zones],
        "zoneIds": [z["ZoneId"] for z in zones],
        "groupNames": [z.get("GroupName", aws.region) for z in zones],
    }


def ecr_authorization_token(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    registries = {"registryIds": [args["registryId"]]} if args.get("registryId") else {}
    (token,) = aws.client("ecr").get_authorization_token(**registries)["authorizationData"]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    registry_id = token["proxyEndpoint"].removeprefix("https://").split(".", 1)[0]
    return {
        "authorizationToken": token["authorizationToken"],
        "expiresAt": token["expiresAt"].isoformat(),
        "id": aws.region,
        "password": password,
        "proxyEndpoint": token["proxyEndpoint"],
        "registryId": registry_id,
        "userName": user,
    }


def ssm_parameter(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    decrypt = bool(args.get("withDecryption", True))
    parameter = aws.client("ssm").get_parameter(Name=args["name"], WithDecryption=decrypt)["Parameter"]
    return {
        "arn": parameter["ARN"],
        "id": parameter["Name"],
        "insecureValue": parameter["Value"],
        "name": parameter["Name"],
        "type": parameter["Type"],
        "value": parameter["Value"],
        "version": parameter["Version"],
        "withDecryption": decrypt,
    }


def _filters(args: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A data source's `filters`/`tags` arguments as EC2 `Filters`."""
    filters = [{"Name": f["name"], "Values": f["values"]} for f in args.get("filters") or []]
    filters += [{"Name": f"tag:{k}", "Values": [v]} for k, v in (args.get("tags") or {}).items()]
    return filters


def vpc(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    ids = {"VpcIds": [args["id"]]} if args.get("id") else {}
    filters = _filters(args) + ([{"Name": "is-default", "Values": ["true"]}] if args.get("default") else [])
    found = aws.client("ec2").describe_vpcs(Filters=filters, **ids)["Vpcs"]
    if len(found) != 1:
        raise ValueError(f"aws.ec2.get_vpc: {len(found)} VPCs match {dict(args)}, expected exactly one")
    (match,) = found
    return {
        "arn": f"arn:aws:ec2:{aws.region}:{match['OwnerId']}:vpc/{match['VpcId']}",
        "cidrBlock": match["CidrBlock"],
        "default": match["IsDefault"],
        "id": match["VpcId"],
        "ownerId": match["OwnerId"],
        "state": match["State"],
        "tags": {t["Key"]: t["Value"] for t in match.get("Tags", [])},
    }


def _subnet(aws: Aws, found: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "arn": found["SubnetArn"],
        "availabilityZone": found["AvailabilityZone"],
        "availabilityZoneId": found["AvailabilityZoneId"],
        "cidrBlock": found["CidrBlock"],
        "id": found["SubnetId"],
        "mapPublicIpOnLaunch": found["MapPublicIpOnLaunch"],
        "vpcId": found["VpcId"],
        "tags": {t["Key"]: t["Value"] for t in found.get("Tags", [])},
    }


def subnet(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    ids = {"SubnetIds": [args["id"]]} if args.get("id") else {}
    filters = _filters(args) + ([{"Name": "vpc-id", "Values": [args["vpcId"]]}] if args.get("vpcId") else [])
    found = aws.client("ec2").describe_subnets(Filters=filters, **ids)["Subnets"]
    if len(found) != 1:
        raise ValueError(f"aws.ec2.get_subnet: {len(found)} subnets match {dict(args)}, expected exactly one")
    return _subnet(aws, found[0])


def subnets(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    found = aws.client("ec2").describe_subnets(Filters=_filters(args))["Subnets"]
    return {"id": aws.region, "ids": [s["SubnetId"] for s in found]}


def route53_zone(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    route53 = aws.client("route53")
    if args.get("zoneId"):
        zones = [route53.get_hosted_zone(Id=args["zoneId"])["HostedZone"]]
    else:
        name = str(args["name"]).rstrip(".") + "."
        private = bool(args.get("privateZone", False))
        zones = [
            z
            for z in route53.list_hosted_zones_by_name(DNSName=name)["HostedZones"]
            if z["Name"] == name and z["Config"]["PrivateZone"] == private
        ]
    if len(zones) != 1:
        raise ValueError(
            f"aws.route53.get_zone: {len(zones)} hosted zones match {dict(args)}, expected exactly one"
        )
    (zone,) = zones
    zone_id = zone["Id"].removeprefix("/hostedzone/")
    return {
        "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
        "id": zone_id,
        "zoneId": zone_id,
        "name": zone["Name"].rstrip("."),
        "privateZone": zone["Config"]["PrivateZone"],
        "resourceRecordSetCount": zone["ResourceRecordSetCount"],
    }


INVOKES: dict[str, Invoke] = {
    "aws:index/getCallerIdentity:getCallerIdentity": caller_identity,
    "aws:index/getRegion:getRegion": region,
    "aws:index/getAvailabilityZones:getAvailabilityZones": availability_zones,
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": ecr_authorization_token,
    "aws:ssm/getParameter:getParameter": ssm_parameter,
    "aws:ec2/getVpc:getVpc": vpc,
    "aws:ec2/getSubnet:getSubnet": subnet,
    "aws:ec2/getSubnets:getSubnets": subnets,
    "aws:route53/getZone:getZone": route53_zone,
}
"""Every answered invoke token."""
