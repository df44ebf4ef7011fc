"""docker/gunicorn.conf.py: the seed's settings, made container-correct."""

from __future__ import annotations

import json
import os
import re
import runpy
import signal
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from gunicorn import config as gunicorn_config

from app.proxy import parse_trusted_proxies
from infra import user_data
from nodestack.gunicorn import DEFAULT_WORKERS as WORKERS
from nodestack.gunicorn import start_gunicorn
from nodestack.paths import DOCKER
from nodestack.process import running
from tests.infra.support import node

CONF = DOCKER / "gunicorn.conf.py"
NODE = node()


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """Execute the config file as gunicorn does, with ``env`` as the only gunicorn-related variables."""
    for key in list(os.environ):
        if key.startswith("GUNICORN_") or key in {"WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS"}:
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return runpy.run_path(str(CONF))


def test_seed_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch)
    assert conf["worker_class"] == "gevent"
    assert conf["timeout"] == 120
    assert conf["keepalive"] == 5
    assert conf["bind"] == ["unix:/run/gunicorn/gunicorn.sock"]


def test_the_socket_is_for_its_user_and_group_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # gunicorn binds the socket under this umask: connecting needs write permission on the socket.
    assert 0o777 & ~load(monkeypatch)["umask"] == 0o660


def test_gunicorn_makes_the_socket_srw_rw(workdir: Path) -> None:
    # The shipped umask, without the harness's opening for nginx's workers when the tests run as root.
    server = start_gunicorn(workdir, env={"GUNICORN_CMD_ARGS": ""})
    try:
        mode = server.socket.stat().st_mode
    finally:
        server.process.stop()
    assert stat.S_ISSOCK(mode)
    assert stat.filemode(mode) == "srw-rw----"


def test_bind_takes_several_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch, GUNICORN_BIND="unix:/tmp/app.sock, 127.0.0.1:5001,[::1]:5001")
    assert conf["bind"] == ["unix:/tmp/app.sock", "127.0.0.1:5001", "[::1]:5001"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("unix:run/app.sock", "expected an absolute path after 'unix:'"),
        ("unix:/" + "d" * 107, "a unix socket's path is at most 107 bytes"),
        ("127.0.0.1", "expected unix:/absolute/path or HOST:PORT (port 1-65535)"),
        ("127.0.0.1:0", "expected unix:/absolute/path or HOST:PORT (port 1-65535)"),
        ("localhost:http", "expected unix:/absolute/path or HOST:PORT (port 1-65535)"),
        ("/run/app.sock", "expected unix:/absolute/path or HOST:PORT (port 1-65535)"),
    ],
)
def test_bad_bind_is_named(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    with pytest.raises(
        SystemExit, match=re.escape(f"gunicorn.conf.py: GUNICORN_BIND: {value!r}: {expected}")
    ):
        load(monkeypatch, GUNICORN_BIND=f"127.0.0.1:5001,{value}")


def test_workers_follow_cpu_affinity_not_host_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2})
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert load(monkeypatch)["workers"] == 7


