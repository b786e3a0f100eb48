"""Composition root: each part built once, started in order, stopped in reverse.

Nothing is wired after construction. Wake-ups that would make a cycle (the writer wakes
the pipeline, whose idleness the outbox and the Files-line enricher watch) are asyncio
Events made first and handed to both sides; the base of shown URLs is one small holder
that the receiver (its bound port) and the tunnel (its URL) update and the HookService
reads. The Discord connection is built before the outbox that posts through it; the Cog,
over the one HookService the API also uses, is added by the Discord component.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import aiohttp

from bot.chat.commands import HookCommands
from bot.chat.discord_bot import DiscordComponent, HookBot, point_at
from bot.config import Settings, listen_error, watched_docker_hosts
from bot.delivery.destinations import Forwards, SinkFactory, sink_factory
from bot.delivery.http import guarded_session
from bot.delivery.outbox import Outbox
from bot.intake.api import ApiDeps
from bot.intake.docker_streams import DockerView
from bot.intake.docker_watch import DockerWatch
from bot.intake.http import HookCache, HttpServer, ServerDeps, start_server
from bot.intake.writer import GroupCommitWriter
from bot.integrations import wiring
from bot.integrations.tunnel import Tunnel
from bot.lifecycle import Background, Component, Part, started
from bot.pipeline import Pipeline
from bot.service import HookService
from bot.store import Store, StoreError
from bot.windows import WindowFlusher

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 3600.0
DEDUPE_KEEP_SECONDS = 7 * 86400.0
SHUTDOWN_GRACE = 10.0


@dataclass(frozen=True)
class Running:
    """The parts of a running hookbot that tests may look at."""

    store: Store
    service: HookService
    writer: GroupCommitWriter
    pipeline: Pipeline
    outbox: Outbox
    windows: WindowFlusher
    port: int
    bot: HookBot | None = None
    tunnel: Tunnel | None = None
    docker: DockerWatch | None = None


class BaseUrl:
    """The base of webhook URLs shown to users: PUBLIC_URL, else the tunnel's, else ours.

    Our own address is known once the receiver is bound (port 0 picks one).
    """

    def __init__(self, settings: Settings) -> None:
        self._public = settings.public_url
        self._host = settings.hookbot_host
        self._port = settings.hookbot_port
        self._tunnel: str | None = None

    def __call__(self) -> str:
        """Return the current base."""
        return self._public or self._tunnel or f"http://{self._host}:{self._port}"

    def listening(self, port: int) -> None:
        """The receiver is bound to `port`."""
        self._port = port

    def tunnel(self, url: str | None) -> None:
        """The tunnel opened at `url`, or closed (None)."""
        self._tunnel = url


class HttpComponent:
    """The receiver: listens on start; on stop, stops accepting and lets requests finish."""

    name = "http"

    def __init__(self, deps: ServerDeps, host: str, port: int, urls: BaseUrl) -> None:
        self._deps = deps
        self._host = host
        self._port = port
        self._urls = urls
        self._server: HttpServer | None = None

    @property
    def port(self) -> int:
        """The bound port once listening (useful with port 0), else the configured one."""
        return self._server.port if self._server is not None else self._port

    async def start(self) -> None:
        """Listen; a port in use or an unknown address is one StartupError line."""
        try:
            self._server = await start_server(
                self._deps, self._host, self._port, shutdown_timeout=SHUTDOWN_GRACE
            )
        except OSError as exc:
            raise listen_error(self._host, self._port, exc) from exc
        self._urls.listening(self._server.port)

    async def stop(self) -> None:
        """Stop accepting and finish the requests in progress (bounded)."""
        if self._server is not None:
            await self._server.close()


class TunnelUrls:
    """What follows a new tunnel URL: shown URLs, the CLI's copy, webhooks hookbot made."""

    name = "tunnel-urls"

    def __init__(
        self, urls: BaseUrl, store: Store, service: HookService, clock: Callable[[], float]
    ) -> None:
        self._urls = urls
        self._store = store
        self._service = service
        self._clock = clock
        self._refreshes: list[asyncio.Task[None]] = []

    async def changed(self, url: str | None) -> None:
        """The tunnel opened at `url` (or closed: None)."""
        self._urls.tunnel(url)
        await wiring.publish_tunnel_url(self._store, url, self._clock)
        if url is not None:  # in the background: GitHub's API may be slow
            refresh = asyncio.create_task(self._service.refresh_remote(), name="refresh")
            self._refreshes.append(refresh)

    async def start(self) -> None:
        """Nothing to start: the tunnel calls `changed`."""

    async def stop(self) -> None:
        """Cancel the refreshes still running."""
        for task in self._refreshes:
            task.cancel()
        await asyncio.gather(*self._refreshes, return_exceptions=True)


