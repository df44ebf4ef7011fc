"""The report: docs/benchmarks.md (the article's table measured, the targets, the machine, each section;
its text in templates/) and its latency chart."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import version
from pathlib import Path

from bench.chart import chart
from bench.cores import CORES
from bench.markdown import Section, render
from bench.missed import missed
from bench.profiles import Profile
from bench.results import Results
from bench.sections import article, classes, dynamic, memory, scale, slow, static, tuning, writes
from bench.targets import targets
from bench.tunings import TLS

MARKDOWN = "benchmarks.md"
CHART = "benchmarks.png"


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
    where = split()
    return [
        f"- CPU: {len(CORES.load | CORES.server)} cores used ({model})",
        f"- Memory: {mem_kib / 1024 / 1024:.1f} GiB",
        f"- Kernel: Linux {platform.release()} (net.core.somaxconn {somaxconn}); Python "
        f"{platform.python_version()}",
        f"- {nginx.stderr.strip().removeprefix('nginx version: ')}, gunicorn {version('gunicorn')}, "
        f"gevent {version('gevent')}, Flask {version('flask')}, {wrk.stdout.split(' Copyright')[0].strip()}",
        f"- {where[:1].upper()}{where[1:]}; over loopback (127.0.0.1). Nothing else is isolated from the run "
        "(the machine may be shared).",
    ]


def split() -> str:
    """Where each side ran."""
    load, server = (",".join(str(core) for core in sorted(cores)) for cores in (CORES.load, CORES.server))
    if not CORES.pinned:
        return f"one core only ({load}): the load generator and the servers share it"
    return (
        f"the load generator (wrk, bench/slowloris.py) and this harness on core {load}; nginx, gunicorn and "
        f"PostgreSQL on core {server} (`taskset`)"
    )


def sections(results: Results, profile: Profile) -> list[Section]:
    """Sections 1 to 9."""
    return [
        static.section(results.static, profile),
        dynamic.section(results.dynamic, results.trivial, profile),
        slow.section(results.slow, profile),
        scale.section(results.scale, profile),
        memory.section(results.memory, results.scale, results.dynamic, profile),
        classes.section(results.classes),
        tuning.section(results.tuning, results.scale, profile),
        writes.section(results.writes, profile),
        article.section(results.article, profile),
    ]


def write(out: Path, profile: Profile, results: Results, elapsed: float, command: str) -> None:
    """Write the report and its chart into ``out``."""
    parts = sections(results, profile)
    chart(parts, out / CHART)
    measured = article.table(results.article, results.writes)
    text = render(
        "report.md.j2",
        make="make bench" if profile.name == "full" else "make bench-quick",
        command=command,
        profile=profile,
        elapsed=elapsed,
        split=split(),
        cores=CORES,
        article_table=article.summary(measured, profile),
        machine=machine(),
        targets=targets(results, profile, measured),
        missed=missed(results, profile, measured),
        chart=CHART,
        tls=TLS.name,
        sections=parts,
    )
    (out / MARKDOWN).write_text("\n".join(text).rstrip("\n") + "\n")
