"""docker/nginx/render.sh: one template, two modes, and a clear error for every bad setting."""

from __future__ import annotations

import os
import runpy
import stat
import subprocess
from pathlib import Path

import pytest

from nodestack.nginx import KEEPALIVE_SHIPPED, Nginx, render_env
from nodestack.paths import DOCKER, RENDER
from nodestack.process import child_pids


def render(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RENDER)], env={**os.environ, **env}, capture_output=True, text=True, check=False
    )


def nginx_syntax_ok(conf: Path) -> None:
    result = subprocess.run(
        ["nginx", "-e", "stderr", "-t", "-c", str(conf)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def env(workdir: Path, tmp_path: Path) -> dict[str, str]:
    settings = render_env(
        workdir, "edge", "unix:/run/gunicorn/gunicorn.sock", NGINX_RUNTIME_DIR=str(tmp_path / "runtime")
    )
    settings["TLS_CERT"] = str(tmp_path / "tls" / "site.crt")
    settings["TLS_KEY"] = str(tmp_path / "tls" / "site.key")
    return settings


def test_edge_renders_a_valid_config(env: dict[str, str]) -> None:
    result = render(env)
    assert result.returncode == 0, result.stderr
    conf = Path(result.stdout.strip())
    nginx_syntax_ok(conf)
    servers = (conf.parent / "servers.conf").read_text()
    assert f"listen 127.0.0.1:{env['HTTP_PORT']} default_server;" in servers
    assert f"return 301 https://$host:{env['HTTPS_PORT']}$request_uri;" in servers


@pytest.mark.parametrize("upstream", ["unix:/run/gunicorn/gunicorn.sock", "127.0.0.1:5001", "[::1]:5001"])
def test_upstream_is_a_unix_socket_or_a_tcp_address(env: dict[str, str], upstream: str) -> None:
    result = render({**env, "UPSTREAM": upstream})
    assert result.returncode == 0, result.stderr
    conf = Path(result.stdout.strip())
    nginx_syntax_ok(conf)
    assert f"        server {upstream};\n" in conf.read_text()


@pytest.mark.parametrize("address", ["0.0.0.0", "*", "127.0.0.1", "[::]", "[::1]"])  # noqa: S104 - rendered, never started
def test_nginx_listens_on_an_ipv4_address_or_a_bracketed_ipv6_one(env: dict[str, str], address: str) -> None:
    result = render({**env, "LISTEN_ADDRESS": address})
    assert result.returncode == 0, result.stderr
    conf = Path(result.stdout.strip())
    nginx_syntax_ok(conf)
    assert (
        f"listen {address}:{env['HTTPS_PORT']} ssl http2 default_server"
        in (conf.parent / "servers.conf").read_text()
    )


def test_by_default_nginx_proxies_to_the_socket_gunicorn_binds_by_default(env: dict[str, str]) -> None:
    del env["UPSTREAM"]
    result = render(env)
    assert result.returncode == 0, result.stderr
    gunicorn_default = runpy.run_path(str(DOCKER / "gunicorn.conf.py"))["SOCKET"]
    assert f"        server unix:{gunicorn_default};\n" in Path(result.stdout.strip()).read_text()


def test_edge_redirect_omits_the_default_port(env: dict[str, str]) -> None:
    result = render({**env, "PUBLIC_HTTPS_PORT": "443"})
    assert result.returncode == 0, result.stderr
    servers = (Path(env["NGINX_RUNTIME_DIR"]) / "servers.conf").read_text()
    assert "return 301 https://$host$request_uri;" in servers


def test_edge_defaults_to_lets_encrypt_layout(env: dict[str, str]) -> None:
    del env["TLS_CERT"], env["TLS_KEY"]
    result = render({**env, "TLS_SELF_SIGNED": "false", "SERVER_NAME": "example.org www.example.org"})
    assert result.returncode == 64
    assert "TLS_CERT='/etc/letsencrypt/live/example.org/fullchain.pem'" in result.stderr


def test_behind_alb_makes_its_own_certificate(env: dict[str, str]) -> None:
    del env["TLS_CERT"], env["TLS_KEY"]
    result = render({**env, "NGINX_MODE": "behind-alb", "TRUSTED_PROXY_CIDRS": "10.0.0.0/16, fd00::/8"})
    assert result.returncode == 0, result.stderr
    runtime = Path(env["NGINX_RUNTIME_DIR"])
    key = runtime / "tls" / "node.key"
    assert (runtime / "tls" / "node.crt").stat().st_size > 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    nginx_syntax_ok(runtime / "nginx.conf")
    trusted = (runtime / "trusted-proxies.conf").read_text()
    assert "set_real_ip_from 10.0.0.0/16;" in trusted
    assert "set_real_ip_from fd00::/8;" in trusted
    assert "real_ip_recursive on;" in trusted
    servers = (runtime / "servers.conf").read_text()
    assert "301" not in servers  # no plain-HTTP listener behind the ALB
    assert env["HTTP_PORT"] not in servers


def test_edge_trusts_no_proxy(env: dict[str, str]) -> None:
    result = render({**env, "TRUSTED_PROXY_CIDRS": "10.0.0.0/16"})
    assert result.returncode == 0, result.stderr
    trusted = (Path(env["NGINX_RUNTIME_DIR"]) / "trusted-proxies.conf").read_text()
    assert "set_real_ip_from" not in trusted


@pytest.mark.parametrize(
    ("setting", "directive"),
    [(None, "        keepalive 32;\n"), ("2", "        keepalive 2;\n"), ("0", None)],
)
def test_upstream_keepalive_is_set_or_left_out(
    env: dict[str, str], setting: str | None, directive: str | None
) -> None:
    result = render(env if setting is None else {**env, "NGINX_UPSTREAM_KEEPALIVE": setting})
    assert result.returncode == 0, result.stderr
    conf = Path(result.stdout.strip())
    nginx_syntax_ok(conf)
    assert kept_alive(conf) == ([] if directive is None else [directive.rstrip("\n")])


def kept_alive(conf: Path) -> list[str]:
    """The ``keepalive`` lines of the rendered config's gunicorn upstream."""
    upstream = conf.read_text().partition("upstream gunicorn {")[2].partition("}")[0]
    return [line for line in upstream.splitlines() if line.strip().startswith("keepalive ")]


def test_the_benchmarks_name_the_default_pool(env: dict[str, str]) -> None:
    """Section 2 of the benchmarks labels its tuning with the pool render.sh keeps by default."""
    result = render(env)
    assert result.returncode == 0, result.stderr
    assert kept_alive(Path(result.stdout.strip())) == [f"        keepalive {KEEPALIVE_SHIPPED};"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"NGINX_MODE": "origin"}, "NGINX_MODE='origin': expected 'edge' or 'behind-alb'"),
        ({"HTTPS_PORT": "70000"}, "HTTPS_PORT='70000': expected a port number from 1 to 65535"),
        ({"HTTP_PORT": "http"}, "HTTP_PORT='http': expected a port number from 1 to 65535"),
        ({"PUBLIC_HTTPS_PORT": "0"}, "PUBLIC_HTTPS_PORT='0': expected a port number from 1 to 65535"),
        ({"RATE_LIMIT": "0"}, "RATE_LIMIT='0': expected a whole number >= 1"),
        ({"RATE_LIMIT_BURST": "-1"}, "RATE_LIMIT_BURST='-1': expected a whole number >= 1"),
        (
            {"NGINX_WORKER_PROCESSES": "two"},
            "NGINX_WORKER_PROCESSES='two': expected 'auto' or a whole number",
        ),
        ({"TLS_SELF_SIGNED": "yes"}, "TLS_SELF_SIGNED='yes': expected 'true' or 'false'"),
        (
            {"NGINX_UPSTREAM_KEEPALIVE": "-1"},
            "NGINX_UPSTREAM_KEEPALIVE='-1': expected 0 (a new connection per request) or a whole number >= 1",
        ),
        ({"NGINX_UPSTREAM_KEEPALIVE": "032"}, "NGINX_UPSTREAM_KEEPALIVE='032': expected 0"),
        ({"NGINX_UPSTREAM_KEEPALIVE": "all"}, "NGINX_UPSTREAM_KEEPALIVE='all': expected 0"),
        ({"NGINX_ALLOCATOR": "tcmalloc"}, "NGINX_ALLOCATOR='tcmalloc': expected 'jemalloc' or 'glibc'"),
        ({"SERVER_NAME": "evil.com;return"}, "SERVER_NAME='evil.com;return': expected host names"),
        ({"STATIC_ROOT": "/nonexistent/static"}, "STATIC_ROOT='/nonexistent/static': no such directory"),
        (
            {"LISTEN_ADDRESS": "1.2.3; evil"},
            "LISTEN_ADDRESS='1.2.3; evil': expected an IPv4 address (0.0.0.0 or *: every one), or an IPv6",
        ),
        ({"LISTEN_ADDRESS": "::"}, "LISTEN_ADDRESS='::': expected an IPv4 address"),
        ({"LISTEN_ADDRESS": "localhost"}, "LISTEN_ADDRESS='localhost': expected an IPv4 address"),
        ({"NGINX_RUNTIME_DIR": "runtime"}, "NGINX_RUNTIME_DIR='runtime': expected an absolute path"),
        (
            {"NGINX_RUNTIME_DIR": "/proc/nginx"},
            "NGINX_RUNTIME_DIR='/proc/nginx': cannot create the directory",
        ),
        (
            {"NGINX_ACCESS_LOG": "/dev/stdout combined; evil"},
            "NGINX_ACCESS_LOG='/dev/stdout combined; evil': expected an absolute path such as /dev/stdout",
        ),
        ({"NGINX_ERROR_LOG": "stdout"}, "NGINX_ERROR_LOG='stdout': expected stderr or an absolute path"),
        (
            {"NGINX_MIME_TYPES": "/nonexistent/mime.types"},
            "NGINX_MIME_TYPES='/nonexistent/mime.types': expected a readable file by its absolute path",
        ),
        ({"UPSTREAM": "gunicorn"}, "UPSTREAM='gunicorn': expected unix:/absolute/path or HOST:PORT"),
        ({"UPSTREAM": "127.0.0.1:0"}, "UPSTREAM='127.0.0.1:0': expected unix:/absolute/path or HOST:PORT"),
        ({"UPSTREAM": "unix:run/g.sock"}, "UPSTREAM='unix:run/g.sock': expected unix:/absolute/path"),
        (
            {"UPSTREAM": "unix:/run/g.sock; return 200"},
            "UPSTREAM='unix:/run/g.sock; return 200': expected unix:/absolute/path or HOST:PORT",
        ),
        ({"NGINX_MODE": "behind-alb", "TRUSTED_PROXY_CIDRS": ""}, "TRUSTED_PROXY_CIDRS is required"),
        (
            {"NGINX_MODE": "behind-alb", "TRUSTED_PROXY_CIDRS": "10.0.0.0/16,10.0.0.300/32"},
            "TRUSTED_PROXY_CIDRS: '10.0.0.300/32' is not a CIDR",
        ),
        (
            {"NGINX_MODE": "behind-alb", "TRUSTED_PROXY_CIDRS": "10.0.0.0"},
            "TRUSTED_PROXY_CIDRS: '10.0.0.0' is not a CIDR",
        ),
        (
            {"TLS_SELF_SIGNED": "false", "TLS_CERT": "/nonexistent/cert.pem"},
            "TLS_CERT='/nonexistent/cert.pem': no readable certificate",
        ),
    ],
)
def test_bad_settings_are_refused_by_name(
    env: dict[str, str], overrides: dict[str, str], message: str
) -> None:
    result = render({**env, **overrides})
    assert result.returncode == 64
    assert message in result.stderr
    assert not (Path(env["NGINX_RUNTIME_DIR"]) / "nginx.conf").exists()


def run_under_render(env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RENDER), *command], env={**os.environ, **env}, capture_output=True, text=True, check=False
    )


def test_the_command_runs_with_jemalloc_returning_freed_memory_after_a_second(env: dict[str, str]) -> None:
    result = run_under_render(env, "sh", "-c", 'cat /proc/self/maps; echo "MALLOC_CONF=$MALLOC_CONF"')
    assert result.returncode == 0, result.stderr
    assert "/libjemalloc.so.2" in result.stdout
    assert "MALLOC_CONF=dirty_decay_ms:1000,muzzy_decay_ms:0" in result.stdout


def test_an_operators_malloc_conf_is_kept(env: dict[str, str]) -> None:
    result = run_under_render({**env, "MALLOC_CONF": "narenas:1"}, "sh", "-c", 'echo "$MALLOC_CONF"')
    assert result.stdout.strip() == "narenas:1"


def test_glibc_leaves_the_command_alone(env: dict[str, str]) -> None:
    result = run_under_render({**env, "NGINX_ALLOCATOR": "glibc"}, "cat", "/proc/self/maps")
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
