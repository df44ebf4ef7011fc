"""Section 6: each gunicorn worker class serving the dynamic route through nginx."""

from __future__ import annotations

from dataclasses import dataclass

from bench.loadgen import Result
from bench.markdown import Section, render
from bench.profiles import Profile, run_wrk
from bench.stacks import DYNAMIC, Stack

TITLE = "6. Worker classes: the dynamic route through nginx"
#: The worker classes gunicorn.conf.py accepts; gevent is the shipped one.
WORKER_CLASSES = ("gevent", "sync", "gthread")


@dataclass(frozen=True)
class ClassRun:
    """One worker class's run."""

    worker_class: str
    result: Result


@dataclass(frozen=True)
class ClassesResult:
    """Section 6: a run per worker class."""

    runs: tuple[ClassRun, ...]

    def rps(self, worker_class: str) -> float:
        """The requests/s of ``worker_class``."""
        return next(run.result.rps for run in self.runs if run.worker_class == worker_class)

    @property
    def rows(self) -> list[Result]:
        """Every run's result, in the order they ran."""
        return [run.result for run in self.runs]


def measure(stack: Stack, profile: Profile) -> ClassRun:
    """``stack``'s worker class serving the dynamic route through nginx."""
    label = f"{stack.worker_class} via nginx"
    return ClassRun(stack.worker_class, run_wrk(label, stack.https(DYNAMIC), profile, profile.connections))


def section(result: ClassesResult) -> Section:
    """The section: each other class's requests/s as a share of gevent's, and what the route measures."""
    body = render("classes.md.j2", result=result, others=WORKER_CLASSES[1:])
    return Section(TITLE, result.rows, body)
