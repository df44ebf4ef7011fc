"""The node stack's images, built from docker/Dockerfile and the sample app with BuildKit on a Docker engine
found here or started for the run, on the production bases or on stand-ins made of Debian packages (Docker
Hub may be out of reach)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

from nodestack.paths import CONTEXT, DOCKERFILE, REPO
from nodestack.process import wait_until
from nodestack.standins import QuietHandler, serving

#: The data root of an engine started here: kept between runs, so the stand-ins and build layers are cached.
ENGINE_DATA = REPO / ".build" / "docker"
#: The Dockerfile's targets, the images a node runs.
NODE_TARGETS = ("app", "proxy")
"""The images a node runs, each on a base image of its own."""
TARGETS = (*NODE_TARGETS, "release")
#: ``IMAGE_BASES=production`` builds on the Dockerfile's own bases (pulled from Docker Hub); the default
#: builds on stand-ins, since Docker Hub cannot be reached from every machine that runs `make test`.
BASES_VARIABLE = "IMAGE_BASES"
#: A build or a debootstrap that takes longer than this has hung.
BUILD_TIMEOUT = 600.0
ENGINE_TIMEOUT = 60.0
#: The platform of this machine's engine, the images' unless another is asked for.
NATIVE = "linux/amd64"
#: The platforms the stack's nodes run (infra/architecture.py), by Debian's name for their architecture:
#: debootstrap makes a stand-in of either; one that is not this machine's runs its binaries through
#: qemu-user-static, registered with binfmt_misc (make system, scripts/require-binfmt).
DEBIAN_ARCHITECTURES = {"linux/amd64": "amd64", "linux/arm64": "arm64"}
#: qemu's name for each emulated platform's machine: its binfmt_misc entry is qemu-<machine>.
QEMU_MACHINES = {"linux/arm64": "aarch64"}
BINFMT_MISC = Path("/proc/sys/fs/binfmt_misc")

#: The stand-ins' Debian: the release the production bases are built on (python:3.11.14-slim-bookworm,
#: debian:12.12-slim), whose python3 is 3.11 as theirs is.
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
#: The package sources of debian:12.12-slim (/etc/apt/sources.list.d/debian.sources), so that the proxy
#: stage's pins (point-release and security updates) resolve on the stand-in as on the real base.
DEBIAN_SOURCES = f"""\
Types: deb
URIs: {MIRROR}
Suites: {SUITE} {SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: {SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""
#: pip in a build checks the index's certificate against this bundle: the host's, which holds any CA its
#: network requires. In the stand-in it has a path of its own, which the ca-certificates package (pulled in
#: by python3) does not rewrite.
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
STANDIN_CA_BUNDLE = "/etc/ssl/host-ca-certificates.crt"
#: The Debian stand-in: debootstrap's tree as an image's one layer. Built rather than `docker import`ed: an
#: engine before Docker 23 ignores import's --platform (unless experimental), and so labels an arm64 tree
#: amd64, which a build for linux/arm64 then looks for on Docker Hub instead; a build labels it with its own.
DEBIAN_STANDIN = """\
FROM scratch
ADD rootfs.tar /
CMD ["bash"]
"""
#: The Python stand-in on the Debian one: python and pip in /usr/local/bin, where python:3.11-slim has them,
#: from a virtualenv (Debian's own python3 refuses pip installs, PEP 668).
PYTHON_STANDIN = f"""\
FROM {{debian}}
RUN apt-get update \\
    && apt-get install -y --no-install-recommends python3=3.11.2-1+b1 python3-venv=3.11.2-1+b1 \\
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /usr/local
# The virtualenv's pip checks certificates against its own bundle; the host's is the one its network needs.
ENV LANG=C.UTF-8 PIP_CERT={STANDIN_CA_BUNDLE}
CMD ["python3"]
"""


@dataclass(frozen=True)
class Engine:
    """A Docker engine and the client that speaks to it."""

    host: str
    client: str

    def env(self) -> dict[str, str]:
        """The client's environment: this engine, BuildKit."""
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "1"}

    def run(self, *args: str, stdin: bytes | None = None, timeout: float = ENGINE_TIMEOUT) -> str:
        """``docker ARGS``' output; raises with its output when it fails."""
        result = subprocess.run(  # noqa: S603 - the engine's own client, fixed arguments
            [self.client, *args],
            input=stdin,
            capture_output=True,
            env=self.env(),
            timeout=timeout,
            check=False,
        )
        output = (result.stdout + result.stderr).decode(errors="replace")
        if result.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)} exited with {result.returncode}:\n{output[-4000:]}")
        return result.stdout.decode()

    def answers(self) -> bool:
        """Whether the engine answers."""
        try:
            self.run("version", timeout=10)
        except (RuntimeError, subprocess.TimeoutExpired):
            return False
        return True

    def has_image(self, tag: str) -> bool:
        """Whether the engine holds ``tag``."""
        try:
            self.run("image", "inspect", tag)
        except RuntimeError:
            return False
        return True


