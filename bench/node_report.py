"""What ships (docs/node-report.md): the images' sizes over their bases, a booted node's memory idle and
under load, its boot step by step, its seconds from ``docker run`` to healthy, and its start again after a
stop, without the user data, as a warm pool starts an instance, all measured in the run:
``python -m bench.node_report --out DIR``.

The images are built here (nodestack/images.py); the node boots from the user data infra/user_data.py
renders (nodestack/node.py), and the figures come from docker, wrk and curl in the load balancer's namespace.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment

from bench.loadgen import MARKER, Result
from bench.loadgen import WRK_SCRIPT as SUMMARY_SCRIPT
from bench.markdown import markdown_environment
from nodestack import node as boot
from nodestack.images import (
    BASES_VARIABLE,
    BUILD_TIMEOUT,
    NODE_TARGETS,
    Engine,
    base_args,
    build_images,
    docker_engine,
)
from nodestack.paths import DOCKER
from nodestack.process import wait_until

MARKDOWN = "node-report.md"
#: The node's two containers, as the user data names them.
CONTAINERS = ("app", "proxy")
#: The load: wrk's threads, connections, seconds and timeout, from the load balancer's namespace.
WRK_THREADS = 2
WRK_CONNECTIONS = 64
WRK_SECONDS = 20
WRK_TIMEOUT_SECONDS = 5
#: A page rendered by Flask through nginx, under the site's name.
PAGE_URL = f"https://{boot.NODE_ADDRESS}:{boot.HTTPS_PORT}/"
#: docker's own health check first runs one interval after the start; this leaves it a few tries.
DOCKER_HEALTHY_WITHIN = 120.0
#: nodestack/node.py writes the rendered user data to this file of the node's scratch directory just before
#: it runs it: the file's modification time is when the script started.
SCRIPT_NAME = "user-data.sh"
#: Each request from another client address, as the ALB forwards many clients' requests: nginx limits
#: requests per client (RATE_LIMIT), and from the ALB's one address it would answer almost all with 429.
#: The summary is the benchmarks' (``done`` in bench/wrk_json.lua).
WRK_SCRIPT = """\
dofile([[{summary}]])

-- Each request from another client: the ALB appends its client's address to X-Forwarded-For, and nginx
-- believes it from the VPC. 198.18.0.0/15: the range RFC 2544 sets aside for benchmarks.
local threads = 0
function setup(thread)
   thread:set("first", threads * 32768)
   threads = threads + 1
end

sent = 0
function request()
   local n = (first + sent) % 65536
   sent = sent + 1
   wrk.headers["X-Forwarded-For"] = string.format("198.18.%d.%d", math.floor(n / 256), n % 256)
   return wrk.format()
end
"""
_ARG = re.compile(r"^ARG (?P<name>\w+)=(?P<value>\S+)$", re.MULTILINE)
_FROM = re.compile(r"^FROM \$\{(?P<arg>\w+)\} AS (?P<stage>[\w-]+)$", re.MULTILINE)
_SIZE = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<prefix>[KMGTPE]i)?B$")
_BINARY_PREFIXES = {None: 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_TIMESTAMP = re.compile(r"^(?P<seconds>[\d-]+T[\d:]+)(?P<fraction>\.\d+)?(?P<zone>Z|[+-]\d\d:\d\d)$")


@dataclass(frozen=True)
class ImageSize:
    """A target's image and the base it was built on, sizes in bytes (``docker image inspect``'s Size)."""

    target: str
    base: str
    size: int
    base_size: int
    layers_added: int

    @property
    def added(self) -> int:
        """Bytes the Dockerfile's stage adds over its base."""
        return self.size - self.base_size

    @property
    def base_share(self) -> float:
        """The base's part of the image, from 0 to 1."""
        return self.base_size / self.size


