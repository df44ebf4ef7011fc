"""infra/config.py: every rule, its message, and the settings each stack file yields."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from infra import config
from infra.config import PROJECT, ConfigError, ExistingVpc, NewVpc, ScheduledCapacity
from offline.stack import project_name, stack_config
from tests.conftest import ROOT, Harness


def raw_config(stack: str, **overrides: Any) -> dict[str, Any]:
    """The stack's project keys as `pulumi.Config` getters return them, with `overrides` applied."""
    values = stack_config(stack)
    raw: dict[str, Any] = {}
    for key, kind in config.KEYS.items():
        # A key neither the stack nor Pulumi.yaml sets is None, as the getters return it.
        text = values.get(f"{PROJECT}:{key}")
        raw[key] = text if kind == "string" or text is None else json.loads(text)
    raw.update(overrides)
    return raw


def parse(stack: str = "prod", **overrides: Any) -> config.Settings:
    return config.parse(raw_config(stack, **overrides), stack=stack, region="us-east-1", tags={})


EXISTING_VPC = ExistingVpc(
    vpc_id="vpc-0123456789abcdef0",
    public_subnet_ids=("subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2"),
    private_subnet_ids=("subnet-0bbbbbbbbbbbbbbb1", "subnet-0bbbbbbbbbbbbbbb2"),
)
EXISTING = {
    "existingVpcId": EXISTING_VPC.vpc_id,
    "existingPublicSubnetIds": list(EXISTING_VPC.public_subnet_ids),
    "existingPrivateSubnetIds": list(EXISTING_VPC.private_subnet_ids),
}
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
PEAK = {
    "name": "weekday-peak",
    "recurrence": "0 8 * * 1-5",
    "timeZone": "Europe/Berlin",
    "minSize": 4,
    "maxSize": 10,
}
EVENING = {**PEAK, "name": "weekday-evening", "recurrence": "0 20 * * 1-5", "minSize": 2}

