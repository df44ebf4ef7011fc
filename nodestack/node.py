"""A disposable node booted from the rendered user data (infra/user_data.py), stand-ins only where AWS is.

Three network namespaces of our own, joined by veth pairs, nothing else:

- ``node``: the instance. The user data runs here as root, and the dockerd it starts (through the
  ``systemctl`` stand-in) is a dockerd of its own, so the containers' ``--network host`` is the node's network
  (the issue's "a network namespace with its own dockerd"; the session's engine, in the host's namespace,
  would put them on the host's). The ECR and CloudWatch Logs stand-ins listen on the node's loopback.
- ``aws``: the instance metadata service at 169.254.169.254, off the node as on EC2, so the IMDS guard's
  refusals go back to the node (tests/node/test_imds_guard.py).
- ``alb``: the load balancer, with an address inside the VPC CIDR the user data was rendered with, and one
  outside it, to send the same request as a peer nginx must not believe.

The stand-ins, each behaving as the real service does for this script:

- IMDSv2: nodestack/imds.py (tokens first, 401 without one; the instance id; the role's credentials).
- ECR: Debian's docker-registry (distribution 2.8) on the node's 127.0.0.1, holding the images pushed from
  the session's engine and referenced by digest. The push goes to a second registry process on the host's
  127.0.0.1 over the same storage, since the engine is in the host's namespace. Loopback registries need no
  TLS (dockerd treats 127.0.0.0/8 as insecure), and this one asks for no password.
- ``aws ecr get-login-password``: prints a password, for that command line only.
- CloudWatch Logs: moto in server mode on the node's loopback, its log group made first (the observability
  component makes it in AWS). The user data's awslogs options stay as rendered; the endpoint reaches the
  driver as a daemon default (daemon.json log-opts), which dockerd merges into every container that uses
  the daemon's default driver (moby daemon/logs.go mergeAndVerifyLogConfig). The driver's credentials come
  from IMDS, as root, as on an instance.
- The image: this machine has Docker, as the ECS-optimized AL2023 AMI the launch template boots has, and
  every other command the script runs (infra/user_data.py ``IMAGE_COMMANDS``), so the script installs none.
  ``dnf`` stands in for the package mirror a boot needs only when the image lacks one of them: a boot can
  start without ``aws`` (``Faults.image_lacks_aws``), which ``dnf install -y awscli-2`` then puts on PATH.
- ``systemctl``: ``daemon-reload``; ``mask --now`` of the ECS agent's unit; ``enable --now`` of the IMDS
  guard runs the unit file the script wrote (ExecStartPre, then ExecStart); of docker, refuses unless the
  guard has started, then starts the node's dockerd and returns when it answers, as systemd does for
  docker.service (Type=notify).

Each network step's stand-in can fail (``Faults``): ``dnf`` and ``aws`` exit as the real commands do when
their service cannot be reached; IMDS answers token requests 503, or never answers; ECR answers manifest
requests 503 (nodestack/flaky_registry.py). A boot whose stand-in never answers also gets a ``sleep`` that
records the pause it is asked for and returns at once: the script's pauses are asserted, not waited out.

The script writes /etc/systemd/system and /etc/sysctl.d: it runs in a private mount namespace of its own
with a tmpfs over each. Its ``sysctl`` sets the node namespace's
somaxconn, which is per network namespace."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from infra import node_secrets, spot_drain, user_data
from infra.app_environment import Fetch
from nodestack import aws_elb, aws_secrets
from nodestack.images import BUILD_TIMEOUT, NODE_TARGETS, Engine, client, sbin_tool, unmount_under
from nodestack.paths import REPO
from nodestack.process import Process, free_port

#: A stand-in's failures that never end.
NEVER = -1

#: The settings the node is rendered with, but for the images (the registry's) and the log group's region.
REGION = "us-east-1"
LOG_GROUP = "/web/node"
VPC_CIDR = "10.0.0.0/16"
SERVER_NAME = "app.example.com"
HTTPS_PORT = 8443
INSTANCE_ID = "i-0123456789abcdef0"
ROLE = "web-node"
#: A Spot node's target group, and the delay the ALB drains it for (the stack's idle timeout).
TARGET_GROUP_ARN = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-nginx-1a2b3c4/0123456789abcdef"
)
DEREGISTRATION_DELAY = 60
#: The node's and the ALB's addresses inside the VPC CIDR, and a peer's outside it (TEST-NET-1, RFC 5737).
NODE_ADDRESS = "10.0.1.10"
ALB_ADDRESS = "10.0.0.10"
NODE_OUTSIDE_ADDRESS = "192.0.2.1"
OUTSIDE_ADDRESS = "192.0.2.10"
#: The node's end of its link to IMDS: link-local like IMDS's, so neither side needs a route.
NODE_LINK_LOCAL = "169.254.0.2"
#: The target group's health check, as the ALB sends it to the node.
HEALTH_URL = f"https://{NODE_ADDRESS}:{HTTPS_PORT}/healthz"
#: A boot takes seconds here; longer means a step hangs (the error carries the script's output).
BOOT_TIMEOUT = 300.0
SERVICE_TIMEOUT = 30.0
PASSWORD = "standin-ecr-password"  # noqa: S105 - the stand-in registry checks no password
#: The app's settings, and its secrets as the node's store holds them: a parameter and a database's
#: RDS-managed secret, made up for the node and never to be seen outside the app's process and its file.
APP_SETTINGS = {"LOG_FORMAT": "json"}
SECRET_KEY = "standin-flask-secret-key-Zq8v"  # noqa: S105
DATABASE_PASSWORD = "standin-db-password-Hx3k"  # noqa: S105
PARAMETER_ARN = f"arn:aws:ssm:{REGION}:123456789012:parameter/web/secret-key"
DATABASE_SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:rds!db-0a1b2c3d-AbCdEf"
APP_SECRETS = (
    Fetch(name="SECRET_KEY", service="ssm", arn=PARAMETER_ARN),
    Fetch(name="DATABASE_PASSWORD", service="secretsmanager", arn=DATABASE_SECRET_ARN, json_key="password"),
)
SECRETS_STORE = {
    "parameters": {PARAMETER_ARN: {"Name": "/web/secret-key", "Type": "SecureString", "Value": SECRET_KEY}},
    "secrets": {
        DATABASE_SECRET_ARN: {
            "Name": "rds!db-0a1b2c3d",
            "SecretString": json.dumps({"username": "postgres", "password": DATABASE_PASSWORD}),
        }
    },
}

#: The part of a stand-in that fails its first {failures} calls (all of them if negative), counting
#: its calls in {calls}, with the real command's message and exit status when its service is out of reach.
FAILING = """
calls=$(( $(cat {calls} 2>/dev/null || echo 0) + 1 ))
echo "$calls" >{calls}
if (( {failures} < 0 || calls <= {failures} )); then
    echo {message} >&2
    exit {status}
