"""The program's data-source invokes: the shape of each answer, and each answered from moto through boto3
(what the provider would ask AWS).

Each shape is one function that builds the answer from plain values, with the keys the provider returns
(camelCase). The moto-backed answers below and the test mocks' static answers (`tests/conftest.py`) both
build theirs with it, so the two cannot disagree on a key.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any

from offline.aws import Aws

Invoke = Callable[[Aws, Mapping[str, Any]], dict[str, Any]]


def caller_identity(*, account_id: str, arn: str, user_id: str) -> dict[str, Any]:
    """`aws.get_caller_identity()`: the account and the principal deploying."""
    return {"accountId": account_id, "arn": arn, "id": account_id, "userId": user_id}


def authorization_token(
    *,
    token: str,
    expires_at: str,
    region: str,
    user_name: str,
    password: str,
    proxy_endpoint: str,
    registry_id: str,
) -> dict[str, Any]:
    """`aws.ecr.get_authorization_token(registry_id=...)`: a registry login valid 12 hours."""
    return {
        "authorizationToken": token,
        "expiresAt": expires_at,
        "id": region,
        "password": password,
        "proxyEndpoint": proxy_endpoint,
        "registryId": registry_id,
        "userName": user_name,
    }


def parameter(
    *, arn: str, name: str, parameter_type: str, value: str, version: int, with_decryption: bool
) -> dict[str, Any]:
    """`aws.ssm.get_parameter(name=...)`: the parameter's current value."""
    return {
        "arn": arn,
        "id": name,
        "insecureValue": value,
        "name": name,
        "type": parameter_type,
        "value": value,
        "version": version,
        "withDecryption": with_decryption,
    }


def images(
    *, region: str, registry_id: str, repository_name: str, image_ids: list[tuple[str, str | None]]
) -> dict[str, Any]:
    """`aws.ecr.get_images(repository_name=...)`: every (digest, tag) of the repository, one per tag and one
    per untagged image, as ECR's ListImages lists them."""
    return {
        "imageIds": [{"imageDigest": digest, "imageTag": tag} for digest, tag in image_ids],
        "region": region,
        "registryId": registry_id,
        "repositoryName": repository_name,
    }


def vpc(
    *,
    arn: str,
    cidr_block: str,
    default: bool,
    vpc_id: str,
    owner_id: str,
    state: str,
    tags: Mapping[str, str],
) -> dict[str, Any]:
    """`aws.ec2.get_vpc(id=...)`, the lookup the program makes of an existing VPC."""
    return {
        "arn": arn,
        "cidrBlock": cidr_block,
        "default": default,
        "id": vpc_id,
        "ownerId": owner_id,
        "state": state,
        "tags": dict(tags),
    }


def caller_identity_from_moto(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    """The account moto answers as."""
    identity = aws.client("sts").get_caller_identity()
    return caller_identity(account_id=identity["Account"], arn=identity["Arn"], user_id=identity["UserId"])


def authorization_token_from_moto(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    """A login to the registry `args` names (default: the account's), from moto's ECR."""
    registries = {"registryIds": [args["registryId"]]} if args.get("registryId") else {}
    (token,) = aws.client("ecr").get_authorization_token(**registries)["authorizationData"]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    return authorization_token(
        token=token["authorizationToken"],
        expires_at=token["expiresAt"].isoformat(),
        region=aws.region,
        user_name=user,
        password=password,
        proxy_endpoint=token["proxyEndpoint"],
        registry_id=token["proxyEndpoint"].removeprefix("https://").split(".", 1)[0],
    )


def parameter_from_moto(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    """An SSM parameter as moto holds it (moto has AWS's public AMI parameters)."""
    decrypt = bool(args.get("withDecryption", True))
    found = aws.client("ssm").get_parameter(Name=args["name"], WithDecryption=decrypt)["Parameter"]
    return parameter(
        arn=found["ARN"],
        name=found["Name"],
        parameter_type=found["Type"],
        value=found["Value"],
        version=found["Version"],
        with_decryption=decrypt,
    )


def images_from_moto(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    """The repository's images as moto's ECR lists them, every page (the provider reads them all)."""
    ecr = aws.client("ecr")
    pages = ecr.get_paginator("list_images").paginate(repositoryName=args["repositoryName"])
    found = [(image["imageDigest"], image.get("imageTag")) for page in pages for image in page["imageIds"]]
    return images(
        region=aws.region,
        registry_id=aws.account_id,
        repository_name=args["repositoryName"],
        image_ids=found,
    )


def vpc_from_moto(aws: Aws, args: Mapping[str, Any]) -> dict[str, Any]:
    """A VPC that exists in moto (the stand-in for one the config names)."""
    (match,) = aws.client("ec2").describe_vpcs(VpcIds=[args["id"]])["Vpcs"]
    return vpc(
        arn=f"arn:aws:ec2:{aws.region}:{match['OwnerId']}:vpc/{match['VpcId']}",
        cidr_block=match["CidrBlock"],
        default=match["IsDefault"],
        vpc_id=match["VpcId"],
        owner_id=match["OwnerId"],
        state=match["State"],
        tags={t["Key"]: t["Value"] for t in match.get("Tags", [])},
    )


INVOKES: dict[str, Invoke] = {
    "aws:index/getCallerIdentity:getCallerIdentity": caller_identity_from_moto,
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": authorization_token_from_moto,
    "aws:ssm/getParameter:getParameter": parameter_from_moto,
    "aws:ec2/getVpc:getVpc": vpc_from_moto,
    "aws:ecr/getImages:getImages": images_from_moto,
}
"""Every answered invoke token."""
