"""aiohttp app: /webhook/{service}/{token} (checks, then inbox, then 2xx) and /healthz.

Hostile clients are bounded here too: request headers must arrive within HEADER_TIMEOUT and
a webhook body within BODY_TIMEOUT (both counted in /healthz), and the tracebacks aiohttp
logs for malformed or abandoned requests become one throttled INFO line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import web
from aiohttp.http import HttpProcessingError

from bot.intake.api import PREFIX as API_PREFIX
from bot.intake.api import ApiDeps, api_app
from bot.intake.describe import add_describe
from bot.intake.metrics import Metrics, add_metrics
from bot.intake.writer import GroupCommitWriter
from bot.store import Hook, NewDelivery, Rejection, Store, StoreError
from parsers import SERVICES, ServiceSpec
from parsers.errors import PayloadError, SignatureError, UnsupportedContentTypeError

log = logging.getLogger(__name__)

HOOK_CACHE_SECONDS = 2.0
READ_CHUNK = 256 * 1024
DECODE_IN_THREAD_ABOVE = 1024 * 1024

# Slow clients. Not settings: the same everywhere (start_server takes others for tests).
HEADER_TIMEOUT = 10.0  # from connecting (or a kept-alive request's first byte) to full headers
BODY_TIMEOUT = 60.0  # from the handler starting to the last byte of a webhook body
KEEPALIVE_TIMEOUT = 75.0  # an idle kept-alive connection (aiohttp's default is an hour)
QUIET_LOG_SECONDS = 10.0  # at most one line per reason this often for hostile-input noise


@dataclass
class HookCache:
    """Known tokens for a short while, so that most requests skip a database read.

    Only hits are cached: a hook the CLI has just created is found at once.
    """

    store: Store
    clock: Callable[[], float] = time.time
    _entries: dict[str, tuple[Hook, str, float]] = field(default_factory=dict)

    async def find(self, token: str) -> tuple[Hook, str] | None:
        """Return the hook and signing secret for a URL token, or None."""
        now = self.clock()
        cached = self._entries.get(token)
        if cached is not None and cached[2] > now:
            return cached[0], cached[1]
        found = await self.store.hooks.find_by_token(token, now)
        if found is None:
            self._entries.pop(token, None)
            return None
        self._entries[token] = (found[0], found[1], now + HOOK_CACHE_SECONDS)
        return found

    def forget(self) -> None:
        """Drop every cached token (after an edit made in this process)."""
        self._entries.clear()


@dataclass
class ServerDeps:
    """What the receiver needs from the rest of the process."""

    store: Store
    writer: GroupCommitWriter
    hooks: HookCache
    max_body: int
    health: Callable[[], Awaitable[dict[str, Any]]]
    clock: Callable[[], float] = time.time
    api: ApiDeps | None = None  # None: /api answers 404
    metrics: Metrics = field(default_factory=Metrics)


DEPS = web.AppKey("deps", ServerDeps)


class LogThrottle:
    """At most one line per reason per `period`; the next line says how many were left out.

    Reasons must come from a small fixed set (our own words, exception class names), never
    from request data, so the table stays small whatever a client sends.
    """

    def __init__(
        self, period: float = QUIET_LOG_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._period = period
        self._clock = clock
        self._due: dict[str, tuple[float, int]] = {}  # reason → (next line allowed, left out)

    def admit(self, reason: str) -> int | None:
        """Return how many lines were left out since the last one, or None to leave this out."""
        now = self._clock()
        due, left_out = self._due.get(reason, (now, 0))
        if now < due:
            self._due[reason] = (due, left_out + 1)
            return None
        self._due[reason] = (now + self._period, 0)
        return left_out


def _left_out(count: int, period: float) -> str:
    return f" [{count} more like it in the last {period:g} s]" if count else ""


def _one_line(text: str, limit: int = 160) -> str:
    """Whitespace collapsed, non-printable characters replaced, cut to `limit`."""
    flat = " ".join(text.split())
    flat = "".join(c if c.isprintable() else "?" for c in flat)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


ANSWERED = "hookbot: answered and logged by the receiver"


def _hostile_cause(exc: BaseException | None) -> tuple[str, str] | None:
    """Name what a client did wrong and how, or None for an exception that is our own bug."""
    if isinstance(exc, web.RequestPayloadError) and exc.__cause__ is not None:
        exc = exc.__cause__  # the parser's error on the body (encoding, chunks, length)
    if isinstance(exc, HttpProcessingError):  # bad request line, headers, chunks, encoding
        return type(exc).__name__, exc.message
    if isinstance(exc, web.RequestPayloadError):
        return "bad body", str(exc)
    if isinstance(exc, ConnectionError):  # the client went away
        return "client gone", str(exc)
    return None


class QuietHostileRequests(logging.Filter):
    """On aiohttp's "aiohttp.server" logger: malformed or abandoned requests → one INFO line.

    aiohttp answers these itself (400 for a header or URL over 8 KB, too many headers, a
    control character; nothing for a client that left) and logs each with ERROR and a
    traceback. Here each becomes one INFO line (DEBUG stays DEBUG) without traceback, at
    most one per reason per period, with a count of those left out. A body error the
    receiver already answered (noted ANSWERED) is dropped. Anything else (our bugs, or
    an exception that is not a client's fault) passes unchanged.
    """

    def __init__(self, throttle: LogThrottle | None = None) -> None:
        super().__init__()
        self._throttle = throttle or LogThrottle()

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite a hostile-input record in place, drop it, or let it through untouched."""
        exc = record.exc_info[1] if record.exc_info else None
        cause = _hostile_cause(exc)
        if cause is None:
            return True
        if ANSWERED in getattr(exc, "__notes__", ()):
            return False
        level = min(record.levelno, logging.INFO)  # aiohttp logs some at DEBUG already
        if not logging.getLogger(record.name).isEnabledFor(level):
            return False
        reason, detail = cause
        left_out = self._throttle.admit(reason)
        if left_out is None:
            return False
        try:
            said = record.getMessage()
        except Exception:  # a bad `%` call: keep the format, not the arguments
            said = str(record.msg)
        record.msg = "%s (%s: %s; a client error, traceback left out)%s"
        record.args = (said, reason, _one_line(detail), _left_out(left_out, QUIET_LOG_SECONDS))
        record.levelno, record.levelname = level, logging.getLevelName(level)
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


class ConnectionGuard:
    """Bounds slow clients and counts them; one per receiver application.

    Header phase: a connection must deliver complete request headers within
    `header_timeout` of connecting, or of the first byte of its next request once a
    request is done; otherwise it is closed (aiohttp itself has no such limit). The
    watchdog sits in front of aiohttp's protocol (`protocol_factory`) and learns that
    headers are complete when the application starts handling the request (the
    `_watch_connection` middleware calls `request_started`).
    Body phase: the webhook handler reads a body within `body_timeout` or answers 408.
    """

    def __init__(
        self,
        header_timeout: float = HEADER_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
        throttle: LogThrottle | None = None,
    ) -> None:
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.header_timeouts = 0
        self.body_timeouts = 0
        self._throttle = throttle or LogThrottle()
        self._open: dict[asyncio.BaseTransport, _GuardedConnection] = {}

    def timeouts(self) -> dict[str, int]:
        """The counts /healthz shows."""
        return {"headers": self.header_timeouts, "body": self.body_timeouts}

    def quiet(self, reason: str, message: str, *args: object) -> None:
        """Log one INFO line for `reason` unless one was logged within the period."""
        if not log.isEnabledFor(logging.INFO):
            return
        left_out = self._throttle.admit(reason)
        if left_out is not None:
            log.info(message + "%s", *args, _left_out(left_out, QUIET_LOG_SECONDS))

    def protocol_factory(
        self, protocols: Callable[[], asyncio.Protocol]
    ) -> Callable[[], asyncio.Protocol]:
        """Wrap a protocol factory (an aiohttp `web.Server`) for `loop.create_server`."""
        return lambda: _GuardedConnection(self, protocols())

    def request_started(self, transport: asyncio.BaseTransport | None) -> _GuardedConnection | None:
        """The application has a request from `transport`: its headers are complete."""
        watched = self._open.get(transport) if transport is not None else None
        if watched is not None:
            watched.busy()
        return watched

    def opened(self, transport: asyncio.BaseTransport, watched: _GuardedConnection) -> None:
        """Start watching a connection."""
        self._open[transport] = watched

    def closed(self, transport: asyncio.BaseTransport) -> None:
        """Stop watching a connection."""
        self._open.pop(transport, None)

    def header_timed_out(self, transport: asyncio.Transport) -> None:
        """Count and close a connection whose headers did not arrive in time."""
        self.header_timeouts += 1
        peer = transport.get_extra_info("peername")
        where = peer[0] if isinstance(peer, tuple) else "?"
        self.quiet(
            "header timeout",
            "closed a connection from %s: no complete request headers within %g s",
            where,
            self.header_timeout,
        )
        transport.abort()

    def close_all(self) -> None:
        """Abort every connection still open (after a graceful shutdown had its chance)."""
        for watched in list(self._open.values()):
            watched.abort()


class _GuardedConnection(asyncio.Protocol):
    """aiohttp's protocol for one connection, with a header-phase watchdog in front."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self._inner = inner
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._busy = False
        self._reusable = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # a TCP server's transport
        self._guard.opened(transport, self)
        self._arm()  # a new connection owes its first request's headers
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._timer is None and not self._busy and self._reusable:
            self._arm()  # the first byte of the next request on a kept-alive connection
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._transport is not None:
            self._guard.closed(self._transport)
        self._inner.connection_lost(exc)

    def busy(self) -> None:
        """The application is handling a request: its headers are complete."""
        self._busy = True
        self._disarm()

    def idle(self, *, reusable: bool) -> None:
        """The request is done; `reusable` is False when its body was not all received.

        Bytes after a half-read body are still that body (aiohttp drains it, bounded, then
        closes), so the next request's watchdog starts only on a connection left clean.
        """
        self._busy = False
        self._reusable = reusable

    def abort(self) -> None:
        self._disarm()
        if self._transport is not None:
            self._transport.abort()

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._guard.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if not self._busy and self._transport is not None and not self._transport.is_closing():
            self._guard.header_timed_out(self._transport)


class RejectedError(Exception):
    """A request refused with a 4xx; `reason` is what the hook's counters record."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


class ClientGoneError(Exception):
    """The client closed the connection before sending its whole body."""


async def _read_limited(request: web.Request, limit: int, within: float) -> bytes:
    """Read the body, refusing as soon as it exceeds `limit` (never all of a huge body).

    The whole body must arrive within `within` seconds (408); a body aiohttp cannot
    decode (e.g. `Content-Encoding: gzip` on bytes that are not gzip) is refused with 400.
    """
    if request.content_length is not None and request.content_length > limit:
        raise RejectedError(413, "too large", f"body over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(within):
            while True:
                chunk = await request.content.read(READ_CHUNK)
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if size > limit:
                    raise RejectedError(413, "too large", f"body over the {limit}-byte limit")
                chunks.append(chunk)
    except TimeoutError as exc:
        message = f"body not received within {within:g} s"
        raise RejectedError(408, "body timeout", message) from exc
    except web.RequestPayloadError as exc:
        exc.add_note(ANSWERED)  # aiohttp raises it again when draining: nothing more to say
        encoding = request.headers.get("Content-Encoding")
        how = f" (Content-Encoding: {encoding})" if encoding else ""
        raise RejectedError(400, "bad encoding", f"body could not be decoded{how}") from exc
    except ConnectionError as exc:
        raise ClientGoneError(str(exc)) from exc


async def _check(
    spec: ServiceSpec,
    request: web.Request,
    hook: Hook,
    secret: str,
    limit: int,
    body_timeout: float,
) -> tuple[bytes, str, str | None]:
    """Run the cheap checks and the signature check (with the hook's options).

    Returns the verified body, the event name and the provider's delivery id (if any).
    """
    content_type = request.headers.get("Content-Type")
    try:
        spec.check_content_type(content_type, empty=request.content_length == 0)
    except UnsupportedContentTypeError as exc:
        raise RejectedError(415, "unsupported content type", str(exc)) from exc
    body = await _read_limited(request, limit, body_timeout)
    try:
        event_name, delivery_id = spec.identify(request.headers, body)
    except PayloadError as exc:
        raise RejectedError(400, "bad json", str(exc)) from exc
    if event_name is None:
        raise RejectedError(
            400, "missing headers", f"not a {spec.name} delivery: {spec.identify_hint}"
        )
    try:
        spec.verify(request.headers, body, secret, hook.options)
    except SignatureError as exc:
        raise RejectedError(401, "bad signature", str(exc)) from exc
    try:
        if len(body) > DECODE_IN_THREAD_ABOVE:
            await asyncio.to_thread(spec.check_body, content_type, body)
        else:
            spec.check_body(content_type, body)
    except PayloadError as exc:
        raise RejectedError(400, "bad json", str(exc)) from exc
    return body, event_name, delivery_id


async def receive_webhook(request: web.Request) -> web.Response:
    """Check, verify and store one delivery; answer 2xx only once it is on disk."""
    deps = request.app[DEPS]
    spec = SERVICES.get(request.match_info["service"])
    if spec is None or not spec.http:
        deps.metrics.rejected("unknown", "unknown service")
        return _error(404, "unknown service")
    try:
        found = await deps.hooks.find(request.match_info["token"])
    except StoreError:
        log.exception("hook lookup failed")
        return _error(503, "database unavailable")
    if found is None or found[0].service != spec.name:
        deps.metrics.rejected(spec.name, "unknown hook")
        return _error(404, "unknown hook")
    hook, secret = found
    guard = request.app[GUARD]
    try:
        body, event_name, delivery = await _check(
            spec, request, hook, secret, deps.max_body, guard.body_timeout
        )
    except ClientGoneError:
        guard.quiet("client gone", "hook %s: the client closed the connection mid-body", hook.id)
        return _error(400, "incomplete body")  # nobody reads it: the connection is gone
    except RejectedError as rejected:
        log.info("hook %s: rejected delivery (%s): %s", hook.id, rejected.reason, rejected.message)
        deps.metrics.rejected(spec.name, rejected.reason)
        if rejected.status == 408:
            guard.body_timeouts += 1
        try:
            await deps.writer.reject(Rejection(hook.id, rejected.reason, deps.clock()))
        except (StoreError, RuntimeError):
            log.exception("hook %s: could not count a rejection", hook.id)
        response = _error(rejected.status, rejected.message, reason=rejected.reason)
        if rejected.status in (408, 413):
            response.force_close()  # the rest of the body is never read: close, don't drain
        if rejected.status == 408:
            await _send_and_close(request, response)  # a slow client gets no lingering either
        return response

    headers = _kept_headers(request.headers)
    delivery_id = delivery or f"local-{uuid.uuid4()}"
    try:
        is_new = await deps.writer.accept(
            NewDelivery(hook.id, spec.name, delivery_id, event_name, headers, body, deps.clock())
        )
    except (StoreError, RuntimeError):
        log.exception("hook %s: delivery %s could not be stored", hook.id, delivery_id)
        return _error(503, "could not store the delivery; retry later")
    status = "accepted" if is_new else "duplicate"
    log.debug("hook %s: delivery %s %s", hook.id, delivery_id, status)
    deps.metrics.delivered(spec.name, status)
    code = 200 if event_name in spec.ok_events else 202  # a connection check gets a plain OK
    return web.json_response({"status": status, "delivery": delivery_id}, status=code)


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Keep the headers parsers read, lower-cased; drop hop-by-hop and auth noise."""
    dropped = {"authorization", "cookie", "connection", "transfer-encoding", "host"}
    return {k.lower(): v for k, v in headers.items() if k.lower() not in dropped}


async def _send_and_close(request: web.Request, response: web.StreamResponse) -> None:
    """Send `response` now, then close the connection once it is flushed."""
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionError:
        return
    transport = request.transport
    if transport is not None:
        transport.close()


async def healthz(request: web.Request) -> web.Response:
    """Answer 200 with JSON while accepting; 503 only when the database is unusable."""
    deps = request.app[DEPS]
    report = await deps.health()
    report["timeouts"] = request.app[GUARD].timeouts()
    status = 200 if report.get("db") == "ok" else 503
    return web.json_response(report, status=status, dumps=json.dumps)


GUARD = web.AppKey("guard", ConnectionGuard)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _watch_connection(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tell the header watchdog a request's headers are in, and when the request is done."""
    watched = request.app[GUARD].request_started(request.transport)
    response: web.StreamResponse | None = None
    try:
        response = await handler(request)
        return response
    except web.HTTPException as exc:
        response = exc
        raise
    finally:
        whole = request.content.is_eof()  # else aiohttp drains the rest (≤ 10 s)…
        if not whole and response is not None:
            response.force_close()  # …then closes: nothing follows a half-read body
        if watched is not None:
            watched.idle(reusable=whole)


def make_app(deps: ServerDeps, guard: ConnectionGuard | None = None) -> web.Application:
    """Build the receiver application around its dependencies."""
    guard = guard or ConnectionGuard()
    # client_max_size only guards request.read()/post(); our own reader enforces max_body.
    app = web.Application(client_max_size=deps.max_body + 1, middlewares=[_watch_connection])
    app[DEPS] = deps
    app[GUARD] = guard
    app.router.add_post("/webhook/{service}/{token}", receive_webhook)
    app.router.add_get("/healthz", healthz)
    add_describe(app)  # GET /webhook/{service}
    add_metrics(app, deps.metrics, deps.store, deps.health)
    app.add_subapp(API_PREFIX, api_app(deps.api))
    return app


@dataclass
class HttpServer:
    """The receiver listening on a socket; `close` stops it gracefully."""

    runner: web.AppRunner
    listener: asyncio.Server
    guard: ConnectionGuard
    log_filter: QuietHostileRequests

    @property
    def port(self) -> int:
        """The TCP port actually bound (useful with port 0)."""
        return int(self.listener.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop accepting, let requests finish (the runner's shutdown timeout), close."""
        self.listener.close()
        try:
            await self.runner.cleanup()
        finally:
            self.guard.close_all()
            logging.getLogger("aiohttp.server").removeFilter(self.log_filter)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await self.listener.wait_closed()


async def start_server(
    deps: ServerDeps,
    host: str,
    port: int,
    *,
    shutdown_timeout: float,
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
    backlog: int = 1024,
) -> HttpServer:
    """Serve the receiver on host:port with slow-client limits and quiet hostile-input logs.

    aiohttp's `web.Server` (the runner's) is the protocol factory, as for aiohttp's
    documented low-level server, wrapped by the ConnectionGuard's header watchdog.
    """
    guard = ConnectionGuard(header_timeout, body_timeout)
    runner = web.AppRunner(
        make_app(deps, guard),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=shutdown_timeout,
        keepalive_timeout=KEEPALIVE_TIMEOUT,
    )
    await runner.setup()
    server = runner.server
    if server is None:  # pragma: no cover - setup() always makes one
        raise RuntimeError("aiohttp runner has no server after setup()")
    log_filter = QuietHostileRequests()
    logging.getLogger("aiohttp.server").addFilter(log_filter)
    try:
        listener = await asyncio.get_running_loop().create_server(
            guard.protocol_factory(server), host, port, backlog=backlog
        )
    except BaseException:
        logging.getLogger("aiohttp.server").removeFilter(log_filter)
        await runner.cleanup()
        raise
    return HttpServer(runner, listener, guard, log_filter)
