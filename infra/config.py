"""The stack's settings: read once from Pulumi config, validated, frozen.

Defaults live in `Pulumi.yaml` (the CLI fills them in); this module only reads and checks. Every rule that
fails raises a `ConfigError` naming the key, the value and what is allowed, before any resource is declared.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

from infra import app_environment, instance_types, spot_drain
from infra import architecture as arch

PROJECT = "flask-nginx-aws"

# Facts about the node stack in docker/ that the infrastructure must agree with.
NGINX_HTTPS_PORT = 8443
"""nginx's TLS port on each instance (`HTTPS_PORT` of the proxy image); the target group's port."""
NGINX_KEEPALIVE_SECONDS = 75
"""nginx's `keepalive_timeout` (docker/nginx/nginx.conf.template, tested equal): the ALB's idle timeout must
stay below it, or the ALB sees resets (502)."""

MAX_SIZE_CAP = 50
"""The largest autoscaling group this project accepts: above it, a typo would cost real money."""
REQUEST_TARGET_CAP = 1_000_000
"""The highest request target accepted, in requests per node per minute: above it the request policy would
never act, so a larger value is taken for a typo."""
SCHEDULED_ACTIONS_LIMIT = 125
"""Scheduled actions per Auto Scaling group (Auto Scaling guide, "Quotas for Amazon EC2 Auto Scaling")."""
CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
"""The five fields of a scheduled action's recurrence, in order, with their ranges (Auto Scaling guide,
"Scheduled scaling", recurring schedules)."""
MIN_ROOT_VOLUME_GIB = 30
"""The ECS-optimized AL2023 AMI's root snapshot size (infra/compute.py): the volume cannot be smaller."""
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
_DB_INSTANCE_CLASS = re.compile(r"^db\.(?P<family>[a-z][a-z0-9-]*)\.(?P<size>[a-z0-9]+)$")
# RDS DBName for PostgreSQL: 1-63 letters, digits or underscores, starting with a letter (CreateDBInstance);
# lowercase only, so the name never needs quoting in SQL.
_DB_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_DB_MAJOR_VERSION = re.compile(r"^[1-9][0-9]$")
# A scheduled action's name: also its logical name's suffix, so kept to what a logical name reads well with.
_SCHEDULE_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_CRON_ITEM = re.compile(r"^(?:\*|(?P<low>\d+)(?:-(?P<high>\d+))?)(?:/(?P<step>\d+))?$")
_IMAGE_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")

SPOT_MAX_APP_SECRETS = 10
"""appSecrets with spot: the drain takes room in EC2's 16 KB of user data; these, the database's two and the
longest settings fit with it (tests/infra/test_node_secrets.py)."""
WAF_RATE_LIMIT_RANGE = (10, 2_000_000_000)
"""The requests per evaluation window a WAF rate-based rule accepts (WAF Developer Guide, "Rate-based rule
high-level settings"; the API's RateLimit)."""
WAF_EVALUATION_WINDOWS = (60, 120, 300, 600)
"""The evaluation windows, in seconds, a WAF rate-based rule offers (same page)."""
WAF_MODES = ("block", "count")
"""What the managed rule groups do with a match: act on it, or only count it (metrics and logs)."""
WAF_LARGE_BODY_PATHS_LIMIT = 10
"""The most paths exempt from the body-size rule: each is one byte match in the web ACL's capacity."""
_WAF_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,199}$")

RELEASE_TIMEOUT_LIMIT_SECONDS = 900
"""Lambda's longest run (Lambda Developer Guide, "Lambda quotas"): the release command must end within it."""


@dataclass(frozen=True, kw_only=True)
class ReleaseSettings:
    """The app's release command and how long it may run."""

    command: tuple[str, ...]
    timeout_seconds: int


