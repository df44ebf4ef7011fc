"""docker/gunicorn.conf.py and the appserver modules it delegates to: the settings "Nginx as a Reverse Proxy
for Flask" gives gunicorn, made correct for a container behind nginx."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from gunicorn import config as gunicorn_config

from appserver.environment import SOCKET, BadSetting, forwarded_allow_ips, trusted_proxies
from appserver.hooks import ServerHooks
from appserver.settings import BACKLOG, TMPFS, GunicornSettings, available_cpus, load
from infra import user_data
from infra.config import NGINX_KEEPALIVE_SECONDS
from nodestack.gunicorn import DEFAULT_WORKERS as WORKERS
from nodestack.gunicorn import start_gunicorn
from nodestack.paths import APP, CONTEXT, DOCKER
from nodestack.process import running
from tests.infra.support import node
from tests.node.support import readme_settings

CONF = DOCKER / "gunicorn.conf.py"
NODE = node()


def settings(cpus: int = 2, /, **env: str) -> GunicornSettings:
    """The settings ``env`` gives on a machine with ``cpus`` CPUs and /dev/shm (positional only: no variable
    lands in it)."""
    return GunicornSettings.from_env(env, cpus=cpus, tmpfs=True)


def test_defaults_are_the_articles_worker_class_timeout_and_keepalive_on_a_socket() -> None:
    conf = settings()
    assert conf.worker_class == "gevent"
    assert conf.timeout == 120
    assert conf.keepalive == 5
    assert conf.bind == (f"unix:{SOCKET}",)


def test_the_socket_is_for_its_user_and_group_only() -> None:
    # gunicorn binds the socket under this umask: connecting needs write permission on the socket.
    assert 0o777 & ~settings().umask == 0o660


def test_gunicorn_makes_the_socket_srw_rw(workdir: Path) -> None:
    # The shipped umask, without the harness's opening for nginx's workers when the tests run as root.
    server = start_gunicorn(workdir, env={"GUNICORN_CMD_ARGS": ""})
    try:
        mode = server.socket.stat().st_mode
    finally:
        server.process.stop()
    assert stat.S_ISSOCK(mode)
    assert stat.filemode(mode) == "srw-rw----"


def test_bind_takes_several_addresses() -> None:
    conf = settings(GUNICORN_BIND="unix:/tmp/app.sock, 127.0.0.1:5001,[::1]:5001")
    assert conf.bind == ("unix:/tmp/app.sock", "127.0.0.1:5001", "[::1]:5001")


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
def test_bad_bind_is_named(value: str, expected: str) -> None:
    with pytest.raises(BadSetting, match=re.escape(f"GUNICORN_BIND: {value!r}: {expected}")):
        settings(GUNICORN_BIND=f"127.0.0.1:5001,{value}")


def test_workers_follow_cpu_affinity_not_host_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2})
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert available_cpus() == 3
    assert settings(3).workers == 7


def test_the_benchmarks_run_the_default_worker_count() -> None:
    """bench/ starts gunicorn with the count these settings give by default on the same machine."""
    assert settings(available_cpus()).workers == WORKERS


def test_web_concurrency_overrides_worker_count() -> None:
    assert settings(WEB_CONCURRENCY="3").workers == 3


@pytest.mark.parametrize("value", ["0", "-2", "many", "2.5", ""])
def test_bad_web_concurrency_is_named(value: str) -> None:
    with pytest.raises(
        BadSetting, match=re.escape(f"WEB_CONCURRENCY={value!r}: expected a whole number >= 1")
    ):
        settings(WEB_CONCURRENCY=value)


def test_unknown_worker_class_is_named() -> None:
    expected = "GUNICORN_WORKER_CLASS='eventlet': expected one of gevent, sync, gthread"
    with pytest.raises(BadSetting, match=re.escape(expected)):
        settings(GUNICORN_WORKER_CLASS="eventlet")


def test_threads_only_for_gthread() -> None:
    assert settings(GUNICORN_WORKER_CLASS="gthread").threads == 4
    # More than one thread would silently turn sync workers into gthread ones.
    assert settings(GUNICORN_WORKER_CLASS="sync").threads == 1


def test_workers_finish_before_docker_kills_them_and_recycle_with_jitter_without_preload() -> None:
    conf = settings()
    assert 0 < conf.graceful_timeout < user_data.APP_STOP_TIMEOUT_SECONDS
    assert conf.max_requests > 0
    assert 0 < conf.max_requests_jitter < conf.max_requests
    assert conf.preload_app is False  # gevent must patch before the app is imported


def test_recycling_scales_its_jitter() -> None:
    conf = settings(GUNICORN_MAX_REQUESTS="3000")
    assert (conf.max_requests, conf.max_requests_jitter) == (3000, 300)


def test_the_accept_queue_fits_in_the_kernel_cap_the_node_sets() -> None:
    # The kernel silently cuts a backlog to net.core.somaxconn: the node's user data must raise it this far.
    backlog = settings().backlog
    assert backlog > 2048  # gunicorn's own default, which overflowed at 10,000 connections
    assert backlog == user_data.SOMAXCONN
    assert f"net.core.somaxconn = {user_data.SOMAXCONN}" in user_data.render(NODE)
    assert settings(GUNICORN_BACKLOG="4096").backlog == 4096


def test_the_readme_gives_the_defaults_gunicorn_shares_with_nginx() -> None:
    table = readme_settings("### gunicorn settings (environment of the `app` image)")
    assert table["GUNICORN_BIND"] == f"`unix:{SOCKET}`"
    assert table["GUNICORN_BACKLOG"] == f"`{BACKLOG}`"


def test_heartbeat_on_tmpfs_when_present() -> None:
    assert GunicornSettings.from_env({}, cpus=2, tmpfs=True).worker_tmp_dir == "/dev/shm"  # noqa: S108
    assert GunicornSettings.from_env({}, cpus=2, tmpfs=False).worker_tmp_dir is None


def test_logs_errors_to_stderr_and_leaves_the_access_log_to_nginx_by_default() -> None:
    conf = settings()
    assert (conf.accesslog, conf.errorlog) == (None, "-")


def test_writes_an_access_log_to_stdout_when_asked() -> None:
    conf = settings(GUNICORN_ACCESS_LOG="on")
    assert (conf.accesslog, conf.errorlog) == ("-", "-")
    assert settings(GUNICORN_ACCESS_LOG="off").accesslog is None


def test_logs_to_the_articles_files_when_configured() -> None:
    conf = settings(GUNICORN_LOG_DIR="/var/log/gunicorn", GUNICORN_ACCESS_LOG="on")
    assert conf.accesslog == "/var/log/gunicorn/access.log"
    assert conf.errorlog == "/var/log/gunicorn/error.log"
    assert settings(GUNICORN_LOG_DIR="/var/log/gunicorn").accesslog is None


@pytest.mark.parametrize("key", ["GUNICORN_ACCESS_LOG", "GUNICORN_SHARED_LIBRARIES"])
@pytest.mark.parametrize("value", ["yes", "ON", "1", "true"])
def test_refuses_a_switch_other_than_on_or_off(key: str, value: str) -> None:
    with pytest.raises(BadSetting, match=re.escape(f"{key}={value!r}: expected on or off")):
        settings(**{key: value})


def test_log_level_is_one_of_gunicorns() -> None:
    assert settings().loglevel == "info"
    assert settings(GUNICORN_LOG_LEVEL="WARNING").loglevel == "warning"
    expected = "GUNICORN_LOG_LEVEL='loud': expected one of debug, info, warning, error, critical"
    with pytest.raises(BadSetting, match=re.escape(expected)):
        settings(GUNICORN_LOG_LEVEL="loud")


#: FORWARDED_ALLOW_IPS values gunicorn accepts.
TRUSTED = ["127.0.0.1,::1", "*", "10.0.0.0/16, 127.0.0.1", "127.0.0.1,*", "127.0.0.1, "]


@pytest.mark.parametrize("value", TRUSTED)
def test_gunicorn_and_the_app_trust_the_proxies_gunicorn_takes(value: str) -> None:
    gunicorn_config.validate_string_to_addr_list(value)
    assert settings(FORWARDED_ALLOW_IPS=value).forwarded_allow_ips == value
    assert trusted_proxies(value)  # else the proxy fix in front of the app would trust no TCP peer
    assert forwarded_allow_ips({"FORWARDED_ALLOW_IPS": value}) == value


#: FORWARDED_ALLOW_IPS values gunicorn refuses, and why.
UNTRUSTWORTHY = [
    ("nope", "'nope' does not appear to be an IPv4 or IPv6 network"),
    ("127.0.0.1, 10.0.0.1/16", "10.0.0.1/16 has host bits set"),
    ("127.0.0.1;::1", "'127.0.0.1;::1' does not appear to be an IPv4 or IPv6 network"),
    ("127.0.0.1, ,::1", "'' does not appear to be an IPv4 or IPv6 network"),
]


@pytest.mark.parametrize(("value", "problem"), UNTRUSTWORTHY)
def test_gunicorn_and_the_app_refuse_the_same_proxies_naming_the_variable(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        gunicorn_config.validate_string_to_addr_list(value)
    expected = (
        f"FORWARDED_ALLOW_IPS={value!r}: {problem}; expected comma-separated IP addresses or networks "
        "such as 127.0.0.1,::1 or 10.0.0.0/16, or *"
    )
    with pytest.raises(BadSetting) as gunicorn_refused:
        settings(FORWARDED_ALLOW_IPS=value)
    with pytest.raises(BadSetting) as app_refused:
        forwarded_allow_ips({"FORWARDED_ALLOW_IPS": value})
    assert str(gunicorn_refused.value) == str(app_refused.value) == expected


def test_load_ends_the_process_with_the_line_that_names_the_setting() -> None:
    with pytest.raises(SystemExit) as stopped:
        load({"GUNICORN_BACKLOG": "lots"})
    assert stopped.value.code == "gunicorn.conf.py: GUNICORN_BACKLOG='lots': expected a whole number >= 1"


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
    environ = {name: text for name, text in os.environ.items() if not name.startswith("GUNICORN_")}
    done = subprocess.run(
        [sys.executable, str(DOCKER / "serve.py")],
        cwd=APP,
        env={**environ, key: value},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"gunicorn.conf.py: {expected}")
    assert done.stderr.count("\n") == 1, done.stderr


def app_image(root: Path) -> Path:
    """The app image's node stack under ``root``: what docker/Dockerfile's app stage copies from the context
    to its absolute paths, and the sample app in ``root``/app, the image's working directory (the builder
    stage's copy of it)."""
    stage = (DOCKER / "Dockerfile").read_text().split(" AS app\n", 1)[1].split("\nFROM ", 1)[0]
    for line in stage.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            *sources, target = line.split()[1:]
            assert target.startswith("/"), line
            for source in sources:
                destination = root / target.lstrip("/")
                if (CONTEXT / source).is_dir():
                    shutil.copytree(CONTEXT / source, destination, dirs_exist_ok=True)
                else:
                    destination.mkdir(parents=True, exist_ok=True)
                    shutil.copy(CONTEXT / source, destination)
    shutil.copytree(APP, root / "app", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def gunicorn_configuration(root: Path, **env: str) -> dict[str, str]:
    """Every setting gunicorn holds once it has read gunicorn.conf.py, started as the image starts it
    (``python /opt/nodestack/serve.py``, that directory on PYTHONPATH, in /app) in the image tree ``root``
    with ``env``: its ``--print-config``, by name."""
    environ = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GUNICORN_")
        and key not in {"PYTHONPATH", "WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS"}
    }
    done = subprocess.run(
        [sys.executable, str(root / "opt/nodestack/serve.py"), "--print-config"],
        cwd=root / "app",
        env={**environ, "PYTHONPATH": str(root / "opt/nodestack"), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return printed_settings(done.stdout)


def printed_settings(text: str) -> dict[str, str]:
    """gunicorn's ``--print-config`` (``str(Config)``): each setting's value as printed, by name."""
    pairs = [line.split(" = ", 1) for line in text.splitlines() if " = " in line]
    return {name.strip(): value for name, value in pairs}


def names_set_in(conf: Path) -> set[str]:
    """The public names gunicorn.conf.py assigns at its top level."""
    tree = ast.parse(conf.read_text())
    targets = [target for node in tree.body if isinstance(node, ast.Assign) for target in node.targets]
    return {target.id for target in targets if isinstance(target, ast.Name) and not target.id.startswith("_")}


def test_gunicorn_reads_every_setting_from_the_conf_file_in_the_app_image(tmp_path: Path) -> None:
    env = {"WEB_CONCURRENCY": "3", "GUNICORN_MAX_REQUESTS": "3000", "FORWARDED_ALLOW_IPS": "10.0.0.0/16"}
    printed = gunicorn_configuration(app_image(tmp_path), **env)
    names = names_set_in(CONF)
    # gunicorn silently ignores a name it does not know: a misspelt setting would never take effect.
    assert names <= set(gunicorn_config.Config().settings)
    conf = GunicornSettings.from_env(env, cpus=available_cpus(), tmpfs=Path(TMPFS).is_dir())
    hooks = ServerHooks(keepalive_queue_seconds=conf.keepalive_queue_seconds, shared_libraries=())
    expected = gunicorn_config.Config()
    for name in names:
        expected.set(name, getattr(hooks if hasattr(ServerHooks, name) else conf, name))
    assert {name: printed[name] for name in names} == {
        name: value for name, value in printed_settings(str(expected)).items() if name in names
    }
    assert (printed["workers"], printed["max_requests_jitter"]) == ("3", "300")
    assert printed["forwarded_allow_ips"] == "['10.0.0.0/16']"
    assert printed["pre_request"] == "<ServerHooks.pre_request()>"


#: Load gunicorn.conf.py as gunicorn's master does, then run its when_ready hook (before the first fork);
#: print whether flask was imported before and after, and how many objects the garbage collector has frozen.
WHEN_READY = """
import gc, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("__config__", sys.argv[1])
conf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conf)
before = "flask" in sys.modules
conf.when_ready(None)
print(json.dumps([before, "flask" in sys.modules, gc.get_freeze_count()]))
"""


def master_when_ready(**env: str) -> tuple[bool, bool, int]:
    """``WHEN_READY`` in a fresh interpreter (gc.freeze is for the whole process) with ``env``, in docker/
    as gunicorn runs (its working directory on sys.path)."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("GUNICORN_")}
    done = subprocess.run(
        [sys.executable, "-c", WHEN_READY, str(CONF)],
        cwd=DOCKER,
        env={**environ, **env},
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
    assert "Booting worker" in (server.access_log.parent / "error.log").read_text()
    assert server.process.output() == ""


def test_workers_share_the_libraries_the_master_imported(workdir: Path) -> None:
    shared = workers_private_kib(workdir, "on")
    own = workers_private_kib(workdir, "off")
    # Sharing, a worker writes far less memory of its own than when it imports its own libraries.
    assert max(shared) < 0.7 * min(own), (shared, own)


def test_only_local_nginx_may_forward() -> None:
    assert settings().forwarded_allow_ips == "127.0.0.1,::1"


def _nginx_seconds(directive: str, template: str) -> int:
    text = (DOCKER / "nginx" / template).read_text()
    match = re.search(rf"^\s*{directive}\s+(\d+)s;", text, re.MULTILINE)
    assert match, f"{directive} not found in {template}"
    return int(match.group(1))


def test_upstream_keepalive_closes_before_gunicorn_does() -> None:
    # nginx must drop an idle upstream connection before gunicorn closes it, or a request can be
    # written to a connection that is being closed.
    text = (DOCKER / "nginx" / "nginx.conf.template").read_text()
    upstream = re.search(r"upstream gunicorn \{(.*?)^    \}", text, re.DOTALL | re.MULTILINE)
    assert upstream
    idle = re.search(r"keepalive_timeout (\d+)s;", upstream.group(1))
    assert idle
    assert int(idle.group(1)) < settings().keepalive


def test_client_keepalive_outlasts_the_alb_idle_timeout() -> None:
    # infra/config.py keeps the ALB's idle timeout below NGINX_KEEPALIVE_SECONDS: nginx's must be that.
    assert _nginx_seconds("keepalive_timeout", "nginx.conf.template") == NGINX_KEEPALIVE_SECONDS


def test_a_booting_worker_dies_on_term_instead_of_losing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signal, "signal", lambda signum, handler: installed.append((signum, handler)))
    installed: list[tuple[int, object]] = []
    ServerHooks.post_fork(None, None)
    assert installed == [(signal.SIGTERM, signal.SIG_DFL)]
