"""infra/policies.py `read_app_secrets`, evaluated as IAM does (policy/iam_eval.py) on the requests AWS really
checks: the node's GetParameters on the parameter's ARN, its GetSecretValue on the secret's ARN, and the
kms:Decrypt each service makes for it, with kms:ViaService and the encryption context the service sets."""

from __future__ import annotations

import json

import pytest

from iam_eval import Decision, Principal, Request, evaluate
from infra import app_environment, policies
from infra.app_environment import Fetch
from tests.policy.support import Declared, resource_violations

ACCOUNT = "123456789012"
NODE = Principal(arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/nodes-role-1a2b3c4/i-0123456789abcdef0")
PARAMETER = app_environment.parameter_arn("/app/prod/secret-key", region="us-east-1", account=ACCOUNT)
OTHER_PARAMETER = f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/app/prod/other"
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:rds!db-0a1b2c3d-AbC123"
OTHER_SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:rds!db-ffffffff-ZzZzZz"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
DOCUMENT = policies.read_app_secrets(
    [
        Fetch(name="SECRET_KEY", service="ssm", arn=PARAMETER),
        Fetch(name="DB_USER", service="secretsmanager", arn=SECRET, json_key="username"),
        Fetch(name="DB_PASSWORD", service="secretsmanager", arn=SECRET, json_key="password"),
    ]
)


def decrypt(via: str | None, context: dict[str, str], key: str = KEY) -> Request:
    """kms:Decrypt as KMS evaluates it: the service that asks (absent for a direct call) and the context."""
    keys: dict[str, str] = {f"kms:EncryptionContext:{name}": value for name, value in context.items()}
    if via is not None:
        keys["kms:ViaService"] = via
    return Request(principal=NODE, action="kms:Decrypt", resource=key, context=keys)


def test_every_action_exists_and_its_resources_fit_the_service_authorization_reference() -> None:
    role_policy = Declared(
        type="aws:iam/rolePolicy:RolePolicy", name="nodes-app-secrets", props={"policy": DOCUMENT}
    )
    assert resource_violations(role_policy) == []


def test_the_node_reads_exactly_its_parameters_and_secrets() -> None:
    read = Request(principal=NODE, action="ssm:GetParameters", resource=PARAMETER)
    assert evaluate(DOCUMENT, read) is Decision.ALLOW
    assert evaluate(
        DOCUMENT, Request(principal=NODE, action="ssm:GetParameters", resource=OTHER_PARAMETER)
    ) is (Decision.IMPLICIT_DENY)
    # A path's other parameters: GetParametersByPath is not granted either.
    by_path = Request(principal=NODE, action="ssm:GetParametersByPath", resource=PARAMETER)
    assert evaluate(DOCUMENT, by_path) is Decision.IMPLICIT_DENY
    value = Request(principal=NODE, action="secretsmanager:GetSecretValue", resource=SECRET)
    assert evaluate(DOCUMENT, value) is Decision.ALLOW
    other = Request(principal=NODE, action="secretsmanager:GetSecretValue", resource=OTHER_SECRET)
    assert evaluate(DOCUMENT, other) is Decision.IMPLICIT_DENY
    for write in ("ssm:PutParameter", "secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret"):
        assert (
            evaluate(DOCUMENT, Request(principal=NODE, action=write, resource=SECRET))
            is Decision.IMPLICIT_DENY
        )


@pytest.mark.parametrize(
    ("request_", "decision"),
    [
        pytest.param(
            decrypt("ssm.us-east-1.amazonaws.com", {"PARAMETER_ARN": PARAMETER}), Decision.ALLOW, id="ssm-own"
        ),
        pytest.param(
            decrypt("secretsmanager.us-east-1.amazonaws.com", {"SecretARN": SECRET, "SecretVersionId": "v1"}),
            Decision.ALLOW,
            id="secrets-manager-own",
        ),
        pytest.param(decrypt(None, {"PARAMETER_ARN": PARAMETER}), Decision.IMPLICIT_DENY, id="direct-call"),
        pytest.param(
            decrypt("ssm.us-east-1.amazonaws.com", {"PARAMETER_ARN": OTHER_PARAMETER}),
            Decision.IMPLICIT_DENY,
            id="ssm-other-parameter",
        ),
        pytest.param(
            decrypt("secretsmanager.us-east-1.amazonaws.com", {"SecretARN": OTHER_SECRET}),
            Decision.IMPLICIT_DENY,
            id="secrets-manager-other-secret",
        ),
        pytest.param(
            decrypt("secretsmanager.us-east-1.amazonaws.com", {"PARAMETER_ARN": PARAMETER}),
            Decision.IMPLICIT_DENY,
            id="parameter-context-through-the-wrong-service",
        ),
        pytest.param(
            decrypt("s3.us-east-1.amazonaws.com", {"PARAMETER_ARN": PARAMETER}),
            Decision.IMPLICIT_DENY,
            id="another-service",
        ),
        pytest.param(
            decrypt(
                "ssm.us-east-1.amazonaws.com",
                {"PARAMETER_ARN": PARAMETER},
                key=KEY.replace(ACCOUNT, "210987654321"),
            ),
            Decision.IMPLICIT_DENY,
            id="another-accounts-key",
        ),
    ],
)
def test_keys_decrypt_only_through_their_service_for_these_items(
    request_: Request, decision: Decision
) -> None:
    assert evaluate(DOCUMENT, request_) is decision


def test_no_statement_for_a_service_without_references() -> None:
    only_parameters = json.loads(policies.read_app_secrets([Fetch(name="K", service="ssm", arn=PARAMETER)]))
    assert {statement["Sid"] for statement in only_parameters["Statement"]} == {
        "ReadParameters",
        "DecryptParametersThroughSsm",
    }
    secret = Request(principal=NODE, action="secretsmanager:GetSecretValue", resource=SECRET)
    assert evaluate(only_parameters, secret) is Decision.IMPLICIT_DENY


def test_items_in_another_region_are_read_and_decrypted_through_that_regions_service() -> None:
    elsewhere = PARAMETER.replace("us-east-1", "eu-west-1")
    document = policies.read_app_secrets([Fetch(name="K", service="ssm", arn=elsewhere)])
    request = decrypt(
        "ssm.eu-west-1.amazonaws.com", {"PARAMETER_ARN": elsewhere}, key=KEY.replace("us-east-1", "eu-west-1")
    )
    assert evaluate(document, request) is Decision.ALLOW
    assert evaluate(document, decrypt("ssm.us-east-1.amazonaws.com", {"PARAMETER_ARN": elsewhere})) is (
        Decision.IMPLICIT_DENY
    )


def test_the_most_secrets_config_allows_fit_the_roles_inline_policy_quota() -> None:
    """IAM caps a role's inline policies at 10,240 characters in all, white space not counted."""
    long_name = "organisation/application/environment/" * 2
    fetches = [
        Fetch(
            name=f"S{i}", service="ssm", arn=f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/{long_name}{i:02d}"
        )
        for i in range(app_environment.MAX_SECRETS // 2)
    ] + [
        Fetch(
            name=f"T{i}",
            service="secretsmanager",
            arn=f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{long_name}{i:02d}-AbC123",
        )
        for i in range(app_environment.MAX_SECRETS // 2)
    ]
    repositories = [
        f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/flask-nginx-aws/prod/{t}" for t in ("app", "proxy")
    ]
    documents = [
        policies.read_app_secrets(fetches),
        policies.pull_images(repositories),
        policies.write_log_group(f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/flask-nginx-aws/prod/node"),
    ]
    size = sum(len("".join(document.split())) for document in documents)
    assert size <= 10240, size
