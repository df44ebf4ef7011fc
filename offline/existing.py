"""What a stack's config names as already existing in the account, provided in moto before the program runs.

The Route 53 hosted zone gets the configured id (moto can be told the id of a new zone). EC2 and ACM choose
their own ids, so an existing VPC, its subnets and an existing certificate get stand-ins, and the config the
program reads names the stand-ins instead; the plan lists each substitution.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3  # type: ignore[import-untyped]
from moto.route53.models import HostedZoneIdentifier
from moto.utilities.id_generator import moto_id_manager

STAND_IN_CIDR = "172.31.0.0/16"
"""The stand-in VPC's range (a default VPC's): its subnets are /24s, public from .0, private from .128."""
PRIVATE_OFFSET = 128


@dataclass(frozen=True)
class StandIn:
    """A config value naming something that exists, and what stands in for it in moto."""

    key: str
    named: str
    stand_in: str


def hosted_zone_name(domain: str) -> str:
    """The zone a domain's records live in, for a zone id named in config: the parent domain
    (`app.example.com` → `example.com`), or the domain itself when it is the apex."""
    labels = domain.split(".")
    return ".".join(labels[1:]) if len(labels) > 2 else domain


@contextmanager
def provide(
    session: boto3.session.Session, config: Mapping[str, str], project: str
) -> Iterator[tuple[dict[str, str], list[StandIn]]]:
    """Create what `config` names as existing; yields the config the program should read, and the
    stand-ins in it. Must run inside `moto.mock_aws()`."""
    values = dict(config)
    stand_ins: list[StandIn] = []
    zone_id, domain = values.get(f"{project}:hostedZoneId", ""), values.get(f"{project}:domainName", "")
    identifier = None
    try:
        if zone_id and domain:
            zone = hosted_zone_name(domain)
            account = session.client("sts").get_caller_identity()["Account"]
            identifier = HostedZoneIdentifier(account, f"{zone}.", None)
            moto_id_manager.set_custom_id(identifier, zone_id)
            session.client("route53").create_hosted_zone(Name=zone, CallerReference=f"{project}-{zone}")
        if values.get(f"{project}:existingVpcId"):
            stand_ins += _network(session, values, project)
        if values.get(f"{project}:certificateArn") and domain:
            stand_ins.append(_certificate(session, values, project, domain))
        for stand_in in stand_ins:
            values[stand_in.key] = stand_in.stand_in
        yield values, stand_ins
    finally:
        if identifier is not None:
            moto_id_manager.unset_custom_id(identifier)


def _ids(values: Mapping[str, str], key: str) -> list[Any]:
    raw = values.get(key, "[]")
    loaded = json.loads(raw) if raw else []
    return list(loaded) if isinstance(loaded, list) else []


def _network(session: boto3.session.Session, values: Mapping[str, str], project: str) -> list[StandIn]:
    """A VPC with one subnet per configured subnet, spread over the region's zones in order."""
    ec2 = session.client("ec2")
    named_vpc = values[f"{project}:existingVpcId"]
    tags = [{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": f"stand-in for {named_vpc}"}]}]
    vpc_id = ec2.create_vpc(CidrBlock=STAND_IN_CIDR, TagSpecifications=tags)["Vpc"]["VpcId"]
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]]
    stand_ins = [StandIn(f"{project}:existingVpcId", named_vpc, vpc_id)]
    for key, offset in (("existingPublicSubnetIds", 0), ("existingPrivateSubnetIds", PRIVATE_OFFSET)):
        named = _ids(values, f"{project}:{key}")
        created = [
            ec2.create_subnet(
                VpcId=vpc_id,
                CidrBlock=f"172.31.{offset + index}.0/24",
                AvailabilityZone=zones[index % len(zones)],
            )["Subnet"]["SubnetId"]
            for index in range(len(named))
        ]
        stand_ins.append(StandIn(f"{project}:{key}", json.dumps(named), json.dumps(created)))
    return stand_ins


def _certificate(
    session: boto3.session.Session, values: Mapping[str, str], project: str, domain: str
) -> StandIn:
    """An issued certificate for the domain."""
    acm = session.client("acm")
    arn = acm.request_certificate(DomainName=domain, ValidationMethod="DNS")["CertificateArn"]
    status = acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"]
    if status != "ISSUED":
        raise RuntimeError(f"the stand-in certificate for {domain} is {status}, not ISSUED")
    return StandIn(f"{project}:certificateArn", values[f"{project}:certificateArn"], arn)
