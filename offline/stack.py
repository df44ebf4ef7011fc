"""Run the whole program for one stack on moto: its config as the CLI would give it, the account it
assumes (the hosted zone it names), the program evaluated to the end, and moto left open for inspection."""

from __future__ import annotations

import functools
import json
import logging
import runpy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import boto3  # type: ignore[import-untyped]
import moto
import moto.settings
import pulumi
import yaml  # type: ignore[import-untyped]
from moto.route53.models import HostedZoneIdentifier
from moto.utilities.id_generator import moto_id_manager

from offline.aws import Aws
from offline.moto_mocks import Monitor, MotoMocks

ROOT = Path(__file__).resolve().parent.parent
"""The project: `Pulumi.yaml`, the stack files and `__main__.py`."""


def stack_config(stack: str, root: Path = ROOT) -> dict[str, str]:
    """The config the CLI gives the program: `Pulumi.yaml`'s defaults, then `Pulumi.<stack>.yaml`.
    Values are strings (objects as JSON), as `pulumi.runtime.set_all_config` takes them."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    values: dict[str, Any] = {
        f"{project['name']}:{key}": spec["default"]
        for key, spec in project.get("config", {}).items()
        if "default" in spec
    }
    values.update(yaml.safe_load((root / f"Pulumi.{stack}.yaml").read_text()).get("config") or {})
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}


def project_name(root: Path = ROOT) -> str:
    """The project's name in `Pulumi.yaml`."""
    return str(yaml.safe_load((root / "Pulumi.yaml").read_text())["name"])


class Warnings(logging.Handler):
    """Collects what the program logs through the mock engine at warning level and above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class Deployment:
    """A stack deployed to moto: what was created, where each resource sits, the stack's outputs."""

    stack: str
    region: str
    mocks: MotoMocks
    monitor: Monitor
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _hosted_zone_name(domain: str) -> str:
    """The zone a domain's records live in, for a zone id named in config: the parent domain
    (`app.example.com` → `example.com`), or the domain itself when it is the apex."""
    labels = domain.split(".")
    return ".".join(labels[1:]) if len(labels) > 2 else domain


@functools.cache
def _session(region: str) -> boto3.session.Session:
    """One session per region for every deployment: it keeps the API models it has loaded (JSON files of
    megabytes, a large part of a small deployment's time). Its credentials are moto's, the same each run."""
    return boto3.session.Session(region_name=region)


@contextmanager
def _account(
    config: Mapping[str, str], project: str, *, managed_policies: bool
) -> Iterator[boto3.session.Session]:
    """moto, with what the stack expects to exist already: the Route 53 hosted zone it names (created with
    that id through moto's custom-id facility)."""
    zone_id = config.get(f"{project}:hostedZoneId", "")
    domain = config.get(f"{project}:domainName", "")
    identifier = None
    with (
        moto.mock_aws(config={"iam": {"load_aws_managed_policies": managed_policies}}),
        # ACM issues a DNS-validated certificate once its records resolve; moto issues it after this wait.
        mock.patch.object(moto.settings, "ACM_VALIDATION_WAIT", 0),
        # Instances launch only with instance types that exist, as in AWS (moto's opt-in check).
        mock.patch.object(moto.settings, "EC2_ENABLE_INSTANCE_TYPE_VALIDATION", True),
    ):
        session = _session(config["aws:region"])
        try:
            if zone_id and domain:
                zone = _hosted_zone_name(domain)
                account = session.client("sts").get_caller_identity()["Account"]
                identifier = HostedZoneIdentifier(account, f"{zone}.", None)
                moto_id_manager.set_custom_id(identifier, zone_id)
                session.client("route53").create_hosted_zone(Name=zone, CallerReference=f"{project}-{zone}")
            yield session
        finally:
            if identifier is not None:
                moto_id_manager.unset_custom_id(identifier)


@contextmanager
def deploy(
    stack: str,
    *,
    config: Mapping[str, str] | None = None,
    root: Path = ROOT,
    program: Callable[[], object] | None = None,
    managed_policies: bool = True,
) -> Iterator[Deployment]:
    """Deploy `stack` (with `config`, default: the stack's files) to moto; moto stays up until the block
    ends. `program` replaces `__main__.py` (a few declarations, for tests). `managed_policies`: load AWS's
    managed policies into moto, as the program attaches one (about a second per deployment; a program
    attaching none can skip it). Raises what the program or AWS raised (`RejectedError` carries AWS's
    error)."""
    values = dict(config) if config is not None else stack_config(stack, root)
    project = project_name(root)
    tags_config = json.loads(values.get("aws:defaultTags", "{}"))
    with _account(values, project, managed_policies=managed_policies) as session:
        aws = Aws(session, default_tags=tags_config.get("tags", {}))
        mocks = MotoMocks(aws)
        monitor = Monitor(mocks)
        warnings = Warnings()
        logger = logging.getLogger(f"offline.{stack}")
        logger.propagate = False
        logger.addHandler(warnings)
        deployment = Deployment(stack, aws.region, mocks, monitor)
        # The runtime's settings, root stack and config are process-wide: start from a clean root, and leave
        # none of this run's state behind for whatever runs next.
        pulumi.runtime.reset_options(project=project, stack=stack, preview=False)
        pulumi.runtime.set_mocks(
            mocks, project=project, stack=stack, preview=False, logger=logger, monitor=monitor
        )
        pulumi.runtime.set_all_config(values)
        try:
            main = root / "__main__.py"
            deployment.outputs = _run(program or (lambda: runpy.run_path(str(main), run_name="__main__")))
            deployment.warnings = warnings.messages
            yield deployment
        finally:
            logger.removeHandler(warnings)
            pulumi.runtime.set_all_config({})
            pulumi.runtime.reset_options()


def _run(program: Callable[[], object]) -> dict[str, Any]:
    """Run the program and wait for every registration and every output to settle (`pulumi.runtime.test`
    awaits all of them); returns the stack's exports."""
    exports: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def run() -> pulumi.Output[None]:
        program()
        stack = pulumi.runtime.get_root_resource()
        values: dict[str, Any] = getattr(stack, "outputs", {})
        return pulumi.Output.from_input(values).apply(exports.update)

    run()
    return exports
