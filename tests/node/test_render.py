"""docker/nginx/render.sh: one template, two modes, and every bad setting refused before nginx starts."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from appserver.environment import SOCKET, gunicorn_bind
from appserver.settings import BACKLOG
from infra.user_data import SOMAXCONN
from nodestack.nginx import KEEPALIVE_SHIPPED, Nginx, render_env
from nodestack.paths import RENDER
from nodestack.process import child_pids
from tests.node.support import readme_settings


def render(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RENDER), *command], env={**os.environ, **env}, capture_output=True, text=True, check=False
    )


def rendered(result: subprocess.CompletedProcess[str]) -> Path:
    """The configuration a render that succeeded (and so passed nginx -t) wrote."""
    assert result.returncode == 0, result.stderr
    return Path(result.stdout.strip())


@pytest.fixture
def env(workdir: Path, tmp_path: Path) -> dict[str, str]:
    settings = render_env(workdir, "edge", f"unix:{SOCKET}", NGINX_RUNTIME_DIR=str(tmp_path / "runtime"))
    settings["TLS_CERT"] = str(tmp_path / "tls" / "site.crt")
    settings["TLS_KEY"] = str(tmp_path / "tls" / "site.key")
    return settings


def test_edge_renders_a_valid_config(env: dict[str, str]) -> None:
    conf = rendered(render(env))
    servers = (conf.parent / "servers.conf").read_text()
    assert f"listen 127.0.0.1:{env['HTTP_PORT']} default_server;" in servers
    assert f"return 301 https://$host:{env['HTTPS_PORT']}$request_uri;" in servers


@pytest.mark.parametrize("upstream", [f"unix:{SOCKET}", "127.0.0.1:5001", "[::1]:5001"])
def test_upstream_is_a_unix_socket_or_a_tcp_address(env: dict[str, str], upstream: str) -> None:
    conf = rendered(render({**env, "UPSTREAM": upstream}))
    assert f"        server {upstream};\n" in conf.read_text()


@pytest.mark.parametrize("address", ["0.0.0.0", "*", "127.0.0.1", "[::]", "[::1]"])  # noqa: S104 - tested, never served
def test_nginx_listens_on_an_ipv4_address_or_a_bracketed_ipv6_one(env: dict[str, str], address: str) -> None:
    conf = rendered(render({**env, "LISTEN_ADDRESS": address}))
    assert (
        f"listen {address}:{env['HTTPS_PORT']} ssl http2 default_server"
        in (conf.parent / "servers.conf").read_text()
    )


def test_by_default_nginx_proxies_to_the_socket_gunicorn_binds_by_default(env: dict[str, str]) -> None:
    del env["UPSTREAM"]
    conf = rendered(render(env))
    (gunicorn_default,) = gunicorn_bind({})
    assert f"        server {gunicorn_default};\n" in conf.read_text()


@pytest.mark.parametrize("mode", ["edge", "behind-alb"])
def test_nginx_asks_for_gunicorns_backlog_the_nodes_somaxconn(env: dict[str, str], mode: str) -> None:
    trusted = {"TRUSTED_PROXY_CIDRS": "10.0.0.0/16"} if mode == "behind-alb" else {}
    conf = rendered(render({**env, "NGINX_MODE": mode, **trusted}))
    servers = (conf.parent / "servers.conf").read_text()
    assert re.findall(r" backlog=(\d+);", servers) == [str(BACKLOG)]
    assert BACKLOG == SOMAXCONN


def test_the_listen_backlog_is_set_by_nginx_backlog(env: dict[str, str]) -> None:
    conf = rendered(render({**env, "NGINX_BACKLOG": "511"}))
    assert " default_server backlog=511;" in (conf.parent / "servers.conf").read_text()


def test_edge_redirect_omits_the_default_port(env: dict[str, str]) -> None:
    conf = rendered(render({**env, "PUBLIC_HTTPS_PORT": "443"}))
    assert "return 301 https://$host$request_uri;" in (conf.parent / "servers.conf").read_text()


def test_edge_defaults_to_lets_encrypt_layout(env: dict[str, str]) -> None:
    del env["TLS_CERT"], env["TLS_KEY"]
    result = render({**env, "TLS_SELF_SIGNED": "false", "SERVER_NAME": "example.org www.example.org"})
    assert result.returncode == 64
    assert 'cannot load certificate "/etc/letsencrypt/live/example.org/fullchain.pem"' in result.stderr


def test_behind_alb_makes_its_own_certificate(env: dict[str, str]) -> None:
    del env["TLS_CERT"], env["TLS_KEY"]
    rendered(render({**env, "NGINX_MODE": "behind-alb", "TRUSTED_PROXY_CIDRS": "10.0.0.0/16, fd00::/8"}))
    runtime = Path(env["NGINX_RUNTIME_DIR"])
    key = runtime / "tls" / "node.key"
    assert (runtime / "tls" / "node.crt").stat().st_size > 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    trusted = (runtime / "trusted-proxies.conf").read_text()
    assert "set_real_ip_from 10.0.0.0/16;" in trusted
    assert "set_real_ip_from fd00::/8;" in trusted
    assert "    fd00::/8 1;" in trusted
    assert "real_ip_recursive on;" in trusted
    servers = (runtime / "servers.conf").read_text()
    assert "301" not in servers  # no plain-HTTP listener behind the ALB
    assert env["HTTP_PORT"] not in servers


def test_edge_trusts_no_proxy(env: dict[str, str]) -> None:
    conf = rendered(render({**env, "TRUSTED_PROXY_CIDRS": "10.0.0.0/16"}))
    trusted = (conf.parent / "trusted-proxies.conf").read_text()
    assert "set_real_ip_from" not in trusted
    assert "10.0.0.0/16" not in trusted


@pytest.mark.parametrize(
    ("setting", "directive"),
    [(None, "        keepalive 32;\n"), ("2", "        keepalive 2;\n"), ("0", None)],
)
def test_upstream_keepalive_is_set_or_left_out(
    env: dict[str, str], setting: str | None, directive: str | None
) -> None:
    conf = rendered(render(env if setting is None else {**env, "NGINX_UPSTREAM_KEEPALIVE": setting}))
    assert kept_alive(conf) == ([] if directive is None else [directive.rstrip("\n")])


def kept_alive(conf: Path) -> list[str]:
    """The ``keepalive`` lines of the rendered config's gunicorn upstream."""
    upstream = conf.read_text().partition("upstream gunicorn {")[2].partition("}")[0]
    return [line for line in upstream.splitlines() if line.strip().startswith("keepalive ")]


