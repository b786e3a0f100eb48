"""Docker hosts watched directly: one Engine event stream per host of DOCKER_HOSTS.

DESIGN.md "Services" (Docker) and PROTOCOLS A6/B1/B2 are the reference. Per host:

* docker-py's blocking `events(decode=True, since=…)` is read in a thread of its own
  and handed to the loop through a bounded queue (the reader waits when it is full);
  `stream.close()` from the loop ends it at once.
* Every event is turned into an envelope (parsers/docker.py reads it): the inspect facts
  of the container or image and, for a death, an OOM kill or an unhealthy container, its
  last 10 log lines (at most 4 KB) — fetched off the loop, in the host's own small thread
  pool, with a 10 s timeout. The envelope is stored in the inbox once per docker hook
  watching the host (its `target`, none: every host; `--containers` glob in its options),
  and only then does the host's cursor (the newest event's `timeNano`) move in SQLite.
* Any end of the stream is a disconnect (dockerd stopping ends it quietly): reconnect
  with backoff (1 s doubling to 30 s; back to 1 s after a connection that lasted), with
  `since=` the cursor, then reconcile: every container whose State.FinishedAt is after
  the cursor (less a slack) is reported as a death unless that death was already stored.
  A death streamed and the same death reconciled share one delivery id (see
  parsers.docker.delivery_id), so the inbox keeps one; the daemon forgets its events on
  restart, so this is how a death in the gap is still reported.
* State between events, bounded: the start of each container's run (uptime), signals
  sent just before a death (`docker stop` / `docker kill`), OOM events of the run (the
  `oom` event of a container that died of it is folded into the death's report), deaths
  of the last 10 minutes (3 make a restart loop: one message, then a count at most every
  10 minutes while it lasts), images already reported as builds, and when the classic
  builder's intermediate containers were created (a build's duration).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

import docker  # type: ignore[import-untyped]
import docker.errors  # type: ignore[import-untyped]
import orjson

from bot.config import DockerHost
from bot.core.globs import GlobError, compile_glob
from bot.intake.docker_streams import HostStatus
from bot.store import Hook, NewDelivery, Store, StoreError
from parsers import docker as engine
from parsers.event import JSON

log = logging.getLogger(__name__)

T = TypeVar("T")

SERVICE = engine.SERVICE
# Only what is reported or needed for a report: `create` times builds; exec_* and the
# rest never cross the wire.
STREAM_FILTERS: Mapping[str, list[str]] = {
    "type": ["container", "image"],
    "event": [
        "create",
        "start",
        "stop",
        "die",
        "kill",
        "oom",
        "restart",
        "health_status",
        "pull",
        "push",
        "tag",
        "delete",
    ],
}
BATCH = 256  # events stored per inbox transaction at most
QUEUE_SIZE = 1024  # events read ahead of the store
CALL_TIMEOUT = 10  # seconds for inspect, logs, list
FETCH_THREADS = 4
STABLE_SECONDS = 30.0  # a connection that lasted this long resets the backoff
SECOND = 1_000_000_000
RECONCILE_SLACK = 300 * SECOND  # deaths up to this long before the cursor are checked
KILL_WINDOW = 60 * SECOND  # a signal sent this long before a death explains it
LOOP_WINDOW = 600 * SECOND
LOOP_DEATHS = 3
BUILD_WINDOW = 600 * SECOND  # an image created this long before its tag is a new build
OOM_GRACE = 2.0  # seconds an `oom` waits for its container's death (which then reports it)
MEMORY = 4096  # entries kept per remembered thing
_END = object()


class EngineClient(Protocol):
    """The part of docker-py's low-level APIClient the watcher uses."""

    def events(
        self,
        since: Any = None,
        until: Any = None,
        filters: Any = None,
        decode: Any = None,
    ) -> Any:
        """Open the event stream (a CancellableStream)."""
        ...

    def containers(self, all: bool = False) -> list[dict[str, Any]]:
        """List containers."""
        ...

    def inspect_container(self, container: str) -> dict[str, Any]:
        """Inspect a container."""
        ...

    def logs(
        self, container: str, stdout: bool = True, stderr: bool = True, tail: Any = "all"
    ) -> Any:
        """Return a container's logs."""
        ...

    def inspect_image(self, image: str) -> dict[str, Any]:
        """Inspect an image."""
        ...

    def history(self, image: str) -> list[dict[str, Any]]:
        """Return an image's layers."""
        ...

    def info(self) -> dict[str, Any]:
        """Return the daemon's information (SystemTime, ServerVersion, …)."""
        ...

    def close(self) -> None:
        """Close the client's connections."""
        ...