DATABASE_VARIABLES = (
    "DATABASE_HOST",
    "DATABASE_PORT",
    "DATABASE_NAME",
    "DATABASE_SSLMODE",
    "DATABASE_SSLROOTCERT",
    "DATABASE_USER",
    "DATABASE_PASSWORD",
)
"""The app's connection to the stack's database, which the program sets (infra/database.py): with `database`
on, appSettings and appSecrets may not name them."""
DATABASE_PORT = 5432
"""PostgreSQL's port: the database's security group admits it from the nodes only."""
DB_MIN_STORAGE_GIB = 20
DB_MAX_STORAGE_GIB = 65536
"""gp3 storage for RDS for PostgreSQL: 20 GiB to 64 TiB (RDS User Guide, "Amazon RDS DB instance storage")."""
DB_MAX_BACKUP_RETENTION_DAYS = 35
"""The longest automated backup retention RDS allows (CreateDBInstance, BackupRetentionPeriod)."""
DB_MEMORY_GIB_BURSTABLE = {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}
"""Memory of the burstable db.t3/db.t4g classes by size."""
DB_MEMORY_GIB_PER_XLARGE = {"m": 16, "r": 32}
"""Memory of one `xlarge` of the general-purpose (m) and memory-optimised (r) families; `large` is half,
`<n>xlarge` n times (RDS User Guide, "Hardware specifications for DB instance classes")."""


class ConfigError(ValueError):
    """A config value that breaks a rule: names the key, the value and what is allowed."""

    def __init__(self, key: str, value: object, allowed: str, namespace: str | None = None) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        prefix = f"{namespace}:" if namespace else ""
        super().__init__(f"{prefix}{key} = {value!r}: expected {allowed}")

    def within(self, namespace: str) -> ConfigError:
        """The same error, its key in the project's namespace, as `pulumi config` names it."""
        return ConfigError(self.key, self.value, self.allowed, namespace)


@dataclass(frozen=True, kw_only=True)
class NewVpc:
    """A VPC this stack creates: public subnets for the ALB, private subnets for the instances."""

    cidr: str
    availability_zones: tuple[str, ...]
    public_subnet_cidrs: tuple[str, ...]
    private_subnet_cidrs: tuple[str, ...]
    single_nat_gateway: bool
    logs_endpoint: bool = False
    """An interface endpoint for CloudWatch Logs in each zone: log lines skip the NAT gateways."""


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
class DatabaseSettings:
    """The stack's managed PostgreSQL (RDS), when `database` is on."""

    instance_class: str
    memory_gib: float
    """The class's memory, from which RDS derives `max_connections` (the connections alarm's threshold)."""
    allocated_storage_gib: int
    max_allocated_storage_gib: int
    multi_az: bool
    backup_retention_days: int
    engine_version: str
    """A major version such as "16": RDS picks its default minor, and upgrades minors in the maintenance
    window (`auto_minor_version_upgrade`)."""
    name: str


@dataclass(frozen=True, kw_only=True)
class ScheduledCapacity:
    """A recurring scheduled action: at each time its recurrence names, the group's bounds become these.
    It never sets the desired capacity: the target-tracking policies keep deciding it within the bounds."""

    name: str
    recurrence: str
    """Five cron fields: minute, hour, day of month, month, day of week (0 is Sunday)."""
    time_zone: str
    """An IANA time zone, such as 'Europe/Berlin': the recurrence follows its daylight saving time."""
    min_size: int
    max_size: int


@dataclass(frozen=True, kw_only=True)
class SpotSettings:
    """A group of On-Demand nodes up to its minimum size and Spot nodes above it, of several types."""

    instance_types: tuple[str, ...]
    """The types the group may launch, `instanceType` first (the On-Demand nodes' first choice), each of its
    architecture, vCPUs and memory."""
    on_demand_base_capacity: int
    """Nodes that are always On-Demand: the group's minimum size."""


