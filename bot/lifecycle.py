"""Components: parts of the process that start in order and stop in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Component(Protocol):
    """A part of the running process: built with what it needs, then started and stopped."""

    name: str

    async def start(self) -> None:
        """Begin work (spawn tasks, bind sockets); return once started."""

    async def stop(self) -> None:
        """Finish or abandon work (bounded) and release what `start` took."""


class Part:
    """A component made of two calls, for parts whose own methods are named otherwise.

    Either call may be a plain function or a coroutine function; what it returns is
    awaited when awaitable, then ignored.
    """

    def __init__(self, name: str, start: Callable[[], object], stop: Callable[[], object]) -> None:
        self.name = name
        self._start = start
        self._stop = stop

    async def start(self) -> None:
        """Run the start call."""
        await _call(self._start)

    async def stop(self) -> None:
        """Run the stop call."""
        await _call(self._stop)


class Background:
    """A component that is one task running a coroutine until stopped (cancelled)."""

    def __init__(self, name: str, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.name = name
        self._work = work
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the task."""
        self._task = asyncio.create_task(self._work(), name=self.name)

    async def stop(self) -> None:
        """Cancel the task and wait for it."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def _call(step: Callable[[], object]) -> None:
    result = step()
    if inspect.isawaitable(result):
        await result


@asynccontextmanager
async def started(components: Sequence[Component]) -> AsyncIterator[None]:
    """Start components in order; on exit stop the started ones in reverse order.

    When a start fails, the components already started are stopped (in reverse) and
    the error propagates. A stop that fails is logged and the others still stop.
    """
    async with AsyncExitStack() as stack:
        for component in components:
            await component.start()
            stack.push_async_callback(_stop_quietly, component)
        yield


async def _stop_quietly(component: Component) -> None:
    try:
        await component.stop()
    except Exception:
        log.exception("stopping %s failed; stopping the others", component.name)
