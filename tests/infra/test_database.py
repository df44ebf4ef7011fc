"""infra/database.py and the database's config: private, nodes-only, encrypted, TLS-only, its password in
Secrets Manager, durable in prod, disposable in dev, watched by three alarms."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
import yaml

from infra import config, database
from infra.config import DATABASE_PORT, PROJECT, ConfigError, DatabaseSettings
from infra.database import Database, DatabaseArgs
from offline.stack import stack_config
from tests.conftest import ROOT, Harness, Resource, spy_options
from tests.infra.test_config import raw_config

INSTANCE = "aws:rds/instance:Instance"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
NODES_GROUP = "sg-0123456789abcdef0"
SUBNETS = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0aaaaaaaaaaaaaaa2", "subnet-0aaaaaaaaaaaaaaa3"]
TOPIC = f"arn:aws:sns:us-east-1:123456789012:{PROJECT}-alarms"
PROD = DatabaseSettings(
    instance_class="db.t4g.small",
    memory_gib=2,
    allocated_storage_gib=20,
    max_allocated_storage_gib=100,
    multi_az=True,
    backup_retention_days=14,
    engine_version="16",
    name="app",
)


def parse(stack: str = "prod", **overrides: Any) -> config.Settings:
    return config.parse(raw_config(stack, **overrides), stack=stack, region="us-east-1", tags={})


def build(
    harness: Harness, settings: DatabaseSettings | None = PROD, *, deletion_protection: bool = True
) -> dict[str, Any]:
    """Builds the component; returns its outputs once resolved."""
    outputs: dict[str, Any] = {}

    def program() -> pulumi.Output[None]:
        db = Database(
            "database",
            DatabaseArgs(
                settings=settings,
                stack="prod",
                vpc_id="vpc-0123456789abcdef0",
                subnet_ids=SUBNETS,
                client_security_group_id=NODES_GROUP,
                deletion_protection=deletion_protection,
                log_retention_days=90,
                alarm_topic_arn=TOPIC,
            ),
        )
        outputs["access"] = [rule._name for rule in db.access]
        return pulumi.Output.all(
            endpoint_address=db.endpoint_address,
            port=db.port,
            name=db.name,
            master_user_secret_arn=db.master_user_secret_arn,
        ).apply(outputs.update)

    harness.evaluate(program)
    return outputs


def instance(harness: Harness) -> dict[str, Any]:
    return harness.mocks.one(INSTANCE).inputs


# Config


def test_database_is_off_by_default_and_in_dev_and_on_in_prod() -> None:
    assert parse("dev").database is None
    assert yaml_default("database") is False
    assert parse("prod").database == PROD


def yaml_default(key: str) -> Any:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"][key]["default"]


def test_dev_can_run_with_the_database_on_small_and_single_az() -> None:
    settings = parse("dev", database=True).database
    assert settings is not None
    assert (settings.instance_class, settings.multi_az, settings.allocated_storage_gib) == (
        "db.t4g.micro",
        False,
        20,
    )


DB_RULES = [
    pytest.param(
        {"databaseInstanceClass": "t4g.micro"},
        "databaseInstanceClass = 't4g.micro': expected an RDS class db.<family>.<size>",
        id="class-shape",
    ),
    pytest.param(
        {"databaseInstanceClass": "db.x2g.large"},
        "databaseInstanceClass = 'db.x2g.large': expected an RDS class db.<family>.<size> of the t3, t4g",
        id="class-family-of-unknown-memory",
    ),
    pytest.param(
        {"databaseInstanceClass": "db.t4g.4xlarge"},
        "databaseInstanceClass = 'db.t4g.4xlarge': expected an RDS class",
        id="class-size-the-family-lacks",
    ),
    pytest.param(
        {"databaseAllocatedStorageGib": 19},
        "databaseAllocatedStorageGib = 19: expected a whole number from 20 to 65536",
        id="storage-gp3-minimum",
    ),
    pytest.param(
        {"databaseAllocatedStorageGib": 65537},
        "databaseAllocatedStorageGib = 65537: expected a whole number from 20 to 65536",
        id="storage-gp3-maximum",
    ),
    pytest.param(
        {"databaseAllocatedStorageGib": 200, "databaseMaxAllocatedStorageGib": 100},
        "databaseMaxAllocatedStorageGib = 100: expected a whole number from 200 to 65536",
        id="autoscaling-ceiling-below-allocated",
    ),
    pytest.param(
        {"databaseBackupRetentionDays": 0},
        "databaseBackupRetentionDays = 0: expected a whole number from 1 to 35",
        id="backups-on",
    ),
    pytest.param(
        {"databaseBackupRetentionDays": 36},
        "databaseBackupRetentionDays = 36: expected a whole number from 1 to 35",
        id="backups-at-most-35-days",
    ),
    pytest.param(
        {"databaseEngineVersion": "16.4"},
        "databaseEngineVersion = '16.4': expected a PostgreSQL major version such as '16'",
        id="engine-major-only",
    ),
    pytest.param(
        {"databaseName": "App"},
        "databaseName = 'App': expected 1 to 63 lowercase letters, digits or '_', starting with a letter",
        id="name-lowercase",
    ),
    pytest.param(
        {"databaseName": "1app"},
        "databaseName = '1app': expected 1 to 63 lowercase letters",
        id="name-starts-with-a-letter",
    ),
    pytest.param(
        {"databaseName": "a" * 64},
        f"databaseName = '{'a' * 64}': expected 1 to 63 lowercase letters",
        id="name-at-most-63",
    ),
    pytest.param(
        {"databaseMultiAz": "yes"}, "databaseMultiAz = 'yes': expected true or false", id="multi-az-boolean"
    ),
]


@pytest.mark.parametrize(("overrides", "message"), DB_RULES)
def test_each_database_rule_names_the_key_the_value_and_what_is_allowed(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse("prod", **overrides)
    assert str(raised.value).startswith(message)


def test_database_keys_are_not_judged_while_the_database_is_off() -> None:
    assert parse("dev", databaseName="App", databaseInstanceClass="large").database is None


@pytest.mark.parametrize(
    ("instance_class", "memory_gib"),
    [
        ("db.t4g.micro", 1),
        ("db.t3.medium", 4),
        ("db.t4g.2xlarge", 32),
        ("db.m7g.large", 8),
        ("db.m6i.xlarge", 16),
        ("db.r6g.large", 16),
        ("db.r7g.4xlarge", 128),
    ],
)
def test_each_known_class_has_its_published_memory(instance_class: str, memory_gib: float) -> None:
    settings = parse("prod", databaseInstanceClass=instance_class).database
    assert settings is not None
    assert settings.memory_gib == memory_gib


# Placement and access


def test_no_settings_no_resources(harness: Harness) -> None:
    outputs = build(harness, None)
    assert [r.typ for r in harness.mocks.resources] == [f"{PROJECT}:database:Database"]
    assert outputs.pop("access") == []
    assert set(outputs.values()) == {None}


def test_a_client_waits_for_both_rules_that_let_the_nodes_group_in(harness: Harness) -> None:
    outputs = build(harness)
    assert outputs["access"] == ["database-in-postgres", "database-client-out-postgres"]


def test_the_database_lives_in_every_private_subnet_and_is_not_public(harness: Harness) -> None:
    build(harness)
    group = harness.mocks.one("aws:rds/subnetGroup:SubnetGroup")
    assert group.inputs["subnetIds"] == SUBNETS
    db = instance(harness)
    assert db["dbSubnetGroupName"] == group.state["name"]
    assert db["publiclyAccessible"] is False
    assert db["port"] == DATABASE_PORT


def test_only_the_nodes_group_reaches_postgres_and_the_nodes_may_reach_it(harness: Harness) -> None:
    build(harness)
    group = harness.mocks.one("aws:ec2/securityGroup:SecurityGroup")
    assert instance(harness)["vpcSecurityGroupIds"] == [group.id]
    assert "ingress" not in group.inputs
    assert "egress" not in group.inputs
    (ingress,) = harness.mocks.of_type(INGRESS)
    assert ingress.inputs["securityGroupId"] == group.id
    assert ingress.inputs["referencedSecurityGroupId"] == NODES_GROUP
    assert (ingress.inputs["ipProtocol"], ingress.inputs["fromPort"], ingress.inputs["toPort"]) == (
        "tcp",
        5432,
        5432,
    )
    assert "cidrIpv4" not in ingress.inputs
    assert "cidrIpv6" not in ingress.inputs
    # The database opens no connection; the nodes, whose group allows only HTTPS out, get 5432 to it.
    (egress,) = harness.mocks.of_type(EGRESS)
    assert egress.inputs["securityGroupId"] == NODES_GROUP
    assert egress.inputs["referencedSecurityGroupId"] == group.id
    assert (egress.inputs["fromPort"], egress.inputs["toPort"]) == (5432, 5432)


# Encryption and TLS


def test_storage_is_encrypted_with_the_aws_managed_rds_key(harness: Harness) -> None:
    build(harness)
    db = instance(harness)
    assert db["storageEncrypted"] is True
    # No kmsKeyId: RDS uses aws/rds; Performance Insights likewise.
    assert "kmsKeyId" not in db
    assert "performanceInsightsKmsKeyId" not in db
    assert db["storageType"] == "gp3"


def test_the_server_requires_tls_through_a_parameter_group_of_its_major_version(harness: Harness) -> None:
    build(harness, dataclasses.replace(PROD, engine_version="17"))
    parameters = harness.mocks.one("aws:rds/parameterGroup:ParameterGroup")
    assert parameters.inputs["family"] == "postgres17"
    (force_ssl,) = parameters.inputs["parameters"]
    assert (force_ssl["name"], force_ssl["value"]) == ("rds.force_ssl", "1")
    # Whether AWS counts the parameter static or dynamic, pending-reboot is accepted for it.
    assert force_ssl["applyMethod"] == "pending-reboot"
    db = instance(harness)
    assert db["parameterGroupName"] == parameters.state["name"]
    assert (db["engine"], db["engineVersion"]) == ("postgres", "17")
    # The server certificate's CA is in the RDS global bundle the app verifies against.
    assert db["caCertIdentifier"] == "rds-ca-rsa2048-g1"


def test_the_password_is_managed_by_rds_and_the_secret_arn_is_an_output(harness: Harness) -> None:
    outputs = build(harness)
    db = harness.mocks.one(INSTANCE)
    assert db.inputs["manageMasterUserPassword"] is True
    assert "password" not in db.inputs
    assert outputs["master_user_secret_arn"] == db.state["masterUserSecrets"][0]["secretArn"]
    assert outputs["endpoint_address"] == db.state["address"]
    assert (outputs["port"], outputs["name"]) == (DATABASE_PORT, "app")


# Durability


def test_prod_is_multi_az_protected_and_leaves_a_final_snapshot(harness: Harness) -> None:
    build(harness)
    db = instance(harness)
    assert db["multiAz"] is True
    assert db["deletionProtection"] is True
    assert db["skipFinalSnapshot"] is False
    # A DB snapshot identifier: 1-255 letters, digits and single hyphens, starting with a letter.
    assert re.fullmatch(r"[a-z](?!.*--)[a-z0-9-]{0,253}[a-z0-9]", db["finalSnapshotIdentifier"])
    assert db["finalSnapshotIdentifier"] == f"{db['identifier']}-final"
    assert db["backupRetentionPeriod"] == 14
    assert db["copyTagsToSnapshot"] is True
    assert (db["performanceInsightsEnabled"], db["performanceInsightsRetentionPeriod"]) == (True, 7)
    assert (db["allocatedStorage"], db["maxAllocatedStorage"]) == (20, 100)


def test_dev_skips_the_final_snapshot_and_can_be_destroyed(harness: Harness) -> None:
    build(harness, dataclasses.replace(PROD, multi_az=False), deletion_protection=False)
    db = instance(harness)
    assert (db["multiAz"], db["deletionProtection"], db["skipFinalSnapshot"]) == (False, False, True)
    assert "finalSnapshotIdentifier" not in db


def minutes(window: str) -> tuple[int, int]:
    """A `hh:mm-hh:mm` window (or `ddd:hh:mm-ddd:hh:mm`) as minutes of the week, start and end."""
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

    def point(text: str, day: int) -> int:
        parts = text.split(":")
        if len(parts) == 3:
            day = days.index(parts[0])
            parts = parts[1:]
        return day * 1440 + int(parts[0]) * 60 + int(parts[1])

    start, end = window.split("-")
    return point(start, 6), point(end, 6)


def test_minor_versions_upgrade_in_a_maintenance_window_apart_from_the_backup_window(
    harness: Harness,
) -> None:
    build(harness)
    db = instance(harness)
    assert db["autoMinorVersionUpgrade"] is True
    backup, maintenance = minutes(db["backupWindow"]), minutes(db["maintenanceWindow"])
    # RDS: the backup window lasts at least 30 minutes, the maintenance window 30 minutes or more, and
    # they do not overlap (CreateDBInstance, PreferredBackupWindow).
    assert backup[1] - backup[0] >= 30
    assert maintenance[1] - maintenance[0] >= 30
    assert backup[1] <= maintenance[0] or maintenance[1] <= backup[0]


def test_postgres_logs_go_to_a_log_group_created_first_with_the_stacks_retention(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = spy_options(monkeypatch, aws.rds.Instance)
    build(harness)
    db = instance(harness)
    assert db["enabledCloudwatchLogsExports"] == ["postgresql"]
    (group,) = harness.mocks.of_type("aws:cloudwatch/logGroup:LogGroup")
    # RDS writes to /aws/rds/instance/<identifier>/<log> (RDS User Guide, "Publishing PostgreSQL logs").
    assert group.inputs["name"] == f"/aws/rds/instance/{db['identifier']}/postgresql"
    assert group.inputs["retentionInDays"] == 90
    (opts,) = options
    (dependency,) = opts.depends_on
    assert isinstance(dependency, aws.cloudwatch.LogGroup)


@pytest.mark.parametrize("stack", ["prod", "dev", "Staging_EU", "x" * 70])
def test_the_identifier_is_a_valid_rds_identifier_for_any_stack(stack: str) -> None:
    name = database.identifier(stack)
    assert re.fullmatch(r"[a-z](?!.*--)[a-z0-9-]{0,61}[a-z0-9]", name), name


# Alarms


def alarms(harness: Harness) -> dict[str, Resource]:
    return {r.name: r for r in harness.mocks.of_type(ALARM)}


def test_three_alarms_watch_this_instance_and_notify_the_topic(harness: Harness) -> None:
    build(harness)
    found = alarms(harness)
    assert set(found) == {"database-cpu", "database-free-storage", "database-connections"}
    db = harness.mocks.one(INSTANCE)
    for alarm in found.values():
        assert alarm.inputs["namespace"] == "AWS/RDS"
        assert alarm.inputs["dimensions"] == {"DBInstanceIdentifier": db.inputs["identifier"]}
        assert alarm.inputs["alarmActions"] == [TOPIC]
        assert alarm.inputs["okActions"] == [TOPIC]


def test_free_storage_alarm_fires_under_a_tenth_of_the_allocated_bytes(harness: Harness) -> None:
    build(harness, dataclasses.replace(PROD, allocated_storage_gib=50))
    storage = alarms(harness)["database-free-storage"].inputs
    assert (storage["metricName"], storage["comparisonOperator"]) == ("FreeStorageSpace", "LessThanThreshold")
    assert storage["threshold"] == 5 * 2**30
    cpu = alarms(harness)["database-cpu"].inputs
    assert (cpu["metricName"], cpu["statistic"], cpu["threshold"]) == ("CPUUtilization", "Average", 80)


@pytest.mark.parametrize(
    ("memory_gib", "published"),
    # max_connections RDS reports on classes of this memory (LEAST({DBInstanceClassMemory/9531392}, 5000)).
    [(2, 198), (4, 413), (8, 856)],
)
def test_connections_alarm_fires_below_the_real_max_connections(memory_gib: float, published: int) -> None:
    threshold = database.connections_threshold(memory_gib)
    assert 0.7 * published <= threshold < 0.85 * published
    assert abs(database.max_connections(memory_gib) - published) <= 0.04 * published


def test_connections_alarm_uses_the_classes_memory(harness: Harness) -> None:
    build(harness, dataclasses.replace(PROD, instance_class="db.t4g.micro", memory_gib=1))
    connections = alarms(harness)["database-connections"].inputs
    assert connections["metricName"] == "DatabaseConnections"
    assert connections["threshold"] == database.connections_threshold(1) < 90
    assert database.max_connections(5000) == 5000


# The program


def program_outputs(harness: Harness, stack: str, config: dict[str, str] | None = None) -> dict[str, Any]:
    harness.use(stack, config)
    outputs: dict[str, Any] = {}
    harness.evaluate(lambda: harness.run_program().apply(outputs.update))
    return outputs


def test_prod_wires_the_database_to_the_nodes_the_private_subnets_and_the_alarm_topic(
    harness: Harness,
) -> None:
    outputs = program_outputs(harness, "prod")
    mocks = harness.mocks
    db = mocks.one(INSTANCE)
    assert outputs["database_endpoint"] == db.state["address"]
    assert outputs["database_secret_arn"] == db.state["masterUserSecrets"][0]["secretArn"]
    private = {r.id for r in mocks.of_type("aws:ec2/subnet:Subnet") if "private" in r.name}
    assert set(mocks.one("aws:rds/subnetGroup:SubnetGroup").inputs["subnetIds"]) == private
    nodes = mocks.one("aws:ec2/securityGroup:SecurityGroup", "security-instance")
    assert mocks.one(INGRESS, "database-in-postgres").inputs["referencedSecurityGroupId"] == nodes.id
    topic = mocks.one("aws:sns/topic:Topic")
    for alarm in (r for r in mocks.of_type(ALARM) if r.name.startswith("database-")):
        assert alarm.inputs["alarmActions"] == [topic.state["arn"]]
    assert (db.inputs["instanceClass"], db.inputs["multiAz"], db.inputs["deletionProtection"]) == (
        "db.t4g.small",
        True,
        True,
    )


def test_dev_with_the_database_on_declares_a_small_disposable_one(harness: Harness) -> None:
    config = {**stack_config("dev"), f"{PROJECT}:database": "true"}
    outputs = program_outputs(harness, "dev", config)
    db = harness.mocks.one(INSTANCE).inputs
    assert (db["instanceClass"], db["multiAz"], db["deletionProtection"], db["skipFinalSnapshot"]) == (
        "db.t4g.micro",
        False,
        False,
        True,
    )
    assert outputs["database_endpoint"].startswith(f"{PROJECT}-dev.")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("appSettings", {"DATABASE_HOST": "db.example.com"}),
        ("appSecrets", {"DATABASE_PASSWORD": {"ssmParameter": "/app/prod/db-password"}}),
    ],
)
def test_the_app_may_not_set_what_the_database_sets(key: str, value: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as raised:
        parse("prod", **{key: value})
    assert str(raised.value).startswith(f"{key} = 'DATABASE_")
    assert "a name the database does not set" in str(raised.value)
    # Without a database, the names are the app's to use.
    assert parse("dev", **{key: value}).database is None
