"""What a stack's config names as already existing in the account, provided in moto before the program runs.

The Route 53 hosted zone gets the configured id (moto can be told the id of a new zone). EC2 and ACM choose
their own ids, so an existing VPC, its subnets and an existing certificate get stand-ins, and the config the
program reads names the stand-ins instead; the plan lists each substitution. A pinned app image
(`appImageDigest`) names a release an earlier deploy of the stack pushed: its repositories are created
holding that release, under the digest the config names, and marked so that the program's repositories
take them over, as the provider updates what the stack's state holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3  # type: ignore[import-untyped]
from moto.route53.models import HostedZoneIdentifier
from moto.utilities.id_generator import moto_id_manager

STAND_IN_CIDR = "172.31.0.0/16"
"""The stand-in VPC's range (a default VPC's): its subnets are /24s, public from .0, private from .128."""
PRIVATE_OFFSET = 128
EARLIER_DEPLOY_TAG = "offline:earlier-deploy"
"""The tag on a repository an earlier deploy of the stack made (`_earlier_releases`): the program's
repository of that name takes it over (offline/translations/ecr.py)."""


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
    session: boto3.session.Session,
    config: Mapping[str, str],
    project: str,
    *,
    stack: str,
    pushed: Sequence[str] | None = None,
) -> Iterator[tuple[dict[str, str], list[StandIn]]]:
    """Create what `config` names as existing; yields the config the program should read, and the
    stand-ins in it. `pushed`: the app image digests of the releases an earlier deploy of `stack` pushed
    (default: the one `appImageDigest` pins, if any). Must run inside `moto.mock_aws()`."""
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
        pin = values.get(f"{project}:appImageDigest", "")
        releases = list(pushed) if pushed is not None else [pin] if pin else []
        if releases:
            _earlier_releases(session, values, project, stack, releases)
        if pin:
            # The config names the digest moto now holds: the stand-in is the release, not another value.
            stand_ins.append(StandIn(f"{project}:appImageDigest", pin, pin))
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


def release_tag(app_digest: str) -> str:
    """The tag the stand-in pushes a release's images under: 16 hex digits, as the program's tags are."""
    return hashlib.sha256(app_digest.encode()).hexdigest()[:16]


def _earlier_releases(
    session: boto3.session.Session,
    values: Mapping[str, str],
    project: str,
    stack: str,
    app_digests: Sequence[str],
) -> None:
    """The stack's repositories as an earlier deploy left them: each release's images under one tag, its app
    image under the digest given (moto keeps the digest PutImage names), the others' under moto's."""
    ecr = session.client("ecr")
    release = bool(json.loads(values.get(f"{project}:releaseCommand") or "[]"))
    targets = ("app", "proxy", "release") if release else ("app", "proxy")
    for target in targets:
        name = f"{project}/{stack}/{target}"
        # As the program made it (infra/image.py); its settings are declared again when it is taken over.
        ecr.create_repository(
            repositoryName=name,
            imageTagMutability="IMMUTABLE",
            encryptionConfiguration={"encryptionType": "KMS"},
            tags=[{"Key": EARLIER_DEPLOY_TAG, "Value": stack}],
        )
        for digest in app_digests:
            layer = {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 0,
                "digest": f"sha256:{hashlib.sha256(f'{target}:{digest}'.encode()).hexdigest()}",
            }
            manifest = {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {**layer, "mediaType": "application/vnd.docker.container.image.v1+json"},
                "layers": [layer],
            }
            named = {"imageDigest": digest} if target == "app" else {}
            ecr.put_image(
                repositoryName=name, imageManifest=json.dumps(manifest), imageTag=release_tag(digest), **named
            )
