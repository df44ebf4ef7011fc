"""Section 2: the dynamic endpoint (a database read) through nginx as shipped (and without each of its
tunings) against gunicorn directly, with the same workers; and the trivial endpoint, for nginx's own CPU per
proxied request."""

from __future__ import annotations

from collections.abc import Mapping

from bench.markdown import Section, render
from bench.profiles import Profile
from bench.rounds import Alternated, measure_rounds, with_cpu
from bench.sections import compared
from bench.stacks import DYNAMIC, TRIVIAL, Stack
from bench.tunings import Tuning

TITLE = "2. Dynamic endpoint (a database read): through nginx (TLS) vs gunicorn directly"


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


def measure_trivial(stack: Stack, profile: Profile) -> Alternated:
    """The trivial endpoint from gunicorn directly and through nginx as shipped, in rounds, with the CPU
    each used."""
    return measure_rounds(
        with_cpu(profile),
        stack,
        {},
        TRIVIAL,
        rounds=profile.rounds,
        direct=f"{TRIVIAL}: gunicorn direct (plain HTTP)",
        via_nginx=f"{TRIVIAL}: via nginx (TLS)",
    )


def section(runs: Alternated, trivial: Alternated, profile: Profile) -> Section:
    """The section: its rounds, each tuning's effect, the path through nginx, where the CPU went, and
    nginx's own CPU per proxied request on the trivial endpoint."""
    context = compared.context(runs, "dynamic", profile)
    trivial_cpu = compared.cpu_table(trivial)
    body = render(
        "dynamic.md.j2",
        dynamic_path=DYNAMIC,
        trivial=trivial,
        trivial_path=TRIVIAL,
        trivial_cpu=trivial_cpu,
        **context,
    )
    return Section(TITLE, [*runs.rows, *trivial.rows], body, compared.ROWS_ARE)