def test_the_readme_lists_every_variable_render_sh_takes_with_the_defaults_shared_with_gunicorn() -> None:
    table = readme_settings("### nginx settings (environment of the `proxy` image)")
    assert set(table) == set(re.findall(r': "\$\{([A-Z_]+):=', RENDER.read_text()))
    assert table["NGINX_BACKLOG"] == f"`{BACKLOG}`"
    assert table["UPSTREAM"] == f"`unix:{SOCKET}`"


def test_the_benchmarks_name_the_default_pool(env: dict[str, str]) -> None:
    """Section 2 of the benchmarks labels its tuning with the pool render.sh keeps by default."""
    assert kept_alive(rendered(render(env))) == [f"        keepalive {KEEPALIVE_SHIPPED};"]


def test_a_malformed_listen_address_is_refused_with_nginxs_message_before_the_command_runs(
    env: dict[str, str],
) -> None:
    result = render({**env, "LISTEN_ADDRESS": "[:::::]"}, "sh", "-c", "echo the command ran")
    assert result.returncode == 64
    assert "the command ran" not in result.stdout
    # nginx names the rendered file and the line of the first listen with that address.
    servers = Path(env["NGINX_RUNTIME_DIR"]) / "servers.conf"
    line = next(n for n, text in enumerate(servers.read_text().splitlines(), 1) if "[:::::]" in text)
    assert result.stderr == (
        "render.sh: nginx -t refuses the rendered configuration: invalid IPv6 address in"
        f' "[:::::]:{env["HTTP_PORT"]}" of the "listen" directive in {servers}:{line}\n'
    )