def open_client(url: str) -> EngineClient:
    """Connect to one Engine with docker-py (blocking: negotiates the API version).

    `tcp://` hosts use TLS as the Docker CLI does (DOCKER_CERT_PATH, DOCKER_TLS_VERIFY);
    `ssh://` hosts go through the ssh client.
    """
    environment = {"DOCKER_HOST": url}
    if url.startswith(("tcp://", "https://")):
        for name in ("DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY"):
            if name in os.environ:
                environment[name] = os.environ[name]
    client = docker.DockerClient.from_env(
        environment=environment,
        timeout=CALL_TIMEOUT,
        use_ssh_client=url.startswith("ssh://"),
        use_context=False,
    )
    api: EngineClient = client.api
    return api


# --------------------------------------------------------------------------- memory


class _Bounded(OrderedDict[str, Any]):
    """A dict that forgets its oldest entries past MEMORY."""

    def remember(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > MEMORY:
            self.popitem(last=False)


@dataclass(frozen=True, slots=True)
class _PendingOom:
    """An `oom` event of a container still running when inspected: posted unless it dies."""

    event: Mapping[str, Any]
    at: int
    due: float  # time.monotonic()


@dataclass
class _Loop:
    name: str
    since: int
    deaths: int
    last: int
    reported: int


@dataclass
class _Memory:
    """What one host's watcher remembers between events (see the module docstring)."""

    keys: _Bounded = field(default_factory=_Bounded)  # events already handled
    deaths_stored: _Bounded = field(default_factory=_Bounded)  # death delivery ids
    started: _Bounded = field(default_factory=_Bounded)  # container → run start (ns)
    kills: _Bounded = field(default_factory=_Bounded)  # container → [(ns, signal)]
    ooms: _Bounded = field(default_factory=_Bounded)  # container → last oom (ns)
    deaths: _Bounded = field(default_factory=_Bounded)  # container → deque of ns
    loops: dict[str, _Loop] = field(default_factory=dict)
    builds: _Bounded = field(default_factory=_Bounded)  # image ids reported as built
    build_starts: _Bounded = field(default_factory=_Bounded)  # parent image id → ns

    def count_death(self, container: str, at: int, name: str) -> dict[str, JSON] | None:
        """Count a death (`container` is its id); return the loop's facts when it loops."""
        times: deque[int] = self.deaths.get(container) or deque(maxlen=64)
        self.deaths.remember(container, times)
        while times and times[0] < at - LOOP_WINDOW:
            times.popleft()
        times.append(at)
        loop = self.loops.get(container)
        if loop is not None and at - loop.last > LOOP_WINDOW:
            del self.loops[container]
            loop = None
        if loop is None:
            if len(times) < LOOP_DEATHS:
                return None
            loop = _Loop(name=name, since=times[0], deaths=len(times), last=at, reported=at)
            self.loops[container] = loop
            first = report = True
        else:
            loop.deaths += 1
            loop.last = at
            first, report = False, at - loop.reported >= LOOP_WINDOW
            if report:
                loop.reported = at
        return {
            "deaths": loop.deaths,
            "since": loop.since / SECOND,
            "first": first,
            "report": report,
        }

    def looping(self, now: int) -> dict[str, int]:
        """Return the containers (by name) in a restart loop now, with their death counts."""
        for ident in [i for i, loop in self.loops.items() if now - loop.last > LOOP_WINDOW]:
            del self.loops[ident]
        return {loop.name: loop.deaths for loop in self.loops.values()}


# --------------------------------------------------------------------------- facts


def _nanos(event: Mapping[str, Any]) -> int:
    nano = event.get("timeNano")
    if isinstance(nano, int):
        return nano
    seconds = event.get("time")
    return int(seconds * SECOND) if isinstance(seconds, int | float) else 0


def _time_nanos(text: Any) -> int | None:
    return engine.time_nanos(text) if isinstance(text, str) else None


def _short(text: Any, limit: int) -> str | None:
    return text[:limit] if isinstance(text, str) else None


def _labels(found: Any) -> dict[str, str]:
    if not isinstance(found, dict):
        return {}
    return {str(k)[:256]: v[:256] for k, v in list(found.items())[:50] if isinstance(v, str)}


def container_facts(inspect: Mapping[str, Any]) -> dict[str, JSON]:
    """Reduce `docker inspect <container>` to what a report uses (bounded)."""
    state = inspect.get("State") or {}
    config = inspect.get("Config") or {}
    facts: dict[str, JSON] = {
        "name": str(inspect.get("Name") or "").lstrip("/")[:256],
        "image": _short(config.get("Image"), 256),
        "status": _short(state.get("Status"), 32),
        "running": bool(state.get("Running")),
        "exit_code": state.get("ExitCode") if isinstance(state.get("ExitCode"), int) else None,
        "oom_killed": bool(state.get("OOMKilled")),
        "started_at": _short(state.get("StartedAt"), 64),
        "finished_at": _short(state.get("FinishedAt"), 64),
        "restart_count": inspect.get("RestartCount")
        if isinstance(inspect.get("RestartCount"), int)
        else None,
        "error": _short(state.get("Error"), 500) or None,
        "labels": dict(_labels(config.get("Labels"))),
    }
    health = state.get("Health")
    if isinstance(health, dict):
        probes = health.get("Log") or []
        last = probes[-1] if isinstance(probes, list) and probes else {}
        facts["health"] = {
            "status": _short(health.get("Status"), 32),
            "failing_streak": health.get("FailingStreak")
            if isinstance(health.get("FailingStreak"), int)
            else None,
            "last_output": _short(last.get("Output") if isinstance(last, dict) else None, 500),
        }
    return facts


def log_lines(raw: Any) -> list[JSON]:
    """The last log lines of docker-py's `logs(tail=10)` answer, at most 4 KB of it."""
    data = raw if isinstance(raw, bytes) else b""
    text = data[-engine.MAX_LOG_BYTES :].decode("utf-8", "replace")
    lines = text.splitlines()
    if len(data) > engine.MAX_LOG_BYTES and lines:
        lines = lines[1:]  # the first one was cut
    return list(lines[-engine.MAX_LOG_LINES :])


# --------------------------------------------------------------------------- one host


class HostWatcher:
    """Watch one Docker host: stream, store, reconnect, reconcile (module docstring)."""

    def __init__(
        self,
        host: DockerHost,
        store: Store,
        on_stored: Callable[[], None],
        clock: Callable[[], float] = time.time,
        connect: Callable[[str], EngineClient] = open_client,
        backoff: tuple[float, float] = (1.0, 30.0),
    ) -> None:
        self.host = host
        self.status = HostStatus(host.name, host.url)
        self._store = store
        self._on_stored = on_stored
        self._clock = clock
        self._connect = connect
        self._first_delay, self._max_delay = backoff
        self._memory = _Memory()
        self._cursor: int | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._stream: Any = None
        self._client: EngineClient | None = None
        self._wake = asyncio.Event()
        self._fetches: dict[tuple[str, str], asyncio.Future[Any]] = {}
        self._pending_ooms: dict[str, _PendingOom] = {}
        self._newest = 0  # Engine time of the newest streamed event handled
        self._pool = concurrent.futures.ThreadPoolExecutor(
            FETCH_THREADS, thread_name_prefix=f"docker-{host.name}"
        )

    @property
    def cursor(self) -> int | None:
        """The Engine time (ns) of the newest event stored for this host."""
        return self._cursor

    def stopping(self) -> bool:
        """Return True once `stop` was called."""
        return self._stopping

    def start(self) -> None:
        """Start watching (connects in the background)."""
        self._task = asyncio.create_task(self._run(), name=f"docker-{self.host.name}")

    async def stop(self) -> None:
        """Stop at once: close the stream, cancel what is in flight, free the threads."""
        self._stopping = True
        self._wake.set()
        self._close_stream()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._close_client()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.status.state = "stopped"

    # -- connection ----------------------------------------------------------------

    async def _run(self) -> None:
        delay = self._first_delay
        while not self._stopping:
            began = time.monotonic()
            try:
                reason = await self._session()
            except asyncio.CancelledError:
                raise
            except StoreError as exc:
                reason = f"database: {exc}"
            except Exception as exc:  # docker-py and requests raise many kinds
                reason = _one_line(exc)
            finally:
                self._close_stream()
                self._close_client()
            if self.stopping():
                return
            if time.monotonic() - began >= STABLE_SECONDS:
                delay = self._first_delay
            self.status.state = "reconnecting"
            self.status.connected_since = None
            self.status.reconnects += 1
            self.status.last_error = reason
            log.warning("docker %s: %s; reconnecting in %.0f s", self.host.name, reason, delay)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            delay = min(delay * 2, self._max_delay)

    async def _session(self) -> str:
        """Connect, open the stream since the cursor, reconcile, store until it ends."""
        client = await self._call(self._connect, self.host.url)
        self._client = client
        if self.stopping():
            return "stopping"
        info = await self._call(client.info)
        self.status.engine = _short(info.get("ServerVersion"), 40)
        stored = await self._store.sources.cursor(self.host.name)
        reconcile = stored is not None
        if stored is None:
            stored = _time_nanos(info.get("SystemTime")) or time.time_ns()
            await self._store.sources.advance(self.host.name, stored, self._clock())
        self._cursor = max(self._cursor or 0, stored)
        self._newest = max(self._newest, self._cursor)
        since = f"{self._cursor // SECOND}.{self._cursor % SECOND:09d}"
        stream = await self._call(
            client.events, since=since, filters=dict(STREAM_FILTERS), decode=True
        )
        self._stream = stream
        if self.stopping():
            return "stopping"
        self.status.state = "connected"
        self.status.connected_since = self._clock()
        log.info("docker %s: watching %s (since %s)", self.host.name, self.host.url, since)
        queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_SIZE)
        abandoned = threading.Event()  # this session is over: its reader must not wait
        reader = threading.Thread(
            target=self._pump,
            args=(stream, asyncio.get_running_loop(), queue, abandoned),
            name=f"docker-events-{self.host.name}",
            daemon=True,
        )
        reader.start()
        try:
            if reconcile:
                await self._reconcile(client, self._cursor)
            return await self._consume(queue, client)
        finally:
            abandoned.set()

    def _pump(
        self,
        stream: Iterable[Any],
        loop: asyncio.AbstractEventLoop,
        queue: Any,
        abandoned: threading.Event,
    ) -> None:
        """Read the blocking stream (reader thread); hand each event to the loop."""
        reason = "the event stream ended (dockerd stopped or restarted?)"
        try:
            for event in stream:
                if not self._hand_over(loop, queue, event, abandoned):
                    return
        except Exception as exc:  # a broken stream is a disconnect like any other
            reason = f"the event stream broke: {_one_line(exc)}"
        self._hand_over(loop, queue, (_END, reason), abandoned)

    def _hand_over(
        self, loop: asyncio.AbstractEventLoop, queue: Any, item: Any, abandoned: threading.Event
    ) -> bool:
        """Put an item on the loop's queue, waiting while it is full; False once abandoned."""
        try:
            future = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        except RuntimeError:  # the loop is closed
            return False
        while True:
            try:
                future.result(timeout=0.5)
                return True
            except concurrent.futures.TimeoutError:
                if self._stopping or abandoned.is_set():
                    future.cancel()
                    return False
            except (concurrent.futures.CancelledError, RuntimeError):
                return False

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        try:
            stream.close()
        except Exception:  # ssh streams cannot be cancelled: closing the client ends them
            log.debug("docker %s: stream.close() failed", self.host.name, exc_info=True)
            self._close_client()

    def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking docker-py call in this host's threads."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, partial(fn, *args, **kwargs))

    # -- storing -----------------------------------------------------------------------

    async def _consume(self, queue: asyncio.Queue[Any], client: EngineClient) -> str:
        while True:
            try:
                async with asyncio.timeout(self._next_oom_due()):
                    batch = [await queue.get()]
            except TimeoutError:
                await self._flush_ooms(client)
                continue
            while len(batch) < BATCH and not queue.empty():
                batch.append(queue.get_nowait())
            ended = next(
                (item[1] for item in batch if isinstance(item, tuple) and item[0] is _END),
                None,
            )
            events = [item for item in batch if isinstance(item, dict)]
            if events:
                await self._store_events(events, client)
            await self._flush_ooms(client, every=ended is not None)
            if ended is not None:
                return str(ended)

    async def _store_events(
        self, events: Sequence[Mapping[str, Any]], client: EngineClient
    ) -> None:
        """Store a batch of events for every hook watching, then move the cursor."""
        hooks = await self._hooks()
        deliveries: list[NewDelivery] = []
        newest = 0
        watched = [event for event in events if _watched(event, hooks)]
        self._prefetch(watched, client)
        try:
            for event in events:
                at = _nanos(event)
                newest = max(newest, at)
                self._note_seen(event, at)
                key = f"{event.get('id')}:{event.get('Action')}:{at}"
                if key in self._memory.keys or not _watched(event, hooks):
                    continue  # the cursor's own event replayed by `since=`; or no hook's
                self._memory.keys.remember(key, True)
                envelope = await self._envelope(event, at, client)
                if envelope is not None:
                    deliveries += self._deliveries(envelope, hooks)
        finally:
            self._forget_fetches()
        inserted = await self._store.inbox.write_batch(deliveries, []) if deliveries else []
        self._newest = max(self._newest, newest)
        await self._advance_cursor()
        self.status.loops = self._memory.looping(time.time_ns())
        if any(inserted):
            self._on_stored()

    async def _advance_cursor(self) -> None:
        """Move the stored cursor to the newest event handled, short of a pending `oom`."""
        target = self._newest
        if self._pending_ooms:
            target = min(target, min(p.at for p in self._pending_ooms.values()) - 1)
        if target > (self._cursor or 0):
            await self._store.sources.advance(self.host.name, target, self._clock())
            self._cursor = target

    def _next_oom_due(self) -> float | None:
        """Seconds until the first pending `oom` is due, or None."""
        if not self._pending_ooms:
            return None
        return max(min(p.due for p in self._pending_ooms.values()) - time.monotonic(), 0.0)

    async def _flush_ooms(self, client: EngineClient, *, every: bool = False) -> None:
        """Post the pending `oom` events that are due (`every`: all of them, the stream ended).

        A container that died of it meanwhile is left to its death's report.
        """
        now = time.monotonic()
        due = [i for i, p in self._pending_ooms.items() if every or p.due <= now]
        if not due:
            return
        hooks = await self._hooks()
        deliveries: list[NewDelivery] = []
        for ident in due:
            pending = self._pending_ooms.pop(ident)
            facts = await self._inspect_now(client, ident)
            if facts is not None and not facts["running"] and facts["oom_killed"]:
                continue
            envelope: dict[str, JSON] = {
                "host": self.host.name,
                "event": dict(pending.event),
                "container": facts,
                "logs": await self._logs_now(client, ident),
            }
            deliveries += self._deliveries(envelope, hooks)
        inserted = await self._store.inbox.write_batch(deliveries, []) if deliveries else []
        await self._advance_cursor()
        if any(inserted):
            self._on_stored()

    def _note_seen(self, event: Mapping[str, Any], at: int) -> None:
        self.status.last_event_at = at / SECOND
        name = ((event.get("Actor") or {}).get("Attributes") or {}).get("name")
        self.status.last_event = f"{event.get('Action')} {name or event.get('id')}"[:120]

    async def _hooks(self) -> list[Hook]:
        """The docker hooks watching this host (any state: the pipeline skips disabled ones)."""
        return [
            hook
            for hook in await self._store.hooks.find_all()
            if hook.service == SERVICE and hook.target in (None, "", self.host.name)
        ]

    def _deliveries(self, envelope: dict[str, JSON], hooks: Sequence[Hook]) -> list[NewDelivery]:
        event = envelope["event"]
        assert isinstance(event, dict)  # noqa: S101 - built by _envelope
        container = envelope.get("container")
        facts = container if isinstance(container, dict) else None
        delivery = engine.delivery_id(self.host.name, event, facts)
        kind = str(event.get("Type") or "container")
        actor = event.get("Actor")
        attributes = actor.get("Attributes") if isinstance(actor, dict) else None
        name = attributes.get("name") if isinstance(attributes, dict) else None
        if not isinstance(name, str):
            name = str((facts or {}).get("name") or "")
        body = orjson.dumps(envelope)
        now = self._clock()
        return [
            NewDelivery(
                hook.id,
                SERVICE,
                delivery,
                kind,
                {"content-type": "application/json"},
                body,
                now,
            )
            for hook in hooks
            if kind != "container" or _watches(hook, name)
        ]

    # -- envelopes -----------------------------------------------------------------

    async def _envelope(
        self, event: Mapping[str, Any], at: int, client: EngineClient
    ) -> dict[str, JSON] | None:
        """Build what is stored for one event; None for what is not reported."""
        kind = event.get("Type")
        action = str(event.get("Action") or event.get("status") or "")
        actor = event.get("Actor") or {}
        ident = str(actor.get("ID") or event.get("id") or "")
        attributes = actor.get("Attributes") or {}
        envelope: dict[str, JSON] = {"host": self.host.name, "event": dict(event)}
        memory = self._memory
        if kind == "image":
            if action == "tag":
                await self._image_envelope(envelope, ident, at, client)
            elif action in ("pull", "push"):
                await self._image_envelope(envelope, ident, at, client, build=False)
            return envelope
        if action == "create":
            image = str(attributes.get("image") or "")
            if image.startswith("sha256:") and image not in memory.build_starts:
                memory.build_starts.remember(image, at)
            return None
        if action == "start":
            memory.started.remember(ident, at)
        elif action == "kill":
            signals = memory.kills.get(ident) or []
            signal = str(attributes.get("signal") or "")
            if signal.isdigit():
                memory.kills.remember(ident, [*signals[-8:], (at, int(signal))])
        elif action == "oom":
            run_start = memory.started.get(ident, 0)
            first_of_run = memory.ooms.get(ident, -1) < run_start
            memory.ooms.remember(ident, at)
            if not first_of_run:
                return None
            facts = await self._inspect(client, ident)
            if facts is None or facts["running"]:
                # The kernel's kill may not have ended the container yet: its death, if it
                # comes within OOM_GRACE, reports "OOM-killed"; else this is posted then.
                self._pending_ooms[ident] = _PendingOom(event, at, time.monotonic() + OOM_GRACE)
            return None  # (not running: it died of it, and the death reports it)
        elif action == "die":
            return await self._death(envelope, event, ident, at, client, reconciled=False)
        elif action.startswith("health_status"):
            envelope["container"] = await self._inspect(client, ident)
            if action.endswith("unhealthy"):
                envelope["logs"] = await self._logs(client, ident)
        return envelope

    async def _death(
        self,
        envelope: dict[str, JSON],
        event: Mapping[str, Any],
        ident: str,
        at: int,
        client: EngineClient,
        *,
        reconciled: bool,
        facts: dict[str, JSON] | None = None,
    ) -> dict[str, JSON] | None:
        memory = self._memory
        self._pending_ooms.pop(ident, None)  # its death tells the OOM kill
        if facts is None:
            facts = await self._inspect(client, ident)
        delivery = engine.delivery_id(self.host.name, event, facts)
        if delivery in memory.deaths_stored:
            return None
        memory.deaths_stored.remember(delivery, True)
        started = memory.started.get(ident)
        kills = [
            signal
            for when, signal in memory.kills.get(ident) or []
            if at - KILL_WINDOW <= when <= at and (started is None or when >= started)
        ]
        oom_at = memory.ooms.get(ident)
        seen: dict[str, JSON] = {
            "oom": oom_at is not None and oom_at >= (started or 0) and oom_at <= at + SECOND,
            "signals": list(kills),
        }
        if started is not None and started <= at:
            seen["started"] = started
        envelope["container"] = facts
        envelope["seen"] = seen
        envelope["logs"] = await self._logs(client, ident)
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        name = str(attributes.get("name") or (facts or {}).get("name") or ident[:12])
        loop = memory.count_death(ident, at, name)
        if loop is not None:
            envelope["restart_loop"] = loop
        if reconciled:
            envelope["reconciled"] = True
        return envelope

    async def _image_envelope(
        self,
        envelope: dict[str, JSON],
        ident: str,
        at: int,
        client: EngineClient,
        *,
        build: bool = True,
    ) -> None:
        try:
            image = await self._call(client.inspect_image, ident)
        except Exception:  # deleted meanwhile, or unreachable: report the event alone
            return
        image_id = str(image.get("Id") or "")
        tags = [t for t in image.get("RepoTags") or [] if isinstance(t, str)][:20]
        layers = ((image.get("RootFS") or {}).get("Layers")) or []
        facts: dict[str, JSON] = {
            "id": image_id,
            "tags": list(tags),
            "size": image.get("Size") if isinstance(image.get("Size"), int) else None,
            "layers": len(layers) if isinstance(layers, list) else None,
            "created": _short(image.get("Created"), 64),
            "labels": dict(_labels((image.get("Config") or {}).get("Labels"))),
        }
        created = _time_nanos(image.get("Created"))
        memory = self._memory
        if (
            build
            and created is not None
            and at - BUILD_WINDOW <= created <= at + SECOND
            and image_id not in memory.builds
        ):
            memory.builds.remember(image_id, True)
            facts["new"] = True
            facts["build_seconds"] = await self._build_seconds(client, image_id, at)
        envelope["image"] = facts

    async def _build_seconds(self, client: EngineClient, image_id: str, at: int) -> int | None:
        """Seconds since the first intermediate container of this image's layers, if seen."""
        starts = self._memory.build_starts
        if not starts:
            return None
        try:
            layers = await self._call(client.history, image_id)
        except Exception:
            return None
        seen = [starts[layer["Id"]] for layer in layers if layer.get("Id") in starts]
        return (at - min(seen)) // SECOND if seen else None

    def _prefetch(self, events: Sequence[Mapping[str, Any]], client: EngineClient) -> None:
        """Start a batch's inspects and log reads at once (the host's threads run them).

        Each container is inspected (and its logs read) once per batch, just after its
        events: a container dying twice in a batch has one set of facts, of its last run.
        """
        self._forget_fetches()
        for event in events:
            action = str(event.get("Action") or "")
            if event.get("Type") != "container":
                continue
            ident = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
            if action in ("die", "oom") or action.startswith("health_status"):
                self._fetch("inspect", ident, client)
            if action == "die" or action.endswith("unhealthy"):
                self._fetch("logs", ident, client)

    def _fetch(self, what: str, ident: str, client: EngineClient) -> asyncio.Future[Any]:
        """The batch's fetch of `what` (inspect, logs) for a container, started once."""
        key = (what, ident)
        task = self._fetches.get(key)
        if task is None:
            fetch = self._inspect_now if what == "inspect" else self._logs_now
            task = asyncio.ensure_future(fetch(client, ident))
            self._fetches[key] = task
        return task

    def _forget_fetches(self) -> None:
        for task in self._fetches.values():
            task.cancel()
        self._fetches = {}

    async def _inspect(self, client: EngineClient, ident: str) -> dict[str, JSON] | None:
        result: dict[str, JSON] | None = await self._fetch("inspect", ident, client)
        return result

    async def _logs(self, client: EngineClient, ident: str) -> list[JSON]:
        result: list[JSON] = await self._fetch("logs", ident, client)
        return result

    async def _inspect_now(self, client: EngineClient, ident: str) -> dict[str, JSON] | None:
        try:
            return container_facts(await self._call(client.inspect_container, ident))
        except docker.errors.NotFound:
            return None  # removed (`--rm`): the event alone is reported
        except Exception as exc:
            log.debug("docker %s: inspect %s failed: %s", self.host.name, ident[:12], exc)
            return None

    async def _logs_now(self, client: EngineClient, ident: str) -> list[JSON]:
        try:
            raw = await self._call(
                client.logs, ident, stdout=True, stderr=True, tail=engine.MAX_LOG_LINES
            )
        except Exception:  # removed, or a logging driver that cannot be read back
            return []
        return log_lines(raw)

    # -- reconciliation ----------------------------------------------------------------

    async def _reconcile(self, client: EngineClient, cursor: int) -> None:
        """Report the deaths the stream did not bring: FinishedAt after the cursor."""
        self._forget_fetches()
        try:
            await self._reconcile_listed(client, cursor)
        finally:
            self._forget_fetches()

    async def _reconcile_listed(self, client: EngineClient, cursor: int) -> None:
        hooks = await self._hooks()
        if not hooks:
            return  # nobody to tell: the next hook starts from now
        listed = await self._call(client.containers, all=True)
        for entry in listed:  # inspected in the host's threads at once
            self._fetch("inspect", str(entry.get("Id") or ""), client)
        found: list[tuple[int, dict[str, Any], dict[str, JSON]]] = []
        for entry in listed:
            ident = str(entry.get("Id") or "")
            facts = await self._inspect(client, ident)
            if facts is None:
                continue
            finished = _time_nanos(facts.get("finished_at"))
            if finished is None or finished <= cursor - RECONCILE_SLACK:
                continue
            found.append((finished, {"Id": ident, **entry}, facts))
        envelopes: list[dict[str, JSON]] = []
        for finished, entry, facts in sorted(found, key=lambda item: item[0]):
            event = _death_event(str(entry["Id"]), finished, facts)
            envelope: dict[str, JSON] = {"host": self.host.name, "event": event}
            built = await self._death(
                envelope, event, str(entry["Id"]), finished, client, reconciled=True, facts=facts
            )
            if built is not None:
                envelopes.append(built)
        if not envelopes:
            return
        deliveries = [d for e in envelopes for d in self._deliveries(e, hooks)]
        inserted = await self._store.inbox.write_batch(deliveries, []) if deliveries else []
        new = sum(inserted)
        log.info(
            "docker %s: reconciled %d death(s) after the stream was down (%d new deliveries)",
            self.host.name,
            len(envelopes),
            new,
        )
        if new:
            self._on_stored()


