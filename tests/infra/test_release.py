"""infra/release.py: the release function, what it may touch, and the invocation that runs a release."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from appserver import lambda_release
from iam_eval import Decision, Principal, Request, evaluate
from infra import policies, release
from infra.app_environment import AppEnvironment, AppSecret, Fetch, SecretsManagerSecret, SsmParameter
from infra.config import PROJECT, RELEASE_TIMEOUT_LIMIT_SECONDS, ReleaseSettings
from infra.release import Release, ReleaseArgs
from tests.conftest import Harness, spy_options

ACCOUNT = "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
IMAGE = f"{REGISTRY}/{PROJECT}/prod/release@sha256:{'c' * 64}"
REPOSITORY_ARN = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{PROJECT}/prod/release"
DATABASE_SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:rds!db-0a1b2c3d-AbCdEf"
PARAMETER = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/{PROJECT}/prod/api-key"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{PROJECT}-prod-release"
COMMAND = ("flask", "db", "upgrade")
APP = AppEnvironment(
    settings={"DATABASE_HOST": pulumi.Output.from_input("db.internal"), "LOG_FORMAT": "json"},
    secrets=(
        AppSecret(name="SECRET_KEY", source=SsmParameter(name=f"/{PROJECT}/prod/api-key")),
        AppSecret(
            name="DATABASE_PASSWORD",
            source=SecretsManagerSecret(arn=pulumi.Output.from_input(DATABASE_SECRET), json_key="password"),
        ),
    ),
)


def build(
    harness: Harness, image: str = IMAGE, after: Sequence[pulumi.Resource] = (), architecture: str = "x86_64"
) -> None:
    def program() -> pulumi.Output[Any]:
        made = Release(
            "release",
            ReleaseArgs(
                settings=ReleaseSettings(command=COMMAND, timeout_seconds=600),
                stack="prod",
                region="us-east-1",
                image=image,
                repository_name=f"{PROJECT}/prod/release",
                subnet_ids=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                security_group_id="sg-0123456789abcdef0",
                app=APP,
                log_retention_days=30,
                architecture=architecture,
                after=after,
            ),
        )
        assert made.invocation is not None
        return made.invocation.input

    harness.evaluate(program)


@pytest.fixture
def built(harness: Harness) -> None:
    build(harness)


def function(harness: Harness) -> dict[str, Any]:
    inputs: dict[str, Any] = harness.mocks.one("aws:lambda/function:Function").inputs
    return inputs


def role_policy(harness: Harness, name: str) -> str:
    document: str = harness.mocks.one("aws:iam/rolePolicy:RolePolicy", name).inputs["policy"]
    return document


def as_role(action: str, resource: str) -> Request:
    return Request(
        principal=Principal(arn=f"arn:aws:iam::{ACCOUNT}:role/release"), action=action, resource=resource
    )


@pytest.mark.usefixtures("built")
def test_the_release_runs_from_the_release_image_in_the_private_subnets(harness: Harness) -> None:
    made = function(harness)
    assert made["packageType"] == "Image"
    assert made["imageUri"] == IMAGE
    assert "reservedConcurrentExecutions" not in made
    assert made["timeout"] == 600
    assert made["timeout"] <= RELEASE_TIMEOUT_LIMIT_SECONDS
    assert made["vpcConfig"]["subnetIds"] == ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    assert made["vpcConfig"]["securityGroupIds"] == ["sg-0123456789abcdef0"]
    assert made["name"] == f"{PROJECT}-prod-release"


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
def test_lambda_runs_the_release_image_on_the_nodes_architecture(harness: Harness, architecture: str) -> None:
    build(harness, architecture=architecture)
    assert function(harness)["architectures"] == [architecture]


@pytest.mark.usefixtures("built")
def test_the_invocation_carries_the_image_and_command_so_each_release_runs_once(harness: Harness) -> None:
    invocation = harness.mocks.one("aws:lambda/invocation:Invocation").inputs
    assert json.loads(invocation["input"]) == {"image": IMAGE, "command": list(COMMAND)}
    # CREATE_ONLY (the default): a new input replaces the invocation, and only a replacement invokes.
    assert invocation.get("lifecycleScope", "CREATE_ONLY") == "CREATE_ONLY"
    assert invocation["functionName"] == function(harness)["name"]


def test_a_new_image_is_a_new_input_and_the_same_image_the_same() -> None:
    other = IMAGE.replace("c" * 64, "d" * 64)
    assert release.release_payload(IMAGE, COMMAND) == release.release_payload(IMAGE, COMMAND)
    assert release.release_payload(IMAGE, COMMAND) != release.release_payload(other, COMMAND)
    assert release.release_payload(IMAGE, COMMAND) != release.release_payload(IMAGE, ("alembic", "upgrade"))


@pytest.mark.usefixtures("built")
def test_the_role_reads_exactly_the_apps_secrets(harness: Harness) -> None:
    document = role_policy(harness, "release-app-secrets")
    assert evaluate(document, as_role("secretsmanager:GetSecretValue", DATABASE_SECRET)) is Decision.ALLOW
    assert evaluate(document, as_role("ssm:GetParameters", PARAMETER)) is Decision.ALLOW
    other_secret = DATABASE_SECRET.replace("0a1b2c3d", "99999999")
    assert (
        evaluate(document, as_role("secretsmanager:GetSecretValue", other_secret)) is Decision.IMPLICIT_DENY
    )
    assert evaluate(document, as_role("ssm:GetParameters", PARAMETER + "-other")) is Decision.IMPLICIT_DENY
    assert (
        evaluate(document, as_role("secretsmanager:PutSecretValue", DATABASE_SECRET))
        is Decision.IMPLICIT_DENY
    )


@pytest.mark.usefixtures("built")
def test_the_role_writes_its_own_log_group_and_places_the_function_in_the_vpc(harness: Harness) -> None:
    document = role_policy(harness, "release-grant")
    group = harness.mocks.one("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["name"] == f"/aws/lambda/{PROJECT}-prod-release"
    assert group.inputs["retentionInDays"] == 30
    stream = f"{group.state['arn']}:log-stream:2026/12/06/[$LATEST]abc"
    assert evaluate(document, as_role("logs:PutLogEvents", stream)) is Decision.ALLOW
    other = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/other:log-stream:x"
    assert evaluate(document, as_role("logs:PutLogEvents", other)) is Decision.IMPLICIT_DENY
    assert function(harness)["loggingConfig"]["logGroup"] == group.inputs["name"]
    for action in policies.VPC_INTERFACE_ACTIONS:
        assert evaluate(document, as_role(action, "*")) is Decision.ALLOW


@pytest.mark.usefixtures("built")
def test_lambda_may_pull_the_image_for_this_function_and_no_other(harness: Harness) -> None:
    document = harness.mocks.one("aws:ecr/repositoryPolicy:RepositoryPolicy").inputs["policy"]
    lambda_service = Principal(service="lambda.amazonaws.com")
    for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"):
        ours = Request(
            principal=lambda_service,
            action=action,
            resource=REPOSITORY_ARN,
            context={"aws:SourceArn": FUNCTION},
        )
        assert evaluate(document, ours) is Decision.ALLOW
        theirs = Request(
            principal=lambda_service,
            action=action,
            resource=REPOSITORY_ARN,
            context={"aws:SourceArn": FUNCTION + "-other"},
        )
        assert evaluate(document, theirs) is Decision.IMPLICIT_DENY
    push = Request(
        principal=lambda_service,
        action="ecr:PutImage",
        resource=REPOSITORY_ARN,
        context={"aws:SourceArn": FUNCTION},
    )
    assert evaluate(document, push) is Decision.IMPLICIT_DENY


def test_the_function_waits_for_its_role_grant_pull_permission_and_log_group(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = spy_options(monkeypatch, aws.lambda_.Function)
    build(harness)
    (made,) = options
    kinds = {type(dependency).__name__ for dependency in made.depends_on}
    assert kinds == {"RolePolicy", "RepositoryPolicy", "LogGroup"}
    assert len(made.depends_on) == 4


def test_the_command_runs_once_the_database_admits_the_function(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = spy_options(monkeypatch, aws.lambda_.Invocation)
    rule = aws.vpc.SecurityGroupIngressRule(
        "database-in-postgres", security_group_id="sg-0", ip_protocol="tcp"
    )
    build(harness, after=[rule])
    (made,) = options
    assert made.depends_on == [rule]


@pytest.mark.usefixtures("built")
def test_the_function_holds_the_settings_and_where_the_secrets_are_never_their_values(
    harness: Harness,
) -> None:
    variables = function(harness)["environment"]["variables"]
    assert variables["DATABASE_HOST"] == "db.internal"
    assert variables["LOG_FORMAT"] == "json"
    # What the handler reads them by: the name it looks for, and references it understands.
    assert set(variables) == {"DATABASE_HOST", "LOG_FORMAT", lambda_release.REFERENCES}
    references = json.loads(variables[lambda_release.REFERENCES])
    assert references == [
        {"name": "SECRET_KEY", "service": "ssm", "arn": PARAMETER},
        {
            "name": "DATABASE_PASSWORD",
            "service": "secretsmanager",
            "arn": DATABASE_SECRET,
            "jsonKey": "password",
        },
    ]


def test_without_a_release_command_nothing_is_declared_and_the_nodes_wait_for_nothing(
    harness: Harness,
) -> None:
    def program() -> pulumi.Output[Any]:
        made = Release(
            "release",
            ReleaseArgs(
                settings=None,
                stack="dev",
                region="us-east-1",
                image=IMAGE,
                repository_name=f"{PROJECT}/dev/release",
                subnet_ids=["subnet-0123456789abcdef0"],
                security_group_id="sg-0123456789abcdef0",
                app=APP,
                log_retention_days=7,
                architecture="x86_64",
            ),
        )
        assert made.before_nodes() == []
        return pulumi.Output.from_input(0)

    harness.evaluate(program)
    assert [r.typ for r in harness.mocks.resources] == [f"{PROJECT}:release:Release"]


def test_an_environment_over_lambdas_4_kb_is_refused_naming_its_size() -> None:
    fetches = [Fetch(name=f"SECRET_{n}", service="ssm", arn=f"{PARAMETER}-{n:02d}") for n in range(20)]
    within = release.environment({"LOG_FORMAT": "json"}, fetches[:5])
    assert json.loads(within[lambda_release.REFERENCES])[0]["name"] == "SECRET_0"
    with pytest.raises(ValueError, match=r"environment .* is \d+ bytes; Lambda takes 4096"):
        release.environment({"NOTE": "x" * 2000}, fetches)