# What nginx -t refuses in its own words; render.sh keeps the rendered files its message points to.
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"LISTEN_ADDRESS": "::"},
            'invalid port in ":::{HTTP_PORT}" of the "listen" directive in {runtime}/servers.conf:',
        ),
        (
            {"HTTPS_PORT": "70000"},
            'invalid port in "127.0.0.1:70000" of the "listen" directive in {runtime}/servers.conf:',
        ),
        (
            {"HTTP_PORT": "http"},
            'invalid port in "127.0.0.1:http" of the "listen" directive in {runtime}/servers.conf:',
        ),
        ({"RATE_LIMIT": "0"}, 'invalid rate "rate=0r/s" in {runtime}/nginx.conf:'),
        ({"RATE_LIMIT_BURST": "-1"}, 'invalid burst value "burst=-1" in {runtime}/locations.conf:'),
        ({"NGINX_WORKER_CONNECTIONS": "1"}, "1 worker_connections are not enough for 2 listening sockets"),
        (
            {"NGINX_UPSTREAM_KEEPALIVE": "-1"},
            'invalid value "-1" in "keepalive" directive in {runtime}/nginx.conf:',
        ),
        (
            {"NGINX_UPSTREAM_KEEPALIVE": "all"},
            'invalid value "all" in "keepalive" directive in {runtime}/nginx.conf:',
        ),
        ({"NGINX_BACKLOG": "0"}, 'invalid backlog "backlog=0" in {runtime}/servers.conf:'),
        ({"UPSTREAM": "127.0.0.1:0"}, 'invalid port in upstream "127.0.0.1:0" in {runtime}/nginx.conf:'),
        (
            {"NGINX_MIME_TYPES": "/nonexistent/mime.types"},
            'open() "/nonexistent/mime.types" failed (2: No such file or directory) in {runtime}/nginx.conf:',
        ),
        (
            {"NGINX_MODE": "behind-alb", "TRUSTED_PROXY_CIDRS": "10.0.0.0/16,10.0.0.300/32"},
            'host not found in set_real_ip_from "10.0.0.300/32" in {runtime}/trusted-proxies.conf:',
        ),
        (
            {"TLS_SELF_SIGNED": "false", "TLS_CERT": "/nonexistent/cert.pem"},
            'cannot load certificate "/nonexistent/cert.pem": BIO_new_file() failed',
        ),
    ],
)
def test_values_nginx_refuses_are_refused_with_nginxs_message(
    env: dict[str, str], overrides: dict[str, str], message: str
) -> None:
    result = render({**env, **overrides})
    assert result.returncode == 64
    [line] = result.stderr.splitlines()
    expected = message.format(runtime=env["NGINX_RUNTIME_DIR"], HTTP_PORT=env["HTTP_PORT"])
    assert line.startswith(f"render.sh: nginx -t refuses the rendered configuration: {expected}")
    assert (Path(env["NGINX_RUNTIME_DIR"]) / "nginx.conf").exists()


PLAIN = "expected letters, digits and _ . : / @ + * [ ] -"


# What render.sh refuses itself, naming the variable: nginx would take these values and misread them, or
# render.sh uses them before nginx reads anything.
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"NGINX_MODE": "origin"}, "NGINX_MODE='origin': expected 'edge' or 'behind-alb'"),
        (
            {"NGINX_MODE": "behind-alb", "TRUSTED_PROXY_CIDRS": ""},
            "TRUSTED_PROXY_CIDRS is required in behind-alb mode: the CIDRs the ALB connects from (the VPC),"
            " e.g. 10.0.0.0/16",
        ),
        (
            {"NGINX_MODE": "behind-alb", "TRUSTED_PROXY_CIDRS": "10.0.0.0/16 1; 0.0.0.0/0"},
            f"TRUSTED_PROXY_CIDRS='10.0.0.0/16 1; 0.0.0.0/0': {PLAIN}, with ', ' between items",
        ),
        (
            {"NGINX_MODE": "behind-alb", "TRUSTED_PROXY_CIDRS": "10.0.0.0/16,10.0.0.1"},
            "TRUSTED_PROXY_CIDRS='10.0.0.0/16,10.0.0.1': '10.0.0.1' has no prefix length"
            " (expected e.g. 10.0.0.0/16 or fd00::/8)",
        ),
        ({"TLS_SELF_SIGNED": "yes"}, "TLS_SELF_SIGNED='yes': expected 'true' or 'false'"),
        (
            {"SERVER_NAME": "example.org; return 200"},
            f"SERVER_NAME='example.org; return 200': {PLAIN}, with ' ' between items",
        ),
        (
            {"LISTEN_ADDRESS": "1.2.3; evil"},
            f"LISTEN_ADDRESS='1.2.3; evil': {PLAIN}",
        ),
        (
            {"NGINX_ACCESS_LOG": "/dev/stdout combined; evil"},
            f"NGINX_ACCESS_LOG='/dev/stdout combined; evil': {PLAIN}",
        ),
        (
            {"UPSTREAM": "unix:/run/g.sock; return 200"},
            f"UPSTREAM='unix:/run/g.sock; return 200': {PLAIN}",
        ),
        ({"NGINX_RUNTIME_DIR": "runtime"}, "NGINX_RUNTIME_DIR='runtime': expected an absolute path"),
        ({"TLS_CERT": "tls/site.crt"}, "TLS_CERT='tls/site.crt': expected an absolute path"),
        ({"NGINX_ERROR_LOG": "stdout"}, "NGINX_ERROR_LOG='stdout': expected stderr or an absolute path"),
        (
            {"UPSTREAM": "unix:run/g.sock"},
            "UPSTREAM='unix:run/g.sock': expected unix:/absolute/path or HOST:PORT",
        ),
        ({"STATIC_ROOT": "/nonexistent/static"}, "STATIC_ROOT='/nonexistent/static': no such directory"),
        ({"PUBLIC_HTTPS_PORT": "0"}, "PUBLIC_HTTPS_PORT='0': expected a port number from 1 to 65535"),
        ({"PUBLIC_HTTPS_PORT": "70000"}, "PUBLIC_HTTPS_PORT='70000': expected a port number from 1 to 65535"),
        (
            {"NGINX_WORKER_CONNECTIONS": "many"},
            "NGINX_WORKER_CONNECTIONS='many': expected a whole number >= 1",
        ),
        (
            {"NGINX_WORKER_PROCESSES": "0"},
            "NGINX_WORKER_PROCESSES='0': expected 'auto' or a whole number >= 1",
        ),
        ({"NGINX_ALLOCATOR": "tcmalloc"}, "NGINX_ALLOCATOR='tcmalloc': expected 'jemalloc' or 'glibc'"),
        (
            {"NGINX_RUNTIME_DIR": "/proc/nginx"},
            "NGINX_RUNTIME_DIR='/proc/nginx': cannot create the directory"
            f" (it must be writable by user {os.getuid()})",
        ),
    ],
)
def test_values_nginx_would_misread_are_refused_by_name(
    env: dict[str, str], overrides: dict[str, str], message: str
) -> None:
    result = render({**env, **overrides})
    assert result.returncode == 64
    assert result.stderr.splitlines() == [f"render.sh: {message}"]
    assert not (Path(env["NGINX_RUNTIME_DIR"]) / "nginx.conf").exists()