@dataclass(frozen=True, kw_only=True)
class WafSettings:
    """The web ACL in front of the ALB: the fleet-wide rate limit and what the managed rule groups do."""

    rate_limit: int
    """Requests one client address may send in `window_seconds`, counted across every node."""
    window_seconds: int
    """The rate-based rule's evaluation window: how far back WAF counts each time it checks."""
    mode: str
    """`block` or `count`: the managed rule groups' action on a match."""
    large_body_paths: tuple[str, ...]
    """URL paths whose POST bodies may exceed what the ALB lets WAF inspect (8 KB)."""


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
    architecture: str = arch.X86_64
    """The nodes' CPU architecture (`x86_64` or `arm64`, EC2's names): the AMI, the images' platform, the
    release function's architecture; `instance_type` is of it."""
    spot: SpotSettings | None = None
    """Spot capacity above the minimum size (`spot`), or None: every node On-Demand."""
    root_volume_size_gib: int
    min_size: int
    desired_capacity: int
    max_size: int
    cpu_target_percent: float
    request_target_per_minute: int
    """Requests a minute per node the request-count policy keeps the group at (`ALBRequestCountPerTarget`)."""
    scheduled_capacity: tuple[ScheduledCapacity, ...] = ()
    """Recurring bounds for known daily peaks (`scheduledScaling`)."""
    health_check_path: str
    idle_timeout_seconds: int
    deletion_protection: bool
    log_retention_days: int
    access_log_retention_days: int
    ecr_keep_images: int
    release: ReleaseSettings | None = None
    """The release phase, or None when `releaseCommand` is empty."""
    alarm_email: str | None
    database: DatabaseSettings | None = None
    """The managed PostgreSQL, or None when `database` is off."""
    app: app_environment.AppEnvironment = field(default_factory=app_environment.AppEnvironment.empty)
    """The app container's plain settings and secret references (`appSettings`, `appSecrets`)."""
    app_path: str
    """The app directory the images are built from, relative to the project (infra/image.py checks it)."""
    wsgi_app: str
    """The app's WSGI callable, `module:name` or `module:factory()`, imported from the app directory."""
    app_image_digest: str | None = None
    """The app image of a release the stack's repositories hold, deployed instead of a build (a rollback);
    None: build from the project's files."""
    waf: WafSettings
    """The web ACL in front of the ALB (`waf*`)."""


KEYS: Mapping[str, str] = {
    "instanceType": "string",
    "architecture": "string",
    "spot": "boolean",
    "spotInstanceTypes": "array",
    "rootVolumeSizeGib": "integer",
    "minSize": "integer",
    "desiredCapacity": "integer",
    "maxSize": "integer",
    "cpuTargetPercent": "integer",
    "requestTargetPerMinute": "integer",
    "scheduledScaling": "object",
    "vpcCidr": "string",
    "availabilityZones": "array",
    "publicSubnetCidrs": "array",
    "privateSubnetCidrs": "array",
    "singleNatGateway": "boolean",
    "logsEndpoint": "boolean",
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
    "releaseCommand": "array",
    "releaseTimeoutSeconds": "integer",
    "database": "boolean",
    "databaseInstanceClass": "string",
    "databaseAllocatedStorageGib": "integer",
    "databaseMaxAllocatedStorageGib": "integer",
    "databaseMultiAz": "boolean",
    "databaseBackupRetentionDays": "integer",
    "databaseEngineVersion": "string",
    "databaseName": "string",
    "appSettings": "object",
    "appSecrets": "object",
    "appPath": "string",
    "wsgiApp": "string",
    "appImageDigest": "string",
    "wafRateLimit": "integer",
    "wafRateWindowSeconds": "integer",
    "wafManagedRulesMode": "string",
    "wafLargeBodyPaths": "array",
}
"""Every project config key and its type; `Pulumi.yaml` declares each with a description and default, but the
objects (and `scheduledScaling`, a list of objects): the Pulumi CLI's project schema has no object type, so a
declared one makes the project unloadable. The README describes them."""


