"""Load generators, on the load generator's core: Debian's wrk for request load, bench/slowloris.py for slow
clients; process memory."""

from __future__ import annotations

import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from bench.cores import CORES
from nodestack.process import child_pids, on_cpus

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "wrk_json.lua"
WRK_COUNTING_SCRIPT = HERE / "wrk_count.lua"
WRK_POST_NOTE = HERE / "wrk_post_note.lua"
MARKER = "WRK-JSON "


@dataclass(frozen=True)
class Result:
    """One wrk run: throughput, errors and the latency distribution (milliseconds)."""

    label: str
    command: str
    requests: int
    seconds: float
    errors: dict[str, int]
    latency_ms: dict[str, float]
    #: Requests still unanswered when the run ended (None: not counted, see wrk_count.lua).
    unanswered: int | None

    @property
    def rps(self) -> float:
        """Requests answered per second."""
        return self.requests / self.seconds

    @property
    def timeouts(self) -> int:
        """Requests that timed out."""
        return self.errors["timeout"]

    @property
    def failed(self) -> int:
        """Requests that failed other than by timing out: connect, read, write errors and non-2xx/3xx."""
        return sum(count for kind, count in self.errors.items() if kind != "timeout")


def combined(label: str, runs: Sequence[Result]) -> Result:
    """Several runs of one configuration as one row: their requests over their seconds, their errors
    (and unanswered requests, when counted) summed, the median of their latency percentiles, the mean
    over all their requests and the highest maximum. wrk reports percentiles, not its samples, so the
    runs' own cannot be merged."""
    errors: Counter[str] = Counter()
    for run in runs:
        errors.update(run.errors)
    percentiles = [key for key in runs[0].latency_ms if key.startswith("p")]
    requests = sum(run.requests for run in runs)
    return Result(
        label=label,
        command=runs[0].command,
        requests=requests,
        seconds=sum(run.seconds for run in runs),
        errors={kind: errors[kind] for kind in runs[0].errors},
        latency_ms={
            **{key: statistics.median(run.latency_ms[key] for run in runs) for key in percentiles},
            "mean": sum(run.latency_ms["mean"] * run.requests for run in runs) / max(requests, 1),
            "max": max(run.latency_ms["max"] for run in runs),
        },
        unanswered=None
        if any(run.unanswered is None for run in runs)
        else sum(r.unanswered or 0 for r in runs),
    )


def wrk(
    label: str,
    url: str,
    *,
    connections: int,
    seconds: int,
    timeout: int = 5,
    host: str | None = "localhost",
    count_unanswered: bool = False,
    script: Path | None = None,
) -> Result:
    """Run wrk against ``url`` for ``seconds`` (it stops by itself), one thread per core of the load
    generator's and on them only, and parse its summary; ``script`` replaces the Lua script that writes
    it (one that runs wrk_json.lua, such as ``WRK_POST_NOTE``)."""
    threads = len(CORES.load)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout}s"]
    if host is not None:
        argv += ["-H", f"Host: {host}"]
    if script is None:
        script = WRK_COUNTING_SCRIPT if count_unanswered else WRK_SCRIPT
    argv = on_cpus([*argv, "-s", str(script.relative_to(HERE.parent)), url], CORES.load)
    # A fixed argument list: wrk from the system package, our own URL.
    done = subprocess.run(  # noqa: S603
        argv, cwd=HERE.parent, capture_output=True, text=True, check=True, timeout=seconds + timeout + 120
    )
    (line,) = [text for text in done.stdout.splitlines() if text.startswith(MARKER)]
    summary = json.loads(line.removeprefix(MARKER))
    return Result(
        label=label,
        command=shlex.join(argv),
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        errors=summary["errors"],
        latency_ms={key: value / 1000 for key, value in summary["latency_us"].items()},
        unanswered=summary["unanswered"] if count_unanswered else None,
    )


@dataclass
class SlowClients:
    """bench/slowloris.py running: ``held`` slow connections, and its final report once stopped."""

    command: str
    process: subprocess.Popen[str]
    report: dict[str, int] | None = None


@contextmanager
def slow_clients(port: int, *, count: int, seconds: int, tls: bool) -> Iterator[SlowClients]:
    """Hold ``count`` slowloris connections to ``port`` while the block runs (at most ``seconds``), from the
    load generator's cores."""
    argv = [
        sys.executable,
        "-m",
        "bench.slowloris",
        f"--port={port}",
        f"--count={count}",
        f"--seconds={seconds}",
        *(["--tls"] if tls else []),
    ]
    process = subprocess.Popen(  # noqa: S603 - a fixed argument list: this interpreter, our module
        on_cpus(argv, CORES.load), cwd=HERE.parent, stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    clients = SlowClients(command=shlex.join(on_cpus(["python", *argv[1:]], CORES.load)), process=process)
    try:
        ready = process.stdout.readline() if process.stdout is not None else ""
        if ready.strip() != "ready":
            raise RuntimeError(f"slow clients did not start: {ready!r}")
        yield clients
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
        lines = out.strip().splitlines()
        clients.report = json.loads(lines[-1]) if lines else None


def tree_pids(master: int) -> list[int]:
    """A master process and its workers."""
    return [master, *sorted(child_pids(master))]


def cpu_seconds(master: int) -> float:
    """CPU time (user + system) a master process and its workers have used so far, including workers
    that have exited: the master reaps them, and their time joins its children's counters."""
    ticks = 0
    for pid in tree_pids(master):
        with suppress(FileNotFoundError):
            # /proc/PID/stat after the command's ")": utime, stime, cutime, cstime are the 12th to 15th.
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def reaped_children_cpu_seconds() -> float:
    """CPU time (user + system) of this process's children that have exited and been waited for: read
    before and after a wrk run, the difference is wrk's own (no other child ends meanwhile)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def memory_kib(pids: Sequence[int]) -> dict[str, int]:
    """Summed RSS and PSS (proportional set size: shared pages split between sharers) of ``pids``."""
    totals = {"rss": 0, "pss": 0}
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key.lower() in totals:
                totals[key.lower()] += int(rest.split()[0])
    return totals


def listen_overflows() -> int:
    """Connections the kernel dropped since boot because a listening socket's accept queue was full
    (TcpExt ListenOverflows: machine-wide, so read it around a run with nothing else listening)."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split(), values.split(), strict=True))["ListenOverflows"])
    raise RuntimeError("/proc/net/netstat has no TcpExt counters")
