"""Sections 1 and 2 measure in rounds: each configuration once per round, the order reversed every other
round, so that a drift of the machine's speed lands on every configuration alike."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TypeVar

from bench.cores import CORES
from bench.loadgen import Result, combined, reaped_children_cpu_seconds
from bench.profiles import Profile, run_wrk
from bench.stacks import CpuSeconds, Stack
from bench.tunings import Tuning

T = TypeVar("T")
#: The server's CPU: gunicorn's and nginx's, the load generator left out.
SERVER = ("gunicorn", "nginx")


@dataclass(frozen=True)
class Measured:
    """One run of a round, and the CPU time its configuration (and wrk) used meanwhile."""

    result: Result
    cpu: CpuSeconds = field(default_factory=CpuSeconds)


#: One run of a round at the profile's connections: ``(stack, url, label) -> Measured``.
Measure = Callable[[Stack, str, str], Measured]


@dataclass(frozen=True)
class Series:
    """One configuration's runs, one per round, with the CPU time they used and gunicorn's memory after."""

    label: str
    runs: tuple[Result, ...]
    #: Over all the runs.
    cpu: CpuSeconds = field(default_factory=CpuSeconds)
    #: gunicorn's PSS (KiB) after all the rounds.
    gunicorn_pss: int = 0

    @property
    def row(self) -> Result:
        """All the runs as one (``combined``)."""
        return combined(self.label, self.runs)

    def ratios(self, other: Series) -> list[float]:
        """The requests/s of this configuration over ``other``'s, round by round."""
        return [
            mine.rps / theirs.rps if theirs.requests else math.nan
            for mine, theirs in zip(self.runs, other.runs, strict=True)
        ]

    def ratio(self, other: Series) -> float:
        """The median of ``ratios``."""
        return statistics.median(self.ratios(other))

    def cpu_us(self, parts: tuple[str, ...] = SERVER) -> float:
        """Microseconds of CPU ``parts`` (gunicorn, nginx, wrk) used per request over the runs; by
        default the server's (not a number when no request was answered)."""
        used = sum(float(getattr(self.cpu, part)) for part in parts)
        return 1e6 * used / self.row.requests if self.row.requests else math.nan

    @property
    def per_core_second(self) -> float:
        """Requests answered per second the server's core was busy: its requests/s when the server kept the
        core busy, more when the load generator could not."""
        return self.row.requests / self.cpu.server_core if self.cpu.server_core else 0.0

    @property
    def core_busy(self) -> float:
        """The share of the runs' time the server's core was busy (of all its cores, when it has several)."""
        return self.cpu.server_core / (len(CORES.server) * self.row.seconds)


@dataclass(frozen=True)
class Alternated:
    """A path from gunicorn directly, from nginx as shipped and from nginx without each tuning, measured
    in rounds: each configuration once per round, the order reversed every other round."""

    direct: Series
    shipped: Series
    untuned: tuple[tuple[Tuning, Series], ...]
    #: gunicorn directly, on the stacks without the tunings that change it on its own (``gunicorn_direct``).
    untuned_direct: tuple[tuple[Tuning, Series], ...] = ()

    @property
    def series(self) -> tuple[Series, ...]:
        """Every configuration, in the order they ran in even rounds (the table's)."""
        return (
            self.direct,
            self.shipped,
            *(series for _, series in self.untuned),
            *(series for _, series in self.untuned_direct),
        )

    def without(self, tuning: Tuning) -> Series:
        """The path through nginx without ``tuning``."""
        return dict(self.untuned)[tuning]

    @property
    def rows(self) -> list[Result]:
        """Each configuration's runs as one row."""
        return [series.row for series in self.series]

    @property
    def ratio(self) -> float:
        """Shipped over direct: the median of the rounds' ratios."""
        return self.shipped.ratio(self.direct)

    @property
    def per_core_ratio(self) -> float:
        """Requests per second of the server's core busy through nginx as shipped, over direct's (not a
        number when direct's core time was not read)."""
        direct = self.direct.per_core_second
        return self.shipped.per_core_second / direct if direct else math.nan

    @property
    def server_cpu_ratio(self) -> float:
        """Requests per CPU second of gunicorn and nginx through nginx as shipped, over direct's."""
        return self.direct.cpu_us() / self.shipped.cpu_us()


def alternate(configurations: list[tuple[str, Callable[[str], T]]], rounds: int) -> dict[str, tuple[T, ...]]:
    """Run each ``(label, run)`` once per round, in the given order in even rounds and in the reverse
    order in odd ones: a drift of the machine's speed lands on every configuration alike, and two
    configurations next to each other in the list run next to each other in every round."""
    runs: dict[str, list[T]] = {label: [] for label, _ in configurations}
    for number in range(rounds):
        for label, run in configurations if number % 2 == 0 else configurations[::-1]:
            runs[label].append(run(label))
    return {label: tuple(results) for label, results in runs.items()}


def with_cpu(profile: Profile) -> Measure:
    """A round's wrk run that also reads the CPU seconds the configuration's gunicorn, its nginx and wrk
    itself used."""

    def measure(target: Stack, url: str, label: str) -> Measured:
        before, wrk_before = target.cpu_seconds(), reaped_children_cpu_seconds()
        result = run_wrk(label, url, profile, profile.connections, seconds=profile.round_seconds)
        used = target.cpu_seconds() - before
        return Measured(result, replace(used, wrk=reaped_children_cpu_seconds() - wrk_before))

    return measure


def measure_rounds(
    measure: Measure,
    stack: Stack,
    befores: Mapping[Tuning, Stack],
    path: str,
    *,
    rounds: int,
    direct: str,
    via_nginx: str,
) -> Alternated:
    """``path`` from gunicorn directly, from nginx as shipped and from nginx without each tuning in
    ``befores``, in ``rounds`` rounds (``alternate``), and from gunicorn directly on the stacks without
    the tunings that change gunicorn on its own (``gunicorn_direct``); ``direct`` and ``via_nginx`` name
    the paths. Each configuration's gunicorn memory is read after all the rounds."""
    untuned = [
        (
            tuning,
            f"{via_nginx}, without {tuning.name}",
            before,
            (before.http if tuning.plain_http else before.https)(path),
        )
        for tuning, before in befores.items()
    ]
    untuned_direct = [
        (tuning, f"{direct}, without {tuning.name}", before, before.direct(path))
        for tuning, before in befores.items()
        if tuning.gunicorn_direct
    ]
    targets = [
        (direct, stack, stack.direct(path)),
        (f"{via_nginx}, shipped", stack, stack.https(path)),
        *((label, before, url) for _, label, before, url in untuned + untuned_direct),
    ]
    runs = alternate([(label, partial(measure, target, url)) for label, target, url in targets], rounds)
    series = {
        label: Series(
            label,
            tuple(each.result for each in runs[label]),
            cpu=sum((each.cpu for each in runs[label]), CpuSeconds()),
            gunicorn_pss=target.memory().gunicorn_pss,
        )
        for label, target, _ in targets
    }
    return Alternated(
        series[direct],
        series[f"{via_nginx}, shipped"],
        tuple((tuning, series[label]) for tuning, label, _, _ in untuned),
        tuple((tuning, series[label]) for tuning, label, _, _ in untuned_direct),
    )
