"""Stacks started at once (sections 1 and 2 start seven): all start and stop together, and none is left
running when one fails (each gets its own ports: tests/nodestack/test_process.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import pytest

from bench.stacks import Stack, concurrently


class Recorder:
    """Context managers that log their start and stop. Each starts only once ``starts`` of them have
    begun to, and stops only once ``stops`` have: one after another, the first would wait for the
    others forever, until the barrier's timeout breaks it (BrokenBarrierError)."""

    def __init__(self, starts: int, stops: int) -> None:
        self.events: list[str] = []
        self.starting = threading.Barrier(starts, timeout=30)
        self.stopping = threading.Barrier(stops, timeout=30)

    @contextmanager
    def stack(self, name: str, *, fails: bool = False) -> Iterator[Stack]:
        self.starting.wait()
        if fails:
            raise RuntimeError(f"{name} did not start")
        self.events.append(f"start {name}")
        try:
            yield cast(Stack, name)
        finally:
            self.stopping.wait()
            self.events.append(f"stop {name}")


def test_stacks_start_and_stop_together() -> None:
    recorder = Recorder(starts=3, stops=3)

    with concurrently(*(recorder.stack(name) for name in "abc")) as stacks:
        names: tuple[object, ...] = stacks
        assert names == ("a", "b", "c")
        assert sorted(recorder.events) == ["start a", "start b", "start c"]

    assert sorted(recorder.events[3:]) == ["stop a", "stop b", "stop c"]


def test_when_one_fails_to_start_the_others_are_stopped_and_its_error_raised() -> None:
    recorder = Recorder(starts=3, stops=2)
    stacks = [recorder.stack("a"), recorder.stack("b", fails=True), recorder.stack("c")]
    entered = False

    with pytest.raises(RuntimeError, match="b did not start"), concurrently(*stacks):
        entered = True

    assert not entered
    assert sorted(recorder.events) == ["start a", "start c", "stop a", "stop c"]
