"""Section 2: the dynamic endpoint through nginx as shipped (and without each of its tunings) against
gunicorn directly, with the same workers."""

from __future__ import annotations

from collections.abc import Mapping

from bench.markdown import Section, render
from bench.profiles import Profile
from bench.rounds import Alternated, measure_rounds, with_cpu
from bench.sections import compared
from bench.stacks import DYNAMIC, Stack
from bench.tunings import Tuning

TITLE = "2. Dynamic endpoint: through nginx (TLS) vs gunicorn directly"


def measure(stack: Stack, befores: Mapping[Tuning, Stack], profile: Profile) -> Alternated:
    """The endpoint from gunicorn directly, through nginx as shipped and through nginx without each
    tuning in ``befores``, in rounds, with the CPU each used."""
    return measure_rounds(
        with_cpu(profile),
        stack,
        befores,
        DYNAMIC,
        rounds=profile.rounds,
        direct="gunicorn direct (plain HTTP)",
        via_nginx="via nginx (TLS)",
    )


def section(runs: Alternated, profile: Profile) -> Section:
    """The section: its rounds, each tuning's effect, the path through nginx and where the CPU went."""
    body = render("dynamic.md.j2", **compared.context(runs, "dynamic", profile))
    return Section(TITLE, runs.rows, body, compared.ROWS_ARE)
