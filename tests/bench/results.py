"""wrk results and stacks made up for the benchmarks' tests."""

from __future__ import annotations

from collections.abc import Mapping

from bench.loadgen import Result
from bench.scenarios import QUICK, Alternated, Section, Stack, Tuning, _alternated

ERRORS = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}


def run(requests: int, seconds: float = 5.0, p99: float = 10.0, **errors: int) -> Result:
    return Result(
        label="x",
        command="wrk x",
        requests=requests,
        seconds=seconds,
        errors=ERRORS | errors,
        latency_ms={
            "mean": p99 / 2,
            "max": p99 * 3,
            "p50": p99 / 4,
            "p90": p99 / 2,
            "p99": p99,
            "p99.9": p99 * 2,
        },
        unanswered=None,
    )


class ServingStack:
    """A stack whose gunicorn grows by 1 MB with each run it serves."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.served = 0

    def direct(self, path: str) -> str:
        return f"http://{self.name}{path}"

    def https(self, path: str) -> str:
        return f"https://{self.name}{path}"

    def memory(self) -> dict[str, int]:
        return {"gunicorn_pss": 1024 * self.served}


def measured_urls(
    shipped: Stack, befores: Mapping[Tuning, Stack]
) -> tuple[dict[str, list[str]], Section, Alternated]:
    """Section 2's rounds (QUICK's) over made-up stacks: the URLs each configuration was measured at."""
    urls: dict[str, list[str]] = {}

    def measure(target: Stack, url: str, label: str) -> Result:
        urls.setdefault(label, []).append(url)
        return run(100)

    section = Section("dynamic", "2.")
    runs = _alternated(
        section,
        measure,
        shipped,
        befores,
        "/api/status",
        profile=QUICK,
        direct="direct",
        via_nginx="nginx",
        ratio="ratio",
    )
    return urls, section, runs
