"""Forwards over HTTP: signatures, retries, Retry-After, 4xx, redirects, quota, the ledger.

Every request goes to a receiver on 127.0.0.1 (allowed by HOOKBOT_FORWARD_ALLOW's test
value 127.0.0.1/32). Time is a test clock moved by the outbox's sleeps, except in the one
real-time test.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from standardwebhooks import Webhook

from bot.delivery.destinations import Forwards, forward_key, sink_factory
from bot.delivery.guard import parse_allow
from bot.delivery.http import ForwardRequest, forward_delay, guarded_session, parse_retry_after
from bot.delivery.outbox import Outbox
from bot.delivery.quota import HourlyQuota
from bot.store import DEAD, DONE, Completion, Direction, NewDelivery, NewOutbox, Store

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ALLOW = parse_allow("127.0.0.1/32")


class Clock:
    """A test clock; `sleep` moves it instead of waiting."""

    def __init__(self) -> None:
        self.now = time.time()  # standardwebhooks checks timestamps against the real time

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


@dataclass
class Receiver:
    """A local endpoint: scripted answers, every request kept with the clock's time."""

    url: str
    answers: list[web.StreamResponse] = field(default_factory=list)
    requests: list[tuple[float, dict[str, str], bytes]] = field(default_factory=list)
    clock: Callable[[], float] = time.time


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """An HTTP endpoint on 127.0.0.1 (also /redirected, which must never be reached)."""
    found = Receiver(url="")

    async def hit(request: web.Request) -> web.StreamResponse:
        found.requests.append((found.clock(), dict(request.headers), await request.read()))
        return found.answers.pop(0) if found.answers else web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hit)
    app.router.add_post("/redirected", hit)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    found.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield found
    await runner.cleanup()


async def _queue(store: Store, request: ForwardRequest, count: int = 1) -> str:
    hook = await store.hooks.create(
        service="github", destination="console", token="t", secret="s", now=1.0
    )
    await store.inbox.write_batch([NewDelivery(hook.id, "github", "d", "push", {}, b"{}", 1.0)], [])
    (row,) = await store.inbox.pending(1)
    rows = [
        NewOutbox(forward_key(1), request.to_json(), f"fw{i}", hook.id, f"d{i}", 0.0)
        for i in range(count)
    ]
    await store.inbox.complete([Completion(row.id, rows)])
    return hook.id


async def _deliver(
    store: Store,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
    until: Callable[[], Awaitable[bool]],
    *,
    quota: int | None = None,
    timeout: float = 10.0,
) -> None:
    async def secret_of(forward_id: int) -> str | None:
        return SECRET if forward_id == 1 else None

    async with guarded_session(ALLOW) as session:
        limit = {} if quota is None else {"quota": quota}
        forwards = Forwards(session, secret_of, ALLOW, clock, **limit)  # type: ignore[arg-type]
        outbox = Outbox(store, sink_factory(session, forwards=forwards), clock, sleep=sleep)
        await outbox.start()
        try:
            async with asyncio.timeout(timeout):
                while not await until():
                    await asyncio.sleep(0.01)
        finally:
            await outbox.stop(grace=1.0)


def _request(url: str, **options: object) -> ForwardRequest:
    body = json.dumps({"type": "push", "id": "d0", "data": {"title": "hi"}})
    return ForwardRequest(url=url, body=body, event="push", **options)  # type: ignore[arg-type]


async def _states(store: Store) -> list[int]:
    return [r.status for r in await store.outbox.rows()]


async def test_both_signatures_verify(store: Store, receiver: Receiver):
    """The receiver verifies the standardwebhooks signature and the plain HMAC of the body."""
    clock = Clock()
    receiver.clock = clock
    request = _request(receiver.url, headers=(("X-Team", "ops"), ("webhook-id", "forged")))
    await _queue(store, request)
    await _deliver(store, clock, clock.sleep, lambda: _done(store))
    ((_, headers, body),) = receiver.requests
    assert body == request.body.encode()
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["webhook-id"] == "msg_fw0", "the user's header cannot replace webhook-id"
    assert lowered["webhook-timestamp"] == str(int(clock.now))
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert lowered["x-hookbot-signature-256"] == f"sha256={expected}"
    assert lowered["x-hookbot-event"] == "push"
    assert lowered["x-hookbot-delivery"] == "d0"
    assert lowered["x-team"] == "ops"
    assert lowered["content-type"] == "application/json"


