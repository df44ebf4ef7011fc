"""`python -m offline.plan`: the readable plan, its counts, its exit status when AWS refuses a resource."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pulumi_aws as aws
import pytest

from infra.config import PROJECT
from offline.plan import main, render
from offline.stack import ROOT, deploy

RESOURCE = re.compile(r"^  \+ (?P<name>\S+) +(?P<type>\S+)$")
GROUP = re.compile(r"^(?P<name>\S+)  \((?P<type>\S+), (?P<count>\d+) resources?\)$")
TOTAL = re.compile(r"^(?P<total>\d+) resources in (?P<components>\d+) components, each created in moto$")


def test_the_plan_lists_every_resource_by_component_with_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stack", "dev"]) == 0
    lines = capsys.readouterr().out.splitlines()
    resources = [m for m in map(RESOURCE.match, lines) if m]
    groups = [m for m in map(GROUP.match, lines) if m]
    (total,) = [m for m in map(TOTAL.match, lines) if m]
    assert int(total["total"]) == len(resources) == sum(int(g["count"]) for g in groups)
    assert int(total["components"]) == len(groups)
    assert {g["name"] for g in groups} >= {"network", "security", "web", "nodes", "scaling"}
    assert f"certificate  ({PROJECT}:certificate:Certificate, 0 resources)" in lines
    by_type = lines[lines.index("Resources by type") + 1 : -1]
    assert sum(int(line.split()[0]) for line in by_type) == len(resources)
    assert "  + scaling-asg                      aws:autoscaling/group:Group" in lines
    assert any(
        line.startswith("      id scaling-asg-") and "minSize=1 desiredCapacity=1 maxSize=2" in line
        for line in lines
    )
    assert any("plain HTTP on port 80 only" in line for line in lines[lines.index("Warnings") :])
    lookups = lines[lines.index("Lookups answered from moto") + 1 : lines.index("Warnings") - 1]
    assert any(line.endswith("  aws:ssm/getParameter:getParameter") for line in lookups)


def test_a_refused_resource_ends_the_plan_with_aws_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path)
    (tmp_path / "__main__.py").symlink_to(ROOT / "__main__.py")
    (tmp_path / "docker").symlink_to(ROOT / "docker")
    shutil.copytree(ROOT / "app", tmp_path / "app")
    shutil.copy(ROOT / ".dockerignore", tmp_path)
    broken = (ROOT / "Pulumi.dev.yaml").read_text().replace("instanceType: t3.micro", "instanceType: t3.smol")
    (tmp_path / "Pulumi.broken.yaml").write_text(broken)
    assert main(["--stack", "broken", "--root", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        "error: stack broken was not deployed: RejectedError: "
        "aws:ec2/launchTemplate:LaunchTemplate nodes-lt: "
        "CreateLaunchTemplate.LaunchTemplateData.InstanceType: 't3.smol' is not one of"
    )


def test_inputs_moto_cannot_check_are_called_out() -> None:
    def program() -> None:
        aws.sns.TopicSubscription(
            "email", topic=aws.sns.Topic("topic").arn, protocol="email", endpoint="ops@example.com"
        )

    with deploy("dev", program=program, managed_policies=False) as deployment:
        lines = list(render(deployment))
    unchecked = lines[lines.index("Not checked by moto") + 1 :]
    assert unchecked[0].startswith(
        "  aws:sns/topicSubscription:TopicSubscription email: endpoint: moto does not"
    )
    assert lines[-1] == "2 resources in 0 components, each created in moto"
