"""The prod stack's secret reference on moto: the plan names what the nodes read at boot, and the role policy
moto holds grants exactly that parameter's ARN, in the account moto answers with."""

from __future__ import annotations

import json
from urllib.parse import unquote

import boto3  # type: ignore[import-untyped]

from offline.app_secrets import read_at_boot
from offline.plan import render
from offline.stack import deploy, project_name, stack_config


def test_prod_names_its_secret_and_grants_exactly_its_parameter() -> None:
    config = json.loads(stack_config("prod")[f"{project_name()}:appSecrets"])
    name = config["SECRET_KEY"]["ssmParameter"]
    with deploy("prod") as deployment:
        account = boto3.client("sts", region_name=deployment.region).get_caller_identity()["Account"]
        arn = f"arn:aws:ssm:{deployment.region}:{account}:parameter/{name.removeprefix('/')}"
        (instance,) = boto3.client("rds", region_name=deployment.region).describe_db_instances()[
            "DBInstances"
        ]
        database = instance["MasterUserSecret"]["SecretArn"]
        # The app's own secret, then its database's user and password from the secret RDS manages.
        assert read_at_boot(deployment.mocks.created) == [
            f"  nodes-lt: SECRET_KEY <- ssm {arn}",
            f"  nodes-lt: DATABASE_USER <- secretsmanager {database} key username",
            f"  nodes-lt: DATABASE_PASSWORD <- secretsmanager {database} key password",
        ]
        lines = list(render(deployment))
        iam = boto3.client("iam", region_name=deployment.region)
        (role,) = [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith("nodes-role")]
        (policy_name,) = [
            p for p in iam.list_role_policies(RoleName=role)["PolicyNames"] if "app-secrets" in p
        ]
        document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    statements = json.loads(unquote(document)) if isinstance(document, str) else document
    (read,) = [s for s in statements["Statement"] if s["Sid"] == "ReadParameters"]
    assert read["Resource"] == [arn]
    heading = "Secrets the nodes read at boot (the user's: neither created nor read offline)"
    assert lines[lines.index(heading) + 1] == f"  nodes-lt: SECRET_KEY <- ssm {arn}"


def test_dev_reads_no_secret() -> None:
    with deploy("dev") as deployment:
        assert read_at_boot(deployment.mocks.created) == []
