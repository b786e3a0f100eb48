"""bot/lifecycle.py: components start in order, stop in reverse, also when a start fails."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.lifecycle import Background, Part, started


class Recorder:
    """Components that write what happens to them in one shared list."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def part(self, name: str, *, fail_start: bool = False, fail_stop: bool = False) -> Part:
        def start() -> None:  # a plain function
            if fail_start:
                raise RuntimeError(f"{name} cannot start")
            self.events.append(f"start {name}")

        async def stop() -> None:  # a coroutine function
            await asyncio.sleep(0)
            self.events.append(f"stop {name}")
            if fail_stop:
                raise RuntimeError(f"{name} cannot stop")

        return Part(name, start, stop)


async def test_lifecycle_starts_in_order_and_stops_in_reverse():
    """Start a, b, c; on exit stop c, b, a."""
    log = Recorder()
    async with started([log.part("a"), log.part("b"), log.part("c")]):
        log.events.append("running")
    assert log.events == ["start a", "start b", "start c", "running", "stop c", "stop b", "stop a"]


async def test_lifecycle_failed_start_stops_only_what_started():
    """When b cannot start, a is stopped, c never starts, and the error reaches the caller."""
    log = Recorder()
    with pytest.raises(RuntimeError, match="b cannot start"):
        async with started([log.part("a"), log.part("b", fail_start=True), log.part("c")]):
            log.events.append("running")
    assert log.events == ["start a", "stop a"]


async def test_lifecycle_failed_stop_is_logged_and_the_rest_stop(caplog: pytest.LogCaptureFixture):
    """A stop that raises is logged with the component's name; the others still stop."""
    log = Recorder()
    with caplog.at_level(logging.ERROR, logger="bot.lifecycle"):
        async with started([log.part("a"), log.part("b", fail_stop=True), log.part("c")]):
            pass
    assert log.events == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]
    assert "stopping b failed" in caplog.text


async def test_lifecycle_background_task_runs_until_stopped():
    """Background runs its coroutine from start and cancels it on stop."""
    ticks: list[int] = []
    cancelled = asyncio.Event()

    async def work() -> None:
        try:
            while True:
                ticks.append(1)
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with started([Background("ticker", work)]):
        async with asyncio.timeout(5):
            while len(ticks) < 3:
                await asyncio.sleep(0.01)
    assert cancelled.is_set()
    count = len(ticks)
    await asyncio.sleep(0.05)
    assert len(ticks) == count, "nothing runs after stop"
