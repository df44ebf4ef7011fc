"""Container images: ECR repositories, and the node stack's `app` and `proxy` images built and pushed."""

from __future__ import annotations

import hashlib
import os
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
from infra.config import ConfigError

PLATFORM = "linux/amd64"
"""The instances' architecture (the launch template's AMI is x86_64)."""
NODE_TARGETS = ("app", "proxy")
"""The images a node runs."""
RELEASE_TARGET = "release"
"""The app image as Lambda runs it, for the release phase (infra/release.py)."""
TARGETS = (*NODE_TARGETS, RELEASE_TARGET)
"""The Dockerfile's final stages, one repository and image each."""
DOCKERFILE = "docker/Dockerfile"
"""The Dockerfile, relative to the context (the project root): in the node stack's directory."""


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
    """The image's tag: a digest of everything that makes pulumi-docker build and push again.

    The repositories' tags are immutable, so a rebuild must never push a tag that exists. pulumi-docker
    rebuilds when its inputs change: the build settings as given (`build`) and the context's `files` digest
    (`context_digest`); a new release may add inputs. All of these are in this digest, so every rebuild
    pushes a tag never used before. Files docker ignores (caches, bytecode) make none.
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
    release: bool = False
    """Whether the app has a release command: then the release image is built too."""
    """Whether destroying the stack may delete repositories that still hold images."""


class Images(pulumi.ComponentResource):
    """One ECR repository per Dockerfile target, and each target built for `linux/amd64` and pushed."""

    repositories: dict[str, aws.ecr.Repository]
    """The repository of each target (`app`, `proxy`, and `release` when the app has a release command)."""
    images: dict[str, docker.Image]
    """The pushed image of each target."""
    repository_arns: pulumi.Output[list[str]]
    """The node images' repositories' ARNs: all the nodes may pull from."""
    app_image: pulumi.Output[str]
    """The `app` image by digest (`<repository>@sha256:...`): what the instances pull."""
    proxy_image: pulumi.Output[str]
    """The `proxy` image by digest."""
    release_image: pulumi.Output[str] | None
    """The `release` image by digest, when built: what the release phase's function runs."""
    release_repository_name: pulumi.Output[str] | None

    def __init__(self, name: str, args: ImagesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flask-nginx-aws:image:Images", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        context = Path(os.path.relpath(args.context))
        # The context is read and hashed once; each target's tag adds its own build settings.
        files = context_digest(context)
        build_args = {"APP_DIR": Path(args.app_path).as_posix(), "WSGI_APP": args.wsgi_app}
        self.repositories = {}
        self.images = {}
        for target in TARGETS if args.release else NODE_TARGETS:
            repository = aws.ecr.Repository(
                naming.child(name, target),
                name=naming.physical(naming.project(), args.stack, target, max_length=256, separator="/"),
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
            token = aws.ecr.get_authorization_token_output(
                registry_id=repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            self.repositories[target] = repository
            settings = {
                "context": context.as_posix(),
                "dockerfile": (context / DOCKERFILE).as_posix(),
                "target": target,
                "platform": PLATFORM,
            }
            # The build arguments are pulumi-docker inputs too: each one is in the tag.
            arguments = {f"args.{key}": value for key, value in build_args.items()}
            tag = build_tag(files, {**settings, **arguments})
            self.images[target] = docker.Image(
                naming.child(name, target),
                build=docker.DockerBuildArgs(
                    context=settings["context"],
                    dockerfile=settings["dockerfile"],
                    target=target,
                    platform=PLATFORM,
                    args=build_args,
                ),
                image_name=pulumi.Output.concat(repository.repository_url, ":", tag),
                registry=docker.RegistryArgs(
                    server=repository.repository_url,
                    username=token.user_name,
                    password=pulumi.Output.secret(token.password),
                ),
                opts=child,
            )
        self.repository_arns = pulumi.Output.all(*[self.repositories[target].arn for target in NODE_TARGETS])
        self.app_image = self.images["app"].repo_digest
        self.proxy_image = self.images["proxy"].repo_digest
        released = self.repositories.get(RELEASE_TARGET)
        self.release_image = self.images[RELEASE_TARGET].repo_digest if released is not None else None
        self.release_repository_name = released.name if released is not None else None
        self.register_outputs({"app_image": self.app_image, "proxy_image": self.proxy_image})
