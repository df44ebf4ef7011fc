"""How long and how hard the benchmarks run, and a wrk run at a profile's settings."""

from __future__ import annotations

from dataclasses import dataclass

from bench.loadgen import Result, wrk


@dataclass(frozen=True)
class Profile:
    """How long and how hard: ``quick`` for development, ``full`` for the published numbers."""

    name: str
    seconds: int
    connections: int
    light_connections: int
    slow_clients: int
    scale_connections: int
    scale_seconds: int
    #: wrk counts a request as timed out only if its answer comes later than this: keep it below the run
    #: length, or a request answered too late is not counted at all.
    timeout: int
    scale_timeout: int
    #: Every step of section 7, or only the first and the last (before and after all of them).
    every_tuning_step: bool
    #: Sections 1, 2 and 8: each configuration runs once per round, for ``round_seconds``.
    rounds: int
    round_seconds: int


QUICK = Profile("quick", 1, 64, 16, 200, 1000, 2, 1, 1, every_tuning_step=False, rounds=1, round_seconds=1)
FULL = Profile("full", 10, 64, 16, 1000, 10000, 25, 5, 20, every_tuning_step=True, rounds=4, round_seconds=5)


def run_wrk(
    label: str,
    url: str,
    profile: Profile,
    connections: int,
    *,
    count_unanswered: bool = False,
    seconds: int | None = None,
) -> Result:
    """wrk at ``connections`` for the profile's ``seconds`` (or ``seconds``) with its timeout."""
    return wrk(
        label,
        url,
        connections=connections,
        seconds=profile.seconds if seconds is None else seconds,
        timeout=profile.timeout,
        count_unanswered=count_unanswered,
    )
