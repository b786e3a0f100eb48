"""Aggregation windows with an injected clock: hold, flush on time, survive restarts."""

from __future__ import annotations

import json
from pathlib import Path

from bot.pipeline import Pipeline
from bot.store import NewDelivery, Store
from bot.windows import WindowFlusher, window_end
from tests.conftest import sample

T0 = 1_800_000_000.0  # a multiple of 300 s: 2027-01-15 08:00:00 UTC


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _push(branch: str, delivery: str) -> tuple[str, dict[str, str], bytes]:
    payload = json.loads(sample("github/push"))
    payload["ref"] = f"refs/heads/{branch}"
    headers = {
        "x-github-event": "push",
        "x-github-delivery": delivery,
        "content-type": "application/json",
    }
    return delivery, headers, json.dumps(payload).encode()


async def _hook_with_window(store: Store, seconds: int) -> str:
    hook = await store.hooks.create(
        service="github", destination="console", token="t", secret="s", now=1.0
    )
    await store.hooks.update(hook.id, 2.0, window_seconds=seconds)
    return hook.id


async def _deliver(
    store: Store, clock: Clock, hook_id: str, *pushes: tuple[str, dict[str, str], bytes]
) -> None:
    await store.inbox.write_batch(
        [NewDelivery(hook_id, "github", d, "push", h, b, clock.now) for d, h, b in pushes], []
    )
    pipeline = Pipeline(store, on_queued=lambda: None, clock=clock)
    for row in await store.inbox.pending(100):
        await pipeline.process(row)


def test_window_end_is_utc_aligned():
    """5m windows end at :00, :05, …; 24h windows at 00:00 UTC."""
    assert window_end(T0, 300) == T0 + 300
    assert window_end(T0 + 299.9, 300) == T0 + 300
    assert window_end(T0 + 1, 86400) % 86400 == 0


async def test_windows_hold_then_flush_one_digest_at_the_end(store: Store):
    """Three pushes in a 5m window: nothing queued until the window ends, then one digest."""
    clock = Clock(T0 + 10)
    hook_id = await _hook_with_window(store, 300)
    await _deliver(
        store, clock, hook_id, _push("main", "a"), _push("feature-oauth", "b"), _push("dev", "c")
    )
    assert await store.outbox.rows() == []
    assert await store.windows.held_count(hook_id) == 3
    flusher = WindowFlusher(store, on_queued=lambda: None, clock=clock)
    assert await flusher.flush_due(T0 + 299) == 0
    assert await flusher.flush_due(T0 + 300) == 1
    (row,) = await store.outbox.rows()
    digest = json.loads(row.payload)
    text = json.dumps(digest, ensure_ascii=False)
    assert "📊 GitHub Activity (last 5m)" in text
    assert "Pushes:** 3 (main, feature-oauth, dev)" in text
    assert await store.windows.held_count(hook_id) == 0
    assert await flusher.flush_due(T0 + 600) == 0, "an empty window posts nothing"


async def test_windows_survive_a_restart_mid_window(tmp_path: Path):
    """Events held before a restart are in the digest after it."""
    path = str(tmp_path / "db.sqlite")
    clock = Clock(T0 + 10)
    store = await Store.open(path)
    hook_id = await _hook_with_window(store, 300)
    await _deliver(store, clock, hook_id, _push("main", "a"))
    await store.close()
    store = await Store.open(path)
    clock.now = T0 + 100
    await _deliver(store, clock, hook_id, _push("dev", "b"))
    await WindowFlusher(store, lambda: None, clock).flush_due(T0 + 300)
    (row,) = await store.outbox.rows()
    assert "Pushes:** 2 (main, dev)" in row.payload
    await store.close()


async def test_windows_missed_while_down_flush_at_startup(store: Store):
    """A window that ended while the process was down is flushed on the first pass."""
    clock = Clock(T0 + 10)
    hook_id = await _hook_with_window(store, 60)
    await _deliver(store, clock, hook_id, _push("main", "a"))
    later = Clock(T0 + 3 * 3600)  # the process was down for hours
    assert await WindowFlusher(store, lambda: None, later).flush_due(later.now) == 1
    assert len(await store.outbox.rows()) == 1


async def test_windows_off_releases_held_events(store: Store):
    """`aggregate off` makes held events due at once."""
    clock = Clock(T0 + 10)
    hook_id = await _hook_with_window(store, 3600)
    await _deliver(store, clock, hook_id, _push("main", "a"))
    assert await store.windows.end_now(hook_id, clock.now) == 1
    assert await WindowFlusher(store, lambda: None, clock).flush_due(clock.now) == 1


async def test_windows_each_window_gets_its_own_digest(store: Store):
    """Events in two different windows make two digests, in order."""
    clock = Clock(T0 + 10)
    hook_id = await _hook_with_window(store, 60)
    await _deliver(store, clock, hook_id, _push("main", "a"))
    clock.now = T0 + 70
    await _deliver(store, clock, hook_id, _push("dev", "b"))
    assert await WindowFlusher(store, lambda: None, clock).flush_due(T0 + 200) == 2
    rows = await store.outbox.rows()
    assert ["main" in rows[0].payload, "dev" in rows[1].payload] == [True, True]