def test_the_benchmarks_run_the_default_worker_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/ starts gunicorn with the count this file gives by default on the same machine."""
    assert load(monkeypatch)["workers"] == WORKERS


def test_web_concurrency_overrides_worker_count(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(monkeypatch, WEB_CONCURRENCY="3")["workers"] == 3


@pytest.mark.parametrize("value", ["0", "-2", "many", "2.5", ""])
def test_bad_web_concurrency_is_named(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with pytest.raises(
        SystemExit, match=re.escape(f"WEB_CONCURRENCY={value!r}: expected a whole number >= 1")
    ):
        load(monkeypatch, WEB_CONCURRENCY=value)


def test_unknown_worker_class_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = "GUNICORN_WORKER_CLASS='eventlet': expected one of gevent, sync, gthread"
    with pytest.raises(SystemExit, match=re.escape(expected)):
        load(monkeypatch, GUNICORN_WORKER_CLASS="eventlet")


def test_threads_only_for_gthread(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(monkeypatch, GUNICORN_WORKER_CLASS="gthread")["threads"] == 4
    # More than one thread would silently turn sync workers into gthread ones.
    assert load(monkeypatch, GUNICORN_WORKER_CLASS="sync")["threads"] == 1


def test_graceful_shutdown_and_recycling(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch)
    assert 0 < conf["graceful_timeout"] < 45  # below the container stop timeout
    assert conf["max_requests"] > 0
    assert 0 < conf["max_requests_jitter"] < conf["max_requests"]
    assert conf["preload_app"] is False  # gevent must patch before the app is imported


def test_recycling_scales_its_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch, GUNICORN_MAX_REQUESTS="3000")
    assert (conf["max_requests"], conf["max_requests_jitter"]) == (3000, 300)


def test_the_accept_queue_fits_in_the_kernel_cap_the_node_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel silently cuts a backlog to net.core.somaxconn: the node's user data must raise it this far.
    backlog = load(monkeypatch)["backlog"]
    assert backlog > 2048  # gunicorn's own default, which overflowed at 10,000 connections
    assert backlog <= user_data.SOMAXCONN
    assert f"net.core.somaxconn = {user_data.SOMAXCONN}" in user_data.render(NODE)
    assert load(monkeypatch, GUNICORN_BACKLOG="4096")["backlog"] == 4096


def test_heartbeat_on_tmpfs_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108 - what the config must pick
    assert load(monkeypatch)["worker_tmp_dir"] == expected


def test_logs_errors_to_stderr_and_leaves_the_access_log_to_nginx_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conf = load(monkeypatch)
    assert (conf["accesslog"], conf["errorlog"]) == (None, "-")


def test_writes_an_access_log_to_stdout_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch, GUNICORN_ACCESS_LOG="on")
    assert (conf["accesslog"], conf["errorlog"]) == ("-", "-")
    assert load(monkeypatch, GUNICORN_ACCESS_LOG="off")["accesslog"] is None


def test_logs_to_the_seeds_files_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch, GUNICORN_LOG_DIR="/var/log/gunicorn", GUNICORN_ACCESS_LOG="on")
    assert conf["accesslog"] == "/var/log/gunicorn/access.log"
    assert conf["errorlog"] == "/var/log/gunicorn/error.log"
    assert load(monkeypatch, GUNICORN_LOG_DIR="/var/log/gunicorn")["accesslog"] is None


@pytest.mark.parametrize("key", ["GUNICORN_ACCESS_LOG", "GUNICORN_SHARED_LIBRARIES"])
@pytest.mark.parametrize("value", ["yes", "ON", "1", "true"])
def test_refuses_a_switch_other_than_on_or_off(monkeypatch: pytest.MonkeyPatch, key: str, value: str) -> None:
    with pytest.raises(SystemExit, match=re.escape(f"{key}={value!r}: expected on or off")):
        load(monkeypatch, **{key: value})


def test_log_level_is_one_of_gunicorns(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(monkeypatch)["loglevel"] == "info"
    assert load(monkeypatch, GUNICORN_LOG_LEVEL="WARNING")["loglevel"] == "warning"
    expected = "GUNICORN_LOG_LEVEL='loud': expected one of debug, info, warning, error, critical"
    with pytest.raises(SystemExit, match=re.escape(expected)):
        load(monkeypatch, GUNICORN_LOG_LEVEL="loud")


#: FORWARDED_ALLOW_IPS values gunicorn accepts.
TRUSTED = ["127.0.0.1,::1", "*", "10.0.0.0/16, 127.0.0.1", "127.0.0.1,*", "127.0.0.1, "]


@pytest.mark.parametrize("value", TRUSTED)
def test_the_app_trusts_the_proxies_gunicorn_takes(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    gunicorn_config.validate_string_to_addr_list(value)
    assert load(monkeypatch, FORWARDED_ALLOW_IPS=value)["forwarded_allow_ips"] == value
    assert parse_trusted_proxies(value)  # else every worker would fail to boot


#: FORWARDED_ALLOW_IPS values gunicorn refuses, and why.
UNTRUSTWORTHY = [
    ("nope", "'nope' does not appear to be an IPv4 or IPv6 network"),
    ("127.0.0.1, 10.0.0.1/16", "10.0.0.1/16 has host bits set"),
    ("127.0.0.1;::1", "'127.0.0.1;::1' does not appear to be an IPv4 or IPv6 network"),
    ("127.0.0.1, ,::1", "'' does not appear to be an IPv4 or IPv6 network"),
]


@pytest.mark.parametrize(("value", "problem"), UNTRUSTWORTHY)
def test_trusted_proxies_gunicorn_refuses_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        gunicorn_config.validate_string_to_addr_list(value)
    expected = f"gunicorn.conf.py: FORWARDED_ALLOW_IPS={value!r}: {problem}; expected comma-separated IP"
    with pytest.raises(SystemExit) as stopped:
        load(monkeypatch, FORWARDED_ALLOW_IPS=value)
    assert str(stopped.value.code).startswith(expected)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("FORWARDED_ALLOW_IPS", "10.0.0.1/16", "FORWARDED_ALLOW_IPS='10.0.0.1/16': 10.0.0.1/16 has host"),
        ("GUNICORN_BACKLOG", "lots", "GUNICORN_BACKLOG='lots': expected a whole number >= 1"),
        ("GUNICORN_LOG_LEVEL", "loud", "GUNICORN_LOG_LEVEL='loud': expected one of"),
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY='0': expected a whole number >= 1"),
        # gunicorn parses these two itself, with int(), before it reads its config file.
        ("WEB_CONCURRENCY", "many", "WEB_CONCURRENCY='many': expected a whole number >= 1"),
        ("WEB_CONCURRENCY", "", "WEB_CONCURRENCY='': expected a whole number >= 1"),
    ],
)
def test_the_image_command_stops_on_a_bad_setting_with_one_line_and_no_traceback(
    key: str, value: str, expected: str
) -> None:
    settings = {name: text for name, text in os.environ.items() if not name.startswith("GUNICORN_")}
    done = subprocess.run(
        [sys.executable, str(DOCKER / "serve.py"), "run:app"],
        cwd=DOCKER,
        env={**settings, key: value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"gunicorn.conf.py: {expected}")
    assert done.stderr.count("\n") == 1, done.stderr


#: Load the config as gunicorn's master does, then run its when_ready hook (before the first fork); print
#: whether flask was imported before and after, and how many objects the garbage collector has frozen.
WHEN_READY = """
import gc, json, runpy, sys
conf = runpy.run_path(sys.argv[1])
before = "flask" in sys.modules
conf["when_ready"](None)
print(json.dumps([before, "flask" in sys.modules, gc.get_freeze_count()]))
"""


def master_when_ready(**env: str) -> tuple[bool, bool, int]:
    """``WHEN_READY`` in a fresh interpreter (gc.freeze is for the whole process) with ``env``."""
    settings = {key: value for key, value in os.environ.items() if not key.startswith("GUNICORN_")}
    done = subprocess.run(
        [sys.executable, "-c", WHEN_READY, str(CONF)],
        env={**settings, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    before, after, frozen = json.loads(done.stdout)
    return before, after, frozen


def test_the_master_imports_the_shared_libraries_and_freezes_them_before_forking() -> None:
    before, after, frozen = master_when_ready()
    assert (before, after) == (False, True)
    assert frozen > 10_000  # every object the interpreter held, flask's among them


def test_each_worker_imports_its_own_libraries_when_sharing_is_off() -> None:
    assert master_when_ready(GUNICORN_SHARED_LIBRARIES="off") == (False, False, 0)


def private_dirty_kib(pid: int) -> int:
    """Memory only this process holds and has written: what it does not share with the master."""
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    match = re.search(r"^Private_Dirty:\s+(\d+) kB$", rollup, re.MULTILINE)
    assert match, rollup
    return int(match.group(1))


def workers_private_kib(workdir: Path, sharing: str) -> list[int]:
    server = start_gunicorn(workdir, env={"GUNICORN_SHARED_LIBRARIES": sharing})
    with running(server.process):
        return [private_dirty_kib(pid) for pid in server.worker_pids()]


def test_a_worker_that_shares_the_masters_objects_exits_without_a_word(workdir: Path) -> None:
    server = start_gunicorn(workdir)
    with running(server.process):
        pass
    # stdout.log holds what gunicorn's processes print outside its logging: nothing, unless a traceback.
    assert "Booting worker" in (server.process.log.parent / "error.log").read_text()
    assert server.process.output() == ""


def test_workers_share_the_libraries_the_master_imported(workdir: Path) -> None:
    shared = workers_private_kib(workdir, "on")
    own = workers_private_kib(workdir, "off")
    # Measured: about 9 MB a worker holds alone when sharing, 19 MB when each imports its own.
    assert max(shared) < 0.7 * min(own), (shared, own)


def test_only_local_nginx_may_forward(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load(monkeypatch)["forwarded_allow_ips"] == "127.0.0.1,::1"


def _nginx_seconds(directive: str, template: str) -> int:
    text = (DOCKER / "nginx" / template).read_text()
    match = re.search(rf"^\s*{directive}\s+(\d+)s;", text, re.MULTILINE)
    assert match, f"{directive} not found in {template}"
    return int(match.group(1))


def test_upstream_keepalive_closes_before_gunicorn_does(monkeypatch: pytest.MonkeyPatch) -> None:
    # nginx must drop an idle upstream connection before gunicorn closes it, or a request can be
    # written to a connection that is being closed.
    text = (DOCKER / "nginx" / "nginx.conf.template").read_text()
    upstream = re.search(r"upstream gunicorn \{(.*?)^    \}", text, re.DOTALL | re.MULTILINE)
    assert upstream
    idle = re.search(r"keepalive_timeout (\d+)s;", upstream.group(1))
    assert idle
    assert int(idle.group(1)) < load(monkeypatch)["keepalive"]


def test_client_keepalive_outlasts_the_alb_idle_timeout() -> None:
    alb_idle_timeout = 60
    assert _nginx_seconds("keepalive_timeout", "nginx.conf.template") > alb_idle_timeout


def test_a_booting_worker_dies_on_term_instead_of_losing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch)
    monkeypatch.setattr(signal, "signal", lambda signum, handler: installed.append((signum, handler)))
    installed: list[tuple[int, object]] = []
    conf["post_fork"](None, None)
    assert installed == [(signal.SIGTERM, signal.SIG_DFL)]
