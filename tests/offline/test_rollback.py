"""A rollback by config (`appImageDigest`) deployed to moto: the stack's repositories hold the releases an
earlier deploy pushed; the program deploys the pinned one by digest and pushes nothing. Expected values come
from moto's ECR, never from the program."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3  # type: ignore[import-untyped]
import pulumi
import pytest

from infra.config import ConfigError
from offline.existing import release_tag
from offline.moto_mocks import MotoMocks
from offline.stack import Deployment, deploy, project_name, stack_config

PROJECT = project_name()
PINNED = f"sha256:{'0123456789abcdef' * 4}"
"""The app image of the release to go back to."""
NEWER = f"sha256:{'fedcba9876543210' * 4}"
"""The app image of the release after it, the one being rolled back."""


def pinned(stack: str, digest: str) -> dict[str, str]:
    """The stack's files with `appImageDigest` set, as `pulumi config set` writes it."""
    return {**stack_config(stack), f"{PROJECT}:appImageDigest": digest}


def held(deployment: Deployment, target: str) -> dict[str, list[str]]:
    """What moto's ECR holds in one of the stack's repositories: each digest and its tags."""
    ecr = boto3.client("ecr", region_name=deployment.region)
    details = ecr.describe_images(repositoryName=f"{PROJECT}/{deployment.stack}/{target}")["imageDetails"]
    return {image["imageDigest"]: image.get("imageTags", []) for image in details}


def under_tag(deployment: Deployment, target: str, tag: str) -> str:
    (digest,) = [digest for digest, tags in held(deployment, target).items() if tag in tags]
    return digest


def uri(deployment: Deployment, target: str) -> str:
    ecr = boto3.client("ecr", region_name=deployment.region)
    (repository,) = ecr.describe_repositories(repositoryNames=[f"{PROJECT}/{deployment.stack}/{target}"])[
        "repositories"
    ]
    return str(repository["repositoryUri"])


def user_data(deployment: Deployment) -> str:
    autoscaling = boto3.client("autoscaling", region_name=deployment.region)
    (group,) = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    (version,) = boto3.client("ec2", region_name=deployment.region).describe_launch_template_versions(
        LaunchTemplateId=group["LaunchTemplate"]["LaunchTemplateId"],
        Versions=[group["LaunchTemplate"]["Version"]],
    )["LaunchTemplateVersions"]
    return base64.b64decode(version["LaunchTemplateData"]["UserData"]).decode()


def test_prod_pinned_to_an_earlier_release_runs_it_everywhere_and_pushes_nothing() -> None:
    with deploy("prod", config=pinned("prod", PINNED), pushed=[PINNED, NEWER]) as deployment:
        tag = release_tag(PINNED)
        expected = {
            target: f"{uri(deployment, target)}@{under_tag(deployment, target, tag)}"
            for target in ("app", "proxy", "release")
        }
        assert expected["app"].endswith(f"@{PINNED}")
        script = user_data(deployment)
        assert f"readonly APP_IMAGE={expected['app']}\n" in script
        assert f"readonly PROXY_IMAGE={expected['proxy']}\n" in script
        # The release phase runs that release's own command, from its release image.
        function = boto3.client("lambda", region_name=deployment.region).get_function(
            FunctionName=f"{PROJECT}-prod-release"
        )
        assert function["Code"]["ImageUri"] == expected["release"]
        (invocation,) = [c for c in deployment.mocks.created if c.typ == "aws:lambda/invocation:Invocation"]
        assert json.loads(invocation.inputs["input"])["image"] == expected["release"]
        # Nothing built or pushed: each repository holds the two releases of the earlier deploy, no more.
        assert not any(c.typ.startswith("docker:") for c in deployment.mocks.created)
        for target in ("app", "proxy", "release"):
            assert sorted(tags for tags in held(deployment, target).values()) == sorted(
                [[release_tag(PINNED)], [release_tag(NEWER)]]
            )
        # The program's repositories are the earlier deploy's, with the program's settings.
        ecr = boto3.client("ecr", region_name=deployment.region)
        for repository in ecr.describe_repositories()["repositories"]:
            assert repository["imageTagMutability"] == "IMMUTABLE"
            assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
            tags = ecr.list_tags_for_resource(resourceArn=repository["repositoryArn"])["tags"]
            assert "offline:earlier-deploy" not in {t["Key"] for t in tags}
        assert (deployment.outputs["app_image"], deployment.outputs["proxy_image"]) == (
            expected["app"],
            expected["proxy"],
        )


def test_dev_without_a_release_phase_pins_app_and_proxy() -> None:
    with deploy("dev", config=pinned("dev", PINNED)) as deployment:
        tag = release_tag(PINNED)
        script = user_data(deployment)
        assert f"readonly APP_IMAGE={uri(deployment, 'app')}@{PINNED}\n" in script
        assert (
            f"readonly PROXY_IMAGE={uri(deployment, 'proxy')}@{under_tag(deployment, 'proxy', tag)}\n"
            in script
        )
        assert not any(c.typ.startswith("docker:") for c in deployment.mocks.created)


def test_a_digest_ecr_does_not_hold_ends_the_deployment_before_any_resource(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: list[str] = []
    create = MotoMocks.new_resource

    def recording(self: MotoMocks, args: pulumi.runtime.MockResourceArgs) -> Any:
        registered.append(args.name)
        return create(self, args)

    monkeypatch.setattr(MotoMocks, "new_resource", recording)
    with pytest.raises(ConfigError) as raised, deploy("prod", config=pinned("prod", PINNED), pushed=[NEWER]):
        pass
    repository = f"{PROJECT}/prod/app"
    assert str(raised.value) == (
        f"{PROJECT}:appImageDigest = {PINNED!r}: expected the digest of an image ECR repository "
        f"{repository} holds (it holds 1; `aws ecr describe-images --repository-name {repository}` lists "
        "them by push time)"
    )
    assert registered == []