@dataclass(frozen=True)
class Memory:
    """The containers' memory in bytes, as docker stats reports it: idle, and the highest under load."""

    idle: Mapping[str, int]
    peak: Mapping[str, int]
    #: The highest sum of both containers within one sample under load.
    peak_total: int
    samples: int

    @property
    def idle_total(self) -> int:
        """Both containers' idle memory."""
        return sum(self.idle.values())


STEP_WHAT = {
    "sysctl": "the accept queues' cap (`net.core.somaxconn`)",
    "packages": "each command the script runs looked up on the image; none missing, nothing installed",
    "ecs-agent": "the ECS agent's unit masked (the `systemctl` stand-in)",
    "imds-guard": "the IMDS guard's unit written and run (its iptables rule)",
    "docker": "the node's dockerd started, until it answers",
    "instance-id": "an IMDSv2 token and the instance id",
    "ecr-login": "`aws ecr get-login-password` and `docker login`",
    "pull-app": "the app image pulled by digest",
    "pull-proxy": "the proxy image pulled by digest",
    "secrets": "the app's secrets fetched into `/run/app-secrets` (the AWS CLI stand-in)",
    "run-app": "the app's `docker run`",
    "run-proxy": "the proxy's `docker run`",
    "spot-drain": "(Spot nodes only) the interruption drain's unit installed and started",
}
"""What each of the user data's timed steps (infra/user_data.py ``BOOT_STEPS``) does on this node."""


@dataclass(frozen=True)
class Startup:
    """Moments of the boot, in seconds since the epoch on the host's clock (dockerd's timestamps too)."""

    entered: float
    script_started: float
    #: When dockerd finished pulling each container's image (its events).
    pulled: Mapping[str, float]
    started: Mapping[str, float]
    script_exited: float
    first_200: float
    #: When the probe before the first 200 returned (None: the first probe answered 200).
    last_refused: float | None
    probes: int
    healthy: Mapping[str, float]
    health_interval: Mapping[str, float]
    #: Each step the user data timed and printed, in order, with its seconds.
    steps: Sequence[tuple[str, float]]


@dataclass(frozen=True)
class Step:
    """A span of the boot: from, to, its seconds, and what happened in it."""

    start: str
    end: str
    seconds: float
    what: str


@dataclass(frozen=True)
class WarmStart:
    """The booted node stopped and started again without its user data, as a warm pool's instance is."""

    #: From the start to the first 200 the ALB got.
    seconds: float
    #: Health checks probed from the start until that 200.
    probes: int


def warm_start(node: boot.Node) -> WarmStart:
    """Stop the node, start it again (``Node.power_off``, ``Node.power_on``), and time its first 200."""
    node.power_off()
    powered_on = time.time()
    node.power_on()
    answered, _, probes = node.first_200()
    return WarmStart(seconds=answered - powered_on, probes=probes)


@dataclass(frozen=True)
class Report:
    """Everything the report shows."""

    make: str
    command: str
    elapsed: float
    machine: Sequence[str]
    bases: str
    production_bases: Mapping[str, str]
    images: Sequence[ImageSize]
    memory: Memory
    load: Result
    startup: Startup
    warm: WarmStart


def parse_size(text: str) -> int:
    """Bytes of a size as docker stats writes it, in binary units: ``0B``, ``512KiB``, ``12.5MiB``."""
    match = _SIZE.match(text.strip())
    if match is None:
        raise ValueError(f"size {text!r}: expected a number and B, KiB, MiB, GiB...")
    return round(float(match["number"]) * _BINARY_PREFIXES[match["prefix"]])


def parse_stats(output: str) -> dict[str, int]:
    """Each container's memory in bytes, by name, from ``docker stats --format '{{json .}}'``: its
    MemUsage's first half (the usage; the second is the limit)."""
    memory = {}
    for line in output.splitlines():
        if line.strip():
            record = json.loads(line)
            usage, _, _limit = record["MemUsage"].partition(" / ")
            memory[record["Name"]] = parse_size(usage)
    return memory


