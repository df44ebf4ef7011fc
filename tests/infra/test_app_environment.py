"""infra/app_environment.py: appSettings and appSecrets, each rule with its message; the names the node stack
keeps for itself, read from the node stack's own code; references turned into the ARNs IAM checks."""

from __future__ import annotations

import re
from typing import Any

import pytest

from infra import app_environment
from infra.app_environment import AppSecret, Fetch, SecretsManagerSecret, SsmParameter
from infra.config import ConfigError
from tests.conftest import ROOT
from tests.infra.test_config import parse

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-0a1b2c3d-AbC123"  # noqa: S105 - an ARN, no secret
PARAMETER_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/app/prod/secret-key"


def test_settings_and_secrets_default_to_none() -> None:
    app = parse("prod", appSettings={}, appSecrets={}).app
    assert app.settings == {}
    assert app.secrets == ()


def test_settings_and_secret_references_are_read() -> None:
    app = parse(
        "prod",
        appSettings={"LOG_FORMAT": "json", "FEATURE_X": ""},
        appSecrets={
            "SECRET_KEY": {"ssmParameter": "/app/prod/secret-key"},
            "DB_PASSWORD": {"secretsManager": SECRET_ARN, "jsonKey": "password"},
            "API_TOKEN": {"ssmParameter": PARAMETER_ARN},
        },
    ).app
    assert app.settings == {"LOG_FORMAT": "json", "FEATURE_X": ""}
    assert app.secrets == (
        AppSecret(name="SECRET_KEY", source=SsmParameter(name="/app/prod/secret-key")),
        AppSecret(name="DB_PASSWORD", source=SecretsManagerSecret(arn=SECRET_ARN, json_key="password")),
        AppSecret(name="API_TOKEN", source=SsmParameter(name=PARAMETER_ARN)),
    )


