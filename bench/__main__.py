"""Run the benchmarks and write the report: ``python -m bench --profile quick|full --out DIR``."""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench import report, tunings
from bench.cores import CORES
from bench.database import database
from bench.profiles import FULL, QUICK, Profile
from bench.results import Results
from bench.sections import article, classes, dynamic, slow, static, tuning, writes
from bench.sections import scale as scale_section
from bench.sections.memory import MemoryResult
from bench.sections.scale import (
    FEWER_WORKERS_CONFIG,
    QUEUE_OFF_CONFIG,
    SCALE_NGINX_ENV,
    SHIPPED,
    ScaleResult,
)
from bench.stacks import OPEN_FILES, concurrently, node_stack, without
from nodestack.nginx import prepare_static
from nodestack.postgres import Postgres
from nodestack.process import world_readable_tempdir

#: Sections 1 and 2 compare the shipped stack with one stack without each of these, in rounds (TLS first:
#: its stack runs next to the shipped one in every round).
STATIC_TUNINGS = (
    tunings.TLS,
    tunings.OPEN_FILE_CACHE,
    tunings.STATIC_HITS_UNLOGGED,
    tunings.KEEPALIVE_REQUESTS,
)
DYNAMIC_TUNINGS = (
    tunings.TLS,
    tunings.LOG_BUFFER,
    tunings.UNIX_SOCKET,
    tunings.UPSTREAM_KEEPALIVE,
    tunings.KEEPALIVE_POOL,
    tunings.QUEUE_CLOSE,
    tunings.NGINX_ONLY_ACCESS_LOG,
    tunings.SHARED_LIBRARIES,
    tunings.WORKER_COUNT,
)
UNTUNED = tuple(dict.fromkeys(STATIC_TUNINGS + DYNAMIC_TUNINGS))


def main(argv: list[str]) -> None:
    """Parse the arguments, raise the open files limit, run every section and write the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profile", choices=("quick", "full"), default="quick")
    parser.add_argument("--out", type=Path, required=True, help="directory for benchmarks.md and the chart")
    args = parser.parse_args(argv)
    profile = FULL if args.profile == "full" else QUICK
    # Inherited by nginx, gunicorn and wrk.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < OPEN_FILES:
        sys.exit(f"the open files limit is {hard}; the benchmarks need {OPEN_FILES} (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, hard))
    # This harness, and the load generators it starts, on their core: the servers get the other one.
    os.sched_setaffinity(0, CORES.load)

    started = time.monotonic()
    workdir = world_readable_tempdir("bench-")
    try:
        prepare_static(workdir)
        results = run(workdir, profile)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    args.out.mkdir(parents=True, exist_ok=True)
    report.write(args.out, profile, results, elapsed, " ".join(["python", "-m", "bench", *argv]))
    print(f"wrote {args.out / report.MARKDOWN} in {elapsed:.0f} s")


def _scale(workdir: Path, db: dict[str, str], profile: Profile) -> tuple[ScaleResult, MemoryResult]:
    """Sections 4 and 5: the shipped stack and the one with fewer workers on both routes, with their
    memory; the stack without the queue closing on the dynamic route."""
    shipped, shipped_memory = scale_section.measure(
        node_stack(workdir, database=db, **SCALE_NGINX_ENV), profile, SHIPPED
    )
    fewer_env = {"WEB_CONCURRENCY": str(tunings.FEWER_WORKERS)}
    fewer_stack = node_stack(workdir, database=db, gunicorn_env=fewer_env, **SCALE_NGINX_ENV)
    fewer, fewer_memory = scale_section.measure(fewer_stack, profile, FEWER_WORKERS_CONFIG)
    queue_off_stack = without(workdir, (tunings.QUEUE_CLOSE,), database=db, **SCALE_NGINX_ENV)
    queue_off = scale_section.measure_route(queue_off_stack, profile, QUEUE_OFF_CONFIG, "dynamic")
    return ScaleResult((*shipped, *fewer, *queue_off)), MemoryResult(shipped_memory, fewer_memory)


def run(workdir: Path, profile: Profile) -> Results:
    """Every section, on stacks started in ``workdir`` (its static files prepared) and one database."""
    with database(workdir) as postgres:
        return _sections(workdir, postgres, profile)


@contextmanager
def timed(what: str) -> Iterator[None]:
    """Say how long ``what`` took, as the run goes."""
    started = time.monotonic()
    yield
    print(f"{what}: {time.monotonic() - started:.0f} s", flush=True)


def _sections(workdir: Path, postgres: Postgres, profile: Profile) -> Results:
    db = postgres.app_env()
    # The first stack makes the self-signed certificate every nginx here shares; the others start together.
    with (
        timed("sections 1 and 2"),
        node_stack(workdir, database=db) as stack,
        concurrently(*(without(workdir, (t,), database=db) for t in UNTUNED)) as others,
    ):
        untuned = dict(zip(UNTUNED, others, strict=True))
        static_runs = static.measure(stack, {t: untuned[t] for t in STATIC_TUNINGS}, profile)
        dynamic_runs = dynamic.measure(stack, {t: untuned[t] for t in DYNAMIC_TUNINGS}, profile)
        trivial_runs = dynamic.measure_trivial(stack, profile)
    class_runs, slow_runs = [], []
    with (
        timed("sections 3 and 6"),
        concurrently(
            *(node_stack(workdir, database=db, worker_class=c) for c in classes.WORKER_CLASSES),
            without(workdir, (tunings.MAX_REQUESTS,), database=db),
            without(workdir, (tunings.HEADER_TIMEOUT,), database=db),
        ) as started,
    ):
        *by_class, no_max_requests, no_header_timeout = started
        for worker_class, stack in zip(classes.WORKER_CLASSES, by_class, strict=True):
            class_runs.append(classes.measure(stack, profile))
            if worker_class in slow.WORKER_CLASSES:
                slow_runs.append(slow.measure(stack, profile))
        recycled, cut_off = slow.measure_before(no_max_requests, no_header_timeout, profile)
    with timed("section 7"):
        tuning_runs = tuning.measure(workdir, db, profile)
    with timed("sections 4 and 5"):
        scale_runs, memory = _scale(workdir, db, profile)
    with timed("section 8"):
        writes_runs = writes.measure(workdir, postgres, profile)
    with timed("section 9"):
        article_runs = article.measure(workdir, db, profile)
    return Results(
        static=static_runs,
        dynamic=dynamic_runs,
        trivial=trivial_runs,
        slow=slow.SlowResult(tuple(slow_runs), recycled, cut_off),
        scale=scale_runs,
        memory=memory,
        classes=classes.ClassesResult(tuple(class_runs)),
        tuning=tuning_runs,
        writes=writes_runs,
        article=article_runs,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
