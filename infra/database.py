"""The managed PostgreSQL: RDS in the private subnets, reached by the nodes only, over TLS, its password kept
by RDS in Secrets Manager, with alarms on CPU, free storage and connections."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import naming
from infra.app_environment import AppEnvironment, AppSecret, SecretsManagerSecret, with_secrets
from infra.config import DATABASE_PORT, DATABASE_VARIABLES, DatabaseSettings

ENGINE = "postgres"
MASTER_USERNAME = "postgres"
"""The master user RDS creates; its password only ever lives in the secret RDS manages."""
LOG_EXPORTS = ("postgresql",)
"""The PostgreSQL log (errors, slow statements, connections when logged) goes to CloudWatch Logs."""
PERFORMANCE_INSIGHTS_RETENTION_DAYS = 7
"""Performance Insights' free retention; longer is billed (RDS User Guide, "Pricing and data retention")."""
BACKUP_WINDOW = "03:00-04:00"
MAINTENANCE_WINDOW = "sun:04:30-sun:05:30"
"""UTC, night in the Americas and early morning in Europe; RDS requires the two not to overlap."""
CA_CERTIFICATE = "rds-ca-rsa2048-g1"
"""The server certificate's CA; the RDS global bundle the app verifies against contains it."""
FORCE_SSL = "rds.force_ssl"


RDS_NAMESPACE = "AWS/RDS"
PERIOD_SECONDS = 300
CPU_PERCENT = 80.0
"""Alarm when the instance's CPU stays above this: a burstable class then spends surplus credits, and a
runaway query or too small a class shows here before latency does."""
FREE_STORAGE_FRACTION = 0.10
"""Alarm when free storage falls under this share of the storage allocated at creation: storage autoscaling
grows the volume at 10 % free of the current size after five minutes, so an alarm that lasts means
autoscaling reached its ceiling or waits for its previous modification to finish (RDS User Guide, "Managing
capacity automatically with Amazon RDS storage autoscaling")."""
CONNECTIONS_FRACTION = 0.8
"""Alarm when connections pass this share of `max_connections`: new connections fail beyond it."""
CONNECTIONS_DIVISOR = 9531392
CONNECTIONS_CAP = 5000
"""RDS for PostgreSQL's default `max_connections` is LEAST({DBInstanceClassMemory/9531392}, 5000) (RDS User
Guide, "Quotas and constraints", maximum number of database connections)."""
RESERVED_MEMORY_GIB = 0.2
"""DBInstanceClassMemory is the class's memory less what the OS and RDS keep; 0.2 GiB gives the published
`max_connections` of db.t2.small (198), db.t2.medium (413) and db.t2.large (856) within 4 %."""


def identifier(stack: str) -> str:
    """The DB instance identifier: 1-63 lowercase letters, digits and single hyphens, starting with a letter
    (CreateDBInstance). Fixed, so the log group RDS writes to can be created first."""
    name = re.sub(r"[^a-z0-9]+", "-", f"{naming.project()}-{stack}".lower()).strip("-")
    return naming.physical(name, max_length=63)


def max_connections(memory_gib: float) -> int:
    """RDS for PostgreSQL's default `max_connections` on a class with this much memory."""
    usable = (memory_gib - RESERVED_MEMORY_GIB) * 2**30
    return min(math.floor(usable / CONNECTIONS_DIVISOR), CONNECTIONS_CAP)


def connections_threshold(memory_gib: float) -> int:
    """The connection count the connections alarm fires above."""
    return math.floor(max_connections(memory_gib) * CONNECTIONS_FRACTION)


def free_storage_threshold_bytes(allocated_gib: int) -> float:
    """The free storage, in bytes (the metric's unit), the storage alarm fires below."""
    return allocated_gib * 2**30 * FREE_STORAGE_FRACTION


def _secret_arn(secrets: Sequence[aws.rds.outputs.InstanceMasterUserSecret]) -> str:
    """The ARN of the one secret RDS manages for the master user."""
    (secret,) = secrets
    if secret.secret_arn is None:
        raise ValueError("RDS reported the master user secret without its ARN")
    return secret.secret_arn


@dataclass(frozen=True, kw_only=True)
class DatabaseArgs:
    """Where the database goes, who reaches it, and who hears its alarms."""

    settings: DatabaseSettings | None
    """None: the stack has no database, and the component declares nothing."""
    stack: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """The private subnets, one per zone: RDS places the primary and the standby among them."""
    client_security_group_id: pulumi.Input[str]
    """The nodes' security group: the only one admitted on 5432, and given egress to the database."""
    deletion_protection: bool
    """On: deletion protection and a final snapshot. Off (dev): `pulumi destroy` deletes it outright."""
    log_retention_days: int
    alarm_topic_arn: pulumi.Input[str]


