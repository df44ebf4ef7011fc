"""Run the whole program for one stack on moto: its config as the CLI would give it, the account it
assumes (what its config names as existing), the program evaluated to the end, and moto left open."""

from __future__ import annotations

import functools
import json
import logging
import runpy
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import boto3  # type: ignore[import-untyped]
import moto
import moto.settings
import pulumi
import yaml

from offline import existing
from offline.aws import Aws
from offline.existing import StandIn
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
        """Keep the message."""
        self.messages.append(record.getMessage())


@dataclass
class Deployment:
    """A stack deployed to moto: what was created, where each resource sits, the stack's outputs."""

    stack: str
    region: str
    mocks: MotoMocks
    monitor: Monitor
    stand_ins: list[StandIn] = field(default_factory=list)
    """What stands in for the existing resources the config names."""
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@functools.cache
def _session(region: str) -> boto3.session.Session:
    """One session per region for every deployment: it keeps the API models it has loaded (JSON files of
    megabytes, a large part of a small deployment's time). Its credentials are moto's, the same each run."""
    return boto3.session.Session(region_name=region)


@contextmanager
def _moto(region: str, *, managed_policies: bool) -> Iterator[boto3.session.Session]:
    """moto, configured as this project needs it; yields a session for `region`."""
    with (
        moto.mock_aws(config={"iam": {"load_aws_managed_policies": managed_policies}}),
        # ACM issues a DNS-validated certificate once its records resolve; moto issues it after this wait.
        mock.patch.object(moto.settings, "ACM_VALIDATION_WAIT", 0),
        # Instances launch only with instance types that exist, as in AWS (moto's opt-in check).
        mock.patch.object(moto.settings, "EC2_ENABLE_INSTANCE_TYPE_VALIDATION", True),
    ):
        yield _session(region)


@contextmanager
def deploy(
    stack: str,
    *,
    config: Mapping[str, str] | None = None,
    root: Path = ROOT,
    program: Callable[[], object] | None = None,
    managed_policies: bool = True,
    pushed: Sequence[str] | None = None,
) -> Iterator[Deployment]:
    """Deploy `stack` (with `config`, default: the stack's files) to moto; moto stays up until the block
    ends. `program` replaces `__main__.py` (a few declarations, for tests). `managed_policies`: load AWS's
    managed policies into moto, as the program attaches one (about a second per deployment; a program
    attaching none can skip it). `pushed`: the app image digests of releases an earlier deploy left in the
    stack's repositories (default: the one `appImageDigest` pins, if any). Raises what the program or AWS
    raised (`RejectedError` carries AWS's error)."""
    configured = dict(config) if config is not None else stack_config(stack, root)
    project = project_name(root)
    tags_config = json.loads(configured.get("aws:defaultTags", "{}"))
    with (
        _moto(configured["aws:region"], managed_policies=managed_policies) as session,
        existing.provide(session, configured, project, stack=stack, pushed=pushed) as (values, stand_ins),
    ):
        aws = Aws(session, default_tags=tags_config.get("tags", {}))
        mocks = MotoMocks(aws)
        monitor = Monitor(mocks)
        warnings = Warnings()
        logger = logging.getLogger(f"offline.{stack}")
        logger.propagate = False
        logger.addHandler(warnings)
        deployment = Deployment(stack, aws.region, mocks, monitor, stand_ins=stand_ins)
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