def peak(samples: Sequence[Mapping[str, int]]) -> tuple[dict[str, int], int]:
    """The highest of each container's samples, and the highest sum of one sample."""
    if not samples:
        raise ValueError("no memory sample")
    highest = {name: max(sample[name] for sample in samples) for name in samples[0]}
    return highest, max(sum(sample.values()) for sample in samples)


def parse_timestamp(text: str) -> float:
    """Seconds since the epoch of a timestamp docker writes (RFC 3339, nanoseconds, ``Z`` or an offset)."""
    match = _TIMESTAMP.match(text.strip())
    if match is None:
        raise ValueError(f"timestamp {text!r}: expected RFC 3339, e.g. 2025-01-02T03:04:05.123456789Z")
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    whole = datetime.fromisoformat(match["seconds"] + zone).timestamp()
    return whole + float(match["fraction"] or 0)


def first_pass(health: Mapping[str, object]) -> float:
    """When docker's health check first passed: the earliest end of a check that exited 0 in
    ``.State.Health``'s log (which keeps the last five)."""
    log = health["Log"]
    if not isinstance(log, list):
        raise TypeError(f"State.Health.Log is {log!r}")
    passed = [parse_timestamp(entry["End"]) for entry in log if entry["ExitCode"] == 0]
    if not passed:
        raise ValueError(f"no health check passed: {log!r}")
    return min(passed)


def parse_wrk(stdout: str, command: str) -> Result:
    """wrk's run, from the summary bench/wrk_json.lua writes."""
    (line,) = [text for text in stdout.splitlines() if text.startswith(MARKER)]
    summary = json.loads(line.removeprefix(MARKER))
    return Result(
        label="page",
        command=command,
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        errors=summary["errors"],
        latency_ms={key: value / 1000 for key, value in summary["latency_us"].items()},
        unanswered=None,
    )


def no_answer(run: Result) -> int:
    """Requests of ``run`` that got no answer: wrk's connect, read and write errors and timeouts."""
    return run.failed - run.errors["status"] + run.timeouts


def parse_pulls(events: str, images: Mapping[str, str]) -> dict[str, float]:
    """When each of ``images`` (references, by name) was pulled, from ``docker events --format
    '{{json .}}'``: its last pull event's time."""
    names = {image: name for name, image in images.items()}
    done = {}
    for line in events.splitlines():
        if line.strip():
            event = json.loads(line)
            if event.get("Action") == "pull" and event.get("id") in names:
                done[names[event["id"]]] = event["timeNano"] / 1e9
    if done.keys() != images.keys():
        raise ValueError(f"no pull event for {sorted(images.keys() - done.keys())}: {events!r}")
    return done


def dockerfile_bases(dockerfile: str) -> dict[str, str]:
    """Each stage's base-image argument, by stage: ``FROM ${PYTHON_IMAGE} AS app`` gives app: PYTHON_IMAGE."""
    return {match["stage"]: match["arg"] for match in _FROM.finditer(dockerfile)}


def production_bases(dockerfile: str) -> dict[str, str]:
    """The default of each argument a stage is built ``FROM``: the production bases, not the other
    arguments' defaults."""
    defaults = dockerfile_defaults(dockerfile)
    return {arg: defaults[arg] for arg in sorted(set(dockerfile_bases(dockerfile).values()))}


def dockerfile_defaults(dockerfile: str) -> dict[str, str]:
    """The Dockerfile's argument defaults: the production bases."""
    return {match["name"]: match["value"] for match in _ARG.finditer(dockerfile)}


