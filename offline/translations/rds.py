"""RDS: the database's subnet group, parameter group and DB instance."""

from __future__ import annotations

from offline.aws import Aws, Inputs, autoname, require_known
from offline.translations.registry import Outputs, translates

MIN_SUBNET_GROUP_ZONES = 2
"""A DB subnet group must cover at least two Availability Zones (RDS User Guide, "Working with DB subnet
groups"); moto takes one."""


def _group_name(name: str, inputs: Inputs) -> str:
    """The provider auto-names RDS groups in lowercase: RDS stores their names lowercased."""
    return str(inputs["name"]) if "name" in inputs else autoname(name, lower=True)


@translates("aws:rds/subnetGroup:SubnetGroup")
def subnet_group(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateDBSubnetGroup, once its subnets span two zones as RDS requires."""
    ec2 = aws.client("ec2")
    subnets = ec2.describe_subnets(SubnetIds=inputs["subnetIds"])["Subnets"]
    zones = {s["AvailabilityZone"] for s in subnets}
    if len(zones) < MIN_SUBNET_GROUP_ZONES:
        raise ValueError(
            f"DBSubnetGroupDoesNotCoverEnoughAZs: the subnets span {sorted(zones)}; a DB subnet group needs "
            f"at least {MIN_SUBNET_GROUP_ZONES} Availability Zones"
        )
    group_name = _group_name(name, inputs)
    created = aws.client("rds").create_db_subnet_group(
        DBSubnetGroupName=group_name,
        DBSubnetGroupDescription=inputs.get("description", "Managed by Pulumi"),
        SubnetIds=inputs["subnetIds"],
        Tags=aws.tag_list(inputs),
    )["DBSubnetGroup"]
    return group_name, {"name": group_name, "arn": created["DBSubnetGroupArn"], "vpcId": created["VpcId"]}


@translates("aws:rds/parameterGroup:ParameterGroup")
def parameter_group(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateDBParameterGroup, then ModifyDBParameterGroup with the declared parameters, as the provider
    does."""
    rds = aws.client("rds")
    group_name = _group_name(name, inputs)
    created = rds.create_db_parameter_group(
        DBParameterGroupName=group_name,
        DBParameterGroupFamily=inputs["family"],
        Description=inputs.get("description", "Managed by Pulumi"),
        Tags=aws.tag_list(inputs),
    )["DBParameterGroup"]
    parameters = inputs.get("parameters", [])
    for parameter in parameters:
        require_known(parameter, {"name", "value", "applyMethod"}, "parameters")
    if parameters:
        rds.modify_db_parameter_group(
            DBParameterGroupName=group_name,
            Parameters=[
                {
                    "ParameterName": p["name"],
                    "ParameterValue": p["value"],
                    "ApplyMethod": p.get("applyMethod", "immediate"),
                }
                for p in parameters
            ],
        )
    return group_name, {"name": group_name, "arn": created["DBParameterGroupArn"]}


INSTANCE_PARAMETERS = {
    "engine": "Engine",
    "engineVersion": "EngineVersion",
    "instanceClass": "DBInstanceClass",
    "allocatedStorage": "AllocatedStorage",
    "maxAllocatedStorage": "MaxAllocatedStorage",
    "storageType": "StorageType",
    "storageEncrypted": "StorageEncrypted",
    "kmsKeyId": "KmsKeyId",
    "dbName": "DBName",
    "username": "MasterUsername",
    "manageMasterUserPassword": "ManageMasterUserPassword",
    "masterUserSecretKmsKeyId": "MasterUserSecretKmsKeyId",
    "port": "Port",
    "multiAz": "MultiAZ",
    "dbSubnetGroupName": "DBSubnetGroupName",
    "vpcSecurityGroupIds": "VpcSecurityGroupIds",
    "publiclyAccessible": "PubliclyAccessible",
    "parameterGroupName": "DBParameterGroupName",
    "caCertIdentifier": "CACertificateIdentifier",
    "backupRetentionPeriod": "BackupRetentionPeriod",
    "backupWindow": "PreferredBackupWindow",
    "maintenanceWindow": "PreferredMaintenanceWindow",
    "autoMinorVersionUpgrade": "AutoMinorVersionUpgrade",
    "copyTagsToSnapshot": "CopyTagsToSnapshot",
    "deletionProtection": "DeletionProtection",
    "performanceInsightsEnabled": "EnablePerformanceInsights",
    "performanceInsightsKmsKeyId": "PerformanceInsightsKMSKeyId",
    "performanceInsightsRetentionPeriod": "PerformanceInsightsRetentionPeriod",
    "enabledCloudwatchLogsExports": "EnableCloudwatchLogsExports",
}
"""The provider's DB instance arguments and their `CreateDBInstance` parameters."""


PERFORMANCE_INSIGHTS = "moto takes Performance Insights settings but does not model them"


def _check_family(aws: Aws, inputs: Inputs) -> None:
    """RDS refuses a parameter group of another engine or major version (InvalidParameterCombination);
    moto takes any."""
    if "parameterGroupName" not in inputs:
        return
    (group,) = aws.client("rds").describe_db_parameter_groups(
        DBParameterGroupName=inputs["parameterGroupName"]
    )["DBParameterGroups"]
    expected = f"{inputs['engine']}{str(inputs.get('engineVersion', '')).split('.')[0]}"
    if group["DBParameterGroupFamily"] != expected:
        raise ValueError(
            f"InvalidParameterCombination: parameter group {inputs['parameterGroupName']} is of family "
            f"{group['DBParameterGroupFamily']}, the instance needs {expected}"
        )


@translates(
    "aws:rds/instance:Instance",
    provider_only={
        "skipFinalSnapshot": "sent with DeleteDBInstance on destroy",
        "finalSnapshotIdentifier": "sent with DeleteDBInstance on destroy",
        "allowMajorVersionUpgrade": "sent with ModifyDBInstance when engineVersion changes",
        "applyImmediately": "sent with ModifyDBInstance on later changes",
    },
    unchecked={
        "performanceInsightsEnabled": PERFORMANCE_INSIGHTS,
        "performanceInsightsRetentionPeriod": PERFORMANCE_INSIGHTS,
        "maintenanceWindow": "moto checks the window's format and overlap only; no maintenance happens",
    },
)
def instance(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateDBInstance with every declared argument; outputs from DescribeDBInstances."""
    _check_family(aws, inputs)
    identifier = (
        str(inputs["identifier"]) if "identifier" in inputs else autoname(name, max_length=63, lower=True)
    )
    parameters = inputs.renamed(INSTANCE_PARAMETERS)
    rds = aws.client("rds")
    rds.create_db_instance(DBInstanceIdentifier=identifier, Tags=aws.tag_list(inputs), **parameters)
    (created,) = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    endpoint = created["Endpoint"]
    secrets = [created["MasterUserSecret"]] if "MasterUserSecret" in created else []
    return identifier, {
        "arn": created["DBInstanceArn"],
        "identifier": identifier,
        "address": endpoint["Address"],
        "port": endpoint["Port"],
        "endpoint": f"{endpoint['Address']}:{endpoint['Port']}",
        "engineVersionActual": created["EngineVersion"],
        "resourceId": created["DbiResourceId"],
        "kmsKeyId": created.get("KmsKeyId"),
        "masterUserSecrets": [
            {"secretArn": s["SecretArn"], "kmsKeyId": s["KmsKeyId"], "secretStatus": s["SecretStatus"]}
            for s in secrets
        ],
    }
