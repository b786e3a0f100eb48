"""Delivery workers: one per destination; retries with backoff and jitter; the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable

from bot.aio import wait_event
from bot.sinks import PermanentSinkError, SinkFactory, TransientSinkError
from bot.store import OutboxRow, Store, StoreError
from formatters.message import message_from_json

log = logging.getLogger(__name__)

BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0
POLL_SECONDS = 5.0
SEND_TIMEOUT = 60.0


def backoff(attempts: int, retry_after: float | None, rng: Callable[[], float]) -> float:
    """Return the delay before the next try: exponential with jitter, at least retry_after."""
    exponential: float = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** max(0, attempts - 1))
    delay = exponential * (0.5 + rng() / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


class Outbox:
    """Deliver queued messages: one worker task per destination, in order, retried."""

    def __init__(
        self,
        store: Store,
        sinks: SinkFactory,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._store = store
        self._sinks = sinks
        self._clock = clock
        self._rng = rng
        self._wake = asyncio.Event()
        self._workers: dict[str, asyncio.Task[None]] = {}
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
                claimed = await self._store.outbox.claim_next(destination, self._clock())
            except StoreError:
                log.exception("outbox %s: claim failed", destination)
                await asyncio.sleep(POLL_SECONDS)
                continue
            if claimed is None:
                return
            if isinstance(claimed, float):
                await asyncio.sleep(max(0.0, claimed - self._clock()))
                continue
            await self._deliver(claimed)

    async def _deliver(self, row: OutboxRow) -> None:
        try:
            sink = self._sinks(row.destination)
            message = message_from_json(json.loads(row.payload))
            receipt = await asyncio.wait_for(sink.send(message, nonce=row.nonce), SEND_TIMEOUT)
        except TransientSinkError as exc:
            delay = backoff(row.attempts, exc.retry_after, self._rng)
            log.warning(
                "outbox %s: row %d (hook %s, delivery %s) failed, retry in %.1fs: %s",
                row.destination,
                row.id,
                row.hook_id,
                row.delivery_id,
                delay,
                exc,
            )
            now = self._clock()
            await self._store.outbox.reschedule(row, now + delay, str(exc), now)
        except TimeoutError:
            delay = backoff(row.attempts, None, self._rng)
            now = self._clock()
            await self._store.outbox.reschedule(row, now + delay, "send timed out", now)
        except PermanentSinkError as exc:
            reason = f"destination failed: {exc}"
            log.error(
                "outbox %s: row %d (hook %s, delivery %s) dead: %s",
                row.destination,
                row.id,
                row.hook_id,
                row.delivery_id,
                exc,
            )
            now = self._clock()
            await self._store.outbox.mark_dead(row, reason, now)
            await self._store.hooks.fail_destination(row.destination, reason, now)
        except (ValueError, KeyError, TypeError) as exc:
            log.exception("outbox: row %d has an unreadable payload", row.id)
            await self._store.outbox.mark_dead(row, f"unreadable payload: {exc}", self._clock())
        else:
            # Done only after the sink returned: at-least-once, with the nonce for Discord.
            await self._store.outbox.mark_done(row, self._clock(), receipt)