def timeline(startup: Startup) -> list[Step]:
    """The boot, span by span, from entering ``booted_node`` to the first 200 the ALB got."""
    app, proxy = startup.started["app"], startup.started["proxy"]
    spans = [
        ("`booted_node` entered", "the user data started", startup.entered, startup.script_started,
         "namespaces made, images pushed to the ECR stand-in, the stand-ins (registry, moto, IMDS) started"),
        ("the user data started", "`app` pulled", startup.script_started, startup.pulled["app"],
         "sysctl, the image's commands looked up, the ECS agent masked, the IMDS guard, dockerd started, "
         "IMDS token and instance id, ECR login, the app's pull"),
        ("`app` pulled", "`proxy` pulled", startup.pulled["app"], startup.pulled["proxy"],
         "the proxy's pull"),
        ("`proxy` pulled", "`app` started", startup.pulled["proxy"], app, "the app's `docker run`"),
        ("`app` started", "`proxy` started", app, proxy, "the proxy's `docker run`"),
        ("`proxy` started", "the user data exited", proxy, startup.script_exited, "the script's end"),
        ("the user data exited", "first 200 from the ALB", startup.script_exited, startup.first_200,
         f"`/healthz` probed {startup.probes} times"),
    ]  # fmt: skip
    return [Step(start, end, finish - begin, what) for start, end, begin, finish, what in spans]


def script_steps(startup: Startup) -> list[Step]:
    """The user data's own steps, as it printed them, each with what it does here."""
    return [Step(name, "", took, STEP_WHAT[name]) for name, took in startup.steps]


def totals(startup: Startup) -> list[Step]:
    """The boot script's wall time, the whole boot's here, and from each container's start to the first 200
    the ALB got and to docker calling it healthy."""
    app, proxy = startup.started["app"], startup.started["proxy"]
    first_200 = "first 200 from the ALB"
    spans = [
        ("the user data started", "the user data exited", startup.script_started, startup.script_exited,
         "the boot script's wall time"),
        ("`booted_node` entered", "the user data exited", startup.entered, startup.script_exited,
         "the boot here: namespaces, push, stand-ins, then the script"),
        ("`app` started", first_200, app, startup.first_200, "gunicorn up, through nginx"),
        ("`proxy` started", first_200, proxy, startup.first_200, "nginx up, gunicorn behind it"),
        ("`app` started", "docker: healthy", app, startup.healthy["app"],
         f"its HEALTHCHECK's first pass (interval {startup.health_interval['app']:.0f} s)"),
        ("`proxy` started", "docker: healthy", proxy, startup.healthy["proxy"],
         f"its HEALTHCHECK's first pass (interval {startup.health_interval['proxy']:.0f} s)"),
        ("the user data started", first_200, startup.script_started, startup.first_200,
         "from the script's start to a node that serves"),
    ]  # fmt: skip
    return [Step(start, end, finish - begin, what) for start, end, begin, finish, what in spans]


def megabytes(size: float) -> str:
    """A size in MB (10^6 bytes), as ``docker images`` shows them."""
    return f"{size / 1e6:,.1f} MB"


def mebibytes(size: float) -> str:
    """A size in MiB, as docker stats shows them."""
    return f"{size / 2**20:,.1f} MiB"


def seconds(value: float) -> str:
    """Seconds, to the hundredth."""
    return f"{value:,.2f} s"


def environment() -> Environment:
    """The benchmarks' Markdown templates, with the report's units as filters."""
    env = markdown_environment(keep_trailing_newline=True)
    env.filters.update(
        mb=megabytes,
        mib=mebibytes,
        s=seconds,
        s3=lambda value: f"{value:,.3f} s",
        ms=lambda value: f"{value:,.1f} ms",
        pct=lambda value: f"{value:.0f}%",
        n=lambda value: f"{value:,.0f}",
        names=lambda images: " and ".join(f"`{image}`" for image in images),
    )
    return env


def render(report: Report) -> str:
    """The report's Markdown."""
    return (
        environment()
        .get_template("node-report.md.j2")
        .render(
            report=report,
            timeline=timeline(report.startup),
            script_steps=script_steps(report.startup),
            steps_total=sum(took for _, took in report.startup.steps),
            cold_start=report.startup.first_200 - report.startup.script_started,
            totals=totals(report.startup),
            containers=CONTAINERS,
            connections=WRK_CONNECTIONS,
            no_answer=no_answer(report.load),
            bases_variable=BASES_VARIABLE,
            page_url=PAGE_URL,
            health_url=boot.HEALTH_URL,
            server_name=boot.SERVER_NAME,
        )
    )