def load(stack: str) -> Settings:
    """Read this stack's Pulumi config (project keys, `aws:region`, `aws:defaultTags`) and validate it."""
    # The running project's keys: a project made from this template with `pulumi new` has its own name.
    project = pulumi.Config()
    aws = pulumi.Config("aws")
    getters: Mapping[str, Callable[[str], Any]] = {
        "string": project.get,
        "integer": project.get_int,
        "boolean": project.get_bool,
        "array": project.get_object,
        "object": project.get_object,
    }
    raw: dict[str, Any] = {key: getters[kind](key) for key, kind in KEYS.items()}
    default_tags = aws.get_object("defaultTags")
    tags = default_tags.get("tags", {}) if isinstance(default_tags, dict) else {}
    try:
        return parse(raw, stack=stack, region=aws.require("region"), tags=tags)
    except ConfigError as error:
        raise error.within(pulumi.get_project()) from None


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
    requests = _int(raw, "requestTargetPerMinute", low=1, high=REQUEST_TARGET_CAP)
    schedules = _scheduled_capacity(raw.get("scheduledScaling"), min_size=min_size, max_size=max_size)
    https = _bool(raw, "https")
    domain = _domain(raw, region=region)
    if https and domain is None:
        raise ConfigError("domainName", raw.get("domainName"), "a domain name when https is true")
    if not https and domain is not None and domain.certificate_arn is not None:
        raise ConfigError("certificateArn", domain.certificate_arn, "no certificate when https is false")
    path = _str(raw, "healthCheckPath")
    if not path.startswith("/") or " " in path:
        raise ConfigError("healthCheckPath", path, "a URL path starting with '/'")
    instance_type, cpu_architecture = _instance_type(raw)
    retention = _int(raw, "logRetentionDays", low=1, high=LOG_RETENTION_DAYS[-1])
    if retention not in LOG_RETENTION_DAYS:
        raise ConfigError("logRetentionDays", retention, f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}")
    alarm_email = _optional_str(raw, "alarmEmail")
    if alarm_email is not None and not _EMAIL.match(alarm_email):
        raise ConfigError("alarmEmail", alarm_email, "an email address")
    database = _database(raw)
    release = _release(raw)
    idle_timeout = _int(raw, "idleTimeoutSeconds", low=1, high=NGINX_KEEPALIVE_SECONDS - 1)
    spot = _spot(raw, instance_type=instance_type, min_size=min_size, idle_timeout=idle_timeout)
    app = _app(raw, database=database is not None, release=release is not None)
    if spot is not None and len(app.secrets) > SPOT_MAX_APP_SECRETS:
        raise ConfigError(
            "appSecrets",
            f"{len(app.secrets)} secrets",
            f"at most {SPOT_MAX_APP_SECRETS} with spot: the node's drain takes room in EC2's 16 KB user data",
        )
    return Settings(
        stack=stack,
        region=region,
        tags=dict(tags),
        network=_network(raw, region=region),
        https=https,
        domain=domain,
        instance_type=instance_type,
        architecture=cpu_architecture,
        spot=spot,
        root_volume_size_gib=_int(raw, "rootVolumeSizeGib", low=MIN_ROOT_VOLUME_GIB, high=16384),
        min_size=min_size,
        desired_capacity=desired,
        max_size=max_size,
        cpu_target_percent=float(cpu),
        request_target_per_minute=requests,
        scheduled_capacity=schedules,
        health_check_path=path,
        idle_timeout_seconds=idle_timeout,
        deletion_protection=_bool(raw, "deletionProtection"),
        log_retention_days=retention,
        access_log_retention_days=_int(raw, "accessLogRetentionDays", low=1, high=3650),
        ecr_keep_images=_int(raw, "ecrKeepImages", low=1, high=1000),
        release=release,
        alarm_email=alarm_email,
        database=database,
        app=app,
        app_path=_str(raw, "appPath"),
        wsgi_app=_wsgi_app(raw),
        app_image_digest=_image_digest(raw),
        waf=_waf(raw),
    )


def _instance_type(raw: Mapping[str, Any]) -> tuple[str, str]:
    """`instanceType` and `architecture`: the type must be of the architecture, since the AMI and the images
    are (EC2 refuses a launch template whose AMI is of another architecture than its type)."""
    chosen = _str(raw, "architecture")
    if chosen not in arch.ARCHITECTURES:
        raise ConfigError("architecture", chosen, " or ".join(arch.ARCHITECTURES))
    instance_type = _str(raw, "instanceType")
    found = arch.of_instance_type(instance_type) if _INSTANCE_TYPE.match(instance_type) else None
    if found is None:
        raise ConfigError(
            "instanceType",
            instance_type,
            f"an EC2 instance type such as '{arch.EXAMPLE_TYPE[chosen]}' (no macOS type)",
        )
    if found != chosen:
        raise ConfigError(
            "instanceType",
            instance_type,
            f"an {chosen} instance type, as architecture is '{chosen}' ('{instance_type}' is an {found} "
            f"type): set architecture to {found}, or take an {chosen} type such as "
            f"'{arch.EXAMPLE_TYPE[chosen]}'",
        )
    return instance_type, chosen


