"""The release phase: the app's release command (its migrations) run once per release, before any node of the
release is launched, by a Lambda function made from the release's own image.

Why a Lambda function, invoked by the deployment (`aws.lambda_.Invocation`):
- `pulumi up` waits for it: the provider invokes it synchronously and fails with the function's error, which
  carries the command's output (terraform-provider-aws, internal/service/lambda/invocation.go).
- The launch template takes the release's images only once the invocation has succeeded, so a failed release
  leaves the group launching the images it serves, and the first deploy migrates before any node exists.
- One run at a time: Pulumi holds one update per stack, and the app's migrations hold a database lock.
- It costs nothing while idle, needs no node, and reaches the database from the private subnets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra import app_environment, naming, node_secrets, policies
from infra.config import ReleaseSettings

RELEASE_REFERENCES = "APP_SECRET_REFERENCES"
"""The variable that tells the release handler where the app's secrets are
(docker/appserver/lambda_release.py `REFERENCES`)."""
ENVIRONMENT_LIMIT_BYTES = 4096
"""Lambda's limit on a function's environment variables, all together (Lambda Developer Guide, "Lambda
quotas": 4 KB)."""
MEMORY_MB = 512
"""Memory, and so CPU share, of the release run: enough for the app's imports and a migration's client."""


@dataclass(frozen=True, kw_only=True)
class ReleaseArgs:
    """What a release runs, where, and with what."""

    settings: ReleaseSettings | None
    """The command and its time limit; None: the app has no release command, and nothing is declared."""
    stack: str
    region: str
    image: pulumi.Input[str] | None
    """The release image by digest (`<repository>@sha256:...`): the app image with Lambda's runtime client."""
    repository_name: pulumi.Input[str] | None
    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets with a route to a NAT: the database is there, and the AWS APIs beyond."""
    security_group_id: pulumi.Input[str]
    app: app_environment.AppEnvironment
    """The app's settings and secrets, as its nodes get them: the function's environment holds the settings
    and the secrets' references, never their values; the run reads those and no other."""
    log_retention_days: int
    architecture: str
    """The nodes' architecture, which the release image is built for: Lambda runs it on the same."""
    after: Sequence[pulumi.Resource] = ()
    """What the command needs in place before it runs: the rules that let it reach the database."""


def environment(settings: Mapping[str, str], fetches: Sequence[app_environment.Fetch]) -> dict[str, str]:
    """The function's variables: the app's settings and its secrets' references, within Lambda's limit."""
    variables = {**settings, RELEASE_REFERENCES: node_secrets.secret_references(fetches)}
    size = sum(len(name.encode()) + len(value.encode()) for name, value in variables.items())
    if size > ENVIRONMENT_LIMIT_BYTES:
        raise ValueError(
            f"the release function's environment (appSettings and appSecrets' references) is {size} bytes; "
            f"Lambda takes {ENVIRONMENT_LIMIT_BYTES}: move settings into the app, or secrets into one JSON "
            "secret"
        )
    return variables


def release_payload(image: str, command: Sequence[str]) -> str:
    """The invocation's input: a new image or command is a new release, and the provider invokes again."""
    return json.dumps({"image": image, "command": list(command)}, separators=(",", ":"))


class Release(pulumi.ComponentResource):
    """The release function, its role and log group, and the invocation that runs one release."""

    function: aws.lambda_.Function | None
    invocation: aws.lambda_.Invocation | None
    """Succeeds once the release command has exited 0; the launch template waits for it."""

    def __init__(self, name: str, args: ReleaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flask-nginx-aws:release:Release", name, None, opts)
        self.function = self.invocation = None
        if args.settings is not None:
            self._declare(name, args, args.settings)
        self.register_outputs({"invocation": self.invocation.id if self.invocation is not None else None})

    def before_nodes(self) -> list[pulumi.Resource]:
        """What the nodes' launch template must wait for: a release that has run, if there is one."""
        return [self.invocation] if self.invocation is not None else []

    def _declare(self, name: str, args: ReleaseArgs, settings: ReleaseSettings) -> None:
        if args.image is None or args.repository_name is None:
            raise ValueError("a release command needs the release image: build it (ImagesArgs.release)")
        image, repository_name = args.image, args.repository_name
        child = pulumi.ResourceOptions(parent=self)
        function_name = naming.physical(naming.project(), args.stack, "release", max_length=64)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        function_arn = pulumi.Output.concat(
            "arn:aws:lambda:", args.region, ":", caller.account_id, ":function:", function_name
        )
        # Created here, with its retention, before the function can create it without one.
        log_group = aws.cloudwatch.LogGroup(
            naming.child(name, "logs"),
            name=f"/aws/lambda/{function_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        role = aws.iam.Role(
            naming.child(name, "role"),
            description="The release phase: the app's release command, with its database and secrets",
            assume_role_policy=policies.assume_role("lambda.amazonaws.com"),
            opts=child,
        )
        fetches = app_environment.resolved(args.app, region=args.region, parent=self)
        grants: list[pulumi.Resource] = [
            aws.iam.RolePolicy(
                naming.child(name, "grant"),
                role=role.id,
                policy=log_group.arn.apply(policies.run_release),
                opts=child,
            )
        ]
        if args.app.secrets:
            grants.append(
                aws.iam.RolePolicy(
                    naming.child(name, "app-secrets"),
                    role=role.id,
                    policy=fetches.apply(policies.read_app_secrets),
                    opts=child,
                )
            )
        # The app's plain settings, and where its secrets are (the handler reads them with the role).
        variables = pulumi.Output.all(pulumi.Output.from_input(dict(args.app.settings)), fetches).apply(
            lambda values: environment(values[0], values[1])
        )
        pull = aws.ecr.RepositoryPolicy(
            naming.child(name, "pull"),
            repository=repository_name,
            policy=function_arn.apply(policies.lambda_pulls_image),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            naming.child(name, "function"),
            name=function_name,
            description="Runs the app's release command once per release, before its nodes launch",
            package_type="Image",
            image_uri=image,
            architectures=[args.architecture],
            role=role.arn,
            timeout=settings.timeout_seconds,
            memory_size=MEMORY_MB,
            # No reserved concurrency: Lambda refuses a reservation that leaves an account fewer than 100
            # unreserved executions, as new accounts have; Pulumi's stack lock and the migrations' own lock
            # keep releases one at a time.
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.subnet_ids, security_group_ids=[args.security_group_id]
            ),
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=variables),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=log_group.name),
            # Lambda checks the role and the image when the function is created: both must be in place.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*grants, pull, log_group]),
        )
        self.invocation = aws.lambda_.Invocation(
            naming.child(name, "run"),
            function_name=self.function.name,
            input=pulumi.Output.from_input(image).apply(
                lambda image: release_payload(image, settings.command)
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
        )
