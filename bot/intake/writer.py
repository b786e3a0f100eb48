"""Group commit: one task commits the receiver's inbox writes in small batches."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from bot.store import NewDelivery, Rejection, Store

log = logging.getLogger(__name__)

MAX_BATCH = 256

_Item = tuple[NewDelivery | Rejection, asyncio.Future[bool]]


class GroupCommitWriter:
    """Batch concurrent inbox writes: one transaction (one fsync, one thread hop) per batch.

    Requests wait on their own future, which resolves only after the batch committed, so
    a 2xx still means "on disk" while the fsync cost is shared by everyone in the batch.
    """

    def __init__(self, store: Store, on_commit: Callable[[], None] | None = None) -> None:
        self._store = store
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.on_commit = on_commit
        self._last_commit = 0.0

    def busy(self, within: float = 0.1) -> bool:
        """Return True when deliveries were committed in the last `within` seconds."""
        return time.monotonic() - self._last_commit < within

    def start(self) -> None:
        """Start the writer task."""
        self._task = asyncio.create_task(self._run(), name="inbox-writer")

    async def stop(self) -> None:
        """Commit what is queued, then stop."""
        if self._task is None:
            return
        await self._queue.put(None)
        await self._task
        self._task = None

    async def accept(self, delivery: NewDelivery) -> bool:
        """Commit a delivery; True when new, False for a redelivery already stored."""
        return await self._submit(delivery)

    async def reject(self, rejection: Rejection) -> None:
        """Count a rejection on its hook."""
        await self._submit(rejection)

    async def _submit(self, item: NewDelivery | Rejection) -> bool:
        if self._task is None or self._task.done():
            raise RuntimeError("the inbox writer is not running")
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            await self._commit(batch)

    async def _commit(self, batch: list[_Item]) -> None:
        deliveries = [(i, f) for i, f in batch if isinstance(i, NewDelivery)]
        rejections = [(i, f) for i, f in batch if isinstance(i, Rejection)]
        try:
            inserted = await self._store.inbox.write_batch(
                [d for d, _ in deliveries], [r for r, _ in rejections]
            )
        except Exception as exc:
            log.exception("inbox batch of %d failed", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self._last_commit = time.monotonic()
        for (_, future), is_new in zip(deliveries, inserted, strict=True):
            if not future.done():
                future.set_result(is_new)
        for _, future in rejections:
            if not future.done():
                future.set_result(True)
        if self.on_commit is not None and any(inserted):
            self.on_commit()
