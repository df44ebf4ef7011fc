"""Container images: ECR repositories, and the node stack's `app` and `proxy` images built and pushed, or a
release those repositories hold deployed again by digest (config `appImageDigest`)."""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker
from docker.utils.build import exclude_paths

from infra import naming, policies
from infra.architecture import PLATFORMS
from infra.config import ConfigError

NODE_TARGETS = ("app", "proxy")
"""The images a node runs."""
RELEASE_TARGET = "release"
"""The app image as Lambda runs it, for the release phase (infra/release.py)."""
TARGETS = (*NODE_TARGETS, RELEASE_TARGET)
"""The Dockerfile's final stages, one repository and image each."""
DOCKERFILE = "docker/Dockerfile"
"""The Dockerfile, relative to the context (the project root): in the node stack's directory."""
PIN_KEY = "appImageDigest"
"""The config key that deploys a release ECR holds instead of building one."""
_RELEASE_TAG = re.compile(r"^[0-9a-f]{16}$")
"""A release's tag, as `build_tag` makes it: one tag for every target's image of that build."""


def repository_name(stack: str, target: str) -> str:
    """The ECR repository of one target's images: `<project>/<stack>/<target>`."""
    return naming.physical(naming.project(), stack, target, max_length=256, separator="/")


def context_files(context: Path) -> list[Path]:
    """The files docker sends as the build context, by Docker's own `.dockerignore` rules (the Docker SDK's
    matcher): all but those excluded, and the Dockerfile and `.dockerignore`, which docker always reads."""
    ignore = context / ".dockerignore"
    patterns = ignore.read_text().splitlines() if ignore.exists() else []
    kept = exclude_paths(str(context), patterns, dockerfile="Dockerfile")
    return sorted(context / name for name in kept if not (context / name).is_dir())