RULES = [
    pytest.param({"minSize": 0}, "minSize = 0: expected a whole number from 1 to 50", id="min-at-least-1"),
    pytest.param({"maxSize": 51}, "maxSize = 51: expected a whole number from 1 to 50", id="max-cap"),
    pytest.param(
        {"minSize": 5, "desiredCapacity": 4, "maxSize": 3},
        "maxSize = 3: expected at least minSize (5)",
        id="min-above-max",
    ),
    pytest.param(
        {"desiredCapacity": 11},
        "desiredCapacity = 11: expected a whole number from 2 to 10",
        id="desired-above-max",
    ),
    pytest.param(
        {"desiredCapacity": 1},
        "desiredCapacity = 1: expected a whole number from 2 to 10",
        id="desired-below-min",
    ),
    pytest.param(
        {"cpuTargetPercent": 0},
        "cpuTargetPercent = 0: expected a number greater than 0 and at most 100",
        id="cpu-zero",
    ),
    pytest.param(
        {"cpuTargetPercent": 101},
        "cpuTargetPercent = 101: expected a number greater than 0 and at most 100",
        id="cpu-above-100",
    ),
    pytest.param(
        {"requestTargetPerMinute": 0},
        "requestTargetPerMinute = 0: expected a whole number from 1 to 1000000",
        id="request-target-positive",
    ),
    pytest.param(
        {"requestTargetPerMinute": 60000.5},
        "requestTargetPerMinute = 60000.5: expected a whole number from 1 to 1000000",
        id="request-target-whole",
    ),
    pytest.param(
        {"scheduledScaling": {"name": "peak"}},
        "scheduledScaling = {'name': 'peak'}: expected a list of {name, recurrence, timeZone, minSize, "
        "maxSize}",
        id="schedules-a-list",
    ),
    pytest.param(
        {"scheduledScaling": [{**PEAK, "desiredCapacity": 4}]},
        "scheduledScaling[0] = ['desiredCapacity', 'maxSize', 'minSize', 'name', 'recurrence', 'timeZone']: "
        "expected exactly the fields maxSize, minSize, name, recurrence, timeZone (no desiredCapacity: the "
        "target-tracking policies own it)",
        id="schedule-never-sets-desired",
    ),
    pytest.param(
        {"scheduledScaling": [{**PEAK, "name": "Weekday Peak"}]},
        "scheduledScaling[0].name = 'Weekday Peak': expected 1 to 64 lowercase letters, digits or '-'",
        id="schedule-name",
    ),
    pytest.param(
        {"scheduledScaling": [{**PEAK, "recurrence": "0 8 * *"}]},
        "scheduledScaling[0].recurrence = '0 8 * *': expected five cron fields: minute hour day-of-month "
        "month day-of-week",
        id="cron-five-fields",
    ),
    pytest.param(
        {"scheduledScaling": [{**PEAK, "recurrence": "0 24 * * 1-5"}]},
        "scheduledScaling[0].recurrence = '0 24 * * 1-5': expected the hour field '*' or numbers from 0 "
        "to 23",
        id="cron-hour-range",
    ),
    pytest.param(
        {"scheduledScaling": [{**PEAK, "recurrence": "0 8 * * 5-1"}]},
        "scheduledScaling[0].recurrence = '0 8 * * 5-1': expected the day of week field '*' or numbers from "
        "0 to 6",
        id="cron-range-ordered",
    ),
    pytest.param(
        {"scheduledScaling": [{**PEAK, "recurrence": "*/0 8 * * *"}]},
        "scheduledScaling[0].recurrence = '*/0 8 * * *': expected the minute field",
        id="cron-step-positive",
    ),
    pytest.param(
        {"scheduledScaling": [{**PEAK, "recurrence": "0 8 * * MON"}]},
        "scheduledScaling[0].recurrence = '0 8 * * MON': expected the day of week field",
        id="cron-numbers-only",
    ),
    pytest.param(
        {"scheduledScaling": [{**PEAK, "timeZone": "CET+1"}]},
        "scheduledScaling[0].timeZone = 'CET+1': expected an IANA time zone name, such as 'Europe/Berlin'",
        id="time-zone-iana",
    ),
    pytest.param(
        {"scheduledScaling": [{**PEAK, "minSize": 1}]},
        "scheduledScaling[0].minSize = 1: expected a whole number within the group's bounds, minSize (2) to "
        "maxSize (10)",
        id="schedule-min-within-group",
    ),
    pytest.param(
        {"scheduledScaling": [{**PEAK, "maxSize": 12}]},
        "scheduledScaling[0].maxSize = 12: expected a whole number within the group's bounds, minSize (2) to "
        "maxSize (10)",
        id="schedule-max-within-group",
    ),
    pytest.param(
        {"scheduledScaling": [{**PEAK, "minSize": 6, "maxSize": 5}]},
        "scheduledScaling[0].maxSize = 5: expected at least its minSize (6)",
        id="schedule-min-above-max",
    ),
    pytest.param(
        {"scheduledScaling": [PEAK, {**EVENING, "name": "weekday-peak"}]},
        "scheduledScaling[1].name = 'weekday-peak': expected a name no other scheduled action has",
        id="schedule-names-unique",
    ),
    pytest.param(
        {"scheduledScaling": [PEAK, {**EVENING, "recurrence": "0  8 * * 1-5"}]},
        "scheduledScaling[1].recurrence = '0 8 * * 1-5': expected a time no other scheduled action has in "
        "Europe/Berlin",
        id="schedule-times-unique",
    ),
    pytest.param(
        {
            "scheduledScaling": [
                {**PEAK, "name": f"s{i}", "recurrence": f"{i % 60} {i // 60} * * *"} for i in range(126)
            ]
        },
        "scheduledScaling = 126: expected at most 125 scheduled actions (AWS's quota)",
        id="schedules-quota",
    ),
    pytest.param(
        {"vpcCidr": "10.0.0.1/16"},
        "vpcCidr = '10.0.0.1/16': expected an IPv4 CIDR such as '10.0.0.0/16' (no host bits set)",
        id="vpc-cidr-invalid",
    ),
    pytest.param(
        {"vpcCidr": "10.0.0.0/8"},
        "vpcCidr = '10.0.0.0/8': expected an IPv4 CIDR with a prefix from /16 to /24 (the VPC limits)",
        id="vpc-cidr-too-big",
    ),
    pytest.param(
        {"availabilityZones": ["us-east-1a"]},
        "availabilityZones = ['us-east-1a']: expected at least two distinct availability zones",
        id="one-zone",
    ),
    pytest.param(
        {"availabilityZones": ["us-east-1a", "us-east-1a", "us-east-1b"]},
        "availabilityZones = ['us-east-1a', 'us-east-1a', 'us-east-1b']: expected at least two distinct",
        id="zones-repeated",
    ),
    pytest.param(
        {"availabilityZones": ["eu-west-1a", "eu-west-1b", "eu-west-1c"]},
        "availabilityZones = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c']: expected zones of us-east-1",
        id="zones-of-another-region",
    ),
    pytest.param(
        {"publicSubnetCidrs": ["10.0.0.0/24", "10.0.1.0/24"]},
        "publicSubnetCidrs = ['10.0.0.0/24', '10.0.1.0/24']: expected one CIDR per availability zone (3)",
        id="subnets-per-zone",
    ),
    pytest.param(
        {"publicSubnetCidrs": ["10.0.0.0/24", "10.0.1.0/24", "10.9.0.0/24"]},
        "publicSubnetCidrs = '10.9.0.0/24': expected a CIDR inside vpcCidr (10.0.0.0/16)",
        id="subnet-outside-vpc",
    ),
    pytest.param(
        {"privateSubnetCidrs": ["10.0.16.0/20", "10.0.32.0/20", "10.0.0.0/20"]},
        "privateSubnetCidrs = '10.0.0.0/20': expected a CIDR that does not overlap 10.0.0.0/24",
        id="subnets-overlap",
    ),
    pytest.param(
        {"publicSubnetCidrs": ["10.0.0.0/24", "10.0.1.0/24", "not-a-cidr"]},
        "publicSubnetCidrs = 'not-a-cidr': expected an IPv4 CIDR",
        id="subnet-cidr-invalid",
    ),
    pytest.param(
        {**EXISTING, "existingVpcId": "vpc-42"},
        "existingVpcId = 'vpc-42': expected a VPC id such as 'vpc-0123456789abcdef0'",
        id="existing-vpc-id",
    ),
    pytest.param(
        {**EXISTING, "logsEndpoint": True},
        "logsEndpoint = True: expected false with existingVpcId",
        id="logs-endpoint-in-existing-vpc",
    ),
    pytest.param(
        {**EXISTING, "existingPrivateSubnetIds": ["subnet-0bbbbbbbbbbbbbbb1"]},
        "existingPrivateSubnetIds = ['subnet-0bbbbbbbbbbbbbbb1']: expected at least two distinct subnet ids",
        id="existing-subnets-two-zones",
    ),
    pytest.param(
        {"domainName": ""},
        "domainName = '': expected a domain name when https is true",
        id="https-needs-domain",
    ),
    pytest.param(
        {"domainName": "App_Server.example.com"},
        "domainName = 'App_Server.example.com': expected a lowercase DNS name such as 'www.example.com'",
        id="domain-invalid",
    ),
    pytest.param(
        {"hostedZoneId": ""},
        "hostedZoneId = None: expected the Route 53 hosted zone id of domainName",
        id="domain-needs-zone",
    ),
    pytest.param(
        {"certificateArn": CERTIFICATE.replace("us-east-1", "eu-west-1")},
        f"certificateArn = '{CERTIFICATE.replace('us-east-1', 'eu-west-1')}': expected the ARN of an ACM "
        "certificate in us-east-1",
        id="certificate-other-region",
    ),
    pytest.param(
        {"https": False, "certificateArn": CERTIFICATE},
        f"certificateArn = '{CERTIFICATE}': expected no certificate when https is false",
        id="certificate-without-https",
    ),
    pytest.param(
        {"healthCheckPath": "healthz"},
        "healthCheckPath = 'healthz': expected a URL path starting with '/'",
        id="health-check-path",
    ),
    pytest.param(
        {"idleTimeoutSeconds": config.NGINX_KEEPALIVE_SECONDS},
        f"idleTimeoutSeconds = {config.NGINX_KEEPALIVE_SECONDS}: expected a whole number from 1 to "
        f"{config.NGINX_KEEPALIVE_SECONDS - 1}",
        id="idle-timeout-below-nginx-keepalive",
    ),
    pytest.param(
        {"logRetentionDays": 45},
        "logRetentionDays = 45: expected one of 1, 3, 5, 7, 14, 30, 60, 90",
        id="log-retention",
    ),
    pytest.param(
        {"instanceType": "large"},
        "instanceType = 'large': expected an EC2 instance type such as 't3.small'",
        id="instance-type",
    ),
    pytest.param(
        {"instanceType": "mac2.metal"},
        "instanceType = 'mac2.metal': expected an EC2 instance type such as 't3.small' (no macOS type)",
        id="instance-type-not-macos",
    ),
    pytest.param(
        {"architecture": "aarch64"},
        "architecture = 'aarch64': expected x86_64 or arm64",
        id="architecture",
    ),
    pytest.param(
        {"instanceType": "t4g.small"},
        "instanceType = 't4g.small': expected an x86_64 instance type, as architecture is 'x86_64' "
        "('t4g.small' is an arm64 type): set architecture to arm64, or take an x86_64 type such as "
        "'t3.small'",
        id="graviton-type-on-x86",
    ),
    pytest.param(
        {"architecture": "arm64"},
        "instanceType = 't3.small': expected an arm64 instance type, as architecture is 'arm64' "
        "('t3.small' is an x86_64 type): set architecture to x86_64, or take an arm64 type such as "
        "'t4g.small'",
        id="x86-type-on-graviton",
    ),
    pytest.param(
        {"architecture": "arm64", "instanceType": "g5.xlarge"},
        "instanceType = 'g5.xlarge': expected an arm64 instance type, as architecture is 'arm64' "
        "('g5.xlarge' is an x86_64 type)",
        id="gpu-family-g-is-not-graviton",
    ),
    pytest.param(
        {"rootVolumeSizeGib": 29},
        "rootVolumeSizeGib = 29: expected a whole number from 30 to 16384",
        id="root-volume-at-least-ami",
    ),
    pytest.param(
        {"ecrKeepImages": 0}, "ecrKeepImages = 0: expected a whole number from 1 to 1000", id="keep-images"
    ),
    pytest.param(
        {"accessLogRetentionDays": 0},
        "accessLogRetentionDays = 0: expected a whole number from 1 to 3650",
        id="access-log-retention",
    ),
    pytest.param(
        {"wsgiApp": "wsgi.app"},
        "wsgiApp = 'wsgi.app': expected module:name or module:factory(), such as 'wsgi:app'",
        id="wsgi-app",
    ),
    pytest.param({"alarmEmail": "ops"}, "alarmEmail = 'ops': expected an email address", id="alarm-email"),
    pytest.param(
        {"singleNatGateway": "yes"}, "singleNatGateway = 'yes': expected true or false", id="boolean"
    ),
    pytest.param(
        {"spotInstanceTypes": ["t3a.small"]},
        "spotInstanceTypes = ['t3a.small']: expected no types unless spot is true",
        id="spot-types-without-spot",
    ),
    pytest.param(
        {"spot": True, "instanceType": "x2iedn.large"},
        "instanceType = 'x2iedn.large': expected with spot, a type whose size class this project knows",
        id="spot-unknown-instance-type",
    ),
    pytest.param(
        {"spot": True, "spotInstanceTypes": ["t3.small", "t4g.small"]},
        "spotInstanceTypes = 't4g.small': expected types of the size class of instanceType, x86_64, 2 vCPUs, "
        "2 GiB, burstable; t4g.small is arm64, 2 vCPUs, 2 GiB, burstable",
        id="spot-type-of-another-architecture",
    ),
    pytest.param(
        {"spot": True, "spotInstanceTypes": ["t3.medium"]},
        "spotInstanceTypes = 't3.medium': expected types of the size class of instanceType, x86_64, 2 vCPUs, "
        "2 GiB, burstable; t3.medium is x86_64, 2 vCPUs, 4 GiB, burstable",
        id="spot-type-of-another-size",
    ),
    pytest.param(
        {"spot": True, "instanceType": "m5.large", "spotInstanceTypes": ["c5.xlarge"]},
        "spotInstanceTypes = 'c5.xlarge': expected types of the size class of instanceType, x86_64, 2 vCPUs, "
        "8 GiB, not burstable; c5.xlarge is x86_64, 4 vCPUs, 8 GiB, not burstable",
        id="spot-type-of-another-class",
    ),
    pytest.param(
        {"spot": True, "spotInstanceTypes": ["t3a.small", "t3a.small"]},
        "spotInstanceTypes = ['t3a.small', 't3a.small']: expected each type once",
        id="spot-type-twice",
    ),
    pytest.param(
        {"spot": True, "spotInstanceTypes": ["t3.small"]},
        "spotInstanceTypes = ['t3.small']: expected at least two types",
        id="spot-one-pool",
    ),
    pytest.param(
        {"spot": True, "architecture": "arm64", "instanceType": "t4g.medium"},
        "spotInstanceTypes = ['t4g.medium']: expected at least two types",
        id="spot-one-known-type-of-the-class",
    ),
    pytest.param(
        {"spot": True, "idleTimeoutSeconds": 66},
        "idleTimeoutSeconds = 66: expected at most 65 with spot",
        id="spot-drain-fits-the-notice",
    ),
    pytest.param(
        {
            "spot": True,
            "database": False,
            "appSecrets": {f"SECRET_{i}": {"ssmParameter": f"/app/secret-{i}"} for i in range(11)},
        },
        "appSecrets = '11 secrets': expected at most 10 with spot",
        id="spot-leaves-room-for-the-drain",
    ),
    pytest.param(
        {"wafRateLimit": 9},
        "wafRateLimit = 9: expected a whole number from 10 to 2000000000",
        id="waf-rate-below-wafs-minimum",
    ),
    pytest.param(
        {"wafRateLimit": 2_000_000_001},
        "wafRateLimit = 2000000001: expected a whole number from 10 to 2000000000",
        id="waf-rate-above-wafs-maximum",
    ),
    pytest.param(
        {"wafRateWindowSeconds": 30},
        "wafRateWindowSeconds = 30: expected one of 60, 120, 300, 600 (WAF's evaluation windows)",
        id="waf-window-not-offered",
    ),
    pytest.param(
        {"wafRateWindowSeconds": True},
        "wafRateWindowSeconds = True: expected one of 60, 120, 300, 600",
        id="waf-window-bool",
    ),
    pytest.param(
        {"wafManagedRulesMode": "deny"},
        "wafManagedRulesMode = 'deny': expected 'block' (act on matches) or 'count' (only count them)",
        id="waf-mode",
    ),
    pytest.param(
        {"wafLargeBodyPaths": ["api/notes"]},
        "wafLargeBodyPaths = 'api/notes': expected at most 10 distinct URL paths, each starting with '/'",
        id="waf-path-relative",
    ),
    pytest.param(
        {"wafLargeBodyPaths": ["/api/notes?draft=1"]},
        "wafLargeBodyPaths = '/api/notes?draft=1': expected at most 10 distinct URL paths",
        id="waf-path-with-query",
    ),
    pytest.param(
        {"wafLargeBodyPaths": ["/a"] * 2},
        "wafLargeBodyPaths = ['/a', '/a']: expected at most 10 distinct URL paths",
        id="waf-paths-repeated",
    ),
    pytest.param(
        {"wafLargeBodyPaths": [f"/p{i}" for i in range(11)]},
        "wafLargeBodyPaths = ['/p0', '/p1',",
        id="waf-paths-too-many",
    ),
    pytest.param(
        {"wafLargeBodyPaths": "/api/notes"},
        "wafLargeBodyPaths = '/api/notes': expected a list of strings",
        id="waf-paths-not-a-list",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), RULES)