def inspect(engine: Engine, template: str, *names: str) -> list[str]:
    """``docker inspect --format TEMPLATE`` of each of ``names``, in order."""
    return engine.run("inspect", "--format", template, *names).splitlines()


def used_bases(engine: Engine) -> dict[str, str]:
    """Each target's base: the stand-ins, or the Dockerfile's own bases with ``IMAGE_BASES=production``."""
    dockerfile = (DOCKER / "Dockerfile").read_text()
    arguments = {**dockerfile_defaults(dockerfile), **base_args(engine)}
    stages = dockerfile_bases(dockerfile)
    return {target: arguments[stages[target]] for target in NODE_TARGETS}


def image_size(engine: Engine, target: str, image: str, base: str) -> ImageSize:
    """``image``'s size and its base's; raises unless the base's layers are the image's first."""
    if not engine.has_image(base):
        # A production base may be in BuildKit's cache only, not among the engine's images.
        engine.run("pull", base, timeout=BUILD_TIMEOUT)
    size, base_size = (
        int(engine.run("image", "inspect", "--format", "{{.Size}}", ref)) for ref in (image, base)
    )
    layers, base_layers = (
        json.loads(engine.run("image", "inspect", "--format", "{{json .RootFS.Layers}}", ref))
        for ref in (image, base)
    )
    if layers[: len(base_layers)] != base_layers:
        raise RuntimeError(f"{target}: the layers of {base} are not the first of its image")
    return ImageSize(target, base, size, base_size, len(layers) - len(base_layers))


def memory_sample(engine: Engine) -> dict[str, int]:
    """Each container's memory now, as docker stats reports it."""
    return parse_stats(engine.run("stats", "--no-stream", "--format", "{{json .}}", *CONTAINERS))


def wrk_argv(script: Path) -> list[str]:
    """wrk against the page, under the site's name, with WRK_SCRIPT at ``script``."""
    return [
        "wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{WRK_SECONDS}s",
        f"--timeout={WRK_TIMEOUT_SECONDS}s", "-H", f"Host: {boot.SERVER_NAME}", "-s", str(script), PAGE_URL,
    ]  # fmt: skip


