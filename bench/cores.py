"""Which cores the load generators use and which the servers use, and how busy the servers' were.

On a node the clients are on other machines: the load generator (wrk, bench/slowloris.py) and this harness
run on one core, the servers (nginx, gunicorn, PostgreSQL) on another, so that every figure of the servers
is theirs alone and per server core.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

#: /proc/stat's columns after the CPU's name that are not busy time: idle and iowait.
_IDLE_COLUMNS = (3, 4)


@dataclass(frozen=True)
class Cores:
    """The cores of each side: the load generator's and the servers'."""

    load: frozenset[int]
    server: frozenset[int]

    @property
    def every(self) -> frozenset[int]:
        """Both sides' cores."""
        return self.load | self.server

    @property
    def pinned(self) -> bool:
        """Whether the two sides run on different cores."""
        return not self.load & self.server

    @property
    def gunicorn_workers(self) -> int:
        """gunicorn.conf.py's default worker count on the servers' cores: 2 x cores + 1."""
        return 2 * len(self.server) + 1

    @property
    def nginx_workers(self) -> int:
        """One nginx worker per server core: what ``worker_processes auto`` starts on a node with that many
        (nginx 1.22's auto counts the machine's online cores, not the affinity)."""
        return len(self.server)


def split(available: set[int]) -> Cores:
    """The lowest core for the load generator, the next for the servers: one core each, whatever the
    machine has. On one core both sides share it (``pinned`` is false, the report says so)."""
    ordered = sorted(available)
    if not ordered:
        raise ValueError("no core available to run on")
    if len(ordered) == 1:
        return Cores(frozenset(ordered), frozenset(ordered))
    return Cores(frozenset(ordered[:1]), frozenset(ordered[1:2]))


def available() -> Cores:
    """The split of the cores this process may run on."""
    return split(os.sched_getaffinity(0))


def busy_seconds(cores: frozenset[int], stat: str | None = None) -> float:
    """Seconds ``cores`` have spent on anything but idling since boot (/proc/stat: user, nice, system, irq,
    softirq, steal; not idle or iowait): read around a run, the difference is how busy they were."""
    text = Path("/proc/stat").read_text() if stat is None else stat
    ticks = 0
    for line in text.splitlines():
        name, *values = line.split()
        if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores:
            # guest and guest_nice (the 9th and 10th) are already counted in user and nice.
            ticks += sum(int(v) for i, v in enumerate(values[:8]) if i not in _IDLE_COLUMNS)
    return ticks / os.sysconf("SC_CLK_TCK")


#: The split of this process's cores, taken before ``bench.__main__`` pins itself to the load generator's.
CORES = available()
