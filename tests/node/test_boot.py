"""A node booted from the rendered user data (infra/user_data.py), probed from the load balancer's namespace.

The stand-ins, only where AWS is (nodestack/node.py tells how each behaves): IMDSv2 (nodestack/imds.py),
ECR (Debian's docker-registry), `aws ecr get-login-password`, CloudWatch Logs (moto in server mode), `dnf`
and `systemctl`. The node boots as on the ECS-optimized AMI: Docker and the rest are there already. The
images are the session's, built from docker/.

The node the probes run on booted through stand-ins that each failed a few times first; another boot's image
lacks the AWS CLI, which it installs; other boots meet a stand-in that never answers, and must fail
visibly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

from appserver.environment import SOCKET
from infra import node_secrets, user_data
from nodestack import node as boot
from nodestack.images import Engine
from nodestack.paths import REPO
from nodestack.process import wait_until

#: The containers' user (docker/Dockerfile's USER).
UNPRIVILEGED = 1001
#: nginx's client_max_body_size (docker/nginx/nginx.conf.template) is 10 MiB.
TOO_BIG = 10 * 1024 * 1024 + 1
#: The client address the ALB appends to X-Forwarded-For (TEST-NET-2, RFC 5737).
CLIENT = "198.51.100.7"
SECURITY_HEADERS = ("strict-transport-security", "x-content-type-options", "x-frame-options",
                    "content-security-policy", "referrer-policy")  # fmt: skip
#: awslogs sends a batch every 5 s (Docker docs, "Amazon CloudWatch Logs logging driver").
LOGS_WITHIN = 30.0
#: How often each network step's stand-in fails before it answers, on the node the probes run on.
FLAKY = boot.Faults(imds_token=1, ecr_password=2, registry_manifests=1)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def alb_request(node: boot.Node, path: str, *args: str, source: str = boot.ALB_ADDRESS) -> Answer:
    """``path`` asked over HTTPS of the node's target port, from the ALB's namespace, from ``source``.

    Unverified TLS, as the ALB's: it does not check its targets' certificates (ELB guide, "Target groups
    for your Application Load Balancers", routing configuration)."""
    scratch = node.scratch
    url = f"https://{boot.NODE_ADDRESS}:{boot.HTTPS_PORT}{path}"
    result = node.names.exec(
        node.names.alb, "curl", "--silent", "--show-error", "--insecure", "--max-time", "10",
        "--interface", source, "--dump-header", str(scratch / "headers"), "--output", str(scratch / "body"),
        "--write-out", "%{http_code}", *args, url,
    )  # fmt: skip
    lines = (scratch / "headers").read_text().splitlines()[1:]
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines) if v}
    return Answer(int(result.stdout), headers, (scratch / "body").read_bytes())


def answers_health_check(node: boot.Node) -> bool:
    """Whether the node answers the target group's health check with 200 (not: refused, or an error)."""
    try:
        return alb_request(node, "/healthz").status == 200
    except RuntimeError:
        return False


@pytest.fixture(scope="module")
def node(engine: Engine, images: dict[str, str], ecr: boot.Registry) -> Iterator[boot.Node]:
    assert os.geteuid() == 0, "network namespaces and a dockerd need root (CI runs the tests as root)"
    with boot.booted_node(engine, images, FLAKY, ecr) as booted:

        def healthy() -> bool:
            for name in ("app", "proxy"):
                running = json.loads(
                    booted.engine.run("inspect", "--format", "{{json .State.Running}}", name)
                )
                assert running, booted.engine.run("logs", name)
            return answers_health_check(booted)

        wait_until(healthy, "the booted node to answer the health check", boot.SERVICE_TIMEOUT)
        yield booted


def test_the_user_data_pulls_by_digest_from_the_registry(node: boot.Node) -> None:
    for name, image in (("app", node.settings.app_image), ("proxy", node.settings.proxy_image)):
        assert node.engine.run("inspect", "--format", "{{.Config.Image}}", name).strip() == image
    assert "Login Succeeded" in node.boot_output


def retried(step: str, attempt: int, status: int) -> str:
    """What `retry` prints when ``attempt`` of ``step`` fails with ``status`` and another follows."""
    pause = user_data.RETRY_PAUSES_SECONDS[attempt - 1]
    attempts = user_data.RETRY_ATTEMPTS
    return f"retry: attempt {attempt} of {attempts} failed (exit {status}), again in {pause} s: {step}"