def _death_event(ident: str, finished: int, facts: Mapping[str, JSON]) -> dict[str, JSON]:
    """An Engine `die` event for a death found by inspecting the container."""
    labels = facts.get("labels")
    attributes: dict[str, JSON] = {
        **(labels if isinstance(labels, dict) else {}),
        "name": facts.get("name"),
        "image": facts.get("image"),
    }
    # A container running again has State.ExitCode 0: its death's code is unknown.
    code = facts.get("exit_code")
    if isinstance(code, int) and not facts.get("running"):
        attributes["exitCode"] = str(code)
    return {
        "status": "die",
        "id": ident,
        "from": facts.get("image"),
        "Type": "container",
        "Action": "die",
        "Actor": {"ID": ident, "Attributes": attributes},
        "scope": "local",
        "time": finished // SECOND,
        "timeNano": finished,
    }


def _watched(event: Mapping[str, Any], hooks: Sequence[Hook]) -> bool:
    """Say whether any hook receives an event: image events go to all, containers by glob."""
    if event.get("Type") != "container":
        return bool(hooks)
    name = ((event.get("Actor") or {}).get("Attributes") or {}).get("name")
    return any(_watches(hook, str(name or "")) for hook in hooks)


def _watches(hook: Hook, container: str) -> bool:
    """Say whether a hook's `--containers` glob (options) selects a container name."""
    pattern = hook.options.get("containers") if hook.options else None
    if not isinstance(pattern, str) or not pattern:
        return True
    try:
        return bool(compile_glob(pattern).matches(container))
    except GlobError:
        return True


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


# --------------------------------------------------------------------------- all hosts


class DockerWatch:
    """The component: one HostWatcher per host, started and stopped together."""

    def __init__(
        self,
        hosts: Sequence[DockerHost],
        store: Store,
        on_stored: Callable[[], None],
        clock: Callable[[], float] = time.time,
        connect: Callable[[str], EngineClient] = open_client,
        backoff: tuple[float, float] = (1.0, 30.0),
    ) -> None:
        self.watchers = [
            HostWatcher(host, store, on_stored, clock, connect, backoff) for host in hosts
        ]

    def __iter__(self) -> Iterator[HostWatcher]:
        return iter(self.watchers)

    def start(self) -> None:
        """Start every host's watcher."""
        for watcher in self.watchers:
            watcher.start()

    async def stop(self) -> None:
        """Stop every watcher at once."""
        await asyncio.gather(*(watcher.stop() for watcher in self.watchers))

    def statuses(self) -> list[HostStatus]:
        """Return each host's stream status, in DOCKER_HOSTS order."""
        return [watcher.status for watcher in self.watchers]

    def health(self) -> list[dict[str, JSON]]:
        """Return the streams as /healthz shows them."""
        return [status.as_json() for status in self.statuses()]
