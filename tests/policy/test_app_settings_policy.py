"""policy rule `app-settings-not-secret`: plain settings that look like secrets, by name or value, are refused
on the launch template whose user data carries them; the message names the setting, never its value."""

from __future__ import annotations

import base64
import secrets as randomness

import pytest

from infra import user_data
from infra.app_environment import Fetch
from secret_patterns import app_settings, entropy, why_secret
from tests.infra.support import node
from tests.policy.support import Declared, resource_violations

LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
PARAMETER = "arn:aws:ssm:us-east-1:123456789012:parameter/app/prod/secret-key"


def template(settings: dict[str, str], *, secrets: bool = False) -> Declared:
    """A launch template whose user data runs the app with these settings."""
    fetches = (Fetch(name="SECRET_KEY", service="ssm", arn=PARAMETER),) if secrets else ()
    script = user_data.render(node(app_settings=settings, app_secrets=fetches))
    return Declared(
        type=LAUNCH_TEMPLATE, name="nodes-lt", props={"userData": base64.b64encode(script.encode()).decode()}
    )


def violations(settings: dict[str, str]) -> list[str]:
    return [
        message
        for name, message in resource_violations(template(settings))
        if name == "app-settings-not-secret"
    ]


PLAIN = {
    "LOG_FORMAT": "json",
    "FLASK_ENV": "production",
    "APP_VERSION": "0f3c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a39",  # a commit: hex stays under the entropy bar
    "IMAGE_DIGEST": "sha256:" + "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "DATABASE_HOST": "db.internal.example.com",
    "DATABASE_URL_TEMPLATE": "postgresql://db.internal.example.com:5432/app?sslmode=verify-full",
    "SENTRY_ENVIRONMENT": "prod-eu-west-1",
    "UPLOAD_DIR": "/srv/uploads/incoming/processed",
    "ALLOWED_HOSTS": "app.example.com,www.example.com",
    "KEYBOARD_LAYOUT": "fr",
    "CORS_ORIGINS": "https://app.example.com https://admin.example.com",
}


def test_plain_settings_pass() -> None:
    assert violations(PLAIN) == []


def test_the_secrets_file_variable_the_program_sets_is_no_setting_to_judge() -> None:
    declared = template({"LOG_FORMAT": "json"}, secrets=True)
    assert app_settings(declared.props["userData"])["APP_SECRETS_FILE"] == "/run/secrets/app/env.json"
    assert [v for v in resource_violations(declared) if v[0] == "app-settings-not-secret"] == []


RANDOM = "q8ZtR2vLx0Wm7KpB4nYc9HsE"  # what token_urlsafe(18) gives: 24 characters


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("DB_PASSWORD", "hunter2", "its name has PASSWORD"),
        ("SECRET_KEY", "dev", "its name has KEY, SECRET"),
        ("GITHUB_TOKEN", "x", "its name has TOKEN"),
        ("STRIPE_API_KEY", "x", "its name has KEY"),
        ("AWS_CREDENTIALS", "x", "its name has CREDENTIALS"),
        ("SIGNING_PRIVATE", "x", "its name has PRIVATE"),
        ("SENTRY_DSN", "https://abc@o1.ingest.sentry.io/1", "its name has DSN"),
        ("UPSTREAM", "AKIAIOSFODNN7EXAMPLE", "its value holds an AWS access key id"),
        ("CERT", "-----BEGIN RSA PRIVATE KEY----- MIIE", "its value holds a private key block"),
        (
            "DATABASE_URL",
            "postgresql://app:hunter2@db.internal:5432/app",
            "its value holds a URL with a password",
        ),
        ("REDIS_URL", "redis://:hunter2@cache:6379/0", "its value holds a URL with a password"),
        ("GH", "ghp_" + "a1B2" * 9, "its value holds a GitHub token"),
        ("WEBHOOK", "xoxb-123456789012-abcdefABCDEF", "its value holds a Slack token"),
        ("OPAQUE", RANDOM, "its value holds a run of 20+ random-looking characters"),
    ],
)
def test_settings_that_look_secret_are_refused_naming_the_setting_not_the_value(
    name: str, value: str, reason: str
) -> None:
    (message,) = violations({name: value})
    assert message.startswith(f"app setting {name} looks like a secret ({reason})")
    assert "move it to appSecrets" in message
    assert value not in message


def test_random_tokens_are_caught_and_hex_words_and_paths_are_not() -> None:
    assert entropy("0123456789abcdef" * 2) == 4.0
    tokens = [randomness.token_urlsafe(18) for _ in range(2000)]
    caught = sum(why_secret("OPAQUE", token) is not None for token in tokens) / len(tokens)
    assert caught > 0.95, caught
    for plain in (
        randomness.token_hex(32),
        randomness.token_hex(32).upper(),
        "America/Argentina/Buenos_Aires",
        "ThisIsAnOrdinaryCamelCaseName",
        "/srv/app/static/uploads/2024/archive",
    ):
        assert why_secret("VALUE", plain) is None, plain


def test_a_user_data_not_known_yet_is_not_judged() -> None:
    unknown = Declared(type=LAUNCH_TEMPLATE, name="nodes-lt", props={})
    assert [v for v in resource_violations(unknown) if v[0] == "app-settings-not-secret"] == []
    assert why_secret("LOG_LEVEL", "info") is None
