"""Run the benchmarks and write the report: ``python -m bench --profile quick|full --out DIR``."""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import time
from pathlib import Path

from bench import report, scenarios
from bench.scenarios import FULL, QUICK, Section, concurrently, node_stack, without
from nodestack.gunicorn import DEFAULT_WORKERS
from nodestack.nginx import prepare_static
from nodestack.process import world_readable_tempdir

#: Sections 1 and 2 compare the shipped stack with one stack without each of these, in rounds (TLS first:
#: its stack runs next to the shipped one in every round).
STATIC_TUNINGS = (scenarios.TLS, scenarios.OPEN_FILE_CACHE, scenarios.LOG_BUFFER)
DYNAMIC_TUNINGS = (
    scenarios.TLS,
    scenarios.LOG_BUFFER,
    scenarios.UNIX_SOCKET,
    scenarios.UPSTREAM_KEEPALIVE,
    scenarios.KEEPALIVE_POOL,
    scenarios.QUEUE_CLOSE,
    scenarios.NGINX_ONLY_ACCESS_LOG,
    scenarios.SHARED_LIBRARIES,
    scenarios.WORKER_COUNT,
)
UNTUNED = tuple(dict.fromkeys(STATIC_TUNINGS + DYNAMIC_TUNINGS))

#: Descriptors wrk needs for 10,000 connections, and each nginx worker for its share (two per proxied one).
OPEN_FILES = 20_000


def main(argv: list[str]) -> None:
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

    started = time.monotonic()
    workdir = world_readable_tempdir("bench-")
    try:
        prepare_static(workdir)
        sections = run(workdir, profile)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - started
    args.out.mkdir(parents=True, exist_ok=True)
    report.write(args.out, profile, sections, elapsed, " ".join(["python", "-m", "bench", *argv]))
    print(f"wrote {args.out / report.MARKDOWN} in {elapsed:.0f} s")


def run(workdir: Path, profile: scenarios.Profile) -> list[Section]:
    classes = Section("classes", "6. Worker classes: the dynamic route through nginx")
    slow = Section("slow", f"3. {profile.slow_clients} slow clients held open while normal load runs")
    # The first stack makes the self-signed certificate every nginx here shares; the others start together.
    with node_stack(workdir) as stack, concurrently(*(without(workdir, (t,)) for t in UNTUNED)) as others:
        untuned = dict(zip(UNTUNED, others, strict=True))
        static = scenarios.static_file(stack, {t: untuned[t] for t in STATIC_TUNINGS}, profile)
        dynamic = scenarios.dynamic(stack, {t: untuned[t] for t in DYNAMIC_TUNINGS}, profile)
    for worker_class in ("gevent", "sync", "gthread"):
        with node_stack(workdir, worker_class=worker_class) as stack:
            scenarios.worker_class(stack, profile, classes)
            if worker_class != "gthread":
                scenarios.slow(stack, profile, slow)
    with concurrently(
        without(workdir, (scenarios.MAX_REQUESTS,)), without(workdir, (scenarios.HEADER_TIMEOUT,))
    ) as (no_max_requests, no_header_timeout):
        scenarios.slow_before(no_max_requests, no_header_timeout, profile, slow)
    tuning = scenarios.tuning(workdir, profile)
    n = profile.scale_connections
    scale = Section("scale", f"4. {n:,} concurrent connections through nginx (TLS)")
    memory = Section("memory", "5. Memory of the node stack (nginx + gunicorn master and workers)")
    slots = scenarios.SCALE_WORKER_CONNECTIONS
    for config, workers in (
        (scenarios.SHIPPED, DEFAULT_WORKERS),
        (scenarios.FEWER_WORKERS_CONFIG, scenarios.FEWER_WORKERS),
    ):
        gunicorn_env = {"WEB_CONCURRENCY": str(workers)}
        started = node_stack(workdir, gunicorn_env=gunicorn_env, NGINX_WORKER_CONNECTIONS=slots)
        scenarios.scale(started, profile, scale, config, memory=memory)
    queue_off = without(workdir, (scenarios.QUEUE_CLOSE,), NGINX_WORKER_CONNECTIONS=slots)
    scenarios.scale(queue_off, profile, scale, scenarios.QUEUE_OFF_CONFIG, routes=("dynamic",))
    scale.notes.append(
        f"{scenarios.SHIPPED}: the shipped configuration with NGINX_WORKER_CONNECTIONS={slots} (section 7's "
        f"last step); {scenarios.FEWER_WORKERS_CONFIG}: the same with {scenarios.FEWER_WORKERS} gunicorn "
        f"workers instead of {DEFAULT_WORKERS}; {scenarios.QUEUE_OFF_CONFIG}: the same without "
        f"{scenarios.QUEUE_CLOSE.name} (the dynamic route only). The machine's net.core.somaxconn is raised "
        "to the node's 16384 by `make bench`."
    )
    return [static, dynamic, slow, scale, memory, classes, tuning]


if __name__ == "__main__":
    main(sys.argv[1:])
