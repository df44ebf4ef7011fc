"""The stack's settings: read once from Pulumi config, validated, frozen.

Defaults live in `Pulumi.yaml` (the CLI fills them in); this module only reads and checks. Every rule that
fails raises a `ConfigError` naming the key, the value and what is allowed, before any resource is declared.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

PROJECT = "flask-nginx-aws"

# Facts about the node stack in docker/ that the infrastructure must agree with.
NGINX_HTTPS_PORT = 8443
"""nginx's TLS port on each instance (`HTTPS_PORT` of the proxy image); the target group's port."""
NGINX_KEEPALIVE_SECONDS = 75
"""nginx's `keepalive_timeout` (docker/nginx/nginx.conf.template, tested equal): the ALB's idle timeout must
stay below it, or the ALB sees resets (502)."""

MAX_SIZE_CAP = 50
"""The largest autoscaling group this project accepts: above it, a typo would cost real money."""
MIN_ROOT_VOLUME_GIB = 8
"""The Amazon Linux 2023 AMI's root snapshot size: the volume cannot be smaller."""
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
"""The retention periods CloudWatch Logs accepts (0, "never expire", is left out on purpose)."""

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_ZONE_ID = re.compile(r"^Z[0-9A-Z]{1,31}$")
_WSGI_APP = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(?:\(\))?$")
_ACM_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")


class ConfigError(ValueError):
    """A config value that breaks a rule: names the key, the value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key = key
        super().__init__(f"{PROJECT}:{key} = {value!r}: expected {allowed}")


@dataclass(frozen=True, kw_only=True)
class NewVpc:
    """A VPC this stack creates: public subnets for the ALB, private subnets for the instances."""

    cidr: str
    availability_zones: tuple[str, ...]
    public_subnet_cidrs: tuple[str, ...]
    private_subnet_cidrs: tuple[str, ...]
    single_nat_gateway: bool


@dataclass(frozen=True, kw_only=True)
class ExistingVpc:
    """A VPC and subnets that exist already; the stack only places resources in them."""

    vpc_id: str
    public_subnet_ids: tuple[str, ...]
    private_subnet_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Domain:
    """The public name of the site, its Route 53 zone, and optionally a certificate that exists already."""

    name: str
    hosted_zone_id: str
    certificate_arn: str | None


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the components need to know about the stack, validated."""

    stack: str
    region: str
    tags: Mapping[str, str]
    network: NewVpc | ExistingVpc
    https: bool
    domain: Domain | None
    instance_type: str
    root_volume_size_gib: int
    min_size: int
    desired_capacity: int
    max_size: int
    cpu_target_percent: float
    health_check_path: str
    idle_timeout_seconds: int
    deletion_protection: bool
    log_retention_days: int
    access_log_retention_days: int
    ecr_keep_images: int
    alarm_email: str | None
    app_path: str
    """The app directory the images are built from, relative to the project (infra/image.py checks it)."""
    wsgi_app: str
    """The app's WSGI callable, `module:name` or `module:factory()`, imported from the app directory."""


KEYS: Mapping[str, str] = {
    "instanceType": "string",
    "rootVolumeSizeGib": "integer",
    "minSize": "integer",
    "desiredCapacity": "integer",
    "maxSize": "integer",
    "cpuTargetPercent": "integer",
    "vpcCidr": "string",
    "availabilityZones": "array",
    "publicSubnetCidrs": "array",
    "privateSubnetCidrs": "array",
    "singleNatGateway": "boolean",
    "existingVpcId": "string",
    "existingPublicSubnetIds": "array",
    "existingPrivateSubnetIds": "array",
    "https": "boolean",
    "domainName": "string",
    "hostedZoneId": "string",
    "certificateArn": "string",
    "healthCheckPath": "string",
    "idleTimeoutSeconds": "integer",
    "deletionProtection": "boolean",
    "logRetentionDays": "integer",
    "accessLogRetentionDays": "integer",
    "ecrKeepImages": "integer",
    "alarmEmail": "string",
    "appPath": "string",
    "wsgiApp": "string",
}
"""Every project config key and its type; `Pulumi.yaml` declares each with a description and default."""


