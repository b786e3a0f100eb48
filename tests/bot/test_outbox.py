"""Outbox: retries with backoff honouring retry_after, permanent failures, order, nonces."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.delivery.base import PermanentSinkError, RejectedMessageError, TransientSinkError
from bot.delivery.messages import BACKOFF_CAP, backoff, coalesce, group_size
from bot.delivery.outbox import Outbox
from bot.store import DEAD, DONE, Completion, NewDelivery, NewOutbox, OutboxRow, Store
from formatters.message import Embed, Message, message_to_json


class ScriptedSink:
    """A sink that fails as scripted, then records what it sends."""

    def __init__(self, failures: list[Exception]) -> None:
        self.key = "console"
        self.coalesces = True
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
    await store.inbox.complete([Completion(row.id, rows)])
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
        return "\n".join(sink.sent).count("m") == 30

    await _run_until(outbox, all_sent)
    assert "\n".join(sink.sent).split("\n") == [f"m{i}" for i in range(30)]


def _row(message: Message, row_id: int = 1) -> OutboxRow:
    payload = json.dumps(message_to_json(message))
    return OutboxRow(row_id, "console", payload, f"n{row_id}", 0, 0.0, "hook_001", "d")


def test_group_size_takes_up_to_ten_embeds():
    """Embed messages group up to 10 embeds."""
    rows = [_row(Message(embeds=(Embed(title=f"t{i}"),)), i) for i in range(14)]
    assert group_size(rows) == 10


def test_group_size_respects_the_6000_total():
    """Embeds whose sizes add past 6,000 characters go in the next post."""
    rows = [_row(Message(embeds=(Embed(description="x" * 2500),)), i) for i in range(5)]
    assert group_size(rows) == 2


def test_group_size_joins_content_up_to_2000_and_never_mixes():
    """Content-only messages join up to 2,000 characters and stop at an embed message."""
    rows = [_row(Message(content="y" * 999), i) for i in range(3)]
    assert group_size(rows) == 2
    mixed = [_row(Message(content="a")), _row(Message(embeds=(Embed(title="t"),)), 2)]
    assert group_size(mixed) == 1
    assert group_size([_row(Message(content="c", embeds=(Embed(title="t"),)))] * 3) == 1


def test_coalesce_joins_in_order():
    """A group becomes one message: embeds concatenated, or contents joined by lines."""
    embeds = [Message(embeds=(Embed(title="a"),)), Message(embeds=(Embed(title="b"),))]
    assert [e.title for e in coalesce(embeds).embeds] == ["a", "b"]
    assert coalesce([Message(content="a"), Message(content="b")]).content == "a\nb"


async def test_outbox_refused_message_dies_alone(store: Store):
    """A 400 for one message kills that row only; the destination keeps working."""
    sink = ScriptedSink([RejectedMessageError("HTTP 400: Invalid Form Body")])
    hook_id = await _queue(store, ["bad", "good"], destination="webhook:http://x/webhooks/1/t")
    sink.coalesces = False
    outbox = Outbox(store, lambda _key: sink, Clock())

    async def both_done() -> bool:
        return [r.status for r in await store.outbox.rows()] == [DEAD, DONE]

    await _run_until(outbox, both_done)
    assert sink.sent == ["good"]
    hook = await store.hooks.get(hook_id)
    assert hook is not None
    assert hook.failing is None