fi
"""
AWS_STANDIN = """
# Stand-in for the AWS CLI: `aws ecr get-login-password --region {region}` prints a password; the
# registry stand-in asks for none. Any other command line fails, as an unknown one would.
if [[ "$*" != "ecr get-login-password --region {region}" ]]; then
    echo "aws stand-in: unexpected: $*" >&2
    exit 2
fi
echo {password}
"""
DNF_STANDIN = """
# Stand-in for AL2023's dnf: the one package this node's image can lack is the AWS CLI, held in {held}.
[[ "$*" == "install -y awscli-2" ]] || {{ echo "dnf stand-in: unexpected: $*" >&2; exit 1; }}
mv {held} {installed}
"""
SYSTEMCTL_STANDIN = """#!/bin/bash
# Stand-in for systemctl, for the units the user data starts, and for systemd at a later boot (start).
set -euo pipefail
guard=/etc/systemd/system/{guard}
# What systemd would start at every later boot: each unit the user data enabled.
[[ $1 != enable ]] || echo "${{*: -1}}" >>{state}/enabled
case "$*" in
    daemon-reload) ;;
    # The app's secrets (infra/node_secrets.py): its oneshot unit runs its ExecStart as root now; its
    # timer's later runs are rotation's, which tests/node/test_app_secrets.py runs.
    "enable --now {secrets_unit}" | "start {secrets_unit}")
        read -ra argv <<<"$(sed -n 's/^ExecStart=//p' /etc/systemd/system/{secrets_unit})"
        "${{argv[@]}}" ;;
    "enable --now {secrets_timer}" | "start {secrets_timer}") ;;
    # A Spot node's drain: a long-running service, started in the background as systemd would.
    "enable --now {drain_unit}" | "start {drain_unit}")
        program=$(sed -n 's/^ExecStart=//p' /etc/systemd/system/{drain_unit})
        setsid "$program" </dev/null >{state}/spot-drain.log 2>&1 &
        echo $! >{state}/spot-drain.pid ;;
    # The ECS-optimized AMI's agent: this machine has none to stop.
    "mask --now {ecs_agent}") touch {state}/ecs-agent-masked ;;
    "enable --now {guard}" | "start {guard}")
        # A oneshot unit: each ExecStartPre (a "-" one may fail), then ExecStart; no quoting in these lines.
        while IFS= read -r line; do
            case "$line" in
                ExecStartPre=-*) read -ra argv <<<"${{line#ExecStartPre=-}}"; "${{argv[@]}}" || true ;;
                ExecStartPre=* | ExecStart=*) read -ra argv <<<"${{line#*=}}"; "${{argv[@]}}" ;;
            esac
        done <"$guard"
        touch {state}/guard-started ;;
    "enable --now docker" | "start docker")
        # docker.service requires the guard (RequiredBy in the unit the script wrote).
        grep -qx 'RequiredBy=docker.service' "$guard" && [[ -e {state}/guard-started ]] \\
            || {{ echo "systemctl stand-in: docker.service requires {guard}" >&2; exit 1; }}
        setsid {dockerd} {dockerd_args} </dev/null >{state}/dockerd.log 2>&1 &
        # systemctl returns once dockerd is ready (Type=notify); this waits for its API instead, 60 s at most.
        for ((tries = 0; tries < 600; tries++)); do
            docker version >/dev/null 2>&1 && exit 0
            kill -0 $! 2>/dev/null || {{ echo "dockerd exited" >&2; cat {state}/dockerd.log >&2; exit 1; }}
            {sleep} 0.1
        done
        echo "systemctl stand-in: dockerd did not answer" >&2; exit 1 ;;
    *) echo "systemctl stand-in: unexpected: $*" >&2; exit 1 ;;
