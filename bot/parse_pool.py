"""Parse deliveries without holding the event loop: big bodies go to a worker process.

Decoding and shaping a 15 MB push takes a few hundred milliseconds of pure CPU (and
`orjson.loads` holds the GIL all along, so a thread would not help). Bodies up to
INLINE_LIMIT bytes are parsed in the loop, where they cost well under a millisecond;
bigger ones are parsed in one spawned worker process, so requests, `/healthz` and
signals are served meanwhile. A parse that runs past its time limit kills the worker
(a new one starts on the next big body) and fails that delivery with the reason.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import multiprocessing.pool
from collections.abc import Mapping

from parsers import SERVICES
from parsers.event import JSON, Event

log = logging.getLogger(__name__)

INLINE_LIMIT = 64 * 1024
PARSE_TIMEOUT_SECONDS = 60.0


class ParseTimeoutError(Exception):
    """A delivery took longer than its limit to parse; the worker was stopped."""


class UnknownServiceError(Exception):
    """A stored delivery names a service that has no parser."""


def parse_delivery(
    service: str, headers: Mapping[str, str], body: bytes, options: Mapping[str, JSON]
) -> list[Event]:
    """Parse a delivery with its service's parser and its hook's options.

    Also the worker process's entry point (so every argument is picklable).
    """
    spec = SERVICES.get(service)
    if spec is None:
        raise UnknownServiceError(f"no parser for service {service!r}")
    return spec.parse(dict(headers), body, dict(options))


class ParsePool:
    """Parse small deliveries inline and big ones in a worker process, with a time limit."""

    def __init__(
        self,
        inline_limit: int = INLINE_LIMIT,
        timeout_seconds: float = PARSE_TIMEOUT_SECONDS,
    ) -> None:
        self._inline_limit = inline_limit
        self._timeout = timeout_seconds
        self._pool: multiprocessing.pool.Pool | None = None

    async def parse(
        self,
        service: str,
        headers: Mapping[str, str],
        body: bytes,
        options: Mapping[str, JSON] | None = None,
    ) -> list[Event]:
        """Return the delivery's Events; raise what the parser raises, or ParseTimeoutError.

        `options` are the hook's (a custom hook's target names the sender).
        """
        options = options or {}
        if len(body) <= self._inline_limit:
            return parse_delivery(service, headers, body, options)
        pool = await self._worker()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[list[Event]] = loop.create_future()

        def resolve(events: list[Event]) -> None:
            loop.call_soon_threadsafe(_settle, done, events, None)

        def reject(error: BaseException) -> None:
            loop.call_soon_threadsafe(_settle, done, None, error)

        pool.apply_async(
            parse_delivery,
            (service, dict(headers), body, dict(options)),
            callback=resolve,
            error_callback=reject,
        )
        try:
            return await asyncio.wait_for(done, self._timeout)
        except TimeoutError:
            log.warning("parse: a %d-byte delivery ran past %.0f s", len(body), self._timeout)
            await self.close()
            raise ParseTimeoutError(
                f"parsing took longer than {self._timeout:.0f} s; the delivery was set aside"
            ) from None

    async def _worker(self) -> multiprocessing.pool.Pool:
        if self._pool is None:
            # spawn, not fork: the parent runs threads (the store, docker streams).
            context = multiprocessing.get_context("spawn")
            self._pool = await asyncio.to_thread(context.Pool, 1)
        return self._pool

    async def close(self) -> None:
        """Stop the worker process, if one runs (a parse in progress is abandoned)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(_terminate, pool)


def _terminate(pool: multiprocessing.pool.Pool) -> None:
    pool.terminate()
    pool.join()


def _settle(
    future: asyncio.Future[list[Event]], events: list[Event] | None, error: BaseException | None
) -> None:
    if future.done():  # timed out meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(events or [])