def test_each_network_step_is_retried_until_its_stand_in_answers(node: boot.Node) -> None:
    output, ready = node.boot_output, node.ready
    # curl's exit 22: an HTTP error (-f), here IMDS's 503.
    assert retried("curl -fsS --max-time 2 -X PUT", 1, 22) in output.replace("\n", "")
    assert ready.log("imds").count('"PUT /latest/api/token HTTP/1.1" 503') == FLAKY.imds_token
    assert retried("ecr_login", 2, 255) in output
    assert ready.calls("aws") == FLAKY.ecr_password + 1
    assert retried(f"docker pull {node.settings.app_image}", 1, 1) in output
    assert ready.log("ecr").count("503") == FLAKY.registry_manifests
    assert "giving up" not in output


def test_the_image_has_what_the_boot_runs_so_it_installs_nothing(node: boot.Node) -> None:
    assert node.ready.calls("dnf") == 0
    assert "not on this image" not in node.boot_output
    # The ECS agent the image enables is masked: no cluster runs this node.
    assert (node.scratch / "state" / "ecs-agent-masked").exists()


def test_the_boot_reports_each_steps_duration_in_order(node: boot.Node) -> None:
    steps = boot.step_durations(node.boot_output)
    assert [name for name, _ in steps] == list(user_data.boot_steps(node.settings))
    assert "secrets" in dict(steps)
    # The steps that went to a stand-in that failed first include retry's pauses; the rest take less.
    durations = dict(steps)
    assert durations["instance-id"] >= user_data.RETRY_PAUSES_SECONDS[0]
    assert durations["ecr-login"] >= sum(user_data.RETRY_PAUSES_SECONDS[: FLAKY.ecr_password])
    assert durations["pull-app"] >= user_data.RETRY_PAUSES_SECONDS[0]
    assert durations["sysctl"] < user_data.RETRY_PAUSES_SECONDS[0]


def test_a_command_the_image_lacks_is_installed_retried_and_named(
    engine: Engine, images: dict[str, str], ecr: boot.Registry
) -> None:
    with boot.ready_node(engine, images, boot.Faults(dnf=1, image_lacks_aws=True), ecr) as ready:
        result = ready.boot()
        console = result.stdout + result.stderr
        calls = ready.calls("dnf")
    assert result.returncode == 0, console
    assert "user data: not on this image, installing: awscli-2" in console
    assert retried("dnf install -y awscli-2", 1, 1) in console
    assert calls == 2
    steps = dict(boot.step_durations(console))
    assert steps["packages"] >= user_data.RETRY_PAUSES_SECONDS[0]
    assert steps.keys() >= {"ecr-login", "run-proxy"}


@dataclass(frozen=True)
class NeverAnswers:
    """A boot whose stand-in for one network step never answers, and how that step fails."""

    faults: boot.Faults
    step: str
    status: int


NEVER_ANSWERS = {
    "package-install": NeverAnswers(
        boot.Faults(dnf=boot.NEVER, image_lacks_aws=True), "dnf install -y awscli-2", 1
    ),
    # curl's exit 28: its --max-time passed.
    "metadata": NeverAnswers(boot.Faults(imds_token=boot.NEVER), "curl -fsS --max-time 2 -X PUT", 28),
    "registry-login": NeverAnswers(boot.Faults(ecr_password=boot.NEVER), "ecr_login", 255),
    "pull": NeverAnswers(boot.Faults(registry_manifests=boot.NEVER), "docker pull", 1),
}


@pytest.mark.parametrize("case", NEVER_ANSWERS.values(), ids=NEVER_ANSWERS.keys())
def test_a_step_whose_service_never_answers_fails_the_boot_visibly(
    engine: Engine, images: dict[str, str], ecr: boot.Registry, case: NeverAnswers
) -> None:
    step, status = case.step, case.status
    with boot.ready_node(engine, images, case.faults, ecr) as ready:
        result = ready.boot()
        console = result.stdout + result.stderr
        pauses = ready.pauses()
    assert result.returncode == status, console
    attempts = user_data.RETRY_ATTEMPTS
    assert f"retry: attempt {attempts} of {attempts} failed (exit {status}), giving up: {step}" in console
    failed = [line for line in console.splitlines() if line.startswith("user data: boot failed at line")]
    assert len(failed) == 1, console
    assert f"(exit {status}) in step " in failed[0]
    # The steps before the one that failed each reported their time; the failed one did not.
    assert boot.step_durations(console)
    # Every pause the script asks for, then no more: the boot ends, and the instance is replaced.
    assert pauses == list(user_data.RETRY_PAUSES_SECONDS)


def test_the_health_check_answers_over_https_by_address(node: boot.Node) -> None:
    # The ALB's health check sends the target's address as Host.
    answer = alb_request(node, "/healthz", "--header", f"Host: {boot.NODE_ADDRESS}:{boot.HTTPS_PORT}")
    assert answer.status == 200


def test_a_page_carries_the_security_headers(node: boot.Node) -> None:
    answer = alb_request(node, "/", "--header", f"Host: {boot.SERVER_NAME}")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert set(SECURITY_HEADERS) <= answer.headers.keys()


