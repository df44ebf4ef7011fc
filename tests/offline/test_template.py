"""The repository as a Pulumi template: a project made from it as `pulumi new` makes one, under a name of its
user's, with a new stack that sets only what the template asks for, deploys to moto."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import jsonschema
import pytest
import yaml

from offline.stack import ROOT, deploy, stack_config

NAME = "shop"
STACK = "staging"
#: What a user answers to the template's questions.
ANSWERS = {
    "aws:region": "us-east-1",
    "domainName": "shop.example.com",
    "hostedZoneId": "Z0123456789ABCDEFGHIJ",
    "alarmEmail": "ops@example.com",
}


def template() -> dict[str, Any]:
    """The template section of `Pulumi.yaml`."""
    section: dict[str, Any] = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["template"]
    return section


def new_project(directory: Path) -> Path:
    """What `pulumi new <repository>` leaves (pulumi/pulumi, pkg/cmd/pulumi/newcmd/new.go): the repository's
    files; `Pulumi.yaml` with the user's name and description and no template section; the new stack's
    file holding the answers, project keys in the project's namespace."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
    ).stdout.split("\0")
    for name in filter(None, tracked):
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    project = yaml.safe_load((directory / "Pulumi.yaml").read_text())
    project.update(name=NAME, description="Our shop")
    del project["template"]
    (directory / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    config = {key if ":" in key else f"{NAME}:{key}": value for key, value in ANSWERS.items()}
    (directory / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": config}))
    return directory


#: The Pulumi CLI's schema of `Pulumi.yaml` (pulumi/pulumi, sdk/go/common/workspace/project.json at
#: 0498be116be896fa28b5af4746ad197666167d85, reformatted). The CLI refuses to load a project it does not
#: validate: no `object` config type, and a template section of description, quickstart, important and config.
PROJECT_SCHEMA = Path(__file__).with_name("pulumi-project.schema.json")


def test_pulumi_yaml_is_a_project_the_cli_loads() -> None:
    schema = json.loads(PROJECT_SCHEMA.read_text())
    jsonschema.validate(yaml.safe_load((ROOT / "Pulumi.yaml").read_text()), schema)
    # The schema itself refuses what made earlier drafts unloadable.
    for broken in ({"template": {"displayName": "x"}}, {"config": {"appSettings": {"type": "object"}}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"name": "p", "runtime": "python", **broken}, schema)


def test_the_template_asks_for_what_a_new_stack_must_set_and_describes_each() -> None:
    questions = template()["config"]
    assert set(questions) == set(ANSWERS)
    assert all(question["description"] for question in questions.values())
    project_keys = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    for key in questions:
        assert ":" in key or key in project_keys, key
    # Nothing to answer for the keys without a safe default: they name the user's own domain, zone and inbox.
    assert {key for key, question in questions.items() if "default" not in question} == {
        "domainName",
        "hostedZoneId",
        "alarmEmail",
    }


def test_a_project_made_from_the_template_deploys_under_its_own_name(
    tmp_path: Path, monkeypatch: Any
) -> None:
    root = new_project(tmp_path)
    # The program finds its Dockerfile and app relative to the working directory, as the CLI runs it.
    monkeypatch.chdir(root)
    with deploy(STACK, root=root, config=stack_config(STACK, root)) as deployment:
        session = boto3.session.Session(region_name=deployment.region)
        repositories = session.client("ecr").describe_repositories()["repositories"]
        assert {repository["repositoryName"] for repository in repositories} == {
            f"{NAME}/{STACK}/app",
            f"{NAME}/{STACK}/proxy",
        }
        names = {group["logGroupName"] for group in session.client("logs").describe_log_groups()["logGroups"]}
        assert f"/{NAME}/{STACK}/node" in names
        records = session.client("route53").list_resource_record_sets(HostedZoneId="Z0123456789ABCDEFGHIJ")
        assert "shop.example.com." in {record["Name"] for record in records["ResourceRecordSets"]}
