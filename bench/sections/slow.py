"""Section 3: normal requests while slow clients hold connections open, through nginx and to gunicorn
directly, for the gevent and sync workers; and the two tunings slow clients justify."""

from __future__ import annotations

from dataclasses import dataclass

from bench.cores import CORES
from bench.loadgen import Result, slow_clients
from bench.markdown import Section, render
from bench.profiles import Profile, run_wrk
from bench.stacks import DYNAMIC, Stack
from bench.tunings import HEADER_TIMEOUT, MAX_REQUESTS

#: The worker classes measured under slow clients.
WORKER_CLASSES = ("gevent", "sync")


def title(profile: Profile) -> str:
    """The section's title."""
    return f"3. {profile.slow_clients} slow clients held open while normal load runs"


@dataclass(frozen=True)
class SlowClientsRun:
    """A wrk run while slow clients held connections, and what the slow clients reported."""

    result: Result
    #: bench/slowloris.py's command line.
    command: str
    #: Its report once stopped: connections held, closed by the server.
    report: dict[str, int] | None

    @property
    def errors(self) -> int:
        """Requests that failed or timed out."""
        return self.result.failed + self.result.timeouts


@dataclass(frozen=True)
class WorkerClassRuns:
    """One worker class: through nginx without slow clients, then with them through nginx and direct."""

    worker_class: str
    baseline: Result
    via_nginx: SlowClientsRun
    direct: SlowClientsRun


@dataclass(frozen=True)
class SlowResult:
    """Section 3's runs: each worker class's, and gevent's through nginx without each tuning."""

    classes: tuple[WorkerClassRuns, ...]
    #: Without slow clients, gunicorn's workers recycled every 2000 requests (``MAX_REQUESTS`` taken back).
    recycled: Result
    #: With slow clients, nginx cutting them off after 10 s (``HEADER_TIMEOUT`` taken back).
    cut_off: SlowClientsRun

    def of(self, worker_class: str) -> WorkerClassRuns:
        """The runs of ``worker_class``."""
        return next(runs for runs in self.classes if runs.worker_class == worker_class)

    @property
    def rows(self) -> list[Result]:
        """Every run, in the order they ran."""
        rows = [r for c in self.classes for r in (c.baseline, c.via_nginx.result, c.direct.result)]
        return [*rows, self.recycled, self.cut_off.result]

    @property
    def slow_client_runs(self) -> list[SlowClientsRun]:
        """Every run that had slow clients, in the order they ran."""
        return [*(run for c in self.classes for run in (c.via_nginx, c.direct)), self.cut_off]


def _with_slow_clients(label: str, stack: Stack, tls: bool, profile: Profile) -> SlowClientsRun:
    port, url = (
        (stack.nginx.https_port, stack.https(DYNAMIC))
        if tls
        else (stack.gunicorn.port, stack.direct(DYNAMIC))
    )
    # The slow clients get a few seconds more than the load, so they outlast it.
    with slow_clients(port, count=profile.slow_clients, seconds=profile.seconds + 60, tls=tls) as clients:
        result = run_wrk(label, url, profile, profile.light_connections, count_unanswered=True)
    return SlowClientsRun(result, clients.command, clients.report)


def measure(stack: Stack, profile: Profile) -> WorkerClassRuns:
    """Normal requests on ``stack``'s worker class, without slow clients, then with them through nginx and
    to gunicorn directly."""
    c, wc = profile.light_connections, stack.worker_class
    label = f"{wc}: via nginx, no slow clients"
    baseline = run_wrk(label, stack.https(DYNAMIC), profile, c, count_unanswered=True)
    via_nginx, direct = (
        _with_slow_clients(f"{wc}: {where}, {profile.slow_clients} slow clients", stack, tls, profile)
        for where, tls in (("via nginx", True), ("gunicorn direct", False))
    )
    return WorkerClassRuns(wc, baseline, via_nginx, direct)


def measure_before(
    without_max_requests: Stack, without_header_timeout: Stack, profile: Profile
) -> tuple[Result, SlowClientsRun]:
    """Before the section's tunings: gevent through nginx recycling workers every 2000 requests (no slow
    clients), and cutting slow clients off after 10 s."""
    c, wc = profile.light_connections, without_max_requests.worker_class
    label = f"{wc}: via nginx, no slow clients, without {MAX_REQUESTS.name}"
    recycled = run_wrk(label, without_max_requests.https(DYNAMIC), profile, c, count_unanswered=True)
    label = f"{wc}: via nginx, {profile.slow_clients} slow clients, without {HEADER_TIMEOUT.name}"
    return recycled, _with_slow_clients(label, without_header_timeout, True, profile)


def section(result: SlowResult, profile: Profile) -> Section:
    """The section: how the slow clients ran, each worker class exposed or behind nginx, the tunings."""
    body = render("slow.md.j2", result=result, workers=CORES.gunicorn_workers)
    return Section(title(profile), result.rows, body)
