"""The images built for linux/arm64 (config `architecture: arm64`, AWS Graviton nodes) and started as a node
starts them, under emulation: qemu-user-static runs their aarch64 binaries through binfmt_misc
(scripts/require-binfmt). Slow, so not part of `make test`: `make arm64-test` runs it, and CI with it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nodestack.images import Container, Engine, build_images
from tests.node.test_images import Stack, running_stack

pytestmark = pytest.mark.arm64

PLATFORM = "linux/arm64"
#: ELF's machine number for AArch64 (e_machine, the 2 bytes at offset 18 of a 64-bit ELF header).
EM_AARCH64 = 183
#: Emulated, gunicorn's workers import gevent, Flask and SQLAlchemy many times slower than natively.
EMULATED_START_TIMEOUT = 300.0


@pytest.fixture(scope="module")
def arm64_images(engine: Engine) -> dict[str, str]:
    """Every docker/Dockerfile target built for linux/arm64, on arm64 stand-in bases by default."""
    return build_images(engine, platform=PLATFORM)


@pytest.fixture(scope="module")
def stack(
    engine: Engine, arm64_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The app and proxy containers as a node runs them; the app without a database, which the sample app
    allows."""
    cafile = tmp_path_factory.mktemp("arm64-tls") / "node.crt"
    with running_stack(engine, arm64_images, cafile, timeout=EMULATED_START_TIMEOUT) as node:
        yield node


def output(container: Container, *command: str) -> bytes:
    """``command``'s standard output in ``container``; fails with its error output."""
    result = container.exec(*command)
    assert result.returncode == 0, (result.stdout + result.stderr).decode(errors="replace")
    return result.stdout


def elf_machine(binary: bytes) -> int:
    """The machine a 64-bit little-endian ELF file is for."""
    assert binary[:6] == b"\x7fELF\x02\x01", binary[:6]
    return int.from_bytes(binary[18:20], "little")


def test_nginx_answers_200_from_gunicorn_on_arm64(stack: Stack) -> None:
    response = stack.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert stack.get("/healthz", host="127.0.0.1").status_code == 200


def test_every_image_is_built_for_linux_arm64(engine: Engine, arm64_images: dict[str, str]) -> None:
    for target, image in arm64_images.items():
        found = engine.run("image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", image).strip()
        assert found == PLATFORM, target


@pytest.mark.parametrize("name", ["app", "proxy"])
def test_each_container_runs_as_an_aarch64_machine(stack: Stack, name: str) -> None:
    container: Container = getattr(stack, name)
    assert output(container, "uname", "-m") == b"aarch64\n"


def test_the_proxys_nginx_is_an_aarch64_binary(stack: Stack) -> None:
    assert elf_machine(output(stack.proxy, "cat", "/usr/sbin/nginx")) == EM_AARCH64


def test_the_apps_python_and_compiled_wheels_are_aarch64(stack: Stack) -> None:
    # The interpreter, and the extension modules pip installed from the builder's wheels: the arm64 ones.
    paths = output(
        stack.app,
        "python",
        "-c",
        # psycopg first: psycopg_binary refuses to be imported before it.
        "import os, sys, greenlet._greenlet, psycopg, psycopg_binary.pq, pydantic_core._pydantic_core as c;"
        "print(os.path.realpath(sys.executable), greenlet._greenlet.__file__, psycopg_binary.pq.__file__,"
        " c.__file__)",
    )
    for path in paths.decode().split():
        assert elf_machine(output(stack.app, "cat", path)) == EM_AARCH64, path


def test_the_release_image_runs_lambdas_client_on_aarch64(
    engine: Engine, arm64_images: dict[str, str]
) -> None:
    probe = "import awslambdaric, platform; print(platform.machine())"
    printed = engine.run(
        "run", "--rm", "--network", "none", "--entrypoint", "python", arm64_images["release"], "-c", probe
    )
    assert printed == "aarch64\n"