esac
"""
AWS_UNREACHABLE = 'Could not connect to the endpoint URL: "https://api.ecr.us-east-1.amazonaws.com/"'
DNF_UNREACHABLE = (
    "Error: Failed to download metadata for repo 'amazonlinux': Curl error (28): Timeout was reached"
)
#: The AWS CLI stand-in's first lines: the secret reads go to nodestack/aws_secrets.py's stand-in, which
#: answers from the node's store; the rest is ECR's, which fails as ``Faults`` asks.
AWS_DISPATCH = """#!/bin/bash
case "$1" in ssm | secretsmanager) exec {secrets} "$@" ;; elbv2) exec {elb} "$@" ;; esac
"""
#: A sleep that records each pause in {pauses} and returns at once.
RECORDED_SLEEP = """#!/bin/bash
echo "$1" >>{pauses}
"""
#: Runs the user data in the node's namespace, over a tmpfs for each directory of the host's it writes.
BOOT = """set -eu
mount -t tmpfs node-systemd /etc/systemd/system
mount -t tmpfs node-sysctl /etc/sysctl.d
mount -t tmpfs node-sbin /usr/local/sbin
mount -t tmpfs node-etc /usr/local/etc
mount -t tmpfs -o mode=0755 node-secrets {secrets_dir}
# Holds this mount namespace, the disk the script writes to, for the node's later starts (Node.power_on).
{sleep} infinity </dev/null >/dev/null 2>&1 &
echo $! >{holder}
exec bash "$1"
"""
#: A later start of a stopped node, without the user data: what systemd starts at boot, each unit the user
#: data enabled. Each is ordered before docker.service (Before=, tested in tests/infra) or is a timer.
POWER_ON = """set -eu
while read -r unit; do
    [[ $unit == docker ]] || systemctl start "$unit"