async def test_signature_verifies_with_standardwebhooks_at_real_time(store: Store, receiver):
    """With the real clock, the request's own headers pass Webhook.verify unchanged."""
    await _queue(store, _request(receiver.url))
    await _deliver(store, time.time, asyncio.sleep, lambda: _done(store))
    ((_, headers, body),) = receiver.requests
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)
    with pytest.raises(Exception):  # noqa: B017, PT011 - any refusal will do
        Webhook("whsec_" + "A" * 32).verify(body, headers)


async def _done(store: Store) -> bool:
    return all(s in (DONE, DEAD) for s in await _states(store))


async def test_500_three_times_then_200_is_delivered_once_at_2_4_8(store: Store, receiver):
    """Attempts at 0, +2, +4, +8 s (test clock); done once; every try is in the ledger."""
    clock = Clock()
    receiver.clock = clock
    receiver.answers += [web.Response(status=500, text="boom") for _ in range(3)]
    hook_id = await _queue(store, _request(receiver.url))
    await _deliver(store, clock, clock.sleep, lambda: _done(store))
    times = [at for at, _, _ in receiver.requests]
    assert [round(b - a, 1) for a, b in itertools.pairwise(times)] == [2.0, 4.0, 8.0]
    assert await _states(store) == [DONE]
    out = [e for e in await store.ledger.recent(hook_id) if e.direction == Direction.OUT]
    assert [(e.outcome, e.status_code, e.attempt) for e in out] == [
        ("retry", 500, 1),
        ("retry", 500, 2),
        ("retry", 500, 3),
        ("sent", 200, 4),
    ]
    assert all(e.destination == "forward:1" for e in out)
    assert all(e.response_ms is not None and e.response_ms >= 0 for e in out)
    assert out[0].error is not None
    assert "500" in out[0].error


async def test_retries_run_out_and_the_row_is_kept_failed(store: Store, receiver):
    """--retries 1: two tries, then dead, with the reason in the ledger."""
    clock = Clock()
    receiver.answers += [web.Response(status=503) for _ in range(5)]
    hook_id = await _queue(store, _request(receiver.url, retries=1))
    await _deliver(store, clock, clock.sleep, lambda: _done(store))
    assert len(receiver.requests) == 2
    assert await _states(store) == [DEAD]
    last = (await store.ledger.recent(hook_id, failed_only=True))[-1]
    assert last.outcome == "dead"
    assert last.error is not None
    assert "503" in last.error


@pytest.mark.parametrize("status", [400, 404, 410, 422])
async def test_other_4xx_fails_at_once(store: Store, receiver, status: int):
    """No retry for a 4xx other than 429."""
    clock = Clock()
    receiver.answers.append(web.Response(status=status, text="no"))
    await _queue(store, _request(receiver.url))
    await _deliver(store, clock, clock.sleep, lambda: _done(store))
    assert len(receiver.requests) == 1
    assert await _states(store) == [DEAD]


async def test_429_retry_after_is_honoured(store: Store, receiver):
    """A 429 with Retry-After: 30 waits 30 s, not the 2 s of the schedule."""
    clock = Clock()
    receiver.clock = clock
    receiver.answers.append(web.Response(status=429, headers={"Retry-After": "30"}))
    await _queue(store, _request(receiver.url))
    await _deliver(store, clock, clock.sleep, lambda: _done(store))
    first, second = (at for at, _, _ in receiver.requests)
    assert second - first == pytest.approx(30.0)
    assert await _states(store) == [DONE]


async def test_redirects_are_not_followed(store: Store, receiver):
    """A 302 fails the delivery; the Location is never requested."""
    clock = Clock()
    target = receiver.url.replace("/hook", "/redirected")
    receiver.answers.append(web.Response(status=302, headers={"Location": target}))
    hook_id = await _queue(store, _request(receiver.url))
    await _deliver(store, clock, clock.sleep, lambda: _done(store))
    assert len(receiver.requests) == 1
    assert await _states(store) == [DEAD]
    last = (await store.ledger.recent(hook_id))[-1]
    assert last.status_code == 302
    assert last.error is not None
    assert "not followed" in last.error