def test_nginx_t_passes_as_the_images_unprivileged_user(workdir: Path, tmp_path: Path) -> None:
    """The proxy image runs as user 1001: nginx -t must open its pid file, logs and ports as that user."""
    scratch = workdir / tmp_path.name
    shutil.copytree(RENDER.parent, scratch / "nginx")
    runtime = scratch / "runtime"
    env = render_env(workdir, "behind-alb", "127.0.0.1:5001", NGINX_RUNTIME_DIR=str(runtime))
    del env["TLS_CERT"], env["TLS_KEY"]  # made at start in the runtime directory
    as_user: list[str] = []
    if os.geteuid() == 0:
        os.chown(scratch, 1001, 1001)
        as_user = ["setpriv", "--reuid=1001", "--regid=1001", "--clear-groups"]
    result = subprocess.run(
        [*as_user, str(scratch / "nginx" / "render.sh")],
        env={**os.environ, **env, "TRUSTED_PROXY_CIDRS": "127.0.0.0/8"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (runtime / "nginx.pid").stat().st_uid == (1001 if as_user else os.geteuid())


def test_the_command_runs_with_jemalloc_returning_freed_memory_after_a_second(env: dict[str, str]) -> None:
    result = render(env, "sh", "-c", 'cat /proc/self/maps; echo "MALLOC_CONF=$MALLOC_CONF"')
    assert result.returncode == 0, result.stderr
    assert "/libjemalloc.so.2" in result.stdout
    assert "MALLOC_CONF=dirty_decay_ms:1000,muzzy_decay_ms:0" in result.stdout


def test_an_operators_malloc_conf_is_kept(env: dict[str, str]) -> None:
    result = render({**env, "MALLOC_CONF": "narenas:1"}, "sh", "-c", 'echo "$MALLOC_CONF"')
    assert result.stdout.strip() == "narenas:1"


def test_glibc_leaves_the_command_alone(env: dict[str, str]) -> None:
    result = render({**env, "NGINX_ALLOCATOR": "glibc"}, "cat", "/proc/self/maps")
    assert result.returncode == 0, result.stderr
    assert "libjemalloc" not in result.stdout
    assert "/libc.so.6" in result.stdout


def test_a_missing_jemalloc_is_named_with_its_package(env: dict[str, str], tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ldconfig = bin_dir / "ldconfig"
    ldconfig.write_text("#!/bin/sh\necho '1 libs found in cache'\n")
    ldconfig.chmod(0o755)
    result = render({**env, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert result.returncode == 64
    assert "libjemalloc.so.2 is not installed (Debian package libjemalloc2)" in result.stderr
    assert "NGINX_ALLOCATOR=glibc" in result.stderr
    assert not (Path(env["NGINX_RUNTIME_DIR"]) / "nginx.conf").exists()


def test_both_modes_nginx_workers_allocate_with_jemalloc(edge: Nginx, alb: Nginx) -> None:
    for nginx in (edge, alb):
        workers = child_pids(nginx.process.pid)
        assert workers
        for pid in workers:
            assert "/libjemalloc.so.2" in Path(f"/proc/{pid}/maps").read_text()