done <{enabled}
systemctl start docker
"""
#: What a stop loses, besides the processes: the node's memory, so /run's tmpfs (the secrets' file) and
#: the guard's iptables rule (the only OUTPUT rule in the node's network).
POWER_OFF = """set -eu
rm -f {secrets_dir}/*
iptables --wait --flush OUTPUT
"""
LOGS_CALL = """
import json, sys, boto3
endpoint, action, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
logs = boto3.client("logs", endpoint_url=endpoint, region_name=sys.argv[4],
                    aws_access_key_id="standin", aws_secret_access_key="standin")
print(json.dumps(getattr(logs, action)(**params), default=str))
"""


_STEP = re.compile(
    "^"
    + re.escape(user_data.STEP_LINE)
    .replace(r"\{name\}", r"(?P<name>[a-z-]+)")
    .replace(r"\{seconds\}", r"(?P<seconds>\d+\.\d{3})")
    + "$",
    re.MULTILINE,
)


def step_durations(console: str) -> list[tuple[str, float]]:
    """Each boot step the console output reports (infra/user_data.py ``STEP_LINE``), in order, with its
    seconds."""
    return [(match["name"], float(match["seconds"])) for match in _STEP.finditer(console)]


def run(*argv: str, check: bool = True, timeout: float = SERVICE_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """``argv``'s completed process; raises with its output when ``check`` and it fails."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited with {result.returncode}:\n{result.stdout}{result.stderr}"
        )
    return result


@dataclass(frozen=True)
class Faults:
    """How many times each network step's stand-in fails before it answers; ``NEVER``: it never does."""

    dnf: int = 0
    imds_token: int = 0
    ecr_password: int = 0
    registry_manifests: int = 0
    image_lacks_aws: bool = False
    """The image has no AWS CLI: the boot installs it, through ``dnf``."""

    @property
    def fatal(self) -> bool:
        """Whether a stand-in never answers, and so the boot must fail."""
        return NEVER in (self.dnf, self.imds_token, self.ecr_password, self.registry_manifests)


@dataclass(frozen=True)
class Namespaces:
    """The node's, the metadata service's and the load balancer's network namespaces."""

    node: str
    aws: str
    alb: str

    def exec(self, namespace: str, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``argv`` run in ``namespace``."""
        return run("ip", "netns", "exec", namespace, *argv, check=check)


@contextmanager
def namespaces() -> Iterator[Namespaces]:
    """The three namespaces and their links, deleted on exit (with the veth pairs in them)."""
    suffix = uuid.uuid4().hex[:8]
    made = Namespaces(node=f"node-{suffix}", aws=f"node-aws-{suffix}", alb=f"node-alb-{suffix}")
    created: list[str] = []
    try:
        for name in (made.node, made.aws, made.alb):
            run("ip", "netns", "add", name)
            created.append(name)
            run("ip", "-n", name, "link", "set", "lo", "up")
        for peer, node_end, peer_end, pairs in (
            (made.aws, f"na{suffix}", f"an{suffix}", [(NODE_LINK_LOCAL, user_data.IMDS_ADDRESS, 16)]),
            (made.alb, f"nl{suffix}", f"ln{suffix}", [(NODE_ADDRESS, ALB_ADDRESS, 16),
                                                      (NODE_OUTSIDE_ADDRESS, OUTSIDE_ADDRESS, 24)]),
        ):  # fmt: skip
            run(
                "ip",
                "link",
                "add",
                node_end,
                "netns",
                made.node,
                "type",
                "veth",
                "peer",
                peer_end,
                "netns",
                peer,
            )
            for node_address, peer_address, length in pairs:
                run("ip", "-n", made.node, "address", "add", f"{node_address}/{length}", "dev", node_end)
                run("ip", "-n", peer, "address", "add", f"{peer_address}/{length}", "dev", peer_end)
            run("ip", "-n", made.node, "link", "set", node_end, "up")
            run("ip", "-n", peer, "link", "set", peer_end, "up")
        yield made
    finally:
        for name in created:
            run("ip", "netns", "delete", name, check=False)


def start(name: str, argv: list[str], log: Path) -> Process:
    """``argv`` started with its output in ``log``, from the repository (for ``python -m nodestack...``)."""
    with log.open("wb") as output:
        popen = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, cwd=REPO)  # noqa: S603
    return Process(name, popen, log)


def listening(namespace: str | None, address: str, port: int) -> bool:
    """Whether something listens on ``address:port`` in ``namespace`` (None: the host's)."""
    ss = ("ss", "-Hltn", f"src {address}:{port}")
    return bool(run(*(("ip", "netns", "exec", namespace) if namespace else ()), *ss).stdout.strip())


@contextmanager
def serving(namespace: str | None, process: Process, address: str, port: int) -> Iterator[Process]:
    """``process`` once it listens on ``address:port`` in ``namespace``, stopped on exit."""
    try:
        process.wait_ready(lambda: listening(namespace, address, port), process.name, SERVICE_TIMEOUT)
        yield process
    finally:
        process.stop(timeout=10)


def registry_config(storage: Path, port: int, path: Path) -> Path:
    """A docker-registry config: ``storage`` on disk, served on 127.0.0.1:``port``, no authentication."""
    path.write_text(
        f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    return path


@dataclass(frozen=True)
class Registry:
    """Images pushed to a registry's storage, referenced by digest on 127.0.0.1:``port``."""

    storage: Path
    port: int
    images: dict[str, str]
    """The reference by digest of each target's image."""


def registry_tool() -> str:
    """Debian's docker-registry."""
    found = shutil.which("docker-registry")
    if found is None:
        raise RuntimeError("no docker-registry: install Debian's docker-registry (make system does)")
    return found


@contextmanager
def pushed(engine: Engine, images: dict[str, str]) -> Iterator[Registry]:
    """Each image pushed from the session's engine to a registry on the host's 127.0.0.1, which stops once
    they are in its storage; the storage is deleted on exit."""
    with tempfile.TemporaryDirectory(prefix="ecr-") as scratch:
        storage, port = Path(scratch) / "storage", free_port()
        registry = f"127.0.0.1:{port}"
        config = registry_config(storage, port, Path(scratch) / "registry.yml")
        process = start(
            "registry (push)", [registry_tool(), "serve", str(config)], Path(scratch) / "push.log"
        )
        references = {}
        with serving(None, process, "127.0.0.1", port):
            for target in NODE_TARGETS:
                image, repository = images[target], f"{registry}/web/{target}"
                engine.run("tag", image, f"{repository}:boot")
                engine.run("push", f"{repository}:boot", timeout=BUILD_TIMEOUT)
                digests = json.loads(
                    engine.run("image", "inspect", "--format", "{{json .RepoDigests}}", image)
                )
                references[target] = next(digest for digest in digests if digest.startswith(f"{repository}@"))
                # The engine keeps its own tags only (the digest reference goes with the tag): the registry's
                # name changes with its port at every run.
                engine.run("rmi", f"{repository}:boot")
        yield Registry(storage, port, references)


def logs_call(names: Namespaces, endpoint: str, action: str, **params: object) -> dict[str, object]:
    """A CloudWatch Logs call to moto on the node's loopback, made from the node's namespace."""
    result = names.exec(
        names.node, sys.executable, "-c", LOGS_CALL, endpoint, action, json.dumps(params), REGION
    )
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


@dataclass(frozen=True)
class Ready:
    """A node ready to boot: its namespaces and stand-ins running, its user data rendered."""

    names: Namespaces
    engine: Engine
    """The node's own dockerd, once the user data has started it."""
    settings: user_data.NodeSettings
    logs_endpoint: str
    scratch: Path
    argv: list[str]
    """Runs the user data in the node's namespace, as root, in cloud-init's environment."""
    env: dict[str, str]
    """That environment."""

    def boot(self) -> subprocess.CompletedProcess[str]:
        """The user data run to its end: its exit status and its output, the instance's console log."""
        return subprocess.run(  # noqa: S603 - fixed arguments
            self.argv, capture_output=True, text=True, timeout=BOOT_TIMEOUT, check=False
        )

    def calls(self, standin: str) -> int:
        """How many times the ``aws`` or ``dnf`` stand-in was run."""
        counter = self.scratch / "state" / f"{standin}-calls"
        return int(counter.read_text()) if counter.exists() else 0

    def pauses(self) -> list[int]:
        """The pauses the recorded ``sleep`` was asked for, in order."""
        recorded = self.scratch / "state" / "pauses"
        return [int(line) for line in recorded.read_text().split()] if recorded.exists() else []

    def log(self, standin: str) -> str:
        """A stand-in server's log: ``imds``, ``ecr`` (the flaky registry's), ``moto``."""
        return (self.scratch / f"{standin}.log").read_text(errors="replace")

    @property
    def target_group(self) -> Path:
        """The ELB stand-in's state of the node's target group (nodestack/aws_elb.py)."""
        return self.scratch / "state" / "target-group"

    def announce_interruption(self, notice: dict[str, str]) -> None:
        """EC2 marks the instance for interruption: IMDS serves ``notice`` at `spot/instance-action`."""
        (self.scratch / "state" / "spot-notice").write_text(json.dumps(notice))


@dataclass(frozen=True)
class Node:
    """A booted node: what it was booted from and what the user data printed."""

    ready: Ready
    boot_output: str

    @property
    def names(self) -> Namespaces:
        """The node's, IMDS's and the ALB's namespaces."""
        return self.ready.names

    @property
    def engine(self) -> Engine:
        """The node's dockerd."""
        return self.ready.engine

    @property
    def settings(self) -> user_data.NodeSettings:
        """What the user data was rendered with."""
        return self.ready.settings

    @property
    def scratch(self) -> Path:
        """The node's scratch directory, deleted with it."""
        return self.ready.scratch

    def _in_node(self, script: str) -> subprocess.CompletedProcess[str]:
        """``script`` run by sh as root on the node: its network, the mount namespace the boot wrote to."""
        holder = (self.scratch / "state" / "mounts.pid").read_text().strip()
        return run(
            "nsenter", f"--target={holder}", "--mount", f"--net=/run/netns/{self.names.node}",
            "env", "-i", *(f"{k}={v}" for k, v in self.ready.env.items()), "sh", "-c", script,
            timeout=BOOT_TIMEOUT,
        )  # fmt: skip

    def power_off(self) -> None:
        """The instance stopped (as Auto Scaling stops a warm-pool instance): dockerd stops the containers,
        as systemd stops docker.service at shutdown, and the node's memory is lost (``POWER_OFF``)."""
        pid = (self.scratch / "state" / "dockerd.pid").read_text().strip()
        run("kill", pid)
        # The containers' stop timeout bounds dockerd's shutdown.
        run("tail", f"--pid={pid}", "-f", "/dev/null", timeout=user_data.APP_STOP_TIMEOUT_SECONDS + 30)
        self._in_node(POWER_OFF.format(secrets_dir=node_secrets.HOST_DIR))

    def power_on(self) -> None:
        """The stopped instance started again: systemd's boot (``POWER_ON``), not the user data, which
        cloud-init runs at the first boot only. Returns once dockerd answers."""
        self._in_node(POWER_ON.format(enabled=self.scratch / "state" / "enabled"))

    def probe(self) -> int:
        """The status of one health check from the load balancer's namespace (0: no answer)."""
        result = self.names.exec(
            self.names.alb, "curl", "--silent", "--insecure", "--max-time", "1", "--output", "/dev/null",
            "--write-out", "%{http_code}", "--header", f"Host: {NODE_ADDRESS}:{HTTPS_PORT}", HEALTH_URL,
            check=False,
        )  # fmt: skip
        return int(result.stdout or 0)

    def first_200(self) -> tuple[float, float | None, int]:
        """When the first health check answered 200, when the probe before it returned, and how many probes
        there were: one after the other, each a curl that waits for its answer."""
        deadline = time.monotonic() + SERVICE_TIMEOUT
        last_refused, probes = None, 0
        while time.monotonic() < deadline:
            status = self.probe()
            probes += 1
            now = time.time()
            if status == 200:
                return now, last_refused, probes
            last_refused = now
        states = self.engine.run("ps", "--all")
        raise TimeoutError(f"no 200 from {HEALTH_URL} within {SERVICE_TIMEOUT:.0f} s:\n{states}")

    def log_events(self, stream: str) -> list[str]:
        """The messages of ``stream`` in the node's log group, in moto."""
        answer = logs_call(self.names, self.ready.logs_endpoint, "get_log_events", logGroupName=LOG_GROUP,
                           logStreamName=stream, startFromHead=True)  # fmt: skip
        events = answer["events"]
        if not isinstance(events, list):
            raise TypeError(f"get_log_events: events is {events!r}")
        return [event["message"] for event in events]


def standins(bin_dir: Path, state: Path, engine: Engine, daemon_config: Path, faults: Faults) -> None:
    """The ``aws``, ``dnf`` and ``systemctl`` stand-ins in ``bin_dir``, failing as ``faults`` asks, and the
    recorded ``sleep`` when a stand-in never answers; ``aws`` held back for ``dnf`` if the image lacks it."""
    held = state / "mirror"
    dockerd, sleep = sbin_tool("dockerd"), shutil.which("sleep")
    if dockerd is None or sleep is None:
        raise RuntimeError("no dockerd or sleep: install Debian's docker.io and coreutils (make system does)")
    # bridge none, no iptables: the node's containers use the host network only, as the user data runs them.
    dockerd_args = " ".join([
        "--data-root", str(state / "docker"), "--exec-root", str(state / "exec"),
        "--pidfile", str(state / "dockerd.pid"), "--host", engine.host, "--config-file", str(daemon_config),
        "--bridge", "none", "--iptables=false", "--ip6tables=false",
    ])  # fmt: skip

    def failing(name: str, failures: int, message: str, status: int) -> str:
        return FAILING.format(calls=state / f"{name}-calls", failures=failures, message=shlex.quote(message),
                              status=status)  # fmt: skip

    scripts = {
        "aws": AWS_DISPATCH.format(secrets=bin_dir / "aws-secrets", elb=bin_dir / "aws-elb")
        + failing("aws", faults.ecr_password, AWS_UNREACHABLE, 255)
        + AWS_STANDIN.format(region=REGION, password=PASSWORD),
        "aws-secrets": aws_secrets.standin(state / "secrets-store.json", state / "secrets-calls"),
        "aws-elb": aws_elb.standin(state / "target-group"),
        "dnf": "#!/bin/bash"
        + failing("dnf", faults.dnf, DNF_UNREACHABLE, 1)
        + DNF_STANDIN.format(held=held / "aws", installed=bin_dir / "aws"),
        "systemctl": SYSTEMCTL_STANDIN.format(
            ecs_agent=user_data.ECS_AGENT_UNIT,
            secrets_unit=node_secrets.UNIT,
            secrets_timer=node_secrets.TIMER,
            drain_unit=spot_drain.UNIT,
            guard=user_data.IMDS_GUARD_UNIT,
            state=state,
            dockerd=dockerd,
            dockerd_args=dockerd_args,
            sleep=sleep,
        ),
    }
    if faults.fatal:
        scripts["sleep"] = RECORDED_SLEEP.format(pauses=state / "pauses")
    bin_dir.mkdir()
    held.mkdir()
    for name, text in scripts.items():
        path = (held if name == "aws" and faults.image_lacks_aws else bin_dir) / name
        path.write_text(text)
        path.chmod(0o755)


def stop_dockerd(state: Path, engine: Engine) -> None:
    """Remove the node's containers, then stop its dockerd and wait for it: the containers' 45 s stop timeout
    would otherwise hold the shutdown."""
    pidfile = state / "dockerd.pid"
    if not pidfile.exists():
        return
    containers = engine.run("ps", "--all", "--quiet").split()
    if containers:
        engine.run("rm", "--force", "--volumes", *containers)
    pid = pidfile.read_text().strip()
    run("kill", pid, check=False)
    # tail --pid returns when the process has gone, with no polling of ours.
    run("tail", f"--pid={pid}", "-f", "/dev/null", timeout=60)


def stop_holder(state: Path) -> None:
    """End the process that holds the node's mount namespace, if the boot got as far as starting it, and a
    Spot node's drain, if the boot started one."""
    for name in ("mounts.pid", "spot-drain.pid"):
        pidfile = state / name
        if pidfile.exists():
            run("kill", pidfile.read_text().strip(), check=False)


@contextmanager
def ready_node(engine: Engine, images: dict[str, str], faults: Faults = Faults(),
               registry: Registry | None = None, spot: bool = False) -> Iterator[Ready]:  # fmt: skip
    """A node ready to boot from the user data rendered for ``images`` (in ``registry``, or pushed to one of
    its own), its stand-ins failing as ``faults`` asks, with a Spot node's drain if ``spot``; torn down on
    exit: containers, dockerd, stand-in servers, namespaces, scratch files."""
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="node-")))
        names = stack.enter_context(namespaces())
        ecr = registry or stack.enter_context(pushed(engine, images))
        ecr_port, logs_port = free_port(), free_port()
        config = registry_config(ecr.storage, ecr_port, scratch / "registry.yml")
        in_node = ["ip", "netns", "exec", names.node]
        in_aws = ["ip", "netns", "exec", names.aws]
        stack.enter_context(serving(names.node, start("ECR stand-in", [*in_node, registry_tool(), "serve",
            str(config)], scratch / "registry.log"), "127.0.0.1", ecr_port))  # fmt: skip
        # At the address the images were pushed to: the registry the user data logs in to and pulls from.
        faulty = [sys.executable, "-m", "nodestack.flaky_registry", str(ecr.port), str(ecr_port),
                  str(faults.registry_manifests)]  # fmt: skip
        faults_process = start("ECR stand-in's faults", [*in_node, *faulty], scratch / "ecr.log")
        stack.enter_context(serving(names.node, faults_process, "127.0.0.1", ecr.port))
        stack.enter_context(serving(names.node, start("CloudWatch Logs stand-in (moto)",
            [*in_node, sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(logs_port)],
            scratch / "moto.log"), "127.0.0.1", logs_port))  # fmt: skip
        stack.enter_context(serving(names.aws, start("IMDS stand-in", [*in_aws, sys.executable, "-m",
            "nodestack.imds", user_data.IMDS_ADDRESS, INSTANCE_ID, ROLE, str(faults.imds_token),
            str(scratch / "state" / "spot-notice")],
            scratch / "imds.log"), user_data.IMDS_ADDRESS, 80))  # fmt: skip
        logs_endpoint = f"http://127.0.0.1:{logs_port}"
        logs_call(names, logs_endpoint, "create_log_group", logGroupName=LOG_GROUP)

        state = scratch / "state"
        state.mkdir()
        (state / "target-group").mkdir()
        (scratch / "root").mkdir()
        node_engine = Engine(host=f"unix://{state}/docker.sock", client=client())
        daemon_config = scratch / "daemon.json"
        # dockerd refuses an awslogs default without a group; the containers' own options (the script's
        # region, group and stream) win over the defaults, which fill only what a container leaves out.
        defaults = {"awslogs-endpoint": logs_endpoint, "awslogs-group": LOG_GROUP}
        daemon_config.write_text(json.dumps({"log-driver": "awslogs", "log-opts": defaults}))
        standins(scratch / "bin", state, node_engine, daemon_config, faults)
        stack.callback(unmount_under, state)
        stack.callback(stop_dockerd, state, node_engine)

        (state / "secrets-store.json").write_text(json.dumps(SECRETS_STORE))
        # The secrets' directory on the node: a tmpfs of the node's own over this (empty) mount point.
        secrets_dir = Path(node_secrets.HOST_DIR)
        if not secrets_dir.exists():
            secrets_dir.mkdir()
            stack.callback(secrets_dir.rmdir)
        drain = spot_drain.SpotDrain(
            target_group_arn=TARGET_GROUP_ARN,
            port=HTTPS_PORT,
            deregistration_delay_seconds=DEREGISTRATION_DELAY,
        )
        settings = user_data.NodeSettings(
            region=REGION, app_image=ecr.images["app"], proxy_image=ecr.images["proxy"], log_group=LOG_GROUP,
            vpc_cidr=VPC_CIDR, server_name=SERVER_NAME, https_port=HTTPS_PORT,
            app_settings=APP_SETTINGS, app_secrets=APP_SECRETS,
            spot_drain=drain if spot else None,
        )  # fmt: skip
        script = scratch / "user-data.sh"
        script.write_text(user_data.render(settings))
        # cloud-init's environment, near enough: root, a system PATH (the stand-ins first), no AWS_* of ours.
        env = {
            "PATH": f"{scratch / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(scratch / "root"),
            "DOCKER_HOST": node_engine.host,
        }
        # nsenter, not `ip netns exec`, which mounts a sysfs of its own over /sys and so hides the cgroup
        # hierarchies dockerd needs; unshare: a private mount namespace of its own, for the tmpfs mounts.
        boot = BOOT.format(secrets_dir=node_secrets.HOST_DIR, sleep=shutil.which("sleep"),
                           holder=state / "mounts.pid")  # fmt: skip
        stack.callback(stop_holder, state)
        argv = [
            "nsenter", f"--net=/run/netns/{names.node}", "unshare", "--mount", "--propagation", "private",
            "env", "-i", *(f"{k}={v}" for k, v in env.items()), "sh", "-c", boot, "boot", str(script),
        ]  # fmt: skip
        yield Ready(names, node_engine, settings, logs_endpoint, scratch, argv, env)


@contextmanager
def booted_node(engine: Engine, images: dict[str, str], faults: Faults = Faults(),
                registry: Registry | None = None, spot: bool = False) -> Iterator[Node]:  # fmt: skip
    """A node booted from the user data (``ready_node``); raises with the boot's output if the boot fails."""
    with ready_node(engine, images, faults, registry, spot) as ready:
        boot = ready.boot()
        output = boot.stdout + boot.stderr
        if boot.returncode != 0:
            raise RuntimeError(
                f"the user data exited with {boot.returncode}:\n{output[-6000:]}\n"
                f"IMDS stand-in:\n{ready.log('imds')[-2000:]}\nECR stand-in:\n{ready.log('ecr')[-2000:]}"
            )
        yield Node(ready, output)