def _spot(
    raw: Mapping[str, Any], *, instance_type: str, min_size: int, idle_timeout: int
) -> SpotSettings | None:
    """`spot` and `spotInstanceTypes`: the types, each of `instanceType`'s size class; unset, every type of
    that class this project knows (infra/instance_types.py)."""
    listed = _str_list(raw, "spotInstanceTypes")
    if not _bool(raw, "spot"):
        if listed:
            raise ConfigError("spotInstanceTypes", listed, "no types unless spot is true")
        return None
    base = instance_types.lookup(instance_type)
    if base is None:
        raise ConfigError(
            "instanceType",
            instance_type,
            "with spot, a type whose size class this project knows: the large to 4xlarge sizes of the m, c "
            "and r families or the t3, t3a and t4g sizes of infra/instance_types.py, such as 't3.small'",
        )
    names = [instance_type, *(name for name in listed if name != instance_type)] if listed else []
    for name in names:
        other = instance_types.lookup(name)
        if other is None or other.size_class() != base.size_class():
            allowed = f"types of the size class of instanceType, {_describe(base)}"
            found = f"{name} is {_describe(other)}" if other is not None else f"{name} is not a type it knows"
            raise ConfigError("spotInstanceTypes", name, f"{allowed}; {found}")
    if len(set(names)) != len(names):
        raise ConfigError("spotInstanceTypes", listed, "each type once")
    types = tuple(names) if names else tuple(instance_types.same_class(base))
    if len(types) < 2:
        raise ConfigError(
            "spotInstanceTypes",
            list(types),
            f"at least two types of the size class of {instance_type} ({_describe(base)}): one Spot pool "
            "alone is interrupted and refilled together",
        )
    longest = spot_drain.longest_deregistration_delay()
    if idle_timeout > longest:
        raise ConfigError(
            "idleTimeoutSeconds",
            idle_timeout,
            f"at most {longest} with spot: the target group drains for this long, and a Spot node must drain "
            f"and stop within EC2's {spot_drain.NOTICE_SECONDS} s notice",
        )
    return SpotSettings(instance_types=types, on_demand_base_capacity=min_size)


def _describe(kind: instance_types.InstanceType) -> str:
    burstable = "burstable" if kind.burstable else "not burstable"
    return f"{kind.architecture}, {kind.vcpus} vCPUs, {kind.memory_gib:g} GiB, {burstable}"


def _waf(raw: Mapping[str, Any]) -> WafSettings:
    low, high = WAF_RATE_LIMIT_RANGE
    rate_limit = _int(raw, "wafRateLimit", low=low, high=high)
    window = raw.get("wafRateWindowSeconds")
    if isinstance(window, bool) or window not in WAF_EVALUATION_WINDOWS:
        windows = ", ".join(map(str, WAF_EVALUATION_WINDOWS))
        raise ConfigError("wafRateWindowSeconds", window, f"one of {windows} (WAF's evaluation windows)")
    mode = raw.get("wafManagedRulesMode")
    if mode not in WAF_MODES:
        raise ConfigError(
            "wafManagedRulesMode", mode, "'block' (act on matches) or 'count' (only count them)"
        )
    paths = _str_list(raw, "wafLargeBodyPaths")
    allowed = (
        f"at most {WAF_LARGE_BODY_PATHS_LIMIT} distinct URL paths, each starting with '/', up to 200 "
        "characters, no query or whitespace, such as '/api/notes'"
    )
    if len(paths) > WAF_LARGE_BODY_PATHS_LIMIT or len(set(paths)) != len(paths):
        raise ConfigError("wafLargeBodyPaths", paths, allowed)
    for path in paths:
        if not _WAF_PATH.match(path):
            raise ConfigError("wafLargeBodyPaths", path, allowed)
    return WafSettings(rate_limit=rate_limit, window_seconds=window, mode=mode, large_body_paths=tuple(paths))


def _scheduled_capacity(value: object, *, min_size: int, max_size: int) -> tuple[ScheduledCapacity, ...]:
    """`scheduledScaling`: unset or a list of scheduled actions, each within the group's configured bounds."""
    key = "scheduledScaling"
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigError(key, value, "a list of {name, recurrence, timeZone, minSize, maxSize}")
    if len(value) > SCHEDULED_ACTIONS_LIMIT:
        raise ConfigError(
            key, len(value), f"at most {SCHEDULED_ACTIONS_LIMIT} scheduled actions (AWS's quota)"
        )
    schedules = tuple(
        _schedule(item, f"{key}[{index}]", min_size=min_size, max_size=max_size)
        for index, item in enumerate(value)
    )
    names = [schedule.name for schedule in schedules]
    for index, schedule in enumerate(schedules):
        if schedule.name in names[:index]:
            raise ConfigError(f"{key}[{index}].name", schedule.name, "a name no other scheduled action has")
        # AWS refuses a second action at a time another one already has.
        earlier = {(s.recurrence, s.time_zone) for s in schedules[:index]}
        if (schedule.recurrence, schedule.time_zone) in earlier:
            raise ConfigError(
                f"{key}[{index}].recurrence",
                schedule.recurrence,
                f"a time no other scheduled action has in {schedule.time_zone}",
            )
    return schedules


