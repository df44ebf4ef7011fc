"""infra/image.py: hardened ECR repositories, images built for linux/amd64, pushed, used by digest."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pulumi
import pytest

from infra.config import PROJECT, ConfigError
from infra.image import (
    Images,
    ImagesArgs,
    PinnedRelease,
    build_tag,
    check_app_path,
    context_digest,
    context_files,
    pinned_release,
)
from offline import invokes
from tests.conftest import ACCOUNT, INVOKES, RELEASE_TAGS, ROOT, Harness, Resource, pushed_digest

REPOSITORY = "aws:ecr/repository:Repository"
SECRET = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
"""How the Pulumi wire protocol marks a secret value (`_special_sig_key: _special_secret_sig`)."""
PASSWORD = "secret-ecr-password"  # noqa: S105 - the mocks' ECR token, not a credential


def registry(image: Resource) -> dict[str, str]:
    """The image's registry block, which must travel as a secret (it holds the ECR password)."""
    wrapped = image.inputs["registry"]
    assert {key: wrapped[key] for key in SECRET} == SECRET
    value: dict[str, str] = wrapped["value"]
    return value


IMAGE = "docker:index/image:Image"


def images_args(context: Path, architecture: str = "x86_64") -> ImagesArgs:
    """The images of the sample app, built from the project at ``context``."""
    return ImagesArgs(
        context=context,
        app_path="app",
        wsgi_app="wsgi:app",
        stack="prod",
        keep_images=10,
        force_delete=False,
        architecture=architecture,
    )


def tag_inputs(build: dict[str, Any]) -> dict[str, str]:
    """pulumi-docker's build inputs but the target (its repository's), its build arguments flattened as the
    tag digests them."""
    args = build.get("args", {})
    shared = {k: v for k, v in build.items() if k not in ("args", "target")}
    return {**shared, **{f"args.{k}": v for k, v in args.items()}}


@pytest.fixture
def references(harness: Harness) -> dict[str, str]:
    """Builds the component for the real context (the project root); returns the images' references."""
    seen: dict[str, str] = {}

    def program() -> pulumi.Output[None]:
        images = Images("images", images_args(ROOT))
        return pulumi.Output.all(images.app_image, images.proxy_image).apply(
            lambda values: seen.update(app=values[0], proxy=values[1])
        )

    harness.evaluate(program)
    return seen


def test_repositories_are_immutable_scanned_and_encrypted(
    harness: Harness, references: dict[str, str]
) -> None:
    repositories = harness.mocks.of_type(REPOSITORY)
    assert sorted(r.inputs["name"] for r in repositories) == [
        f"{PROJECT}/prod/app",
        f"{PROJECT}/prod/proxy",
    ]
    for repository in repositories:
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
        assert repository.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
        assert repository.inputs["forceDelete"] is False


def test_each_repository_keeps_the_last_images(harness: Harness, references: dict[str, str]) -> None:
    policies = harness.mocks.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert sorted(p.inputs["repository"] for p in policies) == sorted(
        r.inputs["name"] for r in harness.mocks.of_type(REPOSITORY)
    )
    for policy in policies:
        assert json.loads(policy.inputs["policy"])["rules"][0]["selection"]["countNumber"] == 10


def test_each_target_is_built_for_amd64_and_pushed_to_its_repository(
    harness: Harness, references: dict[str, str]
) -> None:
    urls = {
        r.inputs["name"].rsplit("/", 1)[1]: r.state["repositoryUrl"]
        for r in harness.mocks.of_type(REPOSITORY)
    }
    for image in harness.mocks.of_type(IMAGE):
        target = image.inputs["build"]["target"]
        assert image.inputs["build"]["platform"] == "linux/amd64"
        assert image.inputs["build"]["dockerfile"] == "docker/Dockerfile"
        assert image.inputs["build"]["args"] == {"APP_DIR": "app", "WSGI_APP": "wsgi:app"}
        tag = build_tag(context_digest(Path(".")), tag_inputs(image.inputs["build"]))
        assert image.inputs["imageName"] == f"{urls[target]}:{tag}"
        assert registry(image)["server"] == urls[target]
        assert registry(image)["username"] == "AWS"
    assert sorted(i.inputs["build"]["target"] for i in harness.mocks.of_type(IMAGE)) == ["app", "proxy"]