#: Where Debian's docker.io and Docker's own packages install the client.
PACKAGED_CLIENT = Path("/usr/bin/docker")


def sbin_tool(name: str) -> str | None:
    """``name``'s path, looked up in sbin too: dockerd and debootstrap live there, and a user's PATH may
    leave it out."""
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")


def client() -> str:
    """The client the engine's package installs: it builds with BuildKit by itself, where a newer standalone
    client earlier on PATH may ask for the buildx plugin instead."""
    if PACKAGED_CLIENT.exists():
        return str(PACKAGED_CLIENT)
    found = shutil.which("docker")
    if found is None:
        raise RuntimeError("no docker client: install Debian's docker.io (make system does)")
    return found


@contextmanager
def docker_engine() -> Iterator[Engine]:
    """The engine DOCKER_HOST (or the default socket) names, when it answers; otherwise a dockerd of our own
    with its data root in ENGINE_DATA and its socket in a temporary directory, stopped on exit."""
    docker = client()
    found = Engine(host=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"), client=docker)
    if found.answers():
        yield found
        return
    dockerd = sbin_tool("dockerd")
    if dockerd is None:
        raise RuntimeError("no Docker engine answers and no dockerd to start: install Debian's docker.io")
    ENGINE_DATA.mkdir(parents=True, exist_ok=True)
    # A short path: the engine's unix sockets live under its exec root (108 bytes at most).
    with tempfile.TemporaryDirectory(prefix="dockerd-") as run_dir:
        engine = Engine(host=f"unix://{run_dir}/docker.sock", client=docker)
        log = (ENGINE_DATA / "dockerd.log").open("wb")
        # --bridge none, --iptables=false: the engine leaves the host's network as it found it; builds and
        # containers use the host's network (--network host), as a node's containers do.
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                dockerd, "--data-root", str(ENGINE_DATA / "data"), "--exec-root", f"{run_dir}/exec",
                "--pidfile", f"{run_dir}/dockerd.pid", "--host", engine.host,
                "--bridge", "none", "--iptables=false", "--ip6tables=false",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:

            def up() -> bool:
                if process.poll() is not None:
                    text = (ENGINE_DATA / "dockerd.log").read_text(errors="replace")[-4000:]
                    raise RuntimeError(f"dockerd exited with {process.returncode}:\n{text}")
                return engine.answers()

            wait_until(up, f"dockerd on {engine.host}", ENGINE_TIMEOUT)
            yield engine
        finally:
            process.terminate()
            try:
                process.wait(timeout=ENGINE_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
            unmount_under(Path(run_dir))


def unmount_under(directory: Path) -> None:
    """Unmount what is mounted below ``directory``, deepest first: dockerd leaves the host's network
    namespace bound at <exec root>/netns/default when it stops."""
    mounts = [Path(line.split()[4]) for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    below = [mount for mount in mounts if directory in mount.parents]
    for mount in sorted(below, key=lambda mount: len(mount.parts), reverse=True):
        subprocess.run(["umount", str(mount)], check=True)  # noqa: S603, S607 - umount from PATH


def require_emulation(platform: str) -> None:
    """Raise, saying how to fix it, unless this machine runs ``platform``'s binaries: natively, or through
    an enabled binfmt_misc entry of qemu-user-static."""
    if platform == NATIVE:
        return
    machine = QEMU_MACHINES[platform]
    entry = BINFMT_MISC / f"qemu-{machine}"
    if not entry.exists() or entry.read_text().splitlines()[0] != "enabled":
        raise RuntimeError(
            f"{entry} is not enabled: this machine cannot run {platform} binaries; as root, `make "
            f"arm64-machine` installs qemu-user-static and registers it (scripts/require-binfmt {machine})"
        )


def standin_key() -> str:
    """A digest of everything the stand-ins are made of: a change to any of it builds them again."""
    recipe = hashlib.sha256()
    for part in (SUITE, MIRROR, DEBIAN_SOURCES, DEBIAN_STANDIN, PYTHON_STANDIN):
        recipe.update(part.encode() + b"\0")
    recipe.update(CA_BUNDLE.read_bytes())
    return recipe.hexdigest()[:12]


def debian_standin(engine: Engine, tag: str, platform: str = NATIVE) -> None:
    """A minimal bookworm (debootstrap's minbase, as Debian's slim images are) for ``platform``, built as
    ``tag``. For another architecture debootstrap's second stage runs its binaries under emulation."""
    with tempfile.TemporaryDirectory(prefix="standin-") as scratch:
        root = Path(scratch) / "root"
        debootstrap = sbin_tool("debootstrap")
        if debootstrap is None:
            raise RuntimeError("no debootstrap: install Debian's debootstrap (make system does)")
        architecture = f"--arch={DEBIAN_ARCHITECTURES[platform]}"
        result = subprocess.run(  # noqa: S603 - fixed arguments
            [debootstrap, "--variant=minbase", architecture, SUITE, str(root), MIRROR],
            capture_output=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            output = result.stdout.decode(errors="replace")[-4000:]
            raise RuntimeError(f"debootstrap exited with {result.returncode}:\n{output}")
        (root / "etc/apt/sources.list").unlink(missing_ok=True)
        (root / "etc/apt/sources.list.d/debian.sources").write_text(DEBIAN_SOURCES)
        bundle = root / STANDIN_CA_BUNDLE.lstrip("/")
        bundle.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CA_BUNDLE, bundle)
        shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
        (root / "var/cache/apt/archives/partial").mkdir(parents=True)
        context = Path(scratch) / "context"
        context.mkdir()
        subprocess.run(  # noqa: S603 - fixed arguments
            # Owners by number: the tree's, not this machine's names for them.
            ["tar", "--numeric-owner", "-C", str(root), "-cf", str(context / "rootfs.tar"), "."],  # noqa: S607
            capture_output=True,
            timeout=BUILD_TIMEOUT,
            check=True,
        )
        (context / "Dockerfile").write_text(DEBIAN_STANDIN)
        engine.run("build", "--platform", platform, "--tag", tag, str(context), timeout=BUILD_TIMEOUT)


def standin_bases(engine: Engine, platform: str = NATIVE) -> dict[str, str]:
    """The Dockerfile's base-image arguments set to stand-ins for ``platform``, built unless the engine
    holds them already."""
    key = standin_key()
    architecture = DEBIAN_ARCHITECTURES[platform]
    debian = f"standin/debian:{SUITE}-{architecture}-{key}"
    python = f"standin/python:3.11-{SUITE}-{architecture}-{key}"
    if not engine.has_image(debian):
        debian_standin(engine, debian, platform)
    if not engine.has_image(python):
        dockerfile = PYTHON_STANDIN.format(debian=debian).encode()
        # "-": the Dockerfile on stdin and no context, since it copies nothing in.
        build = ["build", "--network", "host", "--platform", platform, "--tag", python, "-"]
        engine.run(*build, stdin=dockerfile, timeout=BUILD_TIMEOUT)
    return {"PYTHON_IMAGE": python, "DEBIAN_IMAGE": debian}


def base_args(engine: Engine, platform: str = NATIVE) -> dict[str, str]:
    """The base-image arguments the build gets: none (the Dockerfile's own) or the stand-ins."""
    bases = os.environ.get(BASES_VARIABLE, "standin")
    if bases == "production":
        return {}
    if bases != "standin":
        raise ValueError(f"{BASES_VARIABLE}={bases!r}: expected 'standin' or 'production'")
    return standin_bases(engine, platform)


def build(engine: Engine, target: str, build_args: Mapping[str, str], platform: str = NATIVE) -> str:
    """Build ``target`` for ``platform`` from the project root (docker/Dockerfile, the sample app) and
    return its image id."""
    tag = f"nodestack/{target}:{DEBIAN_ARCHITECTURES[platform]}-test"
    arguments = [arg for name, value in build_args.items() for arg in ("--build-arg", f"{name}={value}")]
    engine.run(
        "build", "--network", "host", "--platform", platform, "--file", str(DOCKERFILE), "--target", target,
        "--tag", tag, *arguments, str(CONTEXT),
        timeout=BUILD_TIMEOUT,
    )  # fmt: skip
    return engine.run("image", "inspect", "--format", "{{.Id}}", tag).strip()


@contextmanager
def served_file(path: Path) -> Iterator[str]:
    """``path`` served over HTTP on loopback while the block runs: its URL. A build's ``ADD`` of a URL is
    fetched by the engine itself, on the host's network, so it reaches loopback."""
    body = path.read_bytes()

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}/{path.name}"


def build_images(engine: Engine, database_ca: Path = CA_BUNDLE, platform: str = NATIVE) -> dict[str, str]:
    """Every target's image id for ``platform``, by target. The app image ships ``database_ca`` as its
    database CA bundle (``RDS_CA_BUNDLE_URL``, RDS's own in a real build, out of reach here): the tests that
    connect to their PostgreSQL pass its CA; by default the host's bundle stands in."""
    require_emulation(platform)
    with served_file(database_ca) as url:
        build_args = {**base_args(engine, platform), "RDS_CA_BUNDLE_URL": url}
        return {target: build(engine, target, build_args, platform) for target in TARGETS}


@dataclass(frozen=True)
class Container:
    """A started container."""

    engine: Engine
    id: str

    def inspect(self) -> dict[str, object]:
        """``docker inspect``'s record of it."""
        records: list[dict[str, object]] = json.loads(self.engine.run("inspect", self.id))
        return records[0]

    def state(self) -> dict[str, object]:
        """Its state: Running, Pid, ExitCode..."""
        state = self.inspect()["State"]
        if not isinstance(state, dict):
            raise TypeError(f"docker inspect {self.id}: State is {state!r}")
        return state

    def logs(self) -> str:
        """What it wrote to stdout and stderr."""
        result = subprocess.run(  # noqa: S603 - the engine's own client, fixed arguments
            [self.engine.client, "logs", self.id], capture_output=True, env=self.engine.env(), check=False
        )
        return (result.stdout + result.stderr).decode(errors="replace")

    def check_running(self) -> None:
        """Raise, with its logs, if it has exited."""
        state = self.state()
        if not state["Running"]:
            raise RuntimeError(f"container exited with {state['ExitCode']}:\n{self.logs()[-4000:]}")

    def exec(self, *command: str) -> subprocess.CompletedProcess[bytes]:
        """``command`` run in it as its image's user."""
        return subprocess.run(  # noqa: S603 - the engine's own client, fixed arguments
            [self.engine.client, "exec", self.id, *command],
            capture_output=True,
            env=self.engine.env(),
            check=False,
        )


@contextmanager
def running(engine: Engine, *args: str) -> Iterator[Container]:
    """``docker run --detach ARGS``, removed (with its anonymous volumes) on exit whatever happened."""
    container = Container(engine, engine.run("run", "--detach", *args).strip())
    try:
        yield container
    finally:
        engine.run("rm", "--force", "--volumes", container.id)


@contextmanager
def volume(engine: Engine) -> Iterator[str]:
    """A new named volume, removed on exit."""
    name = engine.run("volume", "create").strip()
    try:
        yield name
    finally:
        engine.run("volume", "rm", "--force", name)
