"""Delivery workers: one per destination key, in order; each destination's retry policy.

The worker is generic: it claims the rows its Destination groups, sends them, and
records what came back (status code, response time, try, error) through the
outbox's finishing methods, which write the ledger's `out` lines. Payloads,
coalescing and retry policies belong to the destinations (bot/delivery/destinations.py).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence

from bot.aio import wait_event
from bot.delivery.base import (
    Destination,
    PermanentSinkError,
    RejectedMessageError,
    SinkFactory,
    TransientSinkError,
)
from bot.delivery.messages import as_destination
from bot.redact import redact
from bot.store import AttemptResult, OutboxRow, Store, StoreError

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0
NONCE_LENGTH = 25
LINGER_SECONDS = 0.25
BURST_ROWS_PER_SECOND = 8  # Discord allows about 1 post/s per channel


def make_nonce(hook_id: str, delivery_id: str, part: int | str) -> str:
    """Return a stable nonce (≤ 25 characters, Discord's limit) for one outbox row."""
    digest = hashlib.sha256(f"{hook_id}\0{delivery_id}\0{part}".encode()).hexdigest()
    return digest[:NONCE_LENGTH]


class Outbox:
    """Deliver queued rows: one worker task per destination, in order, retried."""

    def __init__(
        self,
        store: Store,
        sinks: SinkFactory,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
        upstream_idle: asyncio.Event | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """`sleep` waits for a retry or a quota (tests pass one that moves their clock)."""
        self._store = store
        self._sinks = sinks
        self._clock = clock
        self._rng = rng
        self._sleep = sleep
        self.upstream_idle = upstream_idle  # set once the pipeline exists
        self._wake = asyncio.Event()
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._destinations: dict[str, Destination] = {}
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
                        self._work(destination), name=f"outbox:{redact(destination)[:40]}"
                    )

    def _destination(self, key: str) -> Destination:
        """The key's destination, built once (a forward's quota lives in it)."""
        found = self._destinations.get(key)
        if found is None:
            found = as_destination(self._sinks(key), self._rng)
            self._destinations[key] = found
        return found

    async def _work(self, key: str) -> None:
        while not self._stopping:
            try:
                destination = self._destination(key)
            except PermanentSinkError as exc:
                await self._fail(key, str(exc))
                return
            wait = destination.wait_seconds()
            if wait > 0:
                log.info("outbox %s: quota reached, next send in %.0fs", redact(key), wait)
                await self._sleep(wait)
                continue
            if destination.coalescing and self._bursting(key):
                await self._linger()
            try:
                claimed = await self._store.outbox.claim_group(
                    key, self._clock(), destination.group_size
                )
            except StoreError:
                log.exception("outbox %s: claim failed", redact(key))
                await asyncio.sleep(POLL_SECONDS)
                continue
            if claimed is None:
                return
            if isinstance(claimed, float):
                await self._sleep(max(0.0, claimed - self._clock()))
                continue
            self._claimed.setdefault(key, collections.deque()).append(
                (time.monotonic(), len(claimed))
            )
            await self._deliver(destination, claimed)

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

    async def _deliver(self, destination: Destination, rows: Sequence[OutboxRow]) -> None:
        head = rows[0]
        key = redact(head.destination)
        ids = ", ".join(str(r.id) for r in rows)
        where = f"row(s) {ids} (hook {head.hook_id}, delivery {head.delivery_id})"
        try:
            sent = await asyncio.wait_for(destination.send(rows), destination.send_timeout)
        except (TransientSinkError, TimeoutError) as exc:
            transient = exc if isinstance(exc, TransientSinkError) else None
            error = str(exc) if transient is not None else "send timed out"
            result = transient.result if transient is not None else AttemptResult(error=error)
            retry_after = transient.retry_after if transient is not None else None
            delay = destination.retry_delay(head, retry_after)
            now = self._clock()
            if delay is None:
                reason = f"failed after {head.attempts} tries: {error}"
                log.error("outbox %s: %s dead: %s", key, where, redact(reason))
                await self._store.outbox.mark_dead(rows, reason, now, result=result)
                return
            log.warning(
                "outbox %s: %s failed, retry in %.1fs: %s", key, where, delay, redact(error)
            )
            await self._store.outbox.reschedule(rows, now + delay, error, now, result=result)
        except PermanentSinkError as exc:
            log.error("outbox %s: %s dead: %s", key, where, redact(str(exc)))
            await self._store.outbox.mark_dead(
                rows, f"destination failed: {exc}", self._clock(), result=exc.result
            )
            await self._fail(head.destination, str(exc))
        except RejectedMessageError as exc:
            # A content problem: this message dies, the destination keeps working.
            log.error("outbox %s: %s refused: %s", key, where, redact(str(exc)))
            await self._store.outbox.mark_dead(
                rows, f"message refused: {exc}", self._clock(), result=exc.result
            )
        except (ValueError, KeyError, TypeError) as exc:
            log.exception("outbox: %s has an unreadable payload", where)
            await self._store.outbox.mark_dead(rows, f"unreadable payload: {exc}", self._clock())
        else:
            # Done only after the destination answered: at-least-once, nonces for Discord.
            await self._store.outbox.mark_done(
                rows, self._clock(), sent.receipt, result=sent.result
            )
