"""nodestack/local.py (`make local`): the stack comes up on the given ports, and a stop signal stops both
servers and exits with success."""

from __future__ import annotations

import os
import shutil
import signal
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from nodestack.paths import REPO
from nodestack.process import free_port, port_open, world_readable_tempdir

#: make local with its run directory in a scratch directory instead of the repository's .local.
RUN_IN = """\
import sys
from pathlib import Path
from nodestack import local
local.RUN = Path(sys.argv[1])
sys.exit(local.main())
"""


@pytest.fixture
def run_dir() -> Iterator[Path]:
    path = world_readable_tempdir("local-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_stack_answers_over_tls_and_sigint_stops_both_servers(run_dir: Path) -> None:
    http_port, https_port = free_port(), free_port()
    env = {**os.environ, "HTTP_PORT": str(http_port), "HTTPS_PORT": str(https_port)}
    local = subprocess.Popen(
        [sys.executable, "-c", RUN_IN, str(run_dir)], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert local.stdout is not None
        # nginx's access log shares the terminal (its stdout): the health check's line may come first.
        up = next((line for line in local.stdout if line.startswith("Node stack up")), "exited")
        assert up.startswith(f"Node stack up: https://localhost:{https_port}/"), up
        context = ssl.create_default_context(cafile=str(run_dir / "tls" / "localhost.crt"))
        with urllib.request.urlopen(f"https://127.0.0.1:{https_port}/healthz", context=context) as answer:
            assert answer.status == 200

        local.send_signal(signal.SIGINT)
        assert local.wait(timeout=60) == 0
    finally:
        # Its servers run in sessions of their own: a failed check still stops them through it.
        if local.poll() is None:
            local.terminate()
            local.wait(timeout=60)
    assert not port_open(https_port)
    assert not (run_dir / "gunicorn.sock").exists()
