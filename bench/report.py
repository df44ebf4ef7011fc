"""The report: docs/benchmarks.md (the machine, the targets, each section, the comparison with the
article's figures) and its latency chart."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import version
from pathlib import Path

from bench.chart import chart
from bench.markdown import Section
from bench.profiles import Profile
from bench.results import Results
from bench.sections import classes, dynamic, memory, scale, slow, static, tuning
from bench.sections.scale import ROUTES, SHIPPED
from bench.targets import SEED_MEMORY_MB, targets
from bench.tunings import FEWER_WORKERS, TLS
from nodestack.gunicorn import DEFAULT_WORKERS

MARKDOWN = "benchmarks.md"
CHART = "benchmarks.png"
SEED_LATENCY_MS = 34.0


def machine() -> list[str]:
    """The machine the run measured: cores, memory, kernel, and the versions of what ran."""
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    # Fixed argument lists; nginx and wrk from the system packages the Makefile installs.
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=True)  # noqa: S607
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)  # noqa: S607
    somaxconn = Path("/proc/sys/net/core/somaxconn").read_text().strip()
    return [
        f"- CPU: {len(os.sched_getaffinity(0))} cores available ({model})",
        f"- Memory: {mem_kib / 1024 / 1024:.1f} GiB",
        f"- Kernel: Linux {platform.release()} (net.core.somaxconn {somaxconn}); Python "
        f"{platform.python_version()}",
        f"- {nginx.stderr.strip().removeprefix('nginx version: ')}, gunicorn {version('gunicorn')}, "
        f"gevent {version('gevent')}, Flask {version('flask')}, {wrk.stdout.split(' Copyright')[0].strip()}",
        "- Everything (load generator, nginx, gunicorn) on the same cores, over loopback (127.0.0.1); "
        "nothing else is isolated from the run (the machine may be shared).",
    ]


def reading() -> list[str]:
    """How to read the numbers: what wrk measures and counts."""
    return [
        "## How to read these numbers",
        "",
        "- wrk is closed-loop: each connection sends its next request as soon as the previous answer "
        "arrives, with no think time. Requests/s is what the stack sustains with that many requests "
        "always in flight; latency is measured from sending a request to its complete answer.",
        "- Through nginx the client speaks TLS (edge mode, TLS 1.3, kept-alive connections), but in the rows "
        f"without {TLS.name}, which tell what TLS costs (never shipped); gunicorn directly is plain HTTP. "
        "Every other nginx figure includes the cost of TLS on the same two cores.",
        "- wrk counts a timeout only for an answer that arrives later than `--timeout`; a request that "
        "gets no answer at all before the run ends is not counted anywhere. Scenario 3 counts those "
        "requests itself (`bench/wrk_count.lua`: unanswered at end; up to one per connection is simply "
        "in flight when the run stops). Scenarios 4 and 7 count, from nginx's access log, those nginx "
        'held longer than the timeout without answering ("never answered"); the targets count '
        "them as timeouts.",
        "- Errors are wrk's: connect, read (the connection closed or reset before a full answer), write, "
        "and status (any answer that is not 2xx/3xx).",
        "- CPU seconds (sections 1 and 2) are gunicorn's and nginx's, workers included, read from /proc "
        "around each run, and wrk's own, from the kernel's account of it once it has exited. "
        "\"Per CPU second of the server\" counts gunicorn's and nginx's only: what a node would answer "
        "with its clients on other machines.",
        "",
    ]


def seed_comparison(results: Results, profile: Profile) -> list[str]:
    """Where our numbers differ from the article's, and why."""
    runs = [results.scale.run(SHIPPED, route).result for route, _ in ROUTES]
    means = ", ".join(f"{r.label} {r.latency_ms['mean']:.0f} ms" for r in runs)
    wait = profile.scale_connections / results.scale.run(SHIPPED, "dynamic").result.rps
    return [
        f'- **Latency.** The seed reports an average of {SEED_LATENCY_MS:.0f} ms under "10k concurrent '
        f"virtual users\". Our {profile.scale_connections:,} connections give a mean of {means}. wrk's "
        "connections have no think time: each sends its next request the moment the answer arrives, so "
        "10,000 connections are 10,000 requests always in flight, not 10,000 users who mostly read pages. "
        "Throughput is bounded by two cores shared by wrk, nginx's TLS and the Python workers, and a "
        f"request waits on average about concurrency divided by throughput (Little's law: "
        f"{wait:.1f} s on the dynamic route here); wrk's mean is "
        "lower because it counts only the requests answered before the run ends (section 4: the requests "
        "that wait longest are those still waiting then). The seed's figure, from an unspecified staging "
        "fleet, cannot be compared with one node's.",
        f"- **Memory.** The seed's {SEED_MEMORY_MB:.0f} MB per node is not broken down. Ours, at the end of "
        f"the {profile.scale_connections:,}-connection scenario with its connections open: "
        f"{results.memory.shipped.end_mb:.0f} MB PSS with the shipped {DEFAULT_WORKERS} gunicorn "
        "workers, "
        f"{results.memory.fewer_workers.end_mb:.0f} MB with {FEWER_WORKERS} (section 5). It "
        "depends on the worker count and on the TLS connections nginx holds.",
        '- **Static files "at wire speed".** Over loopback there is no wire: nginx\'s static '
        "throughput is bounded by CPU (TLS record encryption, the response headers) on the two cores it "
        f"shares with wrk, not by a network link: per CPU second of the server it answers "
        f"{results.static.server_cpu_ratio:.0f}x Flask's requests (section 1).",
        "- **Loopback.** No network latency, no packet loss: latencies here are service times only.",
    ]


def sections(results: Results, profile: Profile) -> list[Section]:
    """Sections 1 to 7."""
    return [
        static.section(results.static, profile),
        dynamic.section(results.dynamic, profile),
        slow.section(results.slow, profile),
        scale.section(results.scale, profile),
        memory.section(results.memory, results.scale, results.dynamic, profile),
        classes.section(results.classes),
        tuning.section(results.tuning, results.scale, profile),
    ]


def write(out: Path, profile: Profile, results: Results, elapsed: float, command: str) -> None:
    """Write the report and its chart into ``out``."""
    parts = sections(results, profile)
    chart(parts, out / CHART)
    make = "make bench" if profile.name == "full" else "make bench-quick"
    lines = [
        "# Benchmarks of the node stack",
        "",
        f"Generated by `{make}` (`{command}`, profile `{profile.name}`, {elapsed:.0f} s); every number below "
        "comes from that run. Load from Debian's `wrk` and, for slow clients, `bench/slowloris.py`; the "
        "processes are the real nginx and gunicorn started with the shipped configs by "
        "`nodestack/` (nginx in edge mode with TLS, its rate limit raised because all load comes "
        "from 127.0.0.1, proxying to gunicorn's unix socket as on a node; gunicorn with its default "
        "2 x cores + 1 workers, also listening on a loopback port for the runs that bypass nginx).",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        "## Targets (issue 6)",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *(f"| {t.what} | {t.measured} | {'yes' if t.met else '**no**'} |" for t in targets(results, profile)),
        "",
        f"![latency percentiles per scenario]({CHART})",
        "",
        *reading(),
    ]
    for part in parts:
        lines += part.lines()
    lines += ["## Where our numbers differ from the seed's, and why", "", *seed_comparison(results, profile)]
    (out / MARKDOWN).write_text("\n".join(lines) + "\n")