def _schedule(item: Mapping[str, Any], key: str, *, min_size: int, max_size: int) -> ScheduledCapacity:
    fields = {"name", "recurrence", "timeZone", "minSize", "maxSize"}
    if set(item) != fields:
        extra = sorted(set(item) - fields)
        allowed = f"exactly the fields {', '.join(sorted(fields))}"
        if "desiredCapacity" in extra:
            allowed += " (no desiredCapacity: the target-tracking policies own it)"
        raise ConfigError(key, sorted(item), allowed)
    name = item["name"]
    if not isinstance(name, str) or not _SCHEDULE_NAME.match(name):
        raise ConfigError(
            f"{key}.name", name, "1 to 64 lowercase letters, digits or '-', such as 'weekday-peak'"
        )
    recurrence = item["recurrence"]
    if not isinstance(recurrence, str):
        raise ConfigError(f"{key}.recurrence", recurrence, "five cron fields, such as '0 8 * * 1-5'")
    recurrence = " ".join(recurrence.split())
    _check_cron(recurrence, f"{key}.recurrence")
    zone = item["timeZone"]
    # zoneinfo reads the machine's IANA database (Debian's tzdata package).
    if not isinstance(zone, str) or zone not in zoneinfo.available_timezones():
        raise ConfigError(
            f"{key}.timeZone", zone, "an IANA time zone name, such as 'Europe/Berlin' or 'Etc/UTC'"
        )
    bounds = f"the group's bounds, minSize ({min_size}) to maxSize ({max_size})"
    low, high = item["minSize"], item["maxSize"]
    for field_name, value in (("minSize", low), ("maxSize", high)):
        if isinstance(value, bool) or not isinstance(value, int) or not min_size <= value <= max_size:
            raise ConfigError(f"{key}.{field_name}", value, f"a whole number within {bounds}")
    if high < low:
        raise ConfigError(f"{key}.maxSize", high, f"at least its minSize ({low})")
    return ScheduledCapacity(name=name, recurrence=recurrence, time_zone=zone, min_size=low, max_size=high)


def _check_cron(recurrence: str, key: str) -> None:
    """Five cron fields of numbers, each `*`, `n`, `n-m` or a comma list of those, each optionally `/step`."""
    fields = recurrence.split(" ")
    if len(fields) != len(CRON_FIELDS):
        raise ConfigError(key, recurrence, "five cron fields: minute hour day-of-month month day-of-week")
    for text, (field_name, low, high) in zip(fields, CRON_FIELDS, strict=True):
        for part in text.split(","):
            match = _CRON_ITEM.match(part)
            values = [int(v) for v in (match["low"], match["high"]) if v is not None] if match else []
            ordered = len(values) < 2 or values[0] <= values[1]
            if not match or not ordered or match["step"] == "0" or not all(low <= v <= high for v in values):
                raise ConfigError(
                    key,
                    recurrence,
                    f"the {field_name} field '*' or numbers from {low} to {high}, with ',', '-' and '/'",
                )


def _app(raw: Mapping[str, Any], *, database: bool, release: bool) -> app_environment.AppEnvironment:
    try:
        app = app_environment.parse(raw.get("appSettings"), raw.get("appSecrets"))
        if release:
            app_environment.check_lambda_names(app.settings)
    except app_environment.InvalidEntry as invalid:
        raise ConfigError(invalid.key, invalid.value, invalid.allowed) from None
    if database:
        for key, names in (
            ("appSettings", list(app.settings)),
            ("appSecrets", [s.name for s in app.secrets]),
        ):
            taken = sorted(set(names) & set(DATABASE_VARIABLES))
            if taken:
                allowed = "a name the database does not set: " + ", ".join(DATABASE_VARIABLES)
                raise ConfigError(key, taken[0], allowed)
    return app


def _wsgi_app(raw: Mapping[str, Any]) -> str:
    value = _str(raw, "wsgiApp")
    if not _WSGI_APP.match(value):
        raise ConfigError("wsgiApp", value, "module:name or module:factory(), such as 'wsgi:app'")
    return value


def _image_digest(raw: Mapping[str, Any]) -> str | None:
    value = _optional_str(raw, "appImageDigest")
    if value is not None and not _IMAGE_DIGEST.match(value):
        raise ConfigError(
            "appImageDigest",
            value,
            "an image digest, sha256: and 64 lowercase hex digits (what follows '@' in the app_image "
            "output), or empty to build from the project's files",
        )
    return value


