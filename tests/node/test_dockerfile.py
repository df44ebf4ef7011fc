"""docker/Dockerfile's shape, and every runtime requirement resolved as a binary wheel for its platform
(hadolint and trivy run in scripts/sast; test_images.py builds the images and runs them)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from appserver.environment import SOCKET
from nodestack.nginx import PROXY_COMMAND
from nodestack.paths import APP, CONTEXT, DOCKER, DOCKERFILE

#: Both requirement files the builder resolves together: the node stack's and the sample app's.
REQUIREMENTS = (DOCKER / "requirements.txt", APP / "requirements.txt")
#: The release image's packages, installed on their own (--no-deps).
RELEASE_REQUIREMENTS = DOCKER / "release-requirements.txt"
#: Both images make gunicorn's socket directory, the mount point of the volume they share.
MAKE_SOCKET_DIR = f"install -d -o 1001 -g 1001 -m 0750 {PurePosixPath(SOCKET).parent}"
# python:3.11-slim-bookworm is glibc 2.36, on linux/amd64 and linux/arm64 alike: the wheel tags it takes.
GLIBC_TAGS = ("manylinux_2_36", "manylinux_2_28", "manylinux_2_17", "manylinux2014")
#: The machines of the nodes' platforms (infra/architecture.py), as wheel tags name them.
MACHINES = ("x86_64", "aarch64")


def stages() -> dict[str, list[str]]:
    """Instructions of each stage, by stage name (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = re.match(r"FROM\s+(\S+)\s+AS\s+(\S+)", stripped, re.IGNORECASE)
        if match:
            current = result.setdefault(match.group(2), [f"FROM {match.group(1)}"])
        else:
            current.append(stripped)
    return result


def instruction(stage: list[str], keyword: str) -> list[str]:
    return [line[len(keyword) :].strip() for line in stage if line.upper().startswith(keyword + " ")]


def test_multi_stage_with_builder_app_release_and_proxy() -> None:
    assert list(stages()) == ["builder", "app", "release", "proxy"]


def base_arguments() -> dict[str, str]:
    """The Dockerfile's base-image arguments (``ARG *_IMAGE=``) and their defaults, the production bases."""
    return dict(re.findall(r"^ARG (\w+_IMAGE)=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE))


def test_base_images_pinned_to_a_version() -> None:
    bases = base_arguments()
    assert set(bases) == {"PYTHON_IMAGE", "DEBIAN_IMAGE"}
    for image in bases.values():
        assert re.search(r":\d+\.\d+(\.\d+)?-", image), f"{image} is not pinned to a version"


def test_a_build_pulls_the_bases_and_nothing_else() -> None:
    text = DOCKERFILE.read_text()
    # A `# syntax=` directive makes BuildKit pull that frontend's image before anything else.
    assert not re.search(r"^#\s*syntax\s*=", text, re.IGNORECASE | re.MULTILINE)
    names = list(stages())
    for name, stage in stages().items():
        # Each stage starts from a base-image argument (stand-ins replace those in `make test`), or from an
        # earlier stage (the release image is the app's).
        bases = {f"FROM ${{{argument}}}" for argument in base_arguments()}
        assert stage[0] in bases or stage[0].removeprefix("FROM ") in names[: names.index(name)], name
        for line in stage:
            # Files come from earlier stages only, never from another image.
            for source in re.findall(r"(?:--from|from)=(\S+?)(?:,|\s|$)", line):
                assert source in names[: names.index(name)], f"{name}: {line}"


def test_app_stage_runs_serve_py_as_1001_on_a_socket_from_offline_wheels() -> None:
    app = stages()["app"]
    assert instruction(app, "USER") == ["1001"]
    # No TCP port: gunicorn listens on its socket, in a directory for the app user (1001) alone.
    assert instruction(app, "EXPOSE") == []
    assert MAKE_SOCKET_DIR in instruction(app, "RUN")
    (cmd,) = instruction(app, "CMD")
    assert json.loads(cmd) == ["python", "/opt/nodestack/serve.py"]
    (healthcheck,) = instruction(app, "HEALTHCHECK")
    assert healthcheck.endswith('CMD ["python", "/opt/nodestack/healthcheck.py"]')
    # The node stack on PYTHONPATH; the app in the working directory, from which WSGI_APP is imported.
    assert "WSGI_APP=${WSGI_APP}" in instruction(app, "ENV")
    assert any("PYTHONPATH=/opt/nodestack" in line for line in instruction(app, "ENV"))
    assert instruction(app, "WORKDIR") == ["/app"]
    assert "COPY --from=builder /build/app/ ./" in app
    # Wheels come from the builder stage, installed offline.
    assert any("--no-index" in line and "from=builder" in line for line in instruction(app, "RUN"))


def test_proxy_stage_renders_then_runs_the_tested_command_unprivileged_with_precompressed_static() -> None:
    proxy = stages()["proxy"]
    (user,) = instruction(proxy, "USER")
    assert user not in {"0", "root"}
    assert MAKE_SOCKET_DIR in instruction(proxy, "RUN")
    (healthcheck,) = instruction(proxy, "HEALTHCHECK")
    assert "/healthz" in healthcheck
    assert instruction(proxy, "STOPSIGNAL") == ["SIGQUIT"]
    (entrypoint,) = instruction(proxy, "ENTRYPOINT")
    assert json.loads(entrypoint) == ["/opt/nginx/render.sh"]
    # The command every node test starts nginx with (nodestack/nginx.py), each in its own runtime dir.
    (cmd,) = instruction(proxy, "CMD")
    assert json.loads(cmd) == PROXY_COMMAND
    # The static files with their .gz twins, made in the builder.
    assert "COPY --from=builder /build/static/ /srv/static/" in proxy
    assert any(line.endswith("&& precompress static") for line in instruction(stages()["builder"], "RUN"))


def test_files_the_images_copy_exist() -> None:
    for stage in stages().values():
        for source in instruction(stage, "COPY"):
            if source.startswith("--from"):
                continue
            *sources, _ = source.split()
            for pattern in sources:
                path = pattern.replace("${APP_DIR}", APP.name).rstrip("/")
                assert list(CONTEXT.glob(path)), f"COPY {pattern}: nothing in the context"


def test_the_builder_resolves_the_node_stack_and_the_app_requirements_together() -> None:
    builder = stages()["builder"]
    assert "ARG APP_DIR=app" in builder
    assert "COPY ${APP_DIR}/requirements.txt requirements/app.txt" in builder
    (wheels,) = [
        line for line in instruction(builder, "RUN") if line.startswith("pip wheel") and "app.txt" in line
    ]
    assert wheels.endswith("-r requirements/nodestack.txt -r requirements/app.txt")


def pinned_names(paths: tuple[Path, ...]) -> list[str]:
    """The distributions ``paths`` pin, as wheel file names spell them."""
    return [
        re.split(r"\[|==", line)[0].replace("-", "_").lower()
        for path in paths
        for line in path.read_text().splitlines()
        if "==" in line
    ]


def download_wheels(paths: tuple[Path, ...], machine: str, dest: Path, *extra: str) -> None:
    """pip's resolver on ``paths``' pins for CPython 3.11 on glibc ``machine``, binary wheels only, into
    ``dest``; fails naming each requirement that has none."""
    platforms = [arg for tag in GLIBC_TAGS for arg in ("--platform", f"{tag}_{machine}")]
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", *platforms,
            "--python-version", "3.11", "--implementation", "cp",
            "--abi", "cp311", "--abi", "abi3", "--abi", "none", *extra,
            *[arg for path in paths for arg in ("--requirement", str(path))], "--dest", str(dest),
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    missing = re.findall(r"(?:satisfies the requirement|distribution found for) (\S+)", result.stderr)
    assert result.returncode == 0, f"no binary wheel for {machine}: {sorted(set(missing))}\n{result.stderr}"


@pytest.mark.parametrize("machine", MACHINES)
def test_every_runtime_requirement_is_a_binary_wheel_for_each_nodes_platform(
    machine: str, tmp_path: Path
) -> None:
    # The app image's pins resolved together, as the builder's `pip wheel` does; the release image's alone
    # and without dependencies, as its `pip install --no-deps` does (a source distribution would compile).
    wheels: list[str] = []
    for image, paths, extra in (
        ("app", REQUIREMENTS, ()),
        ("release", (RELEASE_REQUIREMENTS,), ("--no-deps",)),
    ):
        download_wheels(paths, machine, tmp_path / image, *extra)
        downloaded = sorted(path.name for path in (tmp_path / image).iterdir())
        assert sorted(name.split("-")[0].lower() for name in downloaded) == sorted(pinned_names(paths))
        wheels += downloaded
    # Pure-Python wheels, or compiled ones for CPython 3.11 on glibc for this machine.
    binary = re.compile(rf"-((py2\.)?py3-none-any|cp311-(cp311|abi3)-manylinux.*_{machine})\.whl$")
    for name in wheels:
        assert binary.search(name), name
    # gevent, greenlet, psycopg-binary... really are compiled for it.
    assert any(re.search(rf"-cp311-cp311-manylinux.*_{machine}\.whl$", name) for name in wheels)


def test_the_app_image_ships_rds_ca_bundle_for_verified_database_tls() -> None:
    builder, app = stages()["builder"], stages()["app"]
    url = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
    assert f"ARG RDS_CA_BUNDLE_URL={url}" in builder
    (fetch,) = [line for line in instruction(builder, "RUN") if "RDS_CA_BUNDLE_URL" in line]
    assert fetch.endswith('&& grep -q -- "-----BEGIN CERTIFICATE-----" rds-ca-bundle.pem')
    assert "COPY --from=builder /build/rds-ca-bundle.pem /opt/nodestack/rds-ca-bundle.pem" in app
    assert "DATABASE_SSLROOTCERT=/opt/nodestack/rds-ca-bundle.pem" in instruction(app, "ENV")
