"""Composition root: builds and runs the one asyncio process; start-up and graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import aiohttp
from aiohttp import web

from bot.chat.discord_bot import HookBot, cap_reconnect_backoff, point_at, run_bot
from bot.config import Settings, listen_error
from bot.delivery.outbox import Outbox
from bot.delivery.sinks import SinkFactory, sink_factory
from bot.intake.http import HookCache, ServerDeps, start_server
from bot.intake.writer import GroupCommitWriter
from bot.pipeline import Pipeline
from bot.service import HookService
from bot.store import Store, StoreError
from bot.windows import WindowFlusher

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0
DEDUPE_KEEP_SECONDS = 7 * 86400.0
SHUTDOWN_GRACE = 10.0


@dataclass
class Running:
    """The parts of a running hookbot that tests and the CLI may look at."""

    store: Store
    writer: GroupCommitWriter
    pipeline: Pipeline
    outbox: Outbox
    runner: web.AppRunner
    port: int
    bot: HookBot | None = None
    windows: WindowFlusher | None = None


async def _prune_forever(store: Store, settings: Settings, clock: Callable[[], float]) -> None:
    while True:
        now = clock()
        try:
            pruned = await store.prune(
                now - settings.hookbot_retention_days * 86400.0, now - DEDUPE_KEEP_SECONDS
            )
            if pruned:
                log.info("retention: pruned %d old row(s)", pruned)
        except StoreError:
            log.exception("retention pruning failed")
        await asyncio.sleep(PRUNE_EVERY_SECONDS)


@asynccontextmanager
async def running(
    settings: Settings,
    *,
    console: TextIO | None = None,
    clock: Callable[[], float] = time.time,
    sinks: SinkFactory | None = None,
) -> AsyncIterator[Running]:
    """Start everything; on exit shut down in order.

    Order out: stop accepting → finish requests → commit queued writes → finish the
    delivery being processed → let sends in flight finish (bounded) → close the database.
    """
    async with AsyncExitStack() as stack:
        store = await Store.open(settings.hookbot_db)
        stack.push_async_callback(store.close)

        session = aiohttp.ClientSession()
        stack.push_async_callback(session.close)

        hook_cache = HookCache(store, clock)
        on_change: Callable[[], None] = hook_cache.forget  # completed once the flusher exists
        service = HookService(store, settings.base_url, clock, on_change=lambda: on_change())
        discord_bot: HookBot | None = None
        if settings.discord_token:
            point_at(settings)
            cap_reconnect_backoff()
            discord_bot = HookBot(settings, service, on_delivery=lambda: None)

        outbox = Outbox(store, sinks or sink_factory(session, console, discord_bot), clock)
        await outbox.start()
        stack.push_async_callback(outbox.stop, SHUTDOWN_GRACE)

        flusher = WindowFlusher(store, outbox.notify, clock)
        flusher.start()
        stack.push_async_callback(flusher.stop)

        def changed() -> None:
            hook_cache.forget()
            flusher.notify()  # `aggregate off` releases held events now

        on_change = changed

        def queued() -> None:
            outbox.notify()
            flusher.notify()

        writer = GroupCommitWriter(store)
        pipeline = Pipeline(store, queued, clock, intake_busy=writer.busy)
        outbox.upstream_idle = pipeline.idle
        writer.on_commit = pipeline.notify
        pipeline.start()
        stack.push_async_callback(pipeline.stop)
        writer.start()
        stack.push_async_callback(writer.stop)

        if discord_bot is not None and settings.discord_token:
            discord_bot.on_delivery = pipeline.notify
            bot_task = asyncio.create_task(
                run_bot(discord_bot, settings.discord_token), name="discord"
            )

            async def stop_bot(bot: HookBot = discord_bot) -> None:
                await bot.close()
                bot_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await bot_task

            # Pushed before the outbox's stop runs (exit order is reversed): sends in
            # flight finish while the bot is still connected.
            stack.push_async_callback(stop_bot)

        pruner = asyncio.create_task(_prune_forever(store, settings, clock), name="pruner")

        async def stop_pruner() -> None:
            pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pruner

        stack.push_async_callback(stop_pruner)

        async def health() -> dict[str, Any]:
            try:
                await store.ping()
                db = "ok"
            except StoreError as exc:
                db = f"error: {exc}"
            return {
                "status": "accepting",
                "db": db,
                "workers": {
                    "pipeline": "running" if pipeline.running else "stopped",
                    "outbox": outbox.worker_count,
                },
                "discord": discord_bot.state if discord_bot is not None else "off",
            }

        deps = ServerDeps(
            store=store,
            writer=writer,
            hooks=hook_cache,
            max_body=settings.hookbot_max_body,
            health=health,
            clock=clock,
        )
        # Slow-client limits and quiet logs for malformed requests come with the server.
        try:
            http = await start_server(
                deps, settings.hookbot_host, settings.hookbot_port, shutdown_timeout=SHUTDOWN_GRACE
            )
        except OSError as exc:  # port taken, no permission, unknown address: one line, no trace
            raise listen_error(settings.hookbot_host, settings.hookbot_port, exc) from exc
        stack.push_async_callback(http.close)
        port = http.port
        if settings.public_url is None:
            service.set_base_url(f"http://{settings.hookbot_host}:{port}")
        yield Running(store, writer, pipeline, outbox, http.runner, port, discord_bot, flusher)


async def serve(settings: Settings, *, console: TextIO | None = None) -> None:
    """Run until SIGINT or SIGTERM, then shut down gracefully."""
    for warning in settings.startup_warnings():
        log.warning("%s", warning)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    async with running(settings, console=console) as app:
        mode = "Discord" if settings.discord_token else "console mode (no DISCORD_TOKEN)"
        log.info(
            "hookbot receiving on http://%s:%d in %s; ready in %.0f ms",
            settings.hookbot_host,
            app.port,
            mode,
            (time.monotonic() - started) * 1000,
        )
        await stop.wait()
        log.info("shutting down: draining requests, deliveries and sends")
    log.info("stopped")