def _network(raw: Mapping[str, Any], *, region: str) -> NewVpc | ExistingVpc:
    vpc_id = _optional_str(raw, "existingVpcId")
    if vpc_id is not None:
        if not _VPC_ID.match(vpc_id):
            raise ConfigError("existingVpcId", vpc_id, "a VPC id such as 'vpc-0123456789abcdef0'")
        if _bool(raw, "logsEndpoint"):
            raise ConfigError(
                "logsEndpoint",
                True,
                "false with existingVpcId: a VPC has one private DNS name per service, so an existing VPC's "
                "endpoints are its owner's to add",
            )
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
        logs_endpoint=_bool(raw, "logsEndpoint"),
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


def _database(raw: Mapping[str, Any]) -> DatabaseSettings | None:
    """The database's settings when `database` is on; its other keys are checked only then."""
    if not _bool(raw, "database"):
        return None
    instance_class = _str(raw, "databaseInstanceClass")
    allocated = _int(raw, "databaseAllocatedStorageGib", low=DB_MIN_STORAGE_GIB, high=DB_MAX_STORAGE_GIB)
    version = _str(raw, "databaseEngineVersion")
    if not _DB_MAJOR_VERSION.match(version):
        raise ConfigError(
            "databaseEngineVersion", version, "a PostgreSQL major version such as '16' (RDS upgrades minors)"
        )
    name = _str(raw, "databaseName")
    if not _DB_NAME.match(name):
        raise ConfigError(
            "databaseName", name, "1 to 63 lowercase letters, digits or '_', starting with a letter"
        )
    return DatabaseSettings(
        instance_class=instance_class,
        memory_gib=_db_memory_gib(instance_class),
        allocated_storage_gib=allocated,
        max_allocated_storage_gib=_int(
            raw, "databaseMaxAllocatedStorageGib", low=allocated, high=DB_MAX_STORAGE_GIB
        ),
        multi_az=_bool(raw, "databaseMultiAz"),
        backup_retention_days=_int(
            raw, "databaseBackupRetentionDays", low=1, high=DB_MAX_BACKUP_RETENTION_DAYS
        ),
        engine_version=version,
        name=name,
    )


def _db_memory_gib(instance_class: str) -> float:
    """The memory of an RDS instance class of a family this project knows (burstable t3/t4g,
    general-purpose m5-m8, memory-optimised r5-r8); others are refused, since the connections alarm
    derives its threshold from the memory."""
    allowed = (
        "an RDS class db.<family>.<size> of the t3, t4g, m5-m8 or r5-r8 families, such as 'db.t4g.micro'"
    )
    match = _DB_INSTANCE_CLASS.match(instance_class)
    if match is None:
        raise ConfigError("databaseInstanceClass", instance_class, allowed)
    family, size = match["family"], match["size"]
    if family in ("t3", "t4g") and size in DB_MEMORY_GIB_BURSTABLE:
        return DB_MEMORY_GIB_BURSTABLE[size]
    xlarge = re.fullmatch(r"(\d*)xlarge", size)
    if re.fullmatch(r"[mr][5-8][a-z]*", family):
        per_xlarge = DB_MEMORY_GIB_PER_XLARGE[family[0]]
        if size == "large":
            return per_xlarge / 2
        if xlarge is not None:
            return per_xlarge * int(xlarge[1] or 1)
    raise ConfigError("databaseInstanceClass", instance_class, allowed)


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


def _release(raw: Mapping[str, Any]) -> ReleaseSettings | None:
    command = _str_list(raw, "releaseCommand")
    if not command:
        return None
    if not all(part.strip() for part in command):
        raise ConfigError(
            "releaseCommand", command, "a command line of non-empty words, such as [python, release.py]"
        )
    timeout = _int(raw, "releaseTimeoutSeconds", low=1, high=RELEASE_TIMEOUT_LIMIT_SECONDS)
    return ReleaseSettings(command=tuple(command), timeout_seconds=timeout)


def _str_list(raw: Mapping[str, Any], key: str) -> list[str]:
    value = raw.get(key)
    if (
        not isinstance(value, Sequence)
        or isinstance(value, str)
        or not all(isinstance(v, str) for v in value)
    ):
        raise ConfigError(key, value, "a list of strings")
    return list(value)
