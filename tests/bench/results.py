"""wrk results made up for the benchmarks' tests."""

from __future__ import annotations

from bench.loadgen import Result

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