def load(stack: str) -> Settings:
    """Read this stack's Pulumi config (project keys, `aws:region`, `aws:defaultTags`) and validate it."""
    project = pulumi.Config(PROJECT)
    aws = pulumi.Config("aws")
    getters: Mapping[str, Callable[[str], Any]] = {
        "string": project.get,
        "integer": project.get_int,
        "boolean": project.get_bool,
        "array": project.get_object,
    }
    raw: dict[str, Any] = {key: getters[kind](key) for key, kind in KEYS.items()}
    default_tags = aws.get_object("defaultTags")
    tags = default_tags.get("tags", {}) if isinstance(default_tags, dict) else {}
    return parse(raw, stack=stack, region=aws.require("region"), tags=tags)


def parse(raw: Mapping[str, Any], *, stack: str, region: str, tags: Mapping[str, str]) -> Settings:
    """Validate raw config values (as `pulumi.Config.get_object` returns them) into `Settings`."""
    min_size = _int(raw, "minSize", low=1, high=MAX_SIZE_CAP)
    max_size = _int(raw, "maxSize", low=1, high=MAX_SIZE_CAP)
    if max_size < min_size:
        raise ConfigError("maxSize", max_size, f"at least minSize ({min_size})")
    desired = _int(raw, "desiredCapacity", low=min_size, high=max_size)
    cpu = raw.get("cpuTargetPercent")
    if isinstance(cpu, bool) or not isinstance(cpu, int | float) or not 0 < cpu <= 100:
        raise ConfigError("cpuTargetPercent", cpu, "a number greater than 0 and at most 100")
    https = _bool(raw, "https")
    domain = _domain(raw, region=region)
    if https and domain is None:
        raise ConfigError("domainName", raw.get("domainName"), "a domain name when https is true")
    if not https and domain is not None and domain.certificate_arn is not None:
        raise ConfigError("certificateArn", domain.certificate_arn, "no certificate when https is false")
    path = _str(raw, "healthCheckPath")
    if not path.startswith("/") or " " in path:
        raise ConfigError("healthCheckPath", path, "a URL path starting with '/'")
    instance_type = _str(raw, "instanceType")
    if not _INSTANCE_TYPE.match(instance_type):
        raise ConfigError("instanceType", instance_type, "an EC2 instance type such as 't3.small'")
    retention = _int(raw, "logRetentionDays", low=1, high=LOG_RETENTION_DAYS[-1])
    if retention not in LOG_RETENTION_DAYS:
        raise ConfigError("logRetentionDays", retention, f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
    alarm_email = _optional_str(raw, "alarmEmail")
    if alarm_email is not None and not _EMAIL.match(alarm_email):
        raise ConfigError("alarmEmail", alarm_email, "an email address")
    return Settings(
        stack=stack,
        region=region,
        tags=dict(tags),
        network=_network(raw, region=region),
        https=https,
        domain=domain,
        instance_type=instance_type,
        root_volume_size_gib=_int(raw, "rootVolumeSizeGib", low=MIN_ROOT_VOLUME_GIB, high=16384),
        min_size=min_size,
        desired_capacity=desired,
        max_size=max_size,
        cpu_target_percent=float(cpu),
        health_check_path=path,
        idle_timeout_seconds=_int(raw, "idleTimeoutSeconds", low=1, high=NGINX_KEEPALIVE_SECONDS - 1),
        deletion_protection=_bool(raw, "deletionProtection"),
        log_retention_days=retention,
        access_log_retention_days=_int(raw, "accessLogRetentionDays", low=1, high=3650),
        ecr_keep_images=_int(raw, "ecrKeepImages", low=1, high=1000),
        alarm_email=alarm_email,
        app_path=_str(raw, "appPath"),
        wsgi_app=_wsgi_app(raw),
    )


def _wsgi_app(raw: Mapping[str, Any]) -> str:
    value = _str(raw, "wsgiApp")
    if not _WSGI_APP.match(value):
        raise ConfigError("wsgiApp", value, "module:name or module:factory(), such as 'wsgi:app'")
    return value


def _network(raw: Mapping[str, Any], *, region: str) -> NewVpc | ExistingVpc:
    vpc_id = _optional_str(raw, "existingVpcId")
    if vpc_id is not None:
        if not _VPC_ID.match(vpc_id):
            raise ConfigError("existingVpcId", vpc_id, "a VPC id such as 'vpc-0123456789abcdef0'")
        return ExistingVpc(
            vpc_id=vpc_id,
            public_subnet_ids=_subnet_ids(raw, "existingPublicSubnetIds"),
            private_subnet_ids=_subnet_ids(raw, "existingPrivateSubnetIds"),
        )
    cidr = _cidr(raw.get("vpcCidr"), "vpcCidr")
    if not 16 <= cidr.prefixlen <= 24:
        raise ConfigError("vpcCidr", str(cidr), "an IPv4 CIDR with a prefix from /16 to /24 (the VPC limits)")
    zones = _zones(raw, region=region)
    _check_subnets(raw, cidr, zone_count=len(zones))
    return NewVpc(
        cidr=str(cidr),
        availability_zones=tuple(zones),
        public_subnet_cidrs=tuple(_str_list(raw, "publicSubnetCidrs")),
        private_subnet_cidrs=tuple(_str_list(raw, "privateSubnetCidrs")),
        single_nat_gateway=_bool(raw, "singleNatGateway"),
    )


def _zones(raw: Mapping[str, Any], *, region: str) -> list[str]:
    zones = _str_list(raw, "availabilityZones")
    if len(zones) < 2 or len(set(zones)) != len(zones):
        raise ConfigError("availabilityZones", zones, "at least two distinct availability zones")
    for zone in zones:
        if not re.fullmatch(rf"{re.escape(region)}[a-z]", zone):
            raise ConfigError("availabilityZones", zones, f"zones of {region}, such as '{region}a'")
    return zones


def _check_subnets(raw: Mapping[str, Any], cidr: ipaddress.IPv4Network, *, zone_count: int) -> None:
    """One subnet per zone for each kind, inside the VPC, none overlapping another."""
    subnets: list[tuple[str, ipaddress.IPv4Network]] = []
    for key in ("publicSubnetCidrs", "privateSubnetCidrs"):
        values = _str_list(raw, key)
        if len(values) != zone_count:
            raise ConfigError(key, values, f"one CIDR per availability zone ({zone_count})")
        for value in values:
            subnet = _cidr(value, key)
            if not subnet.subnet_of(cidr):
                raise ConfigError(key, value, f"a CIDR inside vpcCidr ({cidr})")
            subnets.append((key, subnet))
    for (_, first), (key, second) in itertools.combinations(subnets, 2):
        if first.overlaps(second):
            raise ConfigError(key, str(second), f"a CIDR that does not overlap {first}")


def _domain(raw: Mapping[str, Any], *, region: str) -> Domain | None:
    name = _optional_str(raw, "domainName")
    if name is None:
        return None
    if not _HOSTNAME.match(name):
        raise ConfigError("domainName", name, "a lowercase DNS name such as 'www.example.com'")
    zone = _optional_str(raw, "hostedZoneId")
    if zone is None or not _ZONE_ID.match(zone):
        raise ConfigError(
            "hostedZoneId", zone, "the Route 53 hosted zone id of domainName, such as 'Z0123456789ABC'"
        )
    certificate = _optional_str(raw, "certificateArn")
    if certificate is not None and (not _ACM_ARN.match(certificate) or certificate.split(":")[3] != region):
        raise ConfigError("certificateArn", certificate, f"the ARN of an ACM certificate in {region}")
    return Domain(name=name, hosted_zone_id=zone, certificate_arn=certificate)


def _subnet_ids(raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
    ids = _str_list(raw, key)
    if len(ids) < 2 or len(set(ids)) != len(ids) or not all(_SUBNET_ID.match(i) for i in ids):
        raise ConfigError(key, ids, "at least two distinct subnet ids (in different availability zones)")
    return tuple(ids)


def _cidr(value: object, key: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(str(value), strict=True)
    except ValueError:
        raise ConfigError(key, value, "an IPv4 CIDR such as '10.0.0.0/16' (no host bits set)") from None


def _int(raw: Mapping[str, Any], key: str, *, low: int, high: int) -> int:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(key, value, f"a whole number from {low} to {high}")
    return value


def _bool(raw: Mapping[str, Any], key: str) -> bool:
    value = raw.get(key)
    if not isinstance(value, bool):
        raise ConfigError(key, value, "true or false")
    return value


def _str(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(key, value, "a non-empty string")
    return value


def _optional_str(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(key, value, "a string")
    return value


def _str_list(raw: Mapping[str, Any], key: str) -> list[str]:
    value = raw.get(key)
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or not all(isinstance(v, str) for v in value)
    ):
        raise ConfigError(key, value, "a list of strings")
    return list(value)