def context_digest(context: Path) -> str:
    """A digest of the files docker sends, their names and modes, and symlink targets: what pulumi-docker's
    own context digest covers (pulumi/pulumi-docker, provider/provider.go, `hashContext`)."""
    digest = hashlib.sha256()
    for path in context_files(context):
        info = path.lstat()
        digest.update(f"{path.relative_to(context).as_posix()}\0{stat.filemode(info.st_mode)}\0".encode())
        digest.update(os.readlink(path).encode() if path.is_symlink() else path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def build_tag(files: str, build: Mapping[str, str]) -> str:
    """The release's tag: a digest of everything that makes pulumi-docker build and push again.

    The repositories' tags are immutable, so a rebuild must never push a tag that exists. pulumi-docker
    rebuilds when its inputs change: the build settings as given (`build`) and the context's `files` digest
    (`context_digest`); a new release may add inputs. All of these are in this digest, so every rebuild
    pushes a tag never used before. Files docker ignores (caches, bytecode) make none. The settings the
    targets share are digested, not the target, which is its repository's: every image of one build gets
    the same tag, in its own repository, and so one image's tag finds the others (`pinned_release`).
    """
    digest = hashlib.sha256()
    for key, value in sorted({**build, "pulumi-docker": metadata.version("pulumi-docker")}.items()):
        digest.update(f"{key}={value}\0".encode())
    digest.update(files.encode())
    return digest.hexdigest()[:16]


def check_app_path(context: Path, app_path: str) -> None:
    """Raise a `ConfigError` on `appPath` unless docker sends the app directory: a directory below the
    context with a `requirements.txt` that the context's `.dockerignore` admits."""
    relative = Path(app_path)
    if relative.is_absolute() or ".." in relative.parts or relative.parts[:1] in ((), ("docker",)):
        raise ConfigError("appPath", app_path, "a directory inside the project, relative to it, not docker/")
    requirements = context / relative / "requirements.txt"
    if not requirements.is_file():
        raise ConfigError("appPath", app_path, "a directory holding the app's pinned requirements.txt")
    if requirements not in context_files(context):
        raise ConfigError("appPath", app_path, f"a directory .dockerignore admits: add a line !{app_path}")


@dataclass(frozen=True, kw_only=True)
class PinnedRelease:
    """A release the stack's repositories hold, deployed again instead of a build."""

    tag: str
    """The tag its images share (`build_tag`)."""
    digests: Mapping[str, str]
    """Each target's image digest (`sha256:<hex>`), for every target the stack builds."""


def _refused(digest: str, allowed: str) -> ConfigError:
    """The pin's error, its key in the project's namespace as `pulumi config` names it."""
    return ConfigError(PIN_KEY, digest, allowed).within(naming.project())


def _listed(stack: str, target: str, digest: str) -> list[tuple[str, str | None]]:
    """Every image id (digest, tag) of one target's repository, from ECR's ListImages."""
    name = repository_name(stack, target)
    try:
        listed = aws.ecr.get_images(repository_name=name)
    except Exception as error:
        # The provider's errors reach the program as plain exceptions; the message carries ECR's.
        raise _refused(
            digest, f"an image of ECR repository {name}, which could not be listed: {error}"
        ) from None
    return [(image.image_digest, image.image_tag) for image in listed.image_ids]


def pinned_release(*, stack: str, digest: str | None, release: bool) -> PinnedRelease | None:
    """The release whose `app` image has `digest` (config `appImageDigest`), read from ECR; None without one.

    The other targets' images are those under the app image's tag in their repositories: the proxy serves
    that release's static files, and the release function (with `release`) runs that release's command.
    Called before any resource is declared, so a digest ECR does not hold stops the deployment before it
    changes anything.
    """
    if digest is None:
        return None
    app = repository_name(stack, "app")
    images = _listed(stack, "app", digest)
    if digest not in {found for found, _ in images}:
        raise _refused(
            digest,
            f"the digest of an image ECR repository {app} holds (it holds {len({d for d, _ in images})}; "
            f"`aws ecr describe-images --repository-name {app}` lists them by push time)",
        )
    tags = sorted({tag for found, tag in images if found == digest and tag and _RELEASE_TAG.match(tag)})
    if len(tags) != 1:
        raise _refused(digest, f"an image with one release tag in {app}; it has {tags}")
    (tag,) = tags
    digests = {"app": digest}
    for target in (t for t in (TARGETS if release else NODE_TARGETS) if t != "app"):
        name = repository_name(stack, target)
        found = sorted({d for d, t in _listed(stack, target, digest) if t == tag})
        if len(found) != 1:
            raise _refused(
                digest,
                f"an app image whose release's {target} image {name} holds under the same tag ({tag}), as "
                f"it holds every release this program pushed; it holds {len(found)} under that tag",
            )
        digests[target] = found[0]
    return PinnedRelease(tag=tag, digests=digests)


@dataclass(frozen=True, kw_only=True)
class ImagesArgs:
    """Where the images are built from and how their repositories behave."""

    context: Path
    """The build context, the project root, with the node stack in `docker/` (the Dockerfile) and the app
    directory; passed to pulumi-docker relative to the working directory (Pulumi runs the program in the
    project directory), so that no input of the images depends on where the checkout lives."""
    app_path: str
    """The app directory, relative to the context (config `appPath`), checked by `check_app_path`."""
    wsgi_app: str
    """The app's WSGI callable, `module:name` (config `wsgiApp`)."""
    stack: str
    keep_images: int
    """Images each repository keeps; older ones expire."""
    force_delete: bool
    """Whether destroying the stack may delete repositories that still hold images."""
    release: bool = False
    """Whether the app has a release command: then the release image is built too."""
    architecture: str
    """The nodes' architecture, which the release function shares: every image is built for its platform
    alone, so a change of architecture is a new build and tag."""
    pinned: PinnedRelease | None = None
    """A release the repositories hold, deployed instead of building one (`pinned_release`): nothing is
    built or pushed."""


class Images(pulumi.ComponentResource):
    """One ECR repository per Dockerfile target, and each target built for the nodes' platform and pushed
    under the build's tag; or, with a pinned release, that release's images by digest and nothing built."""

    repositories: dict[str, aws.ecr.Repository]
    """The repository of each target (`app`, `proxy`, and `release` when the app has a release command)."""
    images: dict[str, docker.Image]
    """The pushed image of each target; none with a pinned release."""
    repository_arns: pulumi.Output[list[str]]
    """The node images' repositories' ARNs: all the nodes may pull from."""
    app_image: pulumi.Output[str]
    """The `app` image by digest (`<repository>@sha256:...`): what the instances pull."""
    proxy_image: pulumi.Output[str]
    """The `proxy` image by digest."""
    release_image: pulumi.Output[str] | None
    """The `release` image by digest, with a release command: what the release phase's function runs."""
    release_repository_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: ImagesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flask-nginx-aws:image:Images", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context = Path(os.path.relpath(args.context))
        settings = {
            "context": context.as_posix(),
            "dockerfile": (context / DOCKERFILE).as_posix(),
            "platform": PLATFORMS[args.architecture],
        }
        build_args = {"APP_DIR": Path(args.app_path).as_posix(), "WSGI_APP": args.wsgi_app}
        # The build arguments are pulumi-docker inputs too: each one is in the tag. A pinned release reads
        # no file: its tag is ECR's.
        arguments = {f"args.{key}": value for key, value in build_args.items()}
        tag = (
            args.pinned.tag if args.pinned else build_tag(context_digest(context), {**settings, **arguments})
        )
        self.repositories = {}
        self.images = {}
        references: dict[str, pulumi.Output[str]] = {}
        for target in TARGETS if args.release else NODE_TARGETS:
            repository = aws.ecr.Repository(
                naming.child(name, target),
                name=repository_name(args.stack, target),
                # Tags never move: what was deployed can always be found again, by tag or digest.
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(
                    scan_on_push=True
                ),
                # Encrypted with the account's AWS-managed ECR key: key use shows up in CloudTrail.
                encryption_configurations=[
                    aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS")
                ],
                force_delete=args.force_delete,
                opts=child,
            )
            aws.ecr.LifecyclePolicy(
                naming.child(name, target),
                repository=repository.name,
                policy=policies.keep_last_images(args.keep_images),
                opts=child,
            )
            self.repositories[target] = repository
            if args.pinned is not None:
                # A release the repository holds: by digest, with nothing built or pushed.
                references[target] = pulumi.Output.concat(
                    repository.repository_url, "@", args.pinned.digests[target]
                )
                continue
            self.images[target] = self._build(
                name, target=target, repository=repository, settings=settings, build_args=build_args, tag=tag
            )
            references[target] = self.images[target].repo_digest
        self.repository_arns = pulumi.Output.all(*[self.repositories[target].arn for target in NODE_TARGETS])
        self.app_image = references["app"]
        self.proxy_image = references["proxy"]
        released = self.repositories.get(RELEASE_TARGET)
        self.release_image = references[RELEASE_TARGET] if released is not None else None
        self.release_repository_name = released.name if released is not None else None
        self.register_outputs({"app_image": self.app_image, "proxy_image": self.proxy_image})

    def _build(
        self,
        name: str,
        *,
        target: str,
        repository: aws.ecr.Repository,
        settings: Mapping[str, str],
        build_args: Mapping[str, str],
        tag: str,
    ) -> docker.Image:
        """`target` built from the context and pushed to `repository` under the release's `tag`."""
        token = aws.ecr.get_authorization_token_output(
            registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        return docker.Image(
            naming.child(name, target),
            build=docker.DockerBuildArgs(
                context=settings["context"],
                dockerfile=settings["dockerfile"],
                target=target,
                platform=settings["platform"],
                args=dict(build_args),
            ),
            image_name=pulumi.Output.concat(repository.repository_url, ":", tag),
            registry=docker.RegistryArgs(
                server=repository.repository_url,
                username=token.user_name,
                password=pulumi.Output.secret(token.password),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
