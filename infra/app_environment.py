"""The app container's environment from config: plain settings, and references to secrets the node fetches.

Pure: no Pulumi resources. `parse` checks the config values; `parameter_arn` and `Fetch` turn references into
what the node's role is granted and what the node asks AWS for. A value of a secret never passes through here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
"""An environment variable name the app may be given: upper case, digits and underscores, no leading digit."""
RESERVED_PREFIXES = ("GUNICORN_", "NGINX_", "PYTHON", "LD_", "AWS_")
"""Names the node stack reads (gunicorn's settings, docker/appserver/environment.py; nginx's, render.sh), the
interpreter reads (PYTHONPATH, PYTHONSTARTUP... change what runs), the loader reads (LD_PRELOAD), or the AWS
SDKs read (credentials, endpoints: a setting must not redirect the app's AWS calls)."""
SECRETS_FILE_VARIABLE = "APP_SECRETS_FILE"
"""Where the app's entry point finds the secrets the node fetched (docker/appserver/secrets.py)."""
RESERVED_NAMES = frozenset(
    {
        # docker/appserver/environment.py and the app's proxy handling.
        "WEB_CONCURRENCY",
        "FORWARDED_ALLOW_IPS",
        SECRETS_FILE_VARIABLE,
        # docker/appserver/lambda_release.py: where the release phase reads the app's secrets from.
        "APP_SECRET_REFERENCES",
        # docker/appserver/wsgi.py: the app's WSGI callable, the image's (config wsgiApp).
        "WSGI_APP",
        # docker/nginx/render.sh (the proxy's, refused for the app too: one namespace for the node stack).
        "HTTP_PORT",
        "HTTPS_PORT",
        "PUBLIC_HTTPS_PORT",
        "SERVER_NAME",
        "LISTEN_ADDRESS",
        "TLS_CERT",
        "TLS_KEY",
        "TLS_SELF_SIGNED",
        "TRUSTED_PROXY_CIDRS",
        "UPSTREAM",
        "STATIC_ROOT",
        "RATE_LIMIT",
        "RATE_LIMIT_BURST",
        "MALLOC_CONF",
        # The process's own: the image's search path and user.
        "PATH",
        "HOME",
        "HOSTNAME",
        "USER",
    }
)
"""Names the node stack, the interpreter or the container set or read: no setting or secret takes them."""
LAMBDA_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]+$")
"""A variable name Lambda accepts in a function's environment (Lambda API reference, `Environment`)."""
LAMBDA_RESERVED = frozenset({"TZ", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"})
"""Names the Lambda runtime sets and a function's configuration may not (Lambda Developer Guide, "Defined
runtime environment variables"); its other reserved names start with `_` or `AWS_`, refused already."""
SETTINGS_MAX_BYTES = 2048
"""All plain settings together, `NAME=value` each: they are `docker run --env` options in the user data,
which EC2 caps at 16 KB with the rest of the script and the secrets' fetch."""
MAX_SECRETS = 20
"""The most secrets a stack references: each is a line of the user data (16 KB in all, with the fetch
program) and two ARNs in the role's inline policy (10,240 characters for all of a role's inline policies, IAM
quotas)."""

_SSM_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):ssm:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):parameter/(?P<name>.+)$"
)
_SSM_NAME = re.compile(r"^/?[A-Za-z0-9_.\-/]{1,1011}$")
_SECRET_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):secretsmanager:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"secret:[A-Za-z0-9/_+=.@!-]+-[A-Za-z0-9]{6}$"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_JSON_KEY = re.compile(r"^[^\s]{1,256}$")


class InvalidEntry(ValueError):
    """A config entry that breaks a rule: the key, the value and what is allowed (infra.config makes it a
    ConfigError)."""

    def __init__(self, key: str, value: object, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key} = {value!r}: expected {allowed}")


@dataclass(frozen=True, kw_only=True)
class SsmParameter:
    """A SecureString parameter of SSM Parameter Store: its name (`/app/prod/secret-key`) or ARN."""

    name: pulumi.Input[str]


@dataclass(frozen=True, kw_only=True)
class SecretsManagerSecret:
    """A Secrets Manager secret by its full ARN (with AWS's six-character suffix), and optionally the key of
    the JSON object its SecretString holds (`password` of an RDS-managed master secret)."""

    arn: pulumi.Input[str]
    json_key: str | None = None


