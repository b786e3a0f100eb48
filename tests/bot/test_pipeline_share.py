"""The pipeline's share of the event loop: short slices while fresh, more when behind."""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest

from bot.pipeline import (
    CATCH_UP_LAG_SECONDS,
    MAX_SLICE_SECONDS,
    SLICE_SECONDS,
    Pipeline,
    slice_seconds,
)
from bot.store import NewDelivery, Store
from tests.conftest import sample

CHUNK = bytes(16 * 1024)


def test_fresh_deliveries_get_short_slices_whatever_the_loop_did():
    assert slice_seconds(0.0, 0.0) == SLICE_SECONDS
    assert slice_seconds(CATCH_UP_LAG_SECONDS, 1.0) == SLICE_SECONDS


def test_a_waiting_backlog_takes_a_share_that_grows_with_its_wait():
    away = 0.004
    two_lags = slice_seconds(2 * CATCH_UP_LAG_SECONDS, away)
    three_lags = slice_seconds(3 * CATCH_UP_LAG_SECONDS, away)
    assert two_lags == pytest.approx(2 * away)
    assert three_lags == pytest.approx(3 * away)
    assert three_lags > two_lags > SLICE_SECONDS


def test_slices_stay_within_their_bounds():
    assert slice_seconds(3600.0, 10.0) == MAX_SLICE_SECONDS  # answers wait at most this
    assert slice_seconds(1.0, 0.0) == SLICE_SECONDS  # never less than a fresh slice


async def test_a_late_backlog_is_not_starved_by_a_saturated_receiver(store: Store):
    """A receiver that always has work gets turns, but no longer one per delivery.

    The receiver is played by a task that works for 2 ms on every turn of the loop.
    Handing the loop back after every delivery (as the pipeline once did) gave the
    receiver about 85% of the time here; it now gets about half while the backlog drains
    (the rest of its turns fall while the pipeline waits on the database).
    """
    hook = await store.hooks.create(
        service="github", destination="console", token="t", secret="s", now=1.0
    )
    count = 200
    deliveries = [
        NewDelivery(
            hook.id,
            "github",
            f"d{n}",
            "push",
            {
                "x-github-event": "push",
                "x-github-delivery": f"d{n}",
                "content-type": "application/json",
            },
            sample("github/push"),
            1.0,  # accepted long ago: the backlog is late
        )
        for n in range(count)
    ]
    await store.inbox.write_batch(deliveries, [])
    busy = 0.0
    stop = asyncio.Event()

    async def saturated_receiver() -> None:
        nonlocal busy
        while not stop.is_set():
            began = time.perf_counter()
            while time.perf_counter() - began < 0.002:
                hashlib.sha256(CHUNK)  # releases the GIL, as a receiver's socket calls do
            busy += time.perf_counter() - began
            await asyncio.sleep(0)

    receiver = asyncio.create_task(saturated_receiver())
    pipeline = Pipeline(store, on_queued=lambda: None, clock=lambda: 100.0)
    began = time.perf_counter()
    pipeline.start()
    await pipeline.stop(drain_seconds=120)
    elapsed = time.perf_counter() - began
    stop.set()
    await receiver
    assert await store.inbox.pending(10) == []
    assert len(await store.outbox.rows()) == count
    assert 0 < busy < 0.7 * elapsed
