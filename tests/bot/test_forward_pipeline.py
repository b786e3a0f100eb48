"""The pipeline queues one outbox row per forward; the ledger records each try out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bot.delivery.destinations import sink_factory
from bot.delivery.http import ForwardRequest
from bot.delivery.outbox import Outbox
from bot.pipeline import Pipeline
from bot.store import DONE, READY, Direction, NewDelivery, Store
from tests.conftest import sample

TOKEN = "T0k3n-" + "x" * 60


async def _deliver(store: Store, hook_id: str, event: str = "push", name: str = "push") -> None:
    headers = {
        "x-github-event": event,
        "x-github-delivery": "d1",
        "content-type": "application/json",
    }
    await store.inbox.write_batch(
        [NewDelivery(hook_id, "github", "d1", event, headers, sample(f"github/{name}"), 3.0)], []
    )
    pipeline = Pipeline(store, on_queued=lambda: None, clock=lambda: 10.0)
    (row,) = await store.inbox.pending(10)
    await pipeline.process(row)


async def _hook(store: Store) -> str:
    hook = await store.hooks.create(
        service="github", destination="console", token="t", secret="s", now=1.0
    )
    return hook.id


async def test_each_forward_gets_a_row_with_the_default_body(store: Store):
    """Two forwards: two rows besides the console's, with the designed body and headers."""
    hook_id = await _hook(store)
    one = await store.forwards.add(hook_id, "https://a.example/in", "whsec_a", 1.0)
    two = await store.forwards.add(
        hook_id, "https://b.example/in", "whsec_b", 1.0, headers=[("X-Team", "ops")]
    )
    await _deliver(store, hook_id)
    rows = {row.destination: row for row in await store.outbox.rows()}
    assert set(rows) == {"console", one.destination, two.destination}
    assert all(row.status == READY for row in rows.values())
    request = ForwardRequest.from_json(rows[two.destination].payload)
    assert request.url == "https://b.example/in"
    assert request.headers == (("X-Team", "ops"),)
    assert request.event == "push"
    body = json.loads(request.body)
    assert body["type"] == "push"
    assert body["id"] == "d1"
    assert body["hook"] == hook_id
    assert body["data"]["service"] == "github"
    assert "secret" not in rows[two.destination].payload.lower()


async def test_forward_events_choose_what_it_gets(store: Store):
    """A forward with --events release gets no push; the console still does."""
    hook_id = await _hook(store)
    await store.forwards.add(hook_id, "https://a.example/in", "whsec_a", 1.0, events=["release"])
    await _deliver(store, hook_id)
    assert [row.destination for row in await store.outbox.rows()] == ["console"]


async def test_a_body_template_failing_at_send_time_falls_back_and_says_why(store: Store):
    """A template reading a field a push lacks: the default body goes; info's error says so."""
    hook_id = await _hook(store)
    forward = await store.forwards.add(
        hook_id, "https://a.example/in", "whsec_a", 1.0, body='{"n": {{ pr.number|tojson }}}'
    )
    await _deliver(store, hook_id)
    (row,) = [r for r in await store.outbox.rows() if r.destination == forward.destination]
    request = ForwardRequest.from_json(row.payload)
    assert json.loads(request.body)["type"] == "push"
    assert request.body_error is not None
    hook = await store.hooks.get(hook_id)
    assert hook is not None
    assert hook.last_error is not None
    assert "default body" in hook.last_error
    outcomes = [e.outcome for e in await store.ledger.recent(hook_id)]
    assert "template-error" in outcomes


async def test_removing_a_forward_drops_its_queued_rows(store: Store):
    """remove: the forward's ready rows go dead, the console's stay."""
    hook_id = await _hook(store)
    forward = await store.forwards.add(hook_id, "https://a.example/in", "whsec_a", 1.0)
    await _deliver(store, hook_id)
    assert await store.forwards.remove(forward.id, "the forward was removed") == 1
    states = {row.destination: row.status for row in await store.outbox.rows()}
    assert states["console"] == READY
    assert states[forward.destination] != READY
    assert await store.forwards.secret(forward.id) is None
    assert await store.forwards.of_hook(hook_id) == []


@pytest.fixture
async def discord_webhook() -> AsyncIterator[tuple[str, list[int]]]:
    """A Discord-shaped channel webhook on 127.0.0.1 answering scripted statuses."""
    answers: list[int] = []

    async def execute(request: web.Request) -> web.Response:
        status = answers.pop(0) if answers else 200
        return web.json_response({"id": "9", "retry_after": 0.0}, status=status)

    app = web.Application()
    app.router.add_post("/api/webhooks/{id}/{token}", execute)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/api/webhooks/1/{TOKEN}", answers
    await runner.cleanup()


async def test_discord_webhook_tries_are_in_the_ledger_without_the_token(
    store: Store, discord_webhook
):
    """A 500 then a 200: two out lines, status codes and tries, the webhook token masked."""
    url, answers = discord_webhook
    answers.append(500)
    hook = await store.hooks.create(
        service="github", destination=f"webhook:{url}", token="t", secret="s", now=1.0
    )
    await _deliver(store, hook.id)
    now = [100.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds
        await asyncio.sleep(0)

    async with aiohttp.ClientSession() as session:
        outbox = Outbox(store, sink_factory(session), lambda: now[0], rng=lambda: 0.0, sleep=sleep)
        await outbox.start()
        try:
            async with asyncio.timeout(10):
                while [r.status for r in await store.outbox.rows()] != [DONE]:
                    await asyncio.sleep(0.01)
        finally:
            await outbox.stop(grace=1.0)
    out = [e for e in await store.ledger.recent(hook.id) if e.direction == Direction.OUT]
    assert [(e.outcome, e.status_code, e.attempt) for e in out] == [
        ("retry", 500, 1),
        ("sent", 200, 2),
    ]
    for entry in out:
        assert TOKEN not in (entry.destination or "")
        assert (entry.destination or "").endswith("/api/webhooks/1/***")
        assert entry.response_ms is not None