def test_a_static_file_comes_from_its_gz_twin_with_the_security_headers(node: boot.Node) -> None:
    host = ("--header", f"Host: {boot.SERVER_NAME}")
    plain = alb_request(node, "/static/css/site.css", *host)
    gzipped = alb_request(node, "/static/css/site.css", *host, "--header", "Accept-Encoding: gzip")
    assert (plain.status, gzipped.status) == (200, 200)
    assert "content-encoding" not in plain.headers
    assert gzipped.headers["content-encoding"] == "gzip"
    assert set(SECURITY_HEADERS) <= plain.headers.keys()
    assert set(SECURITY_HEADERS) <= gzipped.headers.keys()


@pytest.mark.parametrize(
    ("source", "believed"), [(boot.ALB_ADDRESS, CLIENT), (boot.OUTSIDE_ADDRESS, boot.OUTSIDE_ADDRESS)],
    ids=["from-the-alb", "from-outside-the-vpc"],
)  # fmt: skip
def test_x_forwarded_for_is_believed_only_from_the_vpc(node: boot.Node, source: str, believed: str) -> None:
    answer = alb_request(
        node, "/api/request-info", "--header", f"Host: {boot.SERVER_NAME}",
        "--header", f"X-Forwarded-For: {CLIENT}", source=source,
    )  # fmt: skip
    assert answer.status == 200
    assert json.loads(answer.body)["remote_addr"] == believed


def test_a_body_over_10_mib_is_refused_with_413(node: boot.Node, tmp_path: Path) -> None:
    body = tmp_path / "body"
    body.write_bytes(b"x" * TOO_BIG)
    answer = alb_request(
        node, "/api/upload", "--header", f"Host: {boot.SERVER_NAME}", "--data-binary", f"@{body}",
        "--header", "Content-Type: application/octet-stream",
    )  # fmt: skip
    assert answer.status == 413


def test_both_containers_log_to_the_log_group(node: boot.Node) -> None:
    streams = {name: f"{boot.INSTANCE_ID}/{name}" for name in ("app", "proxy")}

    # One request through the proxy, so that its access log has a line of ours.
    probe = f"/api/status?probe={uuid.uuid4().hex}"
    assert alb_request(node, probe, "--header", f"Host: {boot.SERVER_NAME}").status == 200

    def arrived() -> bool:
        try:
            return all(node.log_events(stream) for stream in streams.values())
        except (subprocess.CalledProcessError, RuntimeError):
            return False

    def proxy_logged() -> bool:
        return any(probe in message for message in node.log_events(streams["proxy"]))

    wait_until(arrived, "both containers' logs in moto", LOGS_WITHIN)
    assert any("Using worker: gevent" in message for message in node.log_events(streams["app"]))
    wait_until(proxy_logged, "the proxy's access log line of the probe in moto", LOGS_WITHIN)
    # The app's secrets never reach a log line.
    logged = "\n".join(message for stream in streams.values() for message in node.log_events(stream))
    assert not any(secret in logged for secret in (boot.SECRET_KEY, boot.DATABASE_PASSWORD))


def test_the_app_gets_its_settings_and_secrets_and_nothing_else_shows_the_secrets(node: boot.Node) -> None:
    secrets = (boot.SECRET_KEY, boot.DATABASE_PASSWORD)
    # The app's process (gunicorn, which serve.py became) holds them, read from the file the node fetched.
    environ = node.engine.run("exec", "app", "cat", "/proc/1/environ").split("\0")
    assert {f"SECRET_KEY={boot.SECRET_KEY}", f"DATABASE_PASSWORD={boot.DATABASE_PASSWORD}"} <= set(environ)
    assert "LOG_FORMAT=json" in environ
    mode = node.engine.run("exec", "app", "stat", "-c", "%a %u", f"{node_secrets.CONTAINER_DIR}/env.json")
    assert mode.split() == ["400", str(UNPRIVILEGED)]
    # Nowhere else: the container's configuration, the instance's console output, the logs in CloudWatch.
    inspected = node.engine.run("inspect", "app")
    assert f"{node_secrets.CONTAINER_DIR}/env.json" in inspected
    for place in (inspected, node.boot_output, node.ready.log("imds")):
        assert not any(secret in place for secret in secrets)