def test_each_rule_names_the_key_the_value_and_what_is_allowed(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse("prod", **overrides)
    assert str(raised.value).startswith(message)


def test_prod_stack_file_yields_2_to_10_nodes_https_and_three_zones_with_a_nat_each() -> None:
    settings = parse("prod")
    assert (settings.min_size, settings.desired_capacity, settings.max_size) == (2, 2, 10)
    assert settings.cpu_target_percent == 65.0
    assert settings.request_target_per_minute == 60000
    assert settings.scheduled_capacity == ()
    assert settings.https
    assert settings.domain is not None
    assert settings.domain.certificate_arn is None
    assert settings.deletion_protection
    assert isinstance(settings.network, NewVpc)
    assert len(settings.network.availability_zones) == 3
    assert not settings.network.single_nat_gateway
    # Off by default: it pays off only with more logs than a new stack writes (README, costs).
    assert not settings.network.logs_endpoint
    assert parse("prod", logsEndpoint=True).network.logs_endpoint  # type: ignore[union-attr]


def test_dev_stack_file_is_cheaper_http_only_with_one_nat() -> None:
    settings = parse("dev")
    assert settings.instance_type == "t3.micro"
    assert not settings.https
    assert settings.domain is None
    assert not settings.deletion_protection
    assert isinstance(settings.network, NewVpc)
    assert settings.network.single_nat_gateway


def test_schedules_within_the_groups_bounds_are_kept_in_order_with_their_recurrence_tidied() -> None:
    settings = parse("prod", scheduledScaling=[{**PEAK, "recurrence": " 0  8 * *  1-5 "}, EVENING])
    assert settings.scheduled_capacity == (
        ScheduledCapacity(
            name="weekday-peak", recurrence="0 8 * * 1-5", time_zone="Europe/Berlin", min_size=4, max_size=10
        ),
        ScheduledCapacity(
            name="weekday-evening",
            recurrence="0 20 * * 1-5",
            time_zone="Europe/Berlin",
            min_size=2,
            max_size=10,
        ),
    )


@pytest.mark.parametrize("recurrence", ["*/15 * * * *", "0,30 7-9 1 1-12/3 0", "59 23 31 12 6"])
def test_cron_takes_lists_ranges_steps_and_each_fields_bounds(recurrence: str) -> None:
    (schedule,) = parse("prod", scheduledScaling=[{**PEAK, "recurrence": recurrence}]).scheduled_capacity
    assert schedule.recurrence == recurrence


@pytest.mark.parametrize("instance_type", ["t4g.small", "c7g.large", "m8g.large", "c7gn.large", "a1.large"])
def test_graviton_types_are_taken_with_the_arm64_architecture(instance_type: str) -> None:
    settings = parse(architecture="arm64", instanceType=instance_type)
    assert (settings.instance_type, settings.architecture) == (instance_type, "arm64")


def test_the_database_class_need_not_match_the_nodes_architecture() -> None:
    # RDS runs its own hosts and the nodes reach it over the network: a db.t4g serves x86_64 nodes and an
    # arm64 group alike.
    for settings, instance_class in (
        (parse(instanceType="t3.small"), "db.t4g.small"),
        (
            parse(architecture="arm64", instanceType="t4g.small", databaseInstanceClass="db.m5.large"),
            "db.m5.large",
        ),
    ):
        assert settings.database is not None
        assert settings.database.instance_class == instance_class


def test_existing_vpc_replaces_the_new_vpc_layout() -> None:
    settings = parse("prod", **EXISTING)
    assert settings.network == EXISTING_VPC


@pytest.mark.parametrize("days", [1, 731, 2557, 3653])
def test_log_retention_takes_every_period_cloudwatch_logs_offers(days: int) -> None:
    # CloudWatch Logs' PutRetentionPolicy: 1 day to 10 years (3653 days).
    assert parse("prod", logRetentionDays=days).log_retention_days == days


def test_existing_certificate_is_kept() -> None:
    settings = parse("prod", certificateArn=CERTIFICATE)
    assert settings.domain is not None
    assert settings.domain.certificate_arn == CERTIFICATE


def test_every_key_is_declared_in_pulumi_yaml_with_its_type() -> None:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    # Objects excepted: the CLI's project schema has no object type (tests/offline/test_template.py).
    typed = {key: kind for key, kind in config.KEYS.items() if kind != "object"}
    assert {key: spec["type"] for key, spec in declared.items()} == typed
    # `load` reads each array as a list of strings.
    arrays = {key: spec["items"]["type"] for key, spec in declared.items() if spec["type"] == "array"}
    assert set(arrays.values()) == {"string"}


def test_the_idle_timeouts_description_gives_nginxs_keepalive_and_the_range() -> None:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    description = declared["idleTimeoutSeconds"]["description"]
    keepalive = config.NGINX_KEEPALIVE_SECONDS
    assert f"nginx's {keepalive} s keep-alive (1 to {keepalive - 1})" in description


def test_the_program_reads_the_config_of_the_project_pulumi_yaml_names() -> None:
    assert project_name() == config.PROJECT


def test_load_reads_region_and_default_tags(harness: Harness) -> None:
    settings = config.load("prod")
    assert settings.region == "us-east-1"
    assert settings.tags["Environment"] == "Production"
    assert settings.min_size == 2


def test_a_violation_stops_the_program_before_any_resource(harness: Harness) -> None:
    harness.use("prod", {**stack_config("prod"), f"{PROJECT}:idleTimeoutSeconds": "80"})
    with pytest.raises(ConfigError, match=f"^{PROJECT}:idleTimeoutSeconds = 80"):
        harness.run_program()
    assert harness.mocks.resources == []


def test_an_app_path_docker_would_not_send_stops_the_program_before_any_resource(harness: Harness) -> None:
    harness.use("prod", {**stack_config("prod"), f"{PROJECT}:appPath": "infra"})
    with pytest.raises(ConfigError, match="appPath = 'infra': expected a directory holding the app's pinned"):
        harness.run_program()
    assert harness.mocks.resources == []


DIGEST_ALLOWED = (
    "an image digest, sha256: and 64 lowercase hex digits (what follows '@' in the app_image output), or "
    "empty to build from the project's files"
)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("latest", id="a-tag"),
        pytest.param("a" * 64, id="no-algorithm"),
        pytest.param(f"sha256:{'A' * 64}", id="uppercase"),
        pytest.param(f"sha256:{'a' * 63}", id="short"),
        pytest.param(
            f"123456789012.dkr.ecr.us-east-1.amazonaws.com/x/prod/app@sha256:{'a' * 64}", id="reference"
        ),
        pytest.param(f"sha512:{'a' * 128}", id="another-algorithm"),
    ],
)
def test_a_pinned_app_image_is_a_sha256_digest(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse("prod", appImageDigest=value)
    assert str(raised.value) == f"appImageDigest = {value!r}: expected {DIGEST_ALLOWED}"


def test_no_pin_builds_and_a_digest_pins() -> None:
    assert parse("prod").app_image_digest is None
    assert parse("prod", appImageDigest="").app_image_digest is None
    digest = f"sha256:{'0123456789abcdef' * 4}"
    assert parse("prod", appImageDigest=digest).app_image_digest == digest


def test_spot_is_off_unless_asked_and_on_keeps_the_minimum_on_demand() -> None:
    assert parse("prod").spot is None
    assert parse("dev").spot is None
    spot = parse("prod", spot=True).spot
    assert spot == config.SpotSettings(instance_types=("t3.small", "t3a.small"), on_demand_base_capacity=2)


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [
        ("t3.small", ("t3.small", "t3a.small")),
        ("c7i.large", ("c7i.large", "c5.large", "c5a.large", "c6i.large", "c6a.large", "c7a.large")),
        ("m6g.xlarge", ("m6g.xlarge", "m7g.xlarge")),
        (
            "r5a.2xlarge",
            ("r5a.2xlarge", "r5.2xlarge", "r6i.2xlarge", "r6a.2xlarge", "r7i.2xlarge", "r7a.2xlarge"),
        ),
    ],
)
def test_the_spot_types_default_to_every_known_type_of_the_instance_types_class(
    instance_type: str, expected: tuple[str, ...]
) -> None:
    architecture = "arm64" if instance_type == "m6g.xlarge" else "x86_64"
    spot = parse("prod", spot=True, instanceType=instance_type, architecture=architecture).spot
    assert spot is not None
    assert spot.instance_types == expected


def test_listed_spot_types_follow_the_instance_type_which_comes_first() -> None:
    spot = parse(
        "prod", spot=True, instanceType="c6i.large", spotInstanceTypes=["c5.large", "c6i.large"]
    ).spot
    assert spot is not None
    assert spot.instance_types == ("c6i.large", "c5.large")
