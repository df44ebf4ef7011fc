"""Section 1: a static file from nginx as shipped (and without each of its tunings) against the same file
from Flask through gunicorn."""

from __future__ import annotations

from collections.abc import Mapping

from bench.markdown import Section, render
from bench.profiles import Profile
from bench.rounds import Alternated, measure_rounds, with_cpu
from bench.sections import compared
from bench.stacks import STATIC_FILE, Stack
from bench.tunings import Tuning

TITLE = "1. Static file: nginx vs Flask (gunicorn) serving the same file"


def measure(stack: Stack, befores: Mapping[Tuning, Stack], profile: Profile) -> Alternated:
    """The file from Flask directly, from nginx as shipped and from nginx without each tuning in
    ``befores``, in rounds, with the CPU each used."""
    return measure_rounds(
        with_cpu(profile),
        stack,
        befores,
        STATIC_FILE,
        rounds=profile.rounds,
        direct="Flask via gunicorn (plain HTTP)",
        via_nginx="nginx /static/ (TLS)",
    )


def section(runs: Alternated, profile: Profile) -> Section:
    """The section: its rounds, each tuning's effect, and nginx's CPU per request against Flask's."""
    context = compared.context(runs, "static", profile)
    body = render("static.md.j2", nginx_us=runs.shipped.cpu_us(), flask_us=runs.direct.cpu_us(), **context)
    return Section(TITLE, runs.rows, body, compared.ROWS_ARE)
