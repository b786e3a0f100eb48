"""Aggregation windows: hold events, and flush each ended window as one digest."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bot.aio import wait_event
from bot.delivery.outbox import make_nonce
from bot.store import NewOutbox, Store, StoreError
from formatters.digest import HeldEvent, render_digest
from formatters.message import message_to_json
from parsers.event import Event

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 60.0


def window_end(now: float, window_seconds: int) -> float:
    """Return the end of the UTC-aligned window containing `now` (5m → :00, :05, …)."""
    return float((math.floor(now / window_seconds) + 1) * window_seconds)


def held_json(event: Event, window_seconds: int) -> str:
    """Serialise what a digest needs of an event, with the window it was held for."""
    return json.dumps({"window": window_seconds, "event": HeldEvent.from_event(event).to_json()})


class WindowFlusher:
    """One task that posts each ended window's digest (also windows that ended while down)."""

    def __init__(
        self,
        store: Store,
        on_queued: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._on_queued = on_queued
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start flushing; windows that ended while the process was down go first."""
        self._task = asyncio.create_task(self._run(), name="windows")

    def notify(self) -> None:
        """Wake up: an event was held or a window changed."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop (held events stay in SQLite for the next start)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.flush_due(self._clock())
                due = await self._store.windows.next_due()
            except StoreError:
                log.exception("windows: flush failed; retrying")
                due = None
            delay = IDLE_POLL_SECONDS if due is None else max(0.0, due - self._clock())
            if await wait_event(self._wake, min(delay, IDLE_POLL_SECONDS)):
                self._wake.clear()

    async def flush_due(self, now: float) -> int:
        """Queue a digest for every window that has ended by `now`; returns how many."""
        rows = await self._store.windows.due(now)
        flushed = 0
        for (hook_id, end), group in itertools.groupby(
            rows, key=lambda r: (r.hook_id, r.window_end)
        ):
            held = list(group)
            hook = await self._store.hooks.get(hook_id)
            digest: NewOutbox | None = None
            if hook is not None and held:
                records = [json.loads(r.event) for r in held]
                events = [HeldEvent.from_json(r["event"]) for r in records]
                message = render_digest(
                    events, int(records[0]["window"]), datetime.fromtimestamp(end, UTC)
                )
                digest = NewOutbox(
                    destination=hook.destination,
                    payload=json.dumps(message_to_json(message)),
                    nonce=make_nonce(hook.id, f"window:{end}", len(held)),
                    hook_id=hook.id,
                    delivery_id=f"window-{int(end)}",
                    not_before=now,
                    dead_reason=f"kept, not sent: {hook.failing}" if hook.failing else None,
                )
            await self._store.windows.flush([r.id for r in held], digest)
            flushed += 1
        if flushed:
            self._on_queued()
        return flushed
