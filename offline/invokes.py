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


def vpc(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    """`aws.ec2.get_vpc(id=...)`, the lookup the program makes of an existing VPC."""
    (match,) = aws.client("ec2").describe_vpcs(VpcIds=[args["id"]])["Vpcs"]
    return {
        "arn": f"arn:aws:ec2:{aws.region}:{match['OwnerId']}:vpc/{match['VpcId']}",
        "cidrBlock": match["CidrBlock"],
        "default": match["IsDefault"],
        "id": match["VpcId"],
        "ownerId": match["OwnerId"],
        "state": match["State"],
        "tags": {t["Key"]: t["Value"] for t in match.get("Tags", [])},
    }


INVOKES: dict[str, Invoke] = {
    "aws:index/getCallerIdentity:getCallerIdentity": caller_identity,
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": ecr_authorization_token,
    "aws:ssm/getParameter:getParameter": ssm_parameter,
    "aws:ec2/getVpc:getVpc": vpc,
}
"""Every answered invoke token."""