def test_arm64_nodes_get_every_image_built_for_linux_arm64_under_a_tag_of_its_own(harness: Harness) -> None:
    def program() -> pulumi.Output[None]:
        Images("amd64", images_args(ROOT))
        Images("arm64", dataclasses.replace(images_args(ROOT, "arm64"), release=True))
        return pulumi.Output.from_input(None)

    harness.evaluate(program)
    built = {image.name: image.inputs for image in harness.mocks.of_type(IMAGE)}
    arm64 = {name: inputs for name, inputs in built.items() if name.startswith("arm64")}
    assert sorted(inputs["build"]["target"] for inputs in arm64.values()) == ["app", "proxy", "release"]
    assert {inputs["build"]["platform"] for inputs in arm64.values()} == {"linux/arm64"}
    # The same files for another platform are another release: its tag is never the amd64 build's.
    tags: dict[str, set[str]] = {}
    for inputs in built.values():
        tags.setdefault(inputs["build"]["platform"], set()).add(inputs["imageName"].rsplit(":", 1)[1])
    assert len(tags["linux/amd64"]) == len(tags["linux/arm64"]) == 1
    assert tags["linux/amd64"] != tags["linux/arm64"]


def test_the_images_of_one_build_share_its_release_tag(harness: Harness, references: dict[str, str]) -> None:
    # One tag, each in its own repository: an app image's tag finds its release's proxy image.
    tags = {str(i.inputs["imageName"]).rsplit(":", 1)[1] for i in harness.mocks.of_type(IMAGE)}
    assert len(tags) == 1


def test_registry_credentials_come_from_ecr(harness: Harness, references: dict[str, str]) -> None:
    tokens = [
        args for token, args in harness.mocks.invokes if token.startswith("aws:ecr/getAuthorizationToken")
    ]
    assert tokens == [{"registryId": "123456789012"}] * 2
    for image in harness.mocks.of_type(IMAGE):
        assert registry(image)["password"] == PASSWORD


def test_downstream_references_are_digests(harness: Harness, references: dict[str, str]) -> None:
    digests = {i.inputs["build"]["target"]: i.state["repoDigest"] for i in harness.mocks.of_type(IMAGE)}
    assert references == digests
    assert all("@sha256:" in reference for reference in references.values())


def test_image_inputs_do_not_depend_on_where_the_checkout_lives(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pulumi runs the program in the project directory; two checkouts of the same sources must give
    # pulumi-docker the same inputs, or it rebuilds and pushes a tag the immutable repository holds.
    def inputs(project: Path) -> list[dict[str, Any]]:
        monkeypatch.chdir(project)
        harness.use("prod")

        def program() -> pulumi.Output[str]:
            images = Images("images", images_args(project))
            return images.app_image

        harness.evaluate(program)
        return sorted(
            (
                {"build": image.inputs["build"], "imageName": image.inputs["imageName"]}
                for image in harness.mocks.of_type(IMAGE)
            ),
            key=lambda image: str(image["imageName"]),
        )

    other = tmp_path / "elsewhere" / "checkout"
    for directory in ("docker", "app"):
        shutil.copytree(ROOT / directory, other / directory, symlinks=True)
    shutil.copy(ROOT / ".dockerignore", other / ".dockerignore")
    here = inputs(ROOT)
    assert here == inputs(other)
    assert all(not str(image["build"]["context"]).startswith("/") for image in here)


def test_tag_changes_whenever_pulumi_docker_would_rebuild(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "app").mkdir()
    script = tmp_path / "app" / "main.py"
    script.write_text("print('hello')\n")
    settings = {"context": "docker", "dockerfile": "docker/Dockerfile", "platform": "linux/amd64"}
    before = build_tag(context_digest(tmp_path), settings)
    assert before == build_tag(context_digest(tmp_path), settings)
    assert len(before) == 16
    changes: dict[str, Callable[[], object]] = {
        "content": lambda: script.write_text("print('hello, world')\n"),
        "mode": lambda: script.chmod(0o755),
        "name": lambda: script.rename(tmp_path / "app" / "run.py"),
        "symlink": lambda: (tmp_path / "app" / "link").symlink_to("run.py"),
    }
    seen = {before}
    for change in changes.values():
        change()
        seen.add(build_tag(context_digest(tmp_path), settings))
    assert len(seen) == 1 + len(changes)
    for key, value in (("context", "."), ("platform", "linux/arm64"), ("dockerfile", "Dockerfile.x")):
        assert build_tag(context_digest(tmp_path), {**settings, key: value}) not in seen


def test_a_new_pulumi_docker_release_makes_a_new_tag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    before = build_tag(context_digest(tmp_path), {})
    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: "9.9.9" if name == "pulumi-docker" else real(name))
    assert build_tag(context_digest(tmp_path), {}) != before