def _each(*calls: Callable[[], None]) -> Callable[[], None]:
    """One callback that makes several calls, in order."""

    def call_all() -> None:
        for call in calls:
            call()

    return call_all


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
    """Build every part, start them in order; on exit stop them in reverse.

    Order out: close the tunnel → stop accepting → finish requests → stop the Docker
    streams → commit queued writes → finish the delivery being processed → let sends in
    flight finish (bounded) while the bot is still connected → disconnect → close the
    database.
    """
    async with AsyncExitStack() as stack:
        store = await Store.open(settings.hookbot_db)
        stack.push_async_callback(store.close)
        session = aiohttp.ClientSession()
        stack.push_async_callback(session.close)
        # Forwards have a session of their own: every connection checked by the guard.
        forward_session = guarded_session(settings.hookbot_forward_allow)
        stack.push_async_callback(forward_session.close)
        forwards = Forwards(
            forward_session, store.forwards.secret, settings.hookbot_forward_allow, clock
        )

        pipeline_wake = asyncio.Event()  # set by the writer and by edits (`test`, `replay`)
        pipeline_idle = asyncio.Event()  # clear while the pipeline queues a backlog
        bot = HookBot() if settings.discord_token else None
        outbox = Outbox(
            store,
            sinks or sink_factory(session, console, bot, forwards),
            clock,
            upstream_idle=pipeline_idle,
        )
        windows = WindowFlusher(store, outbox.notify, clock)
        writer = GroupCommitWriter(store, on_commit=pipeline_wake.set)
        # A push waits for its Files line only while no other delivery waits.
        enricher = wiring.commit_files(
            settings,
            store,
            clock,
            others_waiting=lambda since: (
                writer.busy(time.monotonic() - since) or not pipeline_idle.is_set()
            ),
        )
        pipeline = Pipeline(
            store,
            _each(outbox.notify, windows.notify),
            clock,
            enrich=enricher.enrich if enricher is not None else None,
            idle=pipeline_idle,
            wake=pipeline_wake,
        )
        # Docker streams store events in the inbox and wake the pipeline, like the receiver.
        docker = DockerWatch(
            watched_docker_hosts(settings.docker_hosts), store, pipeline_wake.set, clock
        )
        urls = BaseUrl(settings)
        hook_cache = HookCache(store, clock)
        # An edit forgets cached tokens, releases held events (`aggregate off`) and wakes
        # the pipeline (`test`, `replay`).
        service = HookService(
            store,
            urls,
            clock,
            on_change=_each(hook_cache.forget, windows.notify, pipeline_wake.set),
            remote=wiring.github_hooks(settings, store, clock),
            docker=DockerView(tuple(w.host for w in docker), docker.statuses),
            forward_allow=settings.hookbot_forward_allow,
        )
        tunnel_urls = TunnelUrls(urls, store, service, clock)
        tunnel = wiring.tunnel(settings, tunnel_urls.changed)

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
                "discord": bot.state if bot is not None else "off",
                "tunnel": tunnel.health() if tunnel is not None else "off",
                "docker": docker.health(),
            }

        api = ApiDeps(
            service,
            store,
            settings.hookbot_api_token,
            bot_available=bot is not None,
            default_webhook_url=settings.discord_webhook_url,
        )
        deps = ServerDeps(
            store=store,
            writer=writer,
            hooks=hook_cache,
            max_body=settings.hookbot_max_body,
            health=health,
            clock=clock,
            api=api,
        )
        http = HttpComponent(deps, settings.hookbot_host, settings.hookbot_port, urls)

        parts: list[Component] = []
        if bot is not None and settings.discord_token:
            point_at(settings)
            cog = HookCommands(service, settings.hookbot_admin_role)
            parts.append(DiscordComponent(bot, settings.discord_token, cog))
        parts += [
            Part("outbox", outbox.start, functools.partial(outbox.stop, SHUTDOWN_GRACE)),
            Part("windows", windows.start, windows.stop),
        ]
        if enricher is not None:
            parts.append(Part("commit-files", lambda: None, enricher.close))
        parts += [
            Part("pipeline", pipeline.start, pipeline.stop),
            Part("writer", writer.start, writer.stop),
            # Stopped before the pipeline, which then turns what the streams stored into messages.
            Part("docker", docker.start, docker.stop),
            Background("pruner", functools.partial(_prune_forever, store, settings, clock)),
            tunnel_urls,
            http,
        ]
        if tunnel is not None:
            host = settings.hookbot_host
            parts.append(Part("tunnel", lambda: tunnel.start(host, http.port), tunnel.stop))
        async with started(parts):
            yield Running(
                store, service, writer, pipeline, outbox, windows, http.port, bot, tunnel, docker
            )


async def serve(settings: Settings, *, console: TextIO | None = None) -> None:
    """Run until SIGINT or SIGTERM, then shut down gracefully."""
    for warning in settings.startup_warnings():
        log.warning("%s", warning)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started_at = time.monotonic()
    async with running(settings, console=console) as app:
        mode = "Discord" if settings.discord_token else "console mode (no DISCORD_TOKEN)"
        log.info(
            "hookbot receiving on http://%s:%d in %s; ready in %.0f ms",
            settings.hookbot_host,
            app.port,
            mode,
            (time.monotonic() - started_at) * 1000,
        )
        await stop.wait()
        log.info("shutting down: draining requests, deliveries and sends")
    log.info("stopped")
