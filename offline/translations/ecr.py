"""ECR repositories and lifecycle policies, and pulumi-docker images pushed to them (never built)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from offline.aws import Aws, Inputs, physical_name
from offline.existing import EARLIER_DEPLOY_TAG
from offline.translations.registry import Outputs, translates


@translates(
    "aws:ecr/repository:Repository",
    provider_only={"forceDelete": "deletes the images with the repository on destroy"},
)
def repository(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """CreateRepository with its tag mutability, scanning and encryption."""
    repository_name = physical_name(name, inputs, max_length=256)
    optional: dict[str, Any] = {}
    if "imageTagMutability" in inputs:
        optional["imageTagMutability"] = inputs["imageTagMutability"]
    if "imageScanningConfiguration" in inputs:
        optional["imageScanningConfiguration"] = dict(inputs["imageScanningConfiguration"])
    if "encryptionConfigurations" in inputs:
        (encryption,) = inputs["encryptionConfigurations"]
        optional["encryptionConfiguration"] = dict(encryption)
    ecr = aws.client("ecr")
    kept = _kept(aws, repository_name)
    if kept is None:
        created = ecr.create_repository(
            repositoryName=repository_name, tags=aws.tag_list(inputs), **optional
        )["repository"]
    else:
        created = _take_over(aws, kept, inputs, optional)
    return repository_name, {
        "arn": created["repositoryArn"],
        "name": repository_name,
        "registryId": created["registryId"],
        "repositoryUrl": created["repositoryUri"],
    }


def _kept(aws: Aws, repository_name: str) -> dict[str, Any] | None:
    """The repository of this name an earlier deploy of the stack made (`offline/existing.py`), or None.
    Any other repository of the name is left for CreateRepository to refuse, as AWS does."""
    ecr = aws.client("ecr")
    try:
        (found,) = ecr.describe_repositories(repositoryNames=[repository_name])["repositories"]
    except ecr.exceptions.RepositoryNotFoundException:
        return None
    tags = ecr.list_tags_for_resource(resourceArn=found["repositoryArn"])["tags"]
    return dict(found) if any(tag["Key"] == EARLIER_DEPLOY_TAG for tag in tags) else None


def _take_over(aws: Aws, kept: dict[str, Any], inputs: Inputs, optional: dict[str, Any]) -> dict[str, Any]:
    """The update the provider makes to a repository the stack's state holds: its tag mutability, scanning
    and tags set as declared; a different encryption would replace it (ECR cannot change it), images and
    all, so it is refused."""
    ecr = aws.client("ecr")
    name = kept["repositoryName"]
    declared = optional.get("encryptionConfiguration", {"encryptionType": "AES256"})
    if kept["encryptionConfiguration"]["encryptionType"] != declared["encryptionType"]:
        raise ValueError(
            f"repository {name}: encryption {declared} differs from the kept repository's "
            f"{kept['encryptionConfiguration']}; the provider would replace it, deleting its images"
        )
    if "imageTagMutability" in optional:
        ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability=optional["imageTagMutability"])
    if "imageScanningConfiguration" in optional:
        ecr.put_image_scanning_configuration(
            repositoryName=name, imageScanningConfiguration=optional["imageScanningConfiguration"]
        )
    ecr.untag_resource(resourceArn=kept["repositoryArn"], tagKeys=[EARLIER_DEPLOY_TAG])
    tags = aws.tag_list(inputs)
    if tags:
        ecr.tag_resource(resourceArn=kept["repositoryArn"], tags=tags)
    return kept


@translates("aws:ecr/lifecyclePolicy:LifecyclePolicy")
def lifecycle_policy(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """PutLifecyclePolicy."""
    created = aws.client("ecr").put_lifecycle_policy(
        repositoryName=inputs["repository"], lifecyclePolicyText=inputs["policy"]
    )
    return inputs["repository"], {"registryId": created["registryId"]}


_STAGE = re.compile(r"^FROM\s+\S+(?:\s+AS\s+(?P<stage>\S+))?\s*$", re.IGNORECASE | re.MULTILINE)
_ECR_IMAGE = re.compile(
    r"^(?P<server>(?P<registry>\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com)/(?P<repository>[^:@]+):(?P<tag>[^:@/]+)$"
)


def push_image(aws: Aws, name: str, inputs: Inputs) -> Outputs:
    """`docker.Image`, without building: the Dockerfile and its target stage must exist, the registry
    credentials must be the ECR token's; then a manifest whose one layer stands for the build is pushed to
    the repository `imageName` names, so moto enforces that the repository exists and that its immutable
    tags are not pushed twice, and gives the digest the instances pull."""
    if inputs.get("skipPush"):
        raise ValueError("skipPush: the image would never reach the registry the instances pull from")
    build = inputs["build"]
    dockerfile = Path(build.get("dockerfile") or Path(build["context"]) / "Dockerfile")
    stages = {m["stage"] for m in _STAGE.finditer(dockerfile.read_text()) if m["stage"]}
    if "target" in build and build["target"] not in stages:
        raise ValueError(f"{dockerfile}: no stage {build['target']!r} (stages: {', '.join(sorted(stages))})")
    image_name = inputs["imageName"]
    match = _ECR_IMAGE.match(image_name)
    if match is None:
        raise ValueError(
            f"imageName {image_name!r}: expected <account>.dkr.ecr.<region>.amazonaws.com/<name>:<tag>"
        )
    ecr = aws.client("ecr")
    registry = inputs["registry"]
    (token,) = ecr.get_authorization_token(registryIds=[match["registry"]])["authorizationData"]
    username, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    if registry["server"].removeprefix("https://").split("/", 1)[0] != match["server"]:
        raise ValueError(f"registry server {registry['server']!r} is not the registry of {image_name!r}")
    if (registry.get("username"), registry.get("password")) != (username, password):
        raise ValueError("registry credentials: not the ECR authorization token's user name and password")
    build_digest = (
        "sha256:" + hashlib.sha256(json.dumps([build, image_name], sort_keys=True).encode()).hexdigest()
    )
    layer = {
        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "size": 0,
        "digest": build_digest,
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {**layer, "mediaType": "application/vnd.docker.container.image.v1+json"},
        "layers": [layer],
    }
    pushed = ecr.put_image(
        registryId=match["registry"],
        repositoryName=match["repository"],
        imageManifest=json.dumps(manifest),
        imageTag=match["tag"],
    )["image"]
    reference = f"{match['server']}/{match['repository']}@{pushed['imageId']['imageDigest']}"
    return reference, {"repoDigest": reference, "registryServer": match["server"]}
