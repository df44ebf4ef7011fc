"""infra/compute.py with the app's settings and secrets: the grant to read them, the references (a name, an
ARN from config, an ARN another resource outputs) in the user data, and no node before the grant."""

from __future__ import annotations

import base64
import json

import pulumi
import pulumi_aws as aws
import pytest

from infra import node_secrets
from infra.app_environment import AppEnvironment, AppSecret, SecretsManagerSecret, SsmParameter
from tests.conftest import ACCOUNT, Harness, spy_options
from tests.infra import test_compute

SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:rds!db-0a1b2c3d-AbC123"
APP = AppEnvironment(
    settings={"LOG_FORMAT": "json"},
    secrets=(
        AppSecret(name="SECRET_KEY", source=SsmParameter(name="/app/prod/secret-key")),
        # As a database component hands it over: an Output, known only once the database exists.
        AppSecret(
            name="DATABASE_PASSWORD",
            source=SecretsManagerSecret(arn=pulumi.Output.from_input(SECRET), json_key="password"),
        ),
    ),
)
PARAMETER = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/prod/secret-key"


def build(harness: Harness, app: AppEnvironment = APP) -> None:
    test_compute.build(harness, app=app)


@pytest.fixture
def compute(harness: Harness) -> None:
    build(harness)


def user_data(harness: Harness) -> str:
    template = harness.mocks.one("aws:ec2/launchTemplate:LaunchTemplate")
    return base64.b64decode(template.inputs["userData"]).decode()


@pytest.mark.usefixtures("compute")
def test_the_node_role_may_read_exactly_the_referenced_items(harness: Harness) -> None:
    document = json.loads(
        harness.mocks.one("aws:iam/rolePolicy:RolePolicy", "nodes-app-secrets").inputs["policy"]
    )
    resources = {s["Sid"]: s["Resource"] for s in document["Statement"]}
    assert resources["ReadParameters"] == [PARAMETER]
    assert resources["ReadSecrets"] == [SECRET]
    assert ("aws:index/getCallerIdentity:getCallerIdentity", {}) in harness.mocks.invokes


@pytest.mark.usefixtures("compute")
def test_the_user_data_carries_settings_and_references_never_values(harness: Harness) -> None:
    script = user_data(harness)
    assert "--env LOG_FORMAT=json" in script
    references = json.loads(script.split("<<'REFERENCES'\n", 1)[1].split("\nREFERENCES\n", 1)[0])
    assert references["secrets"] == [
        {"name": "SECRET_KEY", "service": "ssm", "arn": PARAMETER},
        {"name": "DATABASE_PASSWORD", "service": "secretsmanager", "arn": SECRET, "jsonKey": "password"},
    ]
    assert f"systemctl enable --now {node_secrets.UNIT}" in script


def test_no_node_launches_before_its_role_may_read_the_secrets(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = spy_options(monkeypatch, aws.ec2.LaunchTemplate)
    build(harness)
    (opts,) = options
    assert "nodes-app-secrets" in {resource._name for resource in opts.depends_on}


def test_without_secrets_there_is_no_grant_and_no_lookup(harness: Harness) -> None:
    build(harness, AppEnvironment(settings={"LOG_FORMAT": "json"}, secrets=()))
    names = {r.name for r in harness.mocks.of_type("aws:iam/rolePolicy:RolePolicy")}
    assert names == {"nodes-ecr-pull", "nodes-logs"}
    assert node_secrets.UNIT not in user_data(harness)
    assert "--env LOG_FORMAT=json" in user_data(harness)
