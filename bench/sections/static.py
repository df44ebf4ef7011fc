"""Section 1: a static file from nginx as shipped (and without each of its tunings) against the same file
from Flask through gunicorn."""

from __future__ import annotations

from collections.abc import Mapping

from bench.markdown import Section
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
    nginx_us, flask_us = runs.shipped.cpu_us(), runs.direct.cpu_us()
    per_request = (
        f"- Per request, nginx used {nginx_us:.0f} µs of CPU and Flask's gunicorn {flask_us:.0f} µs "
        f"(table above): per CPU second of the server, nginx answers {flask_us / nginx_us:.1f}x the "
        f"requests, against {runs.ratio:.1f}x in requests/s. The difference is "
        f"the load generator on the same cores: wrk used {runs.shipped.cpu.wrk:.1f} CPU "
        f"seconds in nginx's runs (it decrypts TLS and parses every answer nginx sends) against "
        f"{runs.direct.cpu.wrk:.1f} in Flask's. On a node the clients are elsewhere."
    )
    body = [*compared.opening(runs, "static", profile), *compared.untuned_lines(runs), per_request]
    return Section(TITLE, runs.rows, body, compared.ROWS_ARE)
