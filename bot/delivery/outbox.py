"""Delivery workers: one per destination; retries with backoff and jitter; the ledger."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Sequence

from bot.aio import wait_event
from bot.delivery.sinks import (
    PermanentSinkError,
    RejectedMessageError,
    Sink,
    SinkFactory,
    TransientSinkError,
)
from bot.redact import redact
from bot.store import OutboxRow, Store, StoreError
from formatters.message import LIMITS, Message, embed_size, message_from_json

log = logging.getLogger(__name__)

BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0
POLL_SECONDS = 5.0
SEND_TIMEOUT = 60.0
NONCE_LENGTH = 25
LINGER_SECONDS = 0.25
BURST_ROWS_PER_SECOND = 8  # Discord allows about 1 post/s per channel


def backoff(attempts: int, retry_after: float | None, rng: Callable[[], float]) -> float:
    """Return the delay before the next try: exponential with jitter, at least retry_after."""
    exponential: float = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** max(0, attempts - 1))
    delay = exponential * (0.5 + rng() / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def make_nonce(hook_id: str, delivery_id: str, part: int | str) -> str:
    """Return a stable nonce (≤ 25 characters, Discord's limit) for one outbox row."""
    digest = hashlib.sha256(f"{hook_id}\0{delivery_id}\0{part}".encode()).hexdigest()
    return digest[:NONCE_LENGTH]


class Outbox:
    """Deliver queued messages: one worker task per destination, in order, retried."""

    def __init__(
        self,
        store: Store,
        sinks: SinkFactory,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        upstream_idle: asyncio.Event | None = None,
    ) -> None:
        self._store = store
        self._sinks = sinks
        self._clock = clock
        self._rng = rng
        self.upstream_idle = upstream_idle  # set once the pipeline exists
        self._wake = asyncio.Event()
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._claimed: dict[str, collections.deque[tuple[float, int]]] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def worker_count(self) -> int:
        """Return how many destination workers are running."""
        return sum(1 for task in self._workers.values() if not task.done())

    async def start(self) -> None:
        """Recover rows a crash left in flight, then start dispatching."""
        recovered = await self._store.outbox.recover_in_flight()
        if recovered:
            log.warning(
                "%d message(s) were in flight at the last stop; sending them again", recovered
            )
        self._dispatcher = asyncio.create_task(self._dispatch(), name="outbox-dispatcher")
        self.notify()

    def notify(self) -> None:
        """Wake the dispatcher: new rows are ready."""
        self._wake.set()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; let sends in progress finish within `grace` seconds."""
        self._stopping = True
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
        workers = [t for t in self._workers.values() if not t.done()]
        if workers:
            _, pending = await asyncio.wait(workers, timeout=grace)
            for task in pending:
                task.cancel()  # its row stays in flight and is recovered at start-up
            if pending:
                await asyncio.wait(pending)

    async def _dispatch(self) -> None:
        while True:
            await wait_event(self._wake, POLL_SECONDS)
            self._wake.clear()
            try:
                destinations = await self._store.outbox.destinations_ready()
            except StoreError:
                log.exception("outbox: cannot read ready destinations")
                continue
            for destination in destinations:
                task = self._workers.get(destination)
                if task is None or task.done():
                    self._workers[destination] = asyncio.create_task(
                        self._work(destination), name=f"outbox:{destination[:40]}"
                    )

    async def _work(self, destination: str) -> None:
        while not self._stopping:
            try:
                sink = self._sinks(destination)
            except PermanentSinkError as exc:
                await self._fail(destination, str(exc))
                return
            if sink.coalesces and self._bursting(destination):
                await self._linger()
            try:
                claimed = await self._store.outbox.claim_group(
                    destination, self._clock(), group_size if sink.coalesces else _one
                )
            except StoreError:
                log.exception("outbox %s: claim failed", redact(destination))
                await asyncio.sleep(POLL_SECONDS)
                continue
            if claimed is None:
                return
            if isinstance(claimed, float):
                await asyncio.sleep(max(0.0, claimed - self._clock()))
                continue
            self._claimed.setdefault(destination, collections.deque()).append(
                (time.monotonic(), len(claimed))
            )
            await self._deliver(sink, claimed)

    def _bursting(self, destination: str) -> bool:
        """Return True when rows for this destination came faster than it can take them."""
        now = time.monotonic()
        recent = self._claimed.setdefault(destination, collections.deque())
        while recent and recent[0][0] < now - 1.0:
            recent.popleft()
        return sum(count for _, count in recent) >= BURST_ROWS_PER_SECOND

    async def _linger(self) -> None:
        """During a burst, wait (≤ 250 ms) for the pipeline to finish queuing the backlog.

        The burst then leaves in full posts (up to 10 embeds) instead of spending the
        destination's rate limit (about 5 posts / 5 s on Discord) on a few rows each.
        Steady traffic below the burst rate is never held.
        """
        if self.upstream_idle is not None:
            await wait_event(self.upstream_idle, LINGER_SECONDS)

    async def _fail(self, destination: str, error: str) -> None:
        """Mark a destination failing: its hooks keep their messages, dead, until `on`."""
        reason = f"destination failed: {error}"
        log.error("outbox %s: %s", redact(destination), redact(reason))
        await self._store.hooks.fail_destination(destination, reason, self._clock())

    async def _deliver(self, sink: Sink, rows: list[OutboxRow]) -> None:
        head = rows[0]
        ids = ", ".join(str(r.id) for r in rows)
        where = f"row(s) {ids} (hook {head.hook_id}, delivery {head.delivery_id})"
        try:
            message = coalesce([message_from_json(json.loads(r.payload)) for r in rows])
            # The group's nonce is its first row's: stable across retries and restarts.
            receipt = await asyncio.wait_for(sink.send(message, nonce=head.nonce), SEND_TIMEOUT)
        except TransientSinkError as exc:
            delay = backoff(head.attempts, exc.retry_after, self._rng)
            log.warning(
                "outbox %s: %s failed, retry in %.1fs: %s",
                redact(head.destination),
                where,
                delay,
                redact(str(exc)),
            )
            now = self._clock()
            await self._store.outbox.reschedule(rows, now + delay, str(exc), now)
        except TimeoutError:
            delay = backoff(head.attempts, None, self._rng)
            now = self._clock()
            await self._store.outbox.reschedule(rows, now + delay, "send timed out", now)
        except PermanentSinkError as exc:
            log.error("outbox %s: %s dead: %s", redact(head.destination), where, redact(str(exc)))
            await self._store.outbox.mark_dead(rows, f"destination failed: {exc}", self._clock())
            await self._fail(head.destination, str(exc))
        except RejectedMessageError as exc:
            # A content problem: this message dies, the destination keeps working.
            log.error(
                "outbox %s: %s refused: %s", redact(head.destination), where, redact(str(exc))
            )
            await self._store.outbox.mark_dead(rows, f"message refused: {exc}", self._clock())
        except (ValueError, KeyError, TypeError) as exc:
            log.exception("outbox: %s has an unreadable payload", where)
            await self._store.outbox.mark_dead(rows, f"unreadable payload: {exc}", self._clock())
        else:
            # Done only after the sink returned: at-least-once, with the nonce for Discord.
            await self._store.outbox.mark_done(rows, self._clock(), receipt)


def _one(candidates: Sequence[OutboxRow]) -> int:
    return 1


def _shape(message: Message) -> str:
    if (message.embeds and message.content) or message.mention_roles:
        return "mixed"
    return "embeds" if message.embeds else "content"


def group_size(candidates: Sequence[OutboxRow]) -> int:
    """Return how many of the oldest ready rows fit one post.

    Embed messages share a post up to 10 embeds and 6,000 characters; content-only
    messages are joined up to 2,000 characters; the two are never mixed.
    """
    messages = []
    for row in candidates:
        try:
            messages.append(message_from_json(json.loads(row.payload)))
        except (ValueError, KeyError, TypeError):
            break  # an unreadable row goes alone and dies alone
    if not messages:
        return 1
    shape = _shape(messages[0])
    if shape == "mixed":
        return 1
    taken, embeds, size, length = 0, 0, 0, -1
    for message in messages:
        if _shape(message) != shape:
            break
        if shape == "embeds":
            embeds += len(message.embeds)
            size += sum(embed_size(e) for e in message.embeds)
            if embeds > LIMITS.embeds or size > LIMITS.total:
                break
        else:
            length += len(message.content) + 1
            if length > LIMITS.content:
                break
        taken += 1
    return max(1, taken)


def coalesce(messages: Sequence[Message]) -> Message:
    """Join messages chosen by group_size into one post."""
    if len(messages) == 1:
        return messages[0]
    if messages[0].embeds:
        return Message(embeds=tuple(e for m in messages for e in m.embeds))
    return Message(content="\n".join(m.content for m in messages))