SecretSource = SsmParameter | SecretsManagerSecret


@dataclass(frozen=True, kw_only=True)
class AppSecret:
    """One environment variable of the app whose value the node fetches at start."""

    name: str
    source: SecretSource


@dataclass(frozen=True, kw_only=True)
class AppEnvironment:
    """The app container's plain settings and its secrets, validated."""

    settings: Mapping[str, pulumi.Input[str]]
    """From config, strings; the program may add another resource's outputs (a database's address)."""
    secrets: tuple[AppSecret, ...]

    @classmethod
    def empty(cls) -> AppEnvironment:
        """No settings, no secrets: the app as the image runs it."""
        return cls(settings={}, secrets=())


@dataclass(frozen=True, kw_only=True)
class Fetch:
    """What the node asks AWS for one secret, all resolved: no value, only where it is."""

    name: str
    """The environment variable."""
    service: Literal["ssm", "secretsmanager"]
    arn: str
    """The parameter's or the secret's full ARN: what IAM checks, what the node asks for."""
    json_key: str | None = None

    @property
    def region(self) -> str:
        """The region the parameter or secret lives in, which the node's call goes to."""
        return self.arn.split(":")[3]


def is_reserved(name: str) -> bool:
    """Whether the node stack, the interpreter or the AWS SDKs own this name."""
    return name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES)


def check_lambda_names(settings: Mapping[str, object], key: str = "appSettings") -> None:
    """Refuse a setting the release function's environment cannot hold: CreateFunction would fail
    mid-deploy."""
    for name in settings:
        if not LAMBDA_NAME.match(name) or name in LAMBDA_RESERVED:
            raise InvalidEntry(
                key,
                name,
                "with releaseCommand set, a name Lambda accepts: a letter and at least one more letter, "
                f"digit or underscore, not {', '.join(sorted(LAMBDA_RESERVED))}",
            )


