"""Small asyncio helpers shared by the worker loops."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float) -> bool:  # noqa: ASYNC109
    """Wait until `event` is set or `timeout` passes; return whether it was set.

    `asyncio.timeout` rather than `wait_for`: on Python 3.11, cancelling a task inside
    `wait_for(event.wait(), …)` can hang when the inner wait is cancelled at the same time.
    """
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