def test_the_containers_user_is_refused_imds_and_root_is_answered(node: boot.Node) -> None:
    url = f"http://{user_data.IMDS_ADDRESS}/latest/api/token"
    token = ("--request", "PUT", "--header", "X-aws-ec2-metadata-token-ttl-seconds: 60", url)
    # Inside the app container, as its image's user, on the node's network.
    refused = subprocess.run(
        [node.engine.client, "exec", "app", "python3", "-c",
         f"import os, urllib.request as u; print(os.getuid());"
         f"u.urlopen(u.Request({url!r}, method='PUT', "
         f"headers={{'X-aws-ec2-metadata-token-ttl-seconds': '60'}}), timeout=5)"],
        capture_output=True, text=True, env=node.engine.env(), check=False,
    )  # fmt: skip
    assert refused.stdout.strip() == str(UNPRIVILEGED)
    assert "Connection refused" in refused.stderr, refused.stderr
    answered = node.names.exec(node.names.node, "curl", "--silent", "--fail", "--max-time", "5", *token)
    assert answered.stdout


def proxy_listening(node: boot.Node) -> bool:
    """Whether nginx listens on the target port."""
    ss = node.names.exec(node.names.node, "ss", "-Hltn", f"sport = :{boot.HTTPS_PORT}")
    return bool(ss.stdout.strip())


def app_socket(node: boot.Node) -> Path:
    """gunicorn's socket, in the docker volume the two containers share, as the node's root sees it."""
    volume = node.engine.run("volume", "inspect", "--format", "{{.Mountpoint}}", user_data.SOCKET_VOLUME)
    return Path(volume.strip()) / PurePosixPath(SOCKET).name


def app_accept_queue(node: boot.Node) -> int:
    """How many connections wait for gunicorn's accept: the Recv-Q of its listening socket."""
    ss = node.names.exec(node.names.node, "ss", "-Hxl", f"src {SOCKET}")
    return int(ss.stdout.split()[2])


def slow_client(node: boot.Node, container: str) -> list[str]:
    """A client of ``container``'s server, as the ALB is the proxy's and the proxy is the app's."""
    if container == "proxy":
        return [
            "ip", "netns", "exec", node.names.alb, sys.executable, "-m", "nodestack.slow_client",
            "--tls", f"{boot.NODE_ADDRESS}:{boot.HTTPS_PORT}", "--source", boot.ALB_ADDRESS,
            "--host", boot.SERVER_NAME,
        ]  # fmt: skip
    return [sys.executable, "-m", "nodestack.slow_client", "--unix", str(app_socket(node)),
            "--host", boot.SERVER_NAME]  # fmt: skip


@pytest.mark.parametrize("container", ["proxy", "app"])
def test_docker_stop_lets_an_in_flight_request_finish(node: boot.Node, container: str) -> None:
    # nginx stops on SIGQUIT (the image's STOPSIGNAL), gunicorn on SIGTERM: each closes its listener, then
    # finishes the requests it holds. Each stops listening once it has the signal; the request ends after.
    stopped = {"proxy": lambda: not proxy_listening(node), "app": lambda: not app_socket(node).exists()}
    client = subprocess.Popen(slow_client(node, container), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=REPO)  # fmt: skip
    assert client.stdin is not None
    assert client.stdout is not None
    try:
        assert client.stdout.readline().strip() == "in flight"
        if container == "app":
            wait_until(
                lambda: app_accept_queue(node) == 0, "gunicorn to accept the request", boot.SERVICE_TIMEOUT
            )
        stop = subprocess.Popen([node.engine.client, "stop", container], env=node.engine.env(),
                                stdout=subprocess.DEVNULL)  # fmt: skip
        wait_until(stopped[container], f"the {container} to take the stop signal", boot.SERVICE_TIMEOUT)
        client.stdin.write("finish\n")
        client.stdin.flush()
        assert client.stdout.readline().strip() == "200"
        assert stop.wait(timeout=user_data.APP_STOP_TIMEOUT_SECONDS + 10) == 0
        # It ended by itself, before docker's SIGKILL (exit 137).
        assert node.engine.run("inspect", "--format", "{{.State.ExitCode}}", container).strip() == "0"
    finally:
        client.kill()
        node.engine.run("start", container)
        wait_until(lambda: answers_health_check(node), "the node to answer again", boot.SERVICE_TIMEOUT)


def test_an_app_killed_with_sigkill_is_restarted_by_its_restart_policy(node: boot.Node) -> None:
    # Last in this module: the node answers 502 until docker has restarted the app. The main process is
    # killed by its pid, from outside docker, as the kernel's OOM killer kills it.
    count, pid = node.engine.run("inspect", "--format", "{{.RestartCount}} {{.State.Pid}}", "app").split()
    os.kill(int(pid), signal.SIGKILL)

    def restarted_and_healthy() -> bool:
        if int(node.engine.run("inspect", "--format", "{{.RestartCount}}", "app")) <= int(count):
            return False
        return answers_health_check(node)

    wait_until(restarted_and_healthy, "docker to restart the killed app", boot.SERVICE_TIMEOUT)
