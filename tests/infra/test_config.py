"""infra/config.py: every rule, its message, and the settings each stack file yields."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from infra import config
from infra.config import PROJECT, ConfigError, ExistingVpc, NewVpc
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
    assert settings.https
    assert settings.domain is not None
    assert settings.domain.certificate_arn is None
    assert settings.deletion_protection
    assert isinstance(settings.network, NewVpc)
    assert len(settings.network.availability_zones) == 3
    assert not settings.network.single_nat_gateway


def test_dev_stack_file_is_cheaper_http_only_with_one_nat() -> None:
    settings = parse("dev")
    assert settings.instance_type == "t3.micro"
    assert not settings.https
    assert settings.domain is None
    assert not settings.deletion_protection
    assert isinstance(settings.network, NewVpc)
    assert settings.network.single_nat_gateway


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