def partition_of(region: str) -> str:
    """The ARN partition of a region (ARNs and namespaces, AWS General Reference)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def parameter_arn(name_or_arn: str, *, region: str, account: str) -> str:
    """The ARN IAM checks for a parameter: `arn:<partition>:ssm:<region>:<account>:parameter/<name>`, with the
    name's leading slash dropped (Service Authorization Reference, Systems Manager: `parameter/
    ${ParameterNameWithoutLeadingSlash}`). An ARN stands as it is."""
    if _SSM_ARN.match(name_or_arn):
        return name_or_arn
    return f"arn:{partition_of(region)}:ssm:{region}:{account}:parameter/{name_or_arn.removeprefix('/')}"


def _check_name(key: str, name: object) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidEntry(key, name, "an environment variable name matching ^[A-Z_][A-Z0-9_]*$")
    if is_reserved(name):
        raise InvalidEntry(
            key,
            name,
            "a name the node stack does not use: not "
            f"{', '.join(sorted(RESERVED_NAMES))}, nor one starting with {', '.join(RESERVED_PREFIXES)}",
        )
    return name


def parse_settings(raw: object, key: str = "appSettings") -> dict[str, str]:
    """`appSettings`: an object of NAME: string."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidEntry(key, raw, "an object of NAME: value")
    settings: dict[str, str] = {}
    for name, value in raw.items():
        _check_name(key, name)
        if not isinstance(value, str) or _CONTROL.search(value):
            raise InvalidEntry(
                f"{key}.{name}",
                value,
                "a string on one line (a multi-line value, such as a key, is a secret: see appSecrets)",
            )
        settings[name] = value
    size = sum(len(f"{name}={value}".encode()) for name, value in settings.items())
    if size > SETTINGS_MAX_BYTES:
        raise InvalidEntry(key, f"{size} bytes of NAME=value", f"at most {SETTINGS_MAX_BYTES} bytes in all")
    return settings


def _source(key: str, raw: object) -> SecretSource:
    if isinstance(raw, Mapping) and set(raw) == {"ssmParameter"}:
        name = raw["ssmParameter"]
        if not isinstance(name, str) or not (_SSM_ARN.match(name) or _SSM_NAME.match(name)):
            raise InvalidEntry(
                key, raw, "ssmParameter: a parameter name such as '/app/prod/secret-key', or its ARN"
            )
        return SsmParameter(name=name)
    if isinstance(raw, Mapping) and "secretsManager" in raw and set(raw) <= {"secretsManager", "jsonKey"}:
        arn, json_key = raw["secretsManager"], raw.get("jsonKey")
        if not isinstance(arn, str) or not _SECRET_ARN.match(arn):
            raise InvalidEntry(
                key,
                raw,
                "secretsManager: a secret's full ARN, ending in AWS's six-character suffix (-AbC123)",
            )
        if json_key is not None and (not isinstance(json_key, str) or not _JSON_KEY.match(json_key)):
            raise InvalidEntry(key, raw, "jsonKey: a key of the secret's JSON object, without spaces")
        return SecretsManagerSecret(arn=arn, json_key=json_key)
    raise InvalidEntry(
        key, raw, "{ssmParameter: <name or ARN>} or {secretsManager: <secret ARN>, jsonKey: <optional key>}"
    )


def parse_secrets(raw: object, key: str = "appSecrets") -> tuple[AppSecret, ...]:
    """`appSecrets`: an object of NAME: reference."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise InvalidEntry(key, raw, "an object of NAME: {ssmParameter: ...} or {secretsManager: ...}")
    if len(raw) > MAX_SECRETS:
        raise InvalidEntry(key, f"{len(raw)} secrets", f"at most {MAX_SECRETS}")
    return tuple(
        AppSecret(name=_check_name(key, name), source=_source(f"{key}.{name}", value))
        for name, value in raw.items()
    )


def parse(raw_settings: object, raw_secrets: object) -> AppEnvironment:
    """Both keys, checked together: a name is either a setting or a secret."""
    settings, secrets = parse_settings(raw_settings), parse_secrets(raw_secrets)
    for secret in secrets:
        if secret.name in settings:
            raise InvalidEntry("appSecrets", secret.name, "a name that is not also in appSettings")
    return AppEnvironment(settings=settings, secrets=secrets)


def with_secrets(
    environment: AppEnvironment,
    extra: Sequence[AppSecret],
    settings: Mapping[str, pulumi.Input[str]] | None = None,
) -> AppEnvironment:
    """`environment` with secrets and settings the program adds (a database's managed password and its
    address), each name checked as config's and taken once."""
    added = dict(settings or {})
    taken = set(environment.settings) | {s.name for s in environment.secrets}
    for name in [*(secret.name for secret in extra), *added]:
        _check_name("appSecrets" if name not in added else "appSettings", name)
        if name in taken:
            raise InvalidEntry("appSecrets", name, "a name no setting or other secret has")
        taken.add(name)
    return AppEnvironment(settings={**environment.settings, **added}, secrets=(*environment.secrets, *extra))


def resolve(secret: AppSecret, reference: str, *, region: str, account: str) -> Fetch:
    """The fetch of `secret`, its reference (the name or ARN) now known."""
    if isinstance(secret.source, SsmParameter):
        return Fetch(
            name=secret.name, service="ssm", arn=parameter_arn(reference, region=region, account=account)
        )
    if not _SECRET_ARN.match(reference):
        raise InvalidEntry(f"appSecrets.{secret.name}", reference, "a Secrets Manager secret's full ARN")
    return Fetch(name=secret.name, service="secretsmanager", arn=reference, json_key=secret.source.json_key)


def reference_of(secret: AppSecret) -> pulumi.Input[str]:
    """The name or ARN of a secret's source, as given (a string, or an Output of another resource)."""
    return secret.source.name if isinstance(secret.source, SsmParameter) else secret.source.arn


def resolved(
    app: AppEnvironment, *, region: str, parent: pulumi.Resource
) -> pulumi.Output[tuple[Fetch, ...]]:
    """Each of the app's secrets resolved to the ARN IAM checks: a parameter's name becomes its ARN in this
    account and region; a reference may be another resource's Output (a database's managed secret)."""
    secrets = app.secrets
    if not secrets:
        return pulumi.Output.from_input(())
    account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent)).account_id
    references = [reference_of(secret) for secret in secrets]
    return pulumi.Output.all(account, *references).apply(
        lambda values: tuple(
            resolve(secret, str(reference), region=region, account=str(values[0]))
            for secret, reference in zip(secrets, values[1:], strict=True)
        )
    )