def test_files_docker_ignores_do_not_change_the_tag(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("**/__pycache__\n**/*.pyc\nDockerfile\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "run.py").write_text("print('hello')\n")
    before = build_tag(context_digest(tmp_path), {})
    (tmp_path / "app" / "__pycache__").mkdir(parents=True)
    (tmp_path / "app" / "__pycache__" / "run.cpython-311.pyc").write_bytes(b"\0")
    assert build_tag(context_digest(tmp_path), {}) == before
    assert [p.name for p in context_files(tmp_path)] == [".dockerignore", "Dockerfile", "run.py"]
    (tmp_path / "Dockerfile").write_text("FROM debian\n")
    assert build_tag(context_digest(tmp_path), {}) != before


def test_the_context_is_the_node_stack_and_the_app_alone() -> None:
    # Only what goes into an image makes a new tag (a release): not the Pulumi program, tests or docs.
    sent = {path.relative_to(ROOT).parts[0] for path in context_files(ROOT)}
    assert sent == {".dockerignore", "docker", "app"}
    assert ROOT / "app" / "requirements.txt" in context_files(ROOT)


def test_a_new_build_argument_makes_a_new_tag(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    settings = {"args.APP_DIR": "app", "args.WSGI_APP": "wsgi:app"}
    before = build_tag(context_digest(tmp_path), settings)
    assert build_tag(context_digest(tmp_path), {**settings, "args.WSGI_APP": "wsgi:create_app()"}) != before


@pytest.mark.parametrize(
    ("app_path", "allowed"),
    [
        ("/srv/app", "a directory inside the project, relative to it, not docker/"),
        ("../app", "a directory inside the project, relative to it, not docker/"),
        ("docker", "a directory inside the project, relative to it, not docker/"),
        ("missing", "a directory holding the app's pinned requirements.txt"),
        ("elsewhere", "a directory .dockerignore admits: add a line !elsewhere"),
    ],
)
def test_app_path_must_be_a_directory_docker_sends(tmp_path: Path, app_path: str, allowed: str) -> None:
    (tmp_path / ".dockerignore").write_text("*\n!docker\n!app\n")
    for directory in ("app", "elsewhere"):
        (tmp_path / directory).mkdir()
        (tmp_path / directory / "requirements.txt").write_text("flask==3.1.3\n")
    check_app_path(tmp_path, "app")
    with pytest.raises(ConfigError) as raised:
        check_app_path(tmp_path, app_path)
    assert str(raised.value) == f"appPath = {app_path!r}: expected {allowed}"


LIST_IMAGES = "aws:ecr/getImages:getImages"
OLDER = RELEASE_TAGS[0]
"""The release before the newest, the one a rollback goes back to."""


def repository(target: str) -> str:
    return f"{PROJECT}/prod/{target}"


def pin(harness: Harness, digest: str, *, release: bool = True) -> PinnedRelease | None:
    """`pinned_release` for the prod stack, its lookups answered by the mocks."""
    found: list[PinnedRelease | None] = []
    harness.evaluate(lambda: found.append(pinned_release(stack="prod", digest=digest, release=release)))
    return found[0]


def test_a_pinned_digest_finds_its_releases_proxy_and_release_images_by_their_shared_tag(
    harness: Harness,
) -> None:
    pinned = pin(harness, pushed_digest(repository("app"), OLDER))
    assert pinned == PinnedRelease(
        tag=OLDER,
        digests={target: pushed_digest(repository(target), OLDER) for target in ("app", "proxy", "release")},
    )
    assert [args["repositoryName"] for token, args in harness.mocks.invokes if token == LIST_IMAGES] == [
        repository("app"),
        repository("proxy"),
        repository("release"),
    ]


def test_without_a_release_command_the_release_repository_is_not_read(harness: Harness) -> None:
    pinned = pin(harness, pushed_digest(repository("app"), OLDER), release=False)
    assert pinned is not None
    assert sorted(pinned.digests) == ["app", "proxy"]


def test_no_pin_reads_nothing(harness: Harness) -> None:
    assert pinned_release(stack="prod", digest=None, release=True) is None
    assert harness.mocks.invokes == []


def listing(held: dict[str, list[tuple[str, str | None]]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A ListImages answer from `held` (repository: its image ids); a repository not in it does not exist."""

    def answer(args: dict[str, Any]) -> dict[str, Any]:
        name = args["repositoryName"]
        if name not in held:
            raise RuntimeError(
                f"RepositoryNotFoundException: The repository with name '{name}' does not exist"
            )
        return invokes.images(
            region="us-east-1", registry_id=ACCOUNT, repository_name=name, image_ids=held[name]
        )

    return answer


APP_DIGEST = f"sha256:{'a' * 64}"
PROXY_DIGEST = f"sha256:{'b' * 64}"


@pytest.mark.parametrize(
    ("held", "allowed"),
    [
        pytest.param(
            {repository("app"): [(f"sha256:{'c' * 64}", OLDER)]},
            f"the digest of an image ECR repository {repository('app')} holds (it holds 1; "
            f"`aws ecr describe-images --repository-name {repository('app')}` lists them by push time)",
            id="not-in-the-repository",
        ),
        pytest.param(
            {},
            f"an image of ECR repository {repository('app')}, which could not be listed: ",
            id="no-repository",
        ),
        pytest.param(
            {repository("app"): [(APP_DIGEST, None)]},
            f"an image with one release tag in {repository('app')}; it has []",
            id="untagged",
        ),
        pytest.param(
            {
                repository("app"): [(APP_DIGEST, OLDER)],
                repository("proxy"): [(PROXY_DIGEST, RELEASE_TAGS[1])],
            },
            f"an app image whose release's proxy image {repository('proxy')} holds under the same tag "
            f"({OLDER}), as it holds every release this program pushed; it holds 0 under that tag",
            id="proxy-expired",
        ),
        pytest.param(
            {
                repository("app"): [(APP_DIGEST, OLDER)],
                repository("proxy"): [(PROXY_DIGEST, OLDER)],
                repository("release"): [],
            },
            f"an app image whose release's release image {repository('release')} holds under the same tag "
            f"({OLDER}), as it holds every release this program pushed; it holds 0 under that tag",
            id="release-image-missing",
        ),
    ],
)
def test_a_pin_ecr_cannot_serve_is_refused_naming_the_key_the_digest_and_the_repository(
    harness: Harness,
    monkeypatch: pytest.MonkeyPatch,
    held: dict[str, list[tuple[str, str | None]]],
    allowed: str,
) -> None:
    monkeypatch.setitem(INVOKES, LIST_IMAGES, listing(held))
    with pytest.raises(ConfigError) as raised:
        pinned_release(stack="prod", digest=APP_DIGEST, release=True)
    assert str(raised.value).startswith(f"{PROJECT}:appImageDigest = {APP_DIGEST!r}: expected {allowed}")


def test_a_pinned_release_is_deployed_by_digest_with_nothing_built(harness: Harness) -> None:
    pinned = PinnedRelease(tag=OLDER, digests={"app": APP_DIGEST, "proxy": PROXY_DIGEST})
    seen: dict[str, str] = {}

    def program() -> pulumi.Output[None]:
        images = Images("images", dataclasses.replace(images_args(ROOT), pinned=pinned))
        return pulumi.Output.all(images.app_image, images.proxy_image).apply(
            lambda values: seen.update(app=values[0], proxy=values[1])
        )

    harness.evaluate(program)
    assert harness.mocks.of_type(IMAGE) == []
    assert [token for token, _ in harness.mocks.invokes] == []
    urls = {r.inputs["name"]: r.state["repositoryUrl"] for r in harness.mocks.of_type(REPOSITORY)}
    assert seen == {
        "app": f"{urls[repository('app')]}@{APP_DIGEST}",
        "proxy": f"{urls[repository('proxy')]}@{PROXY_DIGEST}",
    }
    # The repositories and their lifecycle stay as they are: a pin changes what runs, not what is kept.
    assert len(harness.mocks.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")) == 2


def test_a_pinned_release_reads_no_file_of_the_context(harness: Harness, tmp_path: Path) -> None:
    pinned = PinnedRelease(tag=OLDER, digests={"app": APP_DIGEST, "proxy": PROXY_DIGEST})
    harness.evaluate(
        lambda: Images("images", dataclasses.replace(images_args(tmp_path / "gone"), pinned=pinned)).app_image
    )
    assert harness.mocks.of_type(IMAGE) == []