RULES = [
    pytest.param(
        {"appSettings": ["LOG=1"]},
        "appSettings = ['LOG=1']: expected an object of NAME: value",
        id="settings-not-an-object",
    ),
    pytest.param(
        {"appSettings": {"log_level": "info"}},
        "appSettings = 'log_level': expected an environment variable name matching ^[A-Z_][A-Z0-9_]*$",
        id="setting-name-lower-case",
    ),
    pytest.param(
        {"appSettings": {"1ST": "x"}},
        "appSettings = '1ST': expected an environment variable name",
        id="setting-name-leading-digit",
    ),
    pytest.param(
        {"appSettings": {"WEB_CONCURRENCY": "4"}},
        "appSettings = 'WEB_CONCURRENCY': expected a name the node stack does not use",
        id="setting-reserved-name",
    ),
    pytest.param(
        {"appSettings": {"GUNICORN_TIMEOUT": "30"}},
        "appSettings = 'GUNICORN_TIMEOUT': expected a name the node stack does not use",
        id="setting-reserved-prefix",
    ),
    pytest.param(
        {"appSettings": {"PYTHONPATH": "/srv/lib"}},
        "appSettings = 'PYTHONPATH': expected a name the node stack does not use",
        id="setting-interpreter-variable",
    ),
    pytest.param(
        {"appSettings": {"AWS_ENDPOINT_URL": "http://evil"}},
        "appSettings = 'AWS_ENDPOINT_URL': expected a name the node stack does not use",
        id="setting-aws-sdk-variable",
    ),
    pytest.param(
        {"appSettings": {"LIMIT": 10}},
        "appSettings.LIMIT = 10: expected a string on one line",
        id="setting-not-a-string",
    ),
    pytest.param(
        {"appSettings": {"CERT": "-----BEGIN\nabc"}},
        "appSettings.CERT = '-----BEGIN\\nabc': expected a string on one line (a multi-line value",
        id="setting-multi-line",
    ),
    pytest.param(
        {"appSettings": {"BIG": "x" * 3000}},
        "appSettings = '3004 bytes of NAME=value': expected at most 2048 bytes in all",
        id="settings-too-large",
    ),
    pytest.param(
        {"appSecrets": {"SECRET_KEY": "/app/prod/secret-key"}},
        "appSecrets.SECRET_KEY = '/app/prod/secret-key': expected {ssmParameter: <name or ARN>} or "
        "{secretsManager: <secret ARN>, jsonKey: <optional key>}",
        id="secret-not-a-reference",
    ),
    pytest.param(
        {"appSecrets": {"SECRET_KEY": {"ssmParameter": "/app/prod/secret key"}}},
        "expected ssmParameter: a parameter name such as '/app/prod/secret-key', or its ARN",
        id="parameter-name-with-space",
    ),
    pytest.param(
        {"appSecrets": {"SECRET_KEY": {"ssmParameter": "/a", "jsonKey": "k"}}},
        "expected {ssmParameter: <name or ARN>} or",
        id="parameter-with-json-key",
    ),
    pytest.param(
        {"appSecrets": {"DB": {"secretsManager": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}}},
        "expected secretsManager: a secret's full ARN, ending in AWS's six-character suffix (-AbC123)",
        id="secret-partial-arn",
    ),
    pytest.param(
        {"appSecrets": {"DB": {"secretsManager": "my-db-secret"}}},
        "expected secretsManager: a secret's full ARN",
        id="secret-by-name",
    ),
    pytest.param(
        {"appSecrets": {"DB": {"secretsManager": SECRET_ARN, "jsonKey": "pass word"}}},
        "expected jsonKey: a key of the secret's JSON object, without spaces",
        id="json-key-with-space",
    ),
    pytest.param(
        {"appSecrets": {"FORWARDED_ALLOW_IPS": {"ssmParameter": "/a"}}},
        "appSecrets = 'FORWARDED_ALLOW_IPS': expected a name the node stack does not use",
        id="secret-reserved-name",
    ),
    pytest.param(
        {"appSettings": {"SECRET_KEY": "x"}, "appSecrets": {"SECRET_KEY": {"ssmParameter": "/a"}}},
        "appSecrets = 'SECRET_KEY': expected a name that is not also in appSettings",
        id="setting-and-secret-same-name",
    ),
    pytest.param(
        {"appSettings": {"TZ": "Europe/Paris"}},
        "appSettings = 'TZ': expected with releaseCommand set, a name Lambda accepts",
        id="setting-lambda-reserves",
    ),
    pytest.param(
        {"appSettings": {"_TRACE": "1"}},
        "appSettings = '_TRACE': expected with releaseCommand set, a name Lambda accepts",
        id="setting-lambda-refuses-leading-underscore",
    ),
    pytest.param(
        {"appSettings": {"X": "1"}},
        "appSettings = 'X': expected with releaseCommand set, a name Lambda accepts",
        id="setting-lambda-refuses-one-letter",
    ),
    pytest.param(
        {"appSecrets": {f"S{i}": {"ssmParameter": f"/s{i}"} for i in range(21)}},
        "appSecrets = '21 secrets': expected at most 20",
        id="too-many-secrets",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), RULES)
