"""The configurations the benchmarks take back: each edit still finds its text, and the stack without TLS
answers over plain HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
import requests

from bench import tunings
from bench.rounds import Alternated, Series
from bench.sections.compared import plain_http
from bench.stacks import Stack, without
from bench.tunings import TLS, Tuning
from nodestack.paths import APP, DOCKER
from tests.bench.results import ServingStack, measured_urls, run

TUNINGS = [value for value in vars(tunings).values() if isinstance(value, Tuning)]


@pytest.mark.parametrize("tuning", [t for t in TUNINGS if t.edits], ids=lambda t: t.name)
def test_each_edit_finds_the_shipped_text_once(tuning: Tuning) -> None:
    for template, shipped, _ in tuning.edits:
        assert (DOCKER / "nginx" / template).read_text().count(shipped) == 1


class PlainStack(ServingStack):
    def http(self, path: str) -> str:
        return f"plain://{self.name}{path}"


def test_the_stack_without_tls_is_measured_over_plain_http() -> None:
    plain = cast(Stack, PlainStack("plain"))
    urls, _ = measured_urls(cast(Stack, ServingStack("shipped")), {TLS: plain})

    assert urls == {
        "direct": ["http://shipped/api/status"],
        "nginx, shipped": ["https://shipped/api/status"],
        f"nginx, without {TLS.name}": ["plain://plain/api/status"],
    }


def test_without_tls_nginx_serves_the_site_over_plain_http(workdir: Path) -> None:
    with without(workdir, (TLS,), database={}) as stack:
        dynamic = requests.get(stack.http("/api/status"), headers={"Host": "localhost"}, timeout=10)
        static = requests.get(stack.http("/static/css/site.css"), headers={"Host": "localhost"}, timeout=10)

    assert dynamic.status_code == 200
    assert dynamic.json()["service"] == "flask-app"
    assert static.status_code == 200
    assert static.content == (APP / "static" / "css" / "site.css").read_bytes()


def test_the_targets_give_the_ratio_over_plain_http_where_it_was_measured() -> None:
    direct, shipped = Series("direct", (run(100), run(100))), Series("nginx, shipped", (run(80), run(70)))
    plain = Series(f"nginx, without {TLS.name}", (run(90), run(95)))
    measured = Alternated(direct, shipped, ((TLS, plain),))
    without_it = Alternated(direct, shipped, ())

    assert plain_http(measured, "{:.0%}") == "; over plain HTTP to nginx (no TLS, never shipped): 92%"
    assert plain_http(without_it, "{:.0%}") == ""