async def test_a_timeout_counts_as_a_failure(store: Store):
    """An endpoint slower than --timeout: the try fails and is retried, then given up."""

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2.0)
        return web.Response()

    app = web.Application()
    app.router.add_post("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/slow"
    try:
        clock = Clock()
        hook_id = await _queue(store, _request(url, timeout=0.2, retries=1))
        await _deliver(store, clock, clock.sleep, lambda: _done(store))
    finally:
        await runner.cleanup()
    assert await _states(store) == [DEAD]
    errors = [e.error for e in await store.ledger.recent(hook_id, failed_only=True)]
    assert any(e and "timed out" in e for e in errors)


async def test_private_address_is_refused_at_send_time(store: Store, receiver):
    """Without the allow list, 127.0.0.1 is refused before any packet is sent."""
    clock = Clock()

    async def secret_of(forward_id: int) -> str | None:
        return SECRET

    await _queue(store, _request(receiver.url))
    async with guarded_session(()) as session:
        outbox = Outbox(
            store, sink_factory(session, forwards=Forwards(session, secret_of, (), clock)), clock
        )
        await outbox.start()
        try:
            async with asyncio.timeout(5):
                while not await _done(store):
                    await asyncio.sleep(0.01)
        finally:
            await outbox.stop(grace=1.0)
    assert receiver.requests == []
    assert await _states(store) == [DEAD]


async def test_localhost_name_is_checked_after_resolution(store: Store, receiver):
    """`localhost` resolves to loopback: refused without the allow list, sent with it."""
    clock = Clock()
    url = receiver.url.replace("127.0.0.1", "localhost")
    await _queue(store, _request(url))

    async def secret_of(forward_id: int) -> str | None:
        return SECRET

    async with guarded_session(()) as session:
        outbox = Outbox(
            store, sink_factory(session, forwards=Forwards(session, secret_of, (), clock)), clock
        )
        await outbox.start()
        try:
            async with asyncio.timeout(5):
                while not await _done(store):
                    await asyncio.sleep(0.01)
        finally:
            await outbox.stop(grace=1.0)
    assert receiver.requests == []
    assert await _states(store) == [DEAD]


async def test_quota_holds_the_excess_and_sends_it_later(store: Store, receiver):
    """With a quota of 3 an hour, the 4th waits an hour (test clock), then goes: none lost."""
    clock = Clock()
    receiver.clock = clock
    await _queue(store, _request(receiver.url), count=4)
    await _deliver(store, clock, clock.sleep, lambda: _done(store), quota=3)
    times = [at for at, _, _ in receiver.requests]
    assert len(times) == 4
    assert times[2] - times[0] < 1.0
    assert times[3] - times[0] == pytest.approx(3600.0)
    assert await _states(store) == [DONE] * 4


def test_hourly_quota_window_slides():
    """1,000 sends fill the hour; the 1,001st waits until the first leaves the window."""
    clock = Clock()
    quota = HourlyQuota(clock)
    for _ in range(1000):
        assert quota.wait_seconds() == 0.0
        quota.record()
        clock.now += 1.0
    assert quota.wait_seconds() == pytest.approx(3600.0 - 1000.0)
    clock.now += 2600.0
    assert quota.wait_seconds() == 0.0


def test_retry_schedule_and_retry_after():
    """2, 4, 8 … capped at 60 s; None after the last retry; Retry-After as a floor."""
    assert [forward_delay(n, 10, None, 2.0) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert forward_delay(4, 3, None, 2.0) is None
    assert forward_delay(1, 0, None, 2.0) is None
    assert forward_delay(1, 3, 30.0, 2.0) == 30.0
    assert parse_retry_after("12", 0.0) == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480.0) == 10.0
    assert parse_retry_after("soon", 0.0) is None


async def test_real_time_schedule_is_2_4_8_seconds(store: Store, receiver):
    """The real clock: 500, 500, 500, 200 arrive about 2, 4 and 8 s apart (≈ 14 s)."""
    receiver.answers += [web.Response(status=500) for _ in range(3)]
    await _queue(store, _request(receiver.url))
    await _deliver(store, time.time, asyncio.sleep, lambda: _done(store), timeout=25.0)
    times = [at for at, _, _ in receiver.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 3
    for gap, expected in zip(gaps, [2.0, 4.0, 8.0], strict=True):
        assert expected - 0.1 <= gap <= expected + 1.5
    assert await _states(store) == [DONE]


async def test_unreachable_endpoint_is_retried(store: Store):
    """A closed port is a network error: retried, then given up (no 4xx shortcut)."""
    clock = Clock()
    await _queue(store, _request("http://127.0.0.1:9/none", retries=2))
    await _deliver(store, clock, clock.sleep, lambda: _done(store))
    rows = await store.outbox.rows()
    assert [r.status for r in rows] == [DEAD]
    assert rows[0].attempts == 3


async def test_service_adds_tests_and_refuses_forwards(store: Store, receiver: Receiver):
    """HookService: checks at command time; `test` sends at once and writes the ledger."""
    from bot.core.verbs import AddForward
    from bot.service import HookService, InvalidInputError

    closed = HookService(store, "http://127.0.0.1:8080")
    service = HookService(store, "http://127.0.0.1:8080", forward_allow=ALLOW)
    creds = await service.create("github", "console")
    hook_id = creds.hook.id
    with pytest.raises(InvalidInputError, match="loopback"):
        await closed.add_forward(hook_id, AddForward(url=receiver.url))
    with pytest.raises(InvalidInputError, match="set by hookbot"):
        await service.add_forward(
            hook_id, AddForward(url=receiver.url, headers=(("webhook-signature", "x"),))
        )
    with pytest.raises(InvalidInputError, match="line 2"):
        await service.add_forward(hook_id, AddForward(url=receiver.url, body='{\n"a": oops}'))
    assert (await service.list_forwards(hook_id))[1] == []

    _, added = await service.add_forward(hook_id, AddForward(url=receiver.url, retries=0))
    assert added.number == 1
    assert added.secret.startswith("whsec_")
    receiver.answers.append(web.Response(status=410, text="gone"))
    _, _, failed = await service.test_forward(hook_id, 1)
    assert failed.failed
    assert failed.status_code == 410
    _, _, sent = await service.test_forward(hook_id, 1)
    assert not sent.failed
    assert sent.status_code == 200
    ((_, headers, body), _) = receiver.requests
    assert Webhook(added.secret).verify(body, headers)["hook"] == hook_id
    lines = [e for e in await store.ledger.recent(hook_id) if e.direction == Direction.OUT]
    assert [(e.outcome, e.status_code) for e in lines] == [("failed", 410), ("sent", 200)]
    with pytest.raises(InvalidInputError, match="1 forward"):
        await service.test_forward(hook_id, 2)


async def test_replay_sends_a_failed_forward_request_again(store: Store, receiver: Receiver):
    """Out of tries → dead; retry_forwards (what `replay` does first) sends it again, same id."""
    from bot.core.verbs import AddForward
    from bot.pipeline import Pipeline
    from bot.service import HookService
    from tests.conftest import sample

    clock = Clock()
    service = HookService(store, "http://127.0.0.1:8080", forward_allow=ALLOW)
    hook = (await service.create("github", "console")).hook
    _, added = await service.add_forward(hook.id, AddForward(url=receiver.url, retries=0))
    headers = {"x-github-event": "push", "content-type": "application/json"}
    delivery = NewDelivery(hook.id, "github", "d-9", "push", headers, sample("github/push"), 1.0)
    await store.inbox.write_batch([delivery], [])
    (row,) = await store.inbox.pending(1)
    await Pipeline(store, on_queued=lambda: None, clock=clock).process(row)
    forward_rows = [r for r in await store.outbox.rows() if r.destination == added.destination]
    assert len(forward_rows) == 1

    async def forward_done() -> bool:
        rows = [r for r in await store.outbox.rows() if r.destination == added.destination]
        return all(r.status in (DONE, DEAD) for r in rows)

    async def secret_of(forward_id: int) -> str | None:
        return await store.forwards.secret(forward_id)

    async def run() -> None:
        async with guarded_session(ALLOW) as session:
            forwards = Forwards(session, secret_of, ALLOW, clock)
            outbox = Outbox(
                store, sink_factory(session, forwards=forwards), clock, sleep=clock.sleep
            )
            await outbox.start()
            try:
                async with asyncio.timeout(10):
                    while not await forward_done():
                        await asyncio.sleep(0.01)
            finally:
                await outbox.stop(grace=1.0)

    receiver.answers.append(web.Response(status=503))
    await run()
    assert [r.status for r in await store.outbox.rows() if r.destination == added.destination] == [
        DEAD
    ]
    assert await service.retry_forwards("no-such-delivery") is None
    retried = await service.retry_forwards("d-9")
    assert retried is not None
    assert retried[0].id == hook.id
    assert retried[1] == 1
    await run()
    assert [r.status for r in await store.outbox.rows() if r.destination == added.destination] == [
        DONE
    ]
    first, second = (headers["webhook-id"] for _, headers, _ in receiver.requests)
    assert first == second
    assert await service.retry_forwards("d-9") is None, "nothing failed any more"
