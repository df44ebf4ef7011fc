"""The report of what ships: its parsers of docker's and wrk's output and its Markdown, on given figures
(nothing booted, nothing timed: `make node-report` measures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import node_report as report
from bench.loadgen import MARKER
from bench.loadgen import WRK_SCRIPT as SUMMARY_SCRIPT
from infra import user_data
from nodestack.images import NODE_TARGETS
from nodestack.paths import DOCKER

#: Two lines of `docker stats --no-stream --format '{{json .}}' app proxy`, as docker 20.10 writes them.
STATS = "\n".join(
    json.dumps(record)
    for record in (
        {"BlockIO": "0B / 0B", "CPUPerc": "0.05%", "Container": "app", "ID": "0123456789ab",
         "MemPerc": "1.20%", "MemUsage": "95.5MiB / 7.76GiB", "Name": "app", "NetIO": "0B / 0B", "PIDs": "7"},
        {"BlockIO": "0B / 0B", "CPUPerc": "0.00%", "Container": "proxy", "ID": "ba9876543210",
         "MemPerc": "0.10%", "MemUsage": "8.25MiB / 7.76GiB", "Name": "proxy", "NetIO": "0B / 0B",
         "PIDs": "3"},
    )
) + "\n"  # fmt: skip

WRK_OUTPUT = """\
Running 20s test @ https://10.0.1.10:8443/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    52.10ms   20.31ms 301.22ms   71.00%
WRK-JSON {"requests": 24680, "duration_us": 20004000, "bytes": 123456789, "unanswered": -1, \
"errors": {"connect": 0, "read": 2, "write": 0, "status": 3, "timeout": 1}, "latency_us": {"mean": 52100.5, \
"max": 301220, "p50": 48250, "p90": 90125, "p99": 140500, "p99.9": 250000}}
"""

START = 1_700_000_000.0


def startup(*, last_refused: float | None = START + 40.5) -> report.Startup:
    return report.Startup(
        entered=START,
        script_started=START + 12.25,
        pulled={"app": START + 30.0, "proxy": START + 37.0},
        started={"app": START + 38.0, "proxy": START + 38.5},
        script_exited=START + 38.75,
        first_200=START + 40.625,
        last_refused=last_refused,
        probes=57,
        healthy={"app": START + 53.25, "proxy": START + 53.5},
        health_interval={"app": 15.0, "proxy": 15.0},
        steps=[("sysctl", 0.004), ("packages", 0.012), ("docker", 1.5), ("pull-app", 17.25)],
    )


def measured(*, bases: str = "standin", last_refused: float | None = START + 40.5) -> report.Report:
    return report.Report(
        make="make node-report",
        command="python -m bench.node_report --out docs",
        elapsed=97.4,
        machine=["CPU: 2 cores available (Example CPU)", "Kernel: Linux 6.1.0, cgroup v1"],
        bases=bases,
        production_bases={
            "PYTHON_IMAGE": "python:3.11.14-slim-bookworm",
            "DEBIAN_IMAGE": "debian:12.12-slim",
        },
        images=[
            report.ImageSize("app", "standin/python:3.11-bookworm-abc", 180_000_000, 140_000_000, 7),
            report.ImageSize("proxy", "standin/debian:bookworm-abc", 130_000_000, 90_000_000, 4),
        ],
        memory=report.Memory(
            idle={"app": 100 * 2**20, "proxy": 10 * 2**20},
            peak={"app": 120 * 2**20, "proxy": 30 * 2**20},
            peak_total=145 * 2**20,
            samples=9,
        ),
        load=report.parse_wrk(WRK_OUTPUT, "wrk -t2 -c64 -d20s https://10.0.1.10:8443/"),
        startup=startup(last_refused=last_refused),
        warm=report.WarmStart(seconds=4.25, probes=31),
    )


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0B", 0),
        ("512B", 512),
        ("512KiB", 512 * 1024),
        ("95.5MiB", round(95.5 * 2**20)),
        ("1.5GiB", 3 * 2**29),
    ],
)
def test_docker_stats_sizes_are_binary_units(text: str, size: int) -> None:
    assert report.parse_size(text) == size


@pytest.mark.parametrize("text", ["95.5MB", "95.5 MiB", "", "MiB"])
def test_a_size_in_another_form_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected a number and B, KiB, MiB"):
        report.parse_size(text)


def test_docker_stats_gives_each_containers_usage_not_its_limit() -> None:
    assert report.parse_stats(STATS) == {"app": round(95.5 * 2**20), "proxy": round(8.25 * 2**20)}


def test_the_peak_is_each_containers_highest_and_the_highest_sum_of_one_sample() -> None:
    samples = [{"app": 100, "proxy": 10}, {"app": 90, "proxy": 30}, {"app": 95, "proxy": 25}]
    assert report.peak(samples) == ({"app": 100, "proxy": 30}, 120)


def test_no_sample_is_an_error_not_a_zero() -> None:
    with pytest.raises(ValueError, match="no memory sample"):
        report.peak([])


def test_docker_timestamps_keep_their_nanoseconds_and_zone() -> None:
    utc = report.parse_timestamp("2025-01-02T03:04:05.123456789Z")
    assert utc == pytest.approx(1735787045.123456789, abs=1e-6)
    assert report.parse_timestamp("2025-01-02T05:04:05.123456789+02:00") == utc
    assert report.parse_timestamp("2025-01-02T03:04:05Z") == pytest.approx(1735787045.0)


def test_a_timestamp_in_another_form_is_refused() -> None:
    with pytest.raises(ValueError, match="expected RFC 3339"):
        report.parse_timestamp("2025-01-02 03:04:05")


def test_docker_healthy_is_when_the_first_check_passed() -> None:
    health = {
        "Status": "healthy",
        "FailingStreak": 0,
        "Log": [
            {"Start": "2025-01-02T03:04:00.5Z", "End": "2025-01-02T03:04:01Z", "ExitCode": 1, "Output": ""},
            {
                "Start": "2025-01-02T03:04:15.5Z",
                "End": "2025-01-02T03:04:16.25Z",
                "ExitCode": 0,
                "Output": "",
            },
            {"Start": "2025-01-02T03:04:31.5Z", "End": "2025-01-02T03:04:32Z", "ExitCode": 0, "Output": ""},
        ],
    }
    assert report.first_pass(health) == report.parse_timestamp("2025-01-02T03:04:16.25Z")


def test_a_health_log_without_a_pass_is_an_error() -> None:
    health = {"Log": [{"End": "2025-01-02T03:04:01Z", "ExitCode": 1}]}
    with pytest.raises(ValueError, match="no health check passed"):
        report.first_pass(health)


def test_wrk_summary_gives_requests_per_second_and_errors_by_kind() -> None:
    run = report.parse_wrk(WRK_OUTPUT, "wrk")
    assert run.requests == 24680
    assert run.rps == pytest.approx(24680 / 20.004)
    assert run.latency_ms["p50"] == 48.25
    assert run.latency_ms["p99"] == 140.5
    assert run.errors["status"] == 3
    assert report.no_answer(run) == 3


def test_the_load_script_takes_the_benchmarks_summary() -> None:
    script = report.WRK_SCRIPT.format(summary=SUMMARY_SCRIPT)
    assert script.startswith(f"dofile([[{SUMMARY_SCRIPT}]])")
    assert SUMMARY_SCRIPT.is_absolute()
    assert MARKER.strip() in SUMMARY_SCRIPT.read_text()


def test_wrk_asks_for_the_page_under_the_site_name_with_the_script() -> None:
    argv = report.wrk_argv(Path("load.lua"))
    assert argv[0] == "wrk"
    assert argv[-1] == report.PAGE_URL == "https://10.0.1.10:8443/"
    assert "Host: app.example.com" in argv
    assert argv[argv.index("-s") + 1] == "load.lua"


def test_every_target_is_built_on_a_base_argument_with_a_default() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    stages, defaults = report.dockerfile_bases(dockerfile), report.dockerfile_defaults(dockerfile)
    assert {stages[target] for target in NODE_TARGETS} <= defaults.keys()


def test_each_pull_is_the_event_of_its_containers_image() -> None:
    app, proxy = "127.0.0.1:5000/web/app@sha256:" + "a" * 64, "127.0.0.1:5000/web/proxy@sha256:" + "b" * 64
    events = "\n".join(
        json.dumps({"status": "pull", "id": image, "Type": "image", "Action": "pull",
                    "Actor": {"ID": image, "Attributes": {"name": image.split("@")[0]}},
                    "scope": "local", "time": int(nanos // 1e9), "timeNano": nanos})
        for image, nanos in ((app, 1_700_000_030_250_000_000), (proxy, 1_700_000_037_500_000_000))
    )  # fmt: skip
    pulls = report.parse_pulls(events, {"app": app, "proxy": proxy})
    assert pulls == {"app": pytest.approx(1_700_000_030.25), "proxy": pytest.approx(1_700_000_037.5)}


def test_an_image_without_a_pull_event_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"no pull event for \['proxy'\]"):
        report.parse_pulls("", {"proxy": "127.0.0.1:5000/web/proxy@sha256:" + "b" * 64})


def test_the_production_bases_are_the_from_arguments_defaults_only() -> None:
    dockerfile = (
        "ARG BASE=debian:12\nARG OTHER=python:3\nARG APP_DIR=app\n"
        "FROM ${OTHER} AS builder\nFROM ${BASE} AS proxy\nFROM ${OTHER} AS app\n"
    )
    assert report.production_bases(dockerfile) == {"BASE": "debian:12", "OTHER": "python:3"}


def test_the_dockerfile_parsers_read_args_and_stages() -> None:
    dockerfile = "ARG BASE=debian:12\nARG OTHER=python:3\nFROM ${OTHER} AS builder\nFROM ${BASE} AS proxy\n"
    assert report.dockerfile_defaults(dockerfile) == {"BASE": "debian:12", "OTHER": "python:3"}
    assert report.dockerfile_bases(dockerfile) == {"builder": "OTHER", "proxy": "BASE"}


def test_the_timeline_spans_the_boot_from_entry_to_the_first_200() -> None:
    steps = report.timeline(startup())
    assert [step.seconds for step in steps] == [12.25, 17.75, 7.0, 1.0, 0.5, 0.25, 1.875]
    assert steps[0].start == "`booted_node` entered"
    assert steps[-1].end == "first 200 from the ALB"


def test_every_step_the_user_data_times_is_described() -> None:
    assert report.STEP_WHAT.keys() == set(user_data.BOOT_STEPS)


def test_the_scripts_steps_are_listed_as_it_printed_them_with_their_sum() -> None:
    text = report.render(measured())
    table = text.split("own steps")[1].split("Totals:")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    assert rows == [
        f"| `sysctl` | 0.004 s | {report.STEP_WHAT['sysctl']} |",
        f"| `packages` | 0.012 s | {report.STEP_WHAT['packages']} |",
        f"| `docker` | 1.500 s | {report.STEP_WHAT['docker']} |",
        f"| `pull-app` | 17.250 s | {report.STEP_WHAT['pull-app']} |",
        "| all steps | 18.766 s | |",
    ]


def test_the_warm_start_is_set_against_the_cold_boot() -> None:
    text = report.render(measured())
    section = text.split("## A stopped node started again")[1]
    assert "| cold: the user data | 28.38 s |" in section
    assert "| warm: a stopped node started | 4.25 s |" in section
    assert "probed 31 times" in section


def test_the_totals_count_the_script_and_from_each_containers_start() -> None:
    steps = {(step.start, step.end): step.seconds for step in report.totals(startup())}
    assert steps[("the user data started", "the user data exited")] == 26.5
    assert steps[("`booted_node` entered", "the user data exited")] == 38.75
    assert steps[("`app` started", "first 200 from the ALB")] == 2.625
    assert steps[("`proxy` started", "first 200 from the ALB")] == 2.125
    assert steps[("`app` started", "docker: healthy")] == 15.25
    assert steps[("`proxy` started", "docker: healthy")] == 15.0
    assert steps[("the user data started", "first 200 from the ALB")] == 28.375


def test_the_report_gives_every_figure_with_its_unit() -> None:
    text = report.render(measured())
    for figure in (
        # sizes and what each image adds: MB and bytes
        "140.0 MB", "180.0 MB", "40.0 MB (40,000,000 bytes)", "90.0 MB", "130.0 MB",
        # memory idle, highest, both
        "100.0 MiB", "120.0 MiB", "10.0 MiB", "30.0 MiB", "110.0 MiB", "145.0 MiB",
        # the load
        "1,234 requests/s", "24,680", "48.2 ms", "140.5 ms", "301.2 ms", "20.00 s",
        # the boot and the start
        "12.25 s", "17.75 s", "7.00 s", "1.00 s", "1.88 s", "26.50 s", "38.75 s", "2.62 s", "2.12 s",
        "15.25 s", "15.00 s", "28.38 s", "0.12 s", "97.40 s",
        # the base's share
        "78%", "69%",
    ):  # fmt: skip
        assert figure in text, figure


def test_the_report_starts_with_the_command_and_the_machine() -> None:
    text = report.render(measured())
    head = text.split("## The images")[0]
    assert "`make node-report` (`python -m bench.node_report --out docs`" in head
    assert "- CPU: 2 cores available (Example CPU)" in head
    assert "- Kernel: Linux 6.1.0, cgroup v1" in head


@pytest.mark.parametrize(
    ("bases", "says"),
    [
        ("standin", "stand-ins made from Debian bookworm's packages with debootstrap"),
        ("production", "the Dockerfile's own, `python:3.11.14-slim-bookworm` and `debian:12.12-slim`"),
    ],
)
def test_the_report_names_the_bases_used(bases: str, says: str) -> None:
    assert says in report.render(measured(bases=bases))


def test_a_first_probe_that_answered_is_an_upper_bound() -> None:
    text = report.render(measured(last_refused=None))
    assert "the first probe already answered 200" in text


def test_the_report_is_markdown_with_nothing_left_unrendered() -> None:
    text = report.render(measured())
    assert "{%" not in text
    assert "{{ " not in text
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    # Each table row is one line: the row of each image and the rows of the boot.
    assert sum(line.startswith("| `app` | `standin/python") for line in text.splitlines()) == 1
