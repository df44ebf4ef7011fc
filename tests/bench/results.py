"""wrk results and stacks made up for the benchmarks' tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from bench.loadgen import Result
from bench.profiles import QUICK
from bench.results import Results
from bench.rounds import Alternated, Measured, Series, measure_rounds
from bench.sections import article, scale
from bench.sections.article import ArticleResult, ConfigRun, Table
from bench.sections.classes import WORKER_CLASSES, ClassesResult, ClassRun
from bench.sections.memory import MemoryResult, StackMemory
from bench.sections.scale import FEWER_WORKERS_CONFIG, QUEUE_OFF_CONFIG, SHIPPED, ScaleResult, ScaleRun
from bench.sections.slow import SlowClientsRun, SlowResult, WorkerClassRuns
from bench.sections.tuning import StepRun, TuningResult
from bench.sections.writes import WritesResult, WritesRun
from bench.stacks import CpuSeconds, MemorySample, Stack
from bench.tunings import SHARED_LIBRARIES, Tuning

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

    def memory(self) -> MemorySample:
        return MemorySample(gunicorn_pss=1024 * self.served)


def measured_urls(shipped: Stack, befores: Mapping[Tuning, Stack]) -> tuple[dict[str, list[str]], Alternated]:
    """Section 2's rounds (QUICK's) over made-up stacks: the URLs each configuration was measured at."""
    urls: dict[str, list[str]] = {}

    def measure(target: Stack, url: str, label: str) -> Measured:
        urls.setdefault(label, []).append(url)
        return Measured(run(100))

    runs = measure_rounds(
        measure, shipped, befores, "/api/status", rounds=QUICK.rounds, direct="direct", via_nginx="nginx"
    )
    return urls, runs


def scale_result(late: dict[tuple[str, str], int]) -> ScaleResult:
    """Section 4 with made-up runs: no errors and no late answers anywhere, ``late`` unanswered ones
    (``(config, route)`` to count)."""
    runs = [(config, route) for config in (SHIPPED, FEWER_WORKERS_CONFIG) for route, _ in scale.ROUTES]
    return ScaleResult(
        tuple(
            ScaleRun(
                config,
                route,
                replace(run(50_000), label=f"{config}: {route}"),
                0,
                late.get((config, route), 0),
            )
            for config, route in [*runs, (QUEUE_OFF_CONFIG, "dynamic")]
        )
    )


def made_up(scale_runs: ScaleResult) -> Results:
    """Results of every section that meet every target but, maybe, section 4's (and the article's memory
    row: the naive baseline holds no TLS connection)."""
    cpu = CpuSeconds(1.0, 1.0, 0.0, 2.0)
    rounds = Series("direct", (run(100),), cpu), Series("nginx, shipped", (run(4100),), cpu)
    dynamic = Series("direct", (run(100, p99=20.0),), cpu), Series("nginx, shipped", (run(95),), cpu)
    trivial = Series("direct", (run(100),), cpu), Series("nginx, shipped", (run(95),), cpu)
    shared = ((SHARED_LIBRARIES, Series(f"nginx, without {SHARED_LIBRARIES.name}", (run(80),), cpu)),)
    calm = SlowClientsRun(run(100), "slowloris", None)
    stack = StackMemory("shipped", *(MemorySample(0, 300 * 1024, 0),) * 5)
    return Results(
        static=Alternated(*rounds, ()),
        dynamic=Alternated(*dynamic, shared),
        trivial=Alternated(*trivial, ()),
        slow=SlowResult(
            tuple(WorkerClassRuns(wc, run(100), calm, calm) for wc in ("gevent", "sync")), run(100), calm
        ),
        scale=scale_runs,
        memory=MemoryResult(stack, stack),
        classes=ClassesResult(tuple(ClassRun(wc, run(100)) for wc in WORKER_CLASSES)),
        tuning=TuningResult(tuple(StepRun(run(100), 0, 1024, 1024, 0) for _ in range(2))),
        writes=WritesResult(
            (WritesRun(run(500), 500, 0, 5.0, 5.0),),
            (WritesRun(run(4000), 4000, 0, 5.0, 1.0),),
            (WritesRun(run(2000), 2000, 0, 5.0, 2.0),),
        ),
        article=ArticleResult(
            ConfigRun(run(10_000, p99=30_000.0), MemorySample(0, 100 * 1024, 100 * 1024), 0),
            ConfigRun(run(20_000, p99=20_000.0), MemorySample(200 * 1024, 200 * 1024, 400 * 1024), 0),
            ConfigRun(run(50_000), MemorySample(150 * 1024, 150 * 1024, 300 * 1024), 0),
        ),
    )


def with_article_runs(results: Results, **replacing: Result) -> Results:
    """``results`` with these wrk results in section 9's runs so named (baseline, printed, shipped)."""
    runs = {
        name: replace(getattr(results.article, name), result=result) for name, result in replacing.items()
    }
    return replace(results, article=replace(results.article, **runs))


def article_table(results: Results) -> Table:
    """The article's table from ``results``."""
    return article.table(results.article, results.writes)