class Database(pulumi.ComponentResource):
    """An RDS for PostgreSQL instance, its subnet group, security group, TLS-only parameter group, log
    group and alarms; nothing when the stack has no database."""

    instance: aws.rds.Instance | None
    """The DB instance."""
    security_group: aws.ec2.SecurityGroup | None
    """5432 from the nodes' group in; no egress."""
    endpoint_address: pulumi.Output[str] | None
    """The host name the app connects to (and verifies the server certificate against)."""
    port: pulumi.Output[int] | None
    name: pulumi.Output[str] | None
    """The database RDS created."""
    master_user_secret_arn: pulumi.Output[str] | None
    """The Secrets Manager secret RDS keeps the master user's credentials in (JSON keys `username`,
    `password`); the app's role needs `secretsmanager:GetSecretValue` on it."""
    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    """The alarms by purpose: `cpu`, `free-storage`, `connections`."""
    access: list[pulumi.Resource]
    """The rules that let the nodes' group reach PostgreSQL: what a client must wait for; none without a
    database."""

    def __init__(self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flask-nginx-aws:database:Database", name, None, opts)
        self.instance = self.security_group = None
        self.endpoint_address = self.port = self.name = self.master_user_secret_arn = None
        self.alarms = {}
        self.access = []
        if args.settings is not None:
            self._declare(name, args, args.settings)
        self.register_outputs(
            {
                "endpoint_address": self.endpoint_address,
                "port": self.port,
                "name": self.name,
                "master_user_secret_arn": self.master_user_secret_arn,
            }
        )

    def environment(self, app: AppEnvironment) -> AppEnvironment:
        """The app's environment with this database's connection (`DATABASE_VARIABLES`): where it is and that
        its certificate must be verified as plain settings, its user and password from the secret RDS
        manages. The CA bundle to verify against is the image's own (`DATABASE_SSLROOTCERT` in
        docker/Dockerfile). The app unchanged when the stack has no database."""
        secret = self.master_user_secret_arn
        if self.endpoint_address is None or self.port is None or self.name is None or secret is None:
            return app
        host, port, database, sslmode, _, user, password = DATABASE_VARIABLES
        return with_secrets(
            app,
            [
                AppSecret(name=user, source=SecretsManagerSecret(arn=secret, json_key="username")),
                AppSecret(name=password, source=SecretsManagerSecret(arn=secret, json_key="password")),
            ],
            settings={
                host: self.endpoint_address,
                # The engine hands numbers over as floats (5432.0) where a type does not say int.
                port: self.port.apply(lambda number: str(int(number))),
                database: self.name,
                sslmode: "verify-full",
            },
        )

    def _declare(self, name: str, args: DatabaseArgs, settings: DatabaseSettings) -> None:
        child = pulumi.ResourceOptions(parent=self)
        subnets = aws.rds.SubnetGroup(
            naming.child(name, "subnets"),
            subnet_ids=args.subnet_ids,
            description="The private subnets of every zone",
            opts=child,
        )
        security_group = self._security_group(name, args)
        # TLS is required by the server: off, a client with sslmode=prefer falls back to plain text. It is
        # on by default for PostgreSQL 15 and later; set here so it holds whatever the default becomes.
        # pending-reboot is valid for static and dynamic parameters alike (ModifyDBParameterGroup); a new
        # instance starts with its group's values either way.
        parameters = aws.rds.ParameterGroup(
            naming.child(name, "params"),
            family=f"{ENGINE}{settings.engine_version}",
            description="TLS required",
            parameters=[
                aws.rds.ParameterGroupParameterArgs(name=FORCE_SSL, value="1", apply_method="pending-reboot")
            ],
            opts=child,
        )
        db_identifier = identifier(args.stack)
        # Created first, with the stack's retention: RDS would create it on first export, never expiring.
        logs = aws.cloudwatch.LogGroup(
            naming.child(name, "postgresql"),
            name=f"/aws/rds/instance/{db_identifier}/postgresql",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.instance = aws.rds.Instance(
            naming.child(name, "instance"),
            identifier=db_identifier,
            engine=ENGINE,
            # A major version: RDS picks its default minor and applies newer minors in the maintenance
            # window; a change of databaseEngineVersion is the only major upgrade.
            engine_version=settings.engine_version,
            auto_minor_version_upgrade=True,
            allow_major_version_upgrade=True,
            instance_class=settings.instance_class,
            allocated_storage=settings.allocated_storage_gib,
            max_allocated_storage=settings.max_allocated_storage_gib,
            storage_type="gp3",
            # Encrypted with the AWS-managed key aws/rds: no key policy to keep right, no monthly key fee;
            # a snapshot under it cannot be shared with another account (copy it under a key of your own).
            storage_encrypted=True,
            db_name=settings.name,
            username=MASTER_USERNAME,
            # RDS generates the password and keeps it in Secrets Manager: it never enters Pulumi state.
            manage_master_user_password=True,
            port=DATABASE_PORT,
            multi_az=settings.multi_az,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[security_group.id],
            publicly_accessible=False,
            parameter_group_name=parameters.name,
            ca_cert_identifier=CA_CERTIFICATE,
            backup_retention_period=settings.backup_retention_days,
            backup_window=BACKUP_WINDOW,
            maintenance_window=MAINTENANCE_WINDOW,
            copy_tags_to_snapshot=True,
            deletion_protection=args.deletion_protection,
            # A snapshot when the instance is deleted, unless the stack is disposable. AWS refuses a
            # second deletion under the same snapshot name (DBSnapshotAlreadyExists): delete or rename the
            # older final snapshot before destroying a re-created stack.
            skip_final_snapshot=not args.deletion_protection,
            final_snapshot_identifier=(
                naming.physical(db_identifier, "final", max_length=255) if args.deletion_protection else None
            ),
            performance_insights_enabled=True,
            performance_insights_retention_period=PERFORMANCE_INSIGHTS_RETENTION_DAYS,
            enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[logs]),
        )
        self.security_group = security_group
        self.endpoint_address = self.instance.address
        self.port = self.instance.port
        self.name = self.instance.db_name
        self.master_user_secret_arn = self.instance.master_user_secrets.apply(_secret_arn)
        self.alarms = self._alarms(name, args, settings, self.instance.identifier)

    def _security_group(self, name: str, args: DatabaseArgs) -> aws.ec2.SecurityGroup:
        """The database's group: PostgreSQL from the nodes' group only, and the nodes' egress to it."""
        child = pulumi.ResourceOptions(parent=self)
        # No rules inline and none out: a database answers connections, it opens none.
        group = aws.ec2.SecurityGroup(
            naming.child(name, "sg"),
            vpc_id=args.vpc_id,
            description="Database: PostgreSQL from the nodes only",
            tags={"Name": naming.display(args.stack, "database")},
            opts=child,
        )
        ingress = aws.vpc.SecurityGroupIngressRule(
            naming.child(name, "in-postgres"),
            security_group_id=group.id,
            description="PostgreSQL from the nodes",
            ip_protocol="tcp",
            from_port=DATABASE_PORT,
            to_port=DATABASE_PORT,
            referenced_security_group_id=args.client_security_group_id,
            opts=child,
        )
        # The nodes' group allows only HTTPS out; the app needs PostgreSQL to this group, and nothing wider.
        egress = aws.vpc.SecurityGroupEgressRule(
            naming.child(name, "client-out-postgres"),
            security_group_id=args.client_security_group_id,
            description="PostgreSQL to the database",
            ip_protocol="tcp",
            from_port=DATABASE_PORT,
            to_port=DATABASE_PORT,
            referenced_security_group_id=group.id,
            opts=child,
        )
        self.access = [ingress, egress]
        return group

    def _alarms(
        self, name: str, args: DatabaseArgs, settings: DatabaseSettings, db_identifier: pulumi.Output[str]
    ) -> dict[str, aws.cloudwatch.MetricAlarm]:
        """CPU, free storage and connections, each to the alarm topic on alarm and on recovery."""
        actions = [args.alarm_topic_arn]

        def alarm(
            purpose: str, *, description: str, metric: str, statistic: str, operator: str, threshold: float
        ) -> aws.cloudwatch.MetricAlarm:
            return aws.cloudwatch.MetricAlarm(
                naming.child(name, purpose),
                alarm_description=description,
                namespace=RDS_NAMESPACE,
                metric_name=metric,
                dimensions={"DBInstanceIdentifier": db_identifier},
                statistic=statistic,
                period=PERIOD_SECONDS,
                comparison_operator=operator,
                threshold=threshold,
                # Three bad 5-minute periods in a row: a burst or a vacuum does not page, a trend does.
                evaluation_periods=3,
                datapoints_to_alarm=3,
                alarm_actions=actions,
                ok_actions=actions,
                opts=pulumi.ResourceOptions(parent=self),
            )

        connections = connections_threshold(settings.memory_gib)
        return {
            "cpu": alarm(
                "cpu",
                description=f"Database CPU above {CPU_PERCENT:g}% for 15 minutes",
                metric="CPUUtilization",
                statistic="Average",
                operator="GreaterThanThreshold",
                threshold=CPU_PERCENT,
            ),
            "free-storage": alarm(
                "free-storage",
                description=f"Database free storage under {FREE_STORAGE_FRACTION:.0%} of "
                f"{settings.allocated_storage_gib} GiB for 15 minutes",
                metric="FreeStorageSpace",
                statistic="Minimum",
                operator="LessThanThreshold",
                threshold=free_storage_threshold_bytes(settings.allocated_storage_gib),
            ),
            "connections": alarm(
                "connections",
                description=f"Database connections above {connections} ({CONNECTIONS_FRACTION:.0%} of "
                f"max_connections {max_connections(settings.memory_gib)}) for 15 minutes",
                metric="DatabaseConnections",
                statistic="Maximum",
                operator="GreaterThanThreshold",
                threshold=connections,
            ),
        }
