"""bench/targets.py: each target's verdict, from the sections' results."""

from __future__ import annotations

from bench.profiles import QUICK
from bench.sections.scale import SHIPPED
from bench.targets import targets
from tests.bench.results import article_table, made_up, scale_result


def test_requests_never_answered_fail_the_target_though_wrk_counted_no_timeout() -> None:
    results = made_up(scale_result({(SHIPPED, "dynamic"): 8993}))

    verdicts = {target.what: target for target in targets(results, QUICK, article_table(results))}

    n = f"{QUICK.scale_connections:,} connections"
    assert verdicts[f"{n}, static route: no errors, no timeouts"].met
    dynamic = verdicts[f"{n}, dynamic route: no errors, no timeouts"]
    assert not dynamic.met
    late = QUICK.scale_timeout
    assert f"0 answered after {late} s, 8993 never answered after {late} s" in dynamic.measured
    # The made-up naive baseline holds no TLS connection: less memory than nginx with its connections.
    memory = next(what for what in verdicts if what.startswith("Against the article, memory per node"))
    assert [what for what, target in verdicts.items() if target.met is False] == [dynamic.what, memory]