def under_load(node: boot.Node) -> tuple[Result, list[dict[str, int]]]:
    """wrk from the load balancer's namespace, and the containers' memory sampled until it exits."""
    with tempfile.TemporaryDirectory(prefix="node-report-") as scratch:
        script = Path(scratch) / "node-report.lua"
        script.write_text(WRK_SCRIPT.format(summary=SUMMARY_SCRIPT))
        wrk = subprocess.Popen(  # noqa: S603 - wrk from the system package, fixed arguments
            ["ip", "netns", "exec", node.names.alb, *wrk_argv(script)],  # noqa: S607
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        samples = []
        try:
            while wrk.poll() is None:
                samples.append(memory_sample(node.engine))
        finally:
            if wrk.poll() is None:
                wrk.kill()
            output, _ = wrk.communicate()
    if wrk.returncode != 0:
        raise RuntimeError(f"wrk exited with {wrk.returncode}:\n{output}")
    command = shlex.join(wrk_argv(Path(script.name)))
    return parse_wrk(output, command), samples


def pulled(engine: Engine, since: float, until: float) -> dict[str, float]:
    """When dockerd finished pulling each container's image, by container, from its events."""
    images = dict(zip(CONTAINERS, inspect(engine, "{{.Config.Image}}", *CONTAINERS), strict=True))
    events = engine.run(
        "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}", "--filter", "type=image",
        "--filter", "event=pull", "--format", "{{json .}}",
    )  # fmt: skip
    return parse_pulls(events, images)


def docker_healthy(engine: Engine) -> dict[str, float]:
    """When docker's health check first passed in each container, once both are healthy."""

    def health() -> list[dict[str, object]]:
        return [json.loads(line) for line in inspect(engine, "{{json .State.Health}}", *CONTAINERS)]

    wait_until(
        lambda: all(state["Status"] == "healthy" for state in health()),
        "docker to report both containers healthy",
        DOCKER_HEALTHY_WITHIN,
    )
    return {name: first_pass(state) for name, state in zip(CONTAINERS, health(), strict=True)}


def startup(node: boot.Node, entered: float, exited: float) -> Startup:
    """The boot's moments: the health check is probed first, from the script's exit on."""
    answered, last_refused, probes = node.first_200()
    started = inspect(node.engine, "{{.State.StartedAt}}", *CONTAINERS)
    intervals = inspect(node.engine, "{{json .Config.Healthcheck.Interval}}", *CONTAINERS)
    script_started = (node.scratch / SCRIPT_NAME).stat().st_mtime
    return Startup(
        entered=entered,
        script_started=script_started,
        pulled=pulled(node.engine, script_started, exited),
        started={name: parse_timestamp(text) for name, text in zip(CONTAINERS, started, strict=True)},
        script_exited=exited,
        first_200=answered,
        last_refused=last_refused,
        probes=probes,
        healthy=docker_healthy(node.engine),
        health_interval={name: int(ns) / 1e9 for name, ns in zip(CONTAINERS, intervals, strict=True)},
        steps=boot.step_durations(node.boot_output),
    )


def machine(engine: Engine) -> list[str]:
    """The machine: cores, memory, kernel, and the versions of the node's dockerd and of wrk."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    server = engine.run("version", "--format", "{{.Server.Version}} (client {{.Client.Version}})").strip()
    cgroup = engine.run("info", "--format", "{{.CgroupVersion}}").strip()
    # wrk --version prints its version and exits with 1.
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
    return [
        f"CPU: {len(os.sched_getaffinity(0))} cores available ({model}), shared by wrk and the node",
        f"Memory: {mem_kib / 2**20:.1f} GiB",
        f"Kernel: Linux {platform.release()}, cgroup v{cgroup}",
        f"Docker: the node's dockerd {server}",
        f"Load: {wrk.stdout.split(' Copyright')[0].strip()}",
    ]


def measure(engine: Engine, make: str, command: str, began: float) -> Report:
    """Build the images, boot a node from them, and measure both."""
    images = build_images(engine)
    bases = used_bases(engine)
    sizes = [image_size(engine, target, images[target], bases[target]) for target in NODE_TARGETS]
    entered = time.time()
    with boot.booted_node(engine, images) as node:
        booted = startup(node, entered, time.time())
        idle = memory_sample(node.engine)
        load, samples = under_load(node)
        host = machine(node.engine)
        warm = warm_start(node)
    highest, highest_total = peak(samples)
    return Report(
        make=make,
        command=command,
        elapsed=time.monotonic() - began,
        machine=host,
        bases=os.environ.get(BASES_VARIABLE, "standin"),
        production_bases=production_bases((DOCKER / "Dockerfile").read_text()),
        images=sizes,
        memory=Memory(idle=idle, peak=highest, peak_total=highest_total, samples=len(samples)),
        load=load,
        startup=booted,
        warm=warm,
    )


def main(argv: list[str]) -> None:
    """Parse the arguments, measure, and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help=f"directory for {MARKDOWN}")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("the report boots a node in network namespaces with a dockerd of its own: run it as root")
    began = time.monotonic()
    production = os.environ.get(BASES_VARIABLE) == "production"
    make = "make node-report" + (f" {BASES_VARIABLE}=production" if production else "")
    command = shlex.join(["python", "-m", "bench.node_report", *argv])
    with docker_engine() as engine:
        report = measure(engine, make, command, began)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / MARKDOWN).write_text(render(report))
    print(f"wrote {args.out / MARKDOWN} in {report.elapsed:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
