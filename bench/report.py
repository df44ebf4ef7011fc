"""The report: docs/benchmarks.md (the machine, the targets, each section, the comparison with the
article's figures; its text in templates/) and its latency chart."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib.metadata import version
from pathlib import Path

from bench.chart import chart
from bench.markdown import Section, render
from bench.profiles import Profile
from bench.results import Results
from bench.sections import classes, dynamic, memory, scale, slow, static, tuning, writes
from bench.sections.scale import ROUTES, SHIPPED
from bench.targets import ARTICLE_MEMORY_MB, targets
from bench.tunings import FEWER_WORKERS, TLS
from nodestack.gunicorn import DEFAULT_WORKERS

MARKDOWN = "benchmarks.md"
CHART = "benchmarks.png"
#: The average latency "Nginx as a Reverse Proxy for Flask" reports under 10k concurrent virtual users.
ARTICLE_LATENCY_MS = 34.0


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


def sections(results: Results, profile: Profile) -> list[Section]:
    """Sections 1 to 8."""
    return [
        static.section(results.static, profile),
        dynamic.section(results.dynamic, profile),
        slow.section(results.slow, profile),
        scale.section(results.scale, profile),
        memory.section(results.memory, results.scale, results.dynamic, profile),
        classes.section(results.classes),
        tuning.section(results.tuning, results.scale, profile),
        writes.section(results.writes, profile),
    ]


def write(out: Path, profile: Profile, results: Results, elapsed: float, command: str) -> None:
    """Write the report and its chart into ``out``."""
    parts = sections(results, profile)
    chart(parts, out / CHART)
    text = render(
        "report.md.j2",
        make="make bench" if profile.name == "full" else "make bench-quick",
        command=command,
        profile=profile,
        elapsed=elapsed,
        machine=machine(),
        targets=targets(results, profile),
        chart=CHART,
        tls=TLS.name,
        sections=parts,
        scale=results.scale,
        memory=results.memory,
        static=results.static,
        writes=results.writes,
        article_writes=(writes.ARTICLE_BASELINE, writes.ARTICLE_OPTIMIZED, writes.ARTICLE_RATIO),
        shipped=SHIPPED,
        routes=[route for route, _ in ROUTES],
        article_latency_ms=ARTICLE_LATENCY_MS,
        article_memory_mb=ARTICLE_MEMORY_MB,
        workers=DEFAULT_WORKERS,
        fewer_workers=FEWER_WORKERS,
    )
    (out / MARKDOWN).write_text("\n".join(text) + "\n")