def test_each_rule_names_the_key_the_value_and_what_is_allowed(
    overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        parse("prod", **overrides)
    assert str(error.value).startswith("app")
    assert message in str(error.value)


def test_names_only_lambda_refuses_pass_without_a_release_command() -> None:
    """dev has no release function: its settings never become a Lambda environment."""
    settings = {"TZ": "Europe/Paris", "_TRACE": "1", "X": "1"}
    assert parse("dev", appSettings=settings).app.settings == settings


def _names_read(text: str, patterns: list[str]) -> set[str]:
    return {name for pattern in patterns for name in re.findall(pattern, text)}


def test_every_variable_the_node_stack_reads_is_reserved() -> None:
    """The names gunicorn's settings, the app server and nginx's render.sh read, found in their code."""
    appserver = "".join(path.read_text() for path in (ROOT / "docker" / "appserver").glob("*.py"))
    read_by_appserver = _names_read(
        appserver,
        [r"env\.get\(\s*\"([A-Z_][A-Z0-9_]*)\"", r"env\[\"([A-Z_][A-Z0-9_]*)\"\]", r"\"([A-Z]+_[A-Z_]+)\""],
    )
    render = (ROOT / "docker" / "nginx" / "render.sh").read_text()
    read_by_render = _names_read(render, [r"\$\{([A-Z_][A-Z0-9_]*)[:}\-=]", r"\$([A-Z_][A-Z0-9_]*)\b"])
    assert read_by_appserver, "found no variable in docker/appserver: the patterns no longer match its code"
    assert read_by_render, "found no variable in render.sh: the patterns no longer match its code"
    unreserved = {
        name
        for name in read_by_appserver | read_by_render
        if not app_environment.is_reserved(name) and name not in _RENDER_LOCALS | _WSGI_ENVIRON
    }
    assert not unreserved, f"variables the node stack reads that a setting could take: {sorted(unreserved)}"


_RENDER_LOCALS = frozenset(
    {"EX_USAGE", "SEPARATORS", "TEMPLATE_DIR", "UPSTREAM_KEEPALIVE", "HTTPS_REDIRECT_PORT", "SOMAXCONN", "NF"}
)
"""render.sh's own variables (set in the script, never read from the environment), and awk's `$NF`."""
_WSGI_ENVIRON = frozenset({"HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO", "REMOTE_ADDR"})
"""Keys of a request's WSGI environ that the proxy fix reads (docker/appserver/proxy.py), not variables."""


@pytest.mark.parametrize(
    ("name", "arn"),
    [
        ("/app/prod/secret-key", "arn:aws:ssm:us-east-1:123456789012:parameter/app/prod/secret-key"),
        ("secret-key", "arn:aws:ssm:us-east-1:123456789012:parameter/secret-key"),
        (PARAMETER_ARN, PARAMETER_ARN),
    ],
)
def test_a_parameter_name_becomes_the_arn_iam_checks_without_its_leading_slash(name: str, arn: str) -> None:
    assert app_environment.parameter_arn(name, region="us-east-1", account="123456789012") == arn


def test_partitions_follow_the_region() -> None:
    assert app_environment.parameter_arn("/a", region="cn-north-1", account="123456789012").startswith(
        "arn:aws-cn:ssm:cn-north-1:"
    )
    assert app_environment.partition_of("us-gov-west-1") == "aws-us-gov"
    assert app_environment.partition_of("eu-west-3") == "aws"


def test_references_resolve_to_fetches_in_their_own_region() -> None:
    elsewhere = SECRET_ARN.replace("us-east-1", "eu-west-1")
    secret = AppSecret(name="DB", source=SecretsManagerSecret(arn=elsewhere))
    fetch = app_environment.resolve(secret, elsewhere, region="us-east-1", account="123456789012")
    assert fetch == Fetch(name="DB", service="secretsmanager", arn=elsewhere)
    assert fetch.region == "eu-west-1"
    parameter = AppSecret(name="KEY", source=SsmParameter(name="/k"))
    assert app_environment.resolve(parameter, "/k", region="us-east-1", account="123456789012") == Fetch(
        name="KEY", service="ssm", arn="arn:aws:ssm:us-east-1:123456789012:parameter/k"
    )


def test_a_secret_arn_from_another_resource_is_checked_when_known() -> None:
    secret = AppSecret(name="DB", source=SecretsManagerSecret(arn="unknown until deploy"))
    with pytest.raises(app_environment.InvalidEntry, match="a Secrets Manager secret's full ARN"):
        app_environment.resolve(secret, "arn:aws:s3:::bucket", region="us-east-1", account="123456789012")


def test_the_program_adds_secrets_under_the_same_rules() -> None:
    base = parse("prod", appSettings={"LOG": "1"}, appSecrets={"KEY": {"ssmParameter": "/k"}}).app
    database = AppSecret(
        name="DATABASE_PASSWORD", source=SecretsManagerSecret(arn=SECRET_ARN, json_key="password")
    )
    assert app_environment.with_secrets(base, [database]).secrets[-1] == database
    for taken in ("LOG", "KEY", "GUNICORN_X"):
        clash = AppSecret(name=taken, source=SsmParameter(name="/x"))
        with pytest.raises(app_environment.InvalidEntry):
            app_environment.with_secrets(base, [clash])
