"""Outbox: retries with backoff honouring retry_after, permanent failures, order, nonces."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.outbox import BACKOFF_CAP, Outbox, backoff
from bot.sinks import PermanentSinkError, TransientSinkError
from bot.store import DEAD, DONE, NewDelivery, NewOutbox, Store
from formatters.message import Message, message_to_json


class ScriptedSink:
    """A sink that fails as scripted, then records what it sends."""

    def __init__(self, failures: list[Exception]) -> None:
        self.key = "console"
        self.failures = failures
        self.sent: list[str] = []
        self.calls = 0

    async def send(self, message: Message, *, nonce: str) -> str | None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message.content)
        return "receipt"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _queue(store: Store, contents: list[str], destination: str = "console") -> str:
    hook = await store.hooks.create(
        service="github", destination=destination, token="t", secret="s", now=1.0
    )
    await store.inbox.write_batch([NewDelivery(hook.id, "github", "d", "push", {}, b"{}", 1.0)], [])
    (row,) = await store.inbox.pending(1)
    rows = [
        NewOutbox(
            destination, json.dumps(message_to_json(Message(content=c))), f"n{i}", hook.id, "d", 0.0
        )
        for i, c in enumerate(contents)
    ]
    await store.inbox.complete(row.id, rows, [], None)
    return hook.id


async def _run_until(outbox: Outbox, done: callable, timeout: float = 5.0) -> None:  # type: ignore[valid-type]
    await outbox.start()
    try:
        async with asyncio.timeout(timeout):
            while not await done():
                await asyncio.sleep(0.01)
    finally:
        await outbox.stop(grace=1.0)


def test_backoff_grows_and_is_capped():
    """Delays double per attempt with jitter, never exceed the cap, and honour retry_after."""
    assert backoff(1, None, lambda: 1.0) == 1.0
    assert backoff(4, None, lambda: 1.0) == 8.0
    assert backoff(4, None, lambda: 0.0) == 4.0
    assert backoff(40, None, lambda: 1.0) == BACKOFF_CAP
    assert backoff(1, 12.5, lambda: 1.0) == 12.5


async def test_outbox_transient_error_is_retried_with_retry_after(store: Store):
    """A 429 reschedules the row at retry_after; the next try sends it; done after success."""
    clock = Clock()
    sink = ScriptedSink([TransientSinkError("429", retry_after=30.0)])
    await _queue(store, ["hello"])
    outbox = Outbox(store, lambda _key: sink, clock, rng=lambda: 0.0)

    async def rescheduled() -> bool:
        return sink.calls == 1 and (await store.outbox.rows())[0].status == 0

    await _run_until(outbox, rescheduled)
    (row,) = await store.outbox.rows()
    assert row.not_before == pytest.approx(1030.0)
    clock.now = 1031.0

    async def sent() -> bool:
        return (await store.outbox.rows())[0].status == DONE

    await _run_until(Outbox(store, lambda _key: sink, clock), sent)
    assert sink.sent == ["hello"]


async def test_outbox_permanent_error_kills_rows_and_marks_hook_failing(store: Store):
    """A 404 makes the row dead, marks the hook failing and stops calling the destination."""
    sink = ScriptedSink([PermanentSinkError("HTTP 404: Unknown Webhook")])
    hook_id = await _queue(store, ["a", "b", "c"], destination="webhook:http://x/webhooks/1/t")
    outbox = Outbox(store, lambda _key: sink, Clock())

    async def all_dead() -> bool:
        return [r.status for r in await store.outbox.rows()] == [DEAD, DEAD, DEAD]

    await _run_until(outbox, all_dead)
    assert sink.calls == 1, "no further calls to a destination that failed permanently"
    hook = await store.hooks.get(hook_id)
    assert hook is not None
    assert hook.failing is not None
    assert "404" in hook.failing
    entries = await store.log.recent(hook_id)
    assert any(e.outcome == "dead" and "404" in (e.detail or "") for e in entries)


async def test_outbox_sends_in_order_per_destination(store: Store):
    """Rows of one destination go out in the order they were queued."""
    sink = ScriptedSink([])
    await _queue(store, [f"m{i}" for i in range(30)])
    outbox = Outbox(store, lambda _key: sink, Clock())

    async def all_sent() -> bool:
        return len(sink.sent) == 30

    await _run_until(outbox, all_sent)
    assert sink.sent == [f"m{i}" for i in range(30)]
