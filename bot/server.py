"""aiohttp app: /webhook/{service}/{token} (checks, then inbox, then 2xx) and /healthz."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from bot.store import Hook, NewDelivery, Rejection, Store, StoreError
from bot.writer import GroupCommitWriter
from parsers import PARSERS, ParserSpec
from parsers.errors import PayloadError, SignatureError, UnsupportedContentTypeError

log = logging.getLogger(__name__)

HOOK_CACHE_SECONDS = 2.0
READ_CHUNK = 256 * 1024
DECODE_IN_THREAD_ABOVE = 1024 * 1024


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


DEPS = web.AppKey("deps", ServerDeps)


class RejectedError(Exception):
    """A request refused with a 4xx; `reason` is what the hook's counters record."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """Read the body, refusing as soon as it exceeds `limit` (never all of a huge body)."""
    if request.content_length is not None and request.content_length > limit:
        raise RejectedError(413, "too large", f"body over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise RejectedError(413, "too large", f"body over the {limit}-byte limit")
        chunks.append(chunk)


async def _check(spec: ParserSpec, request: web.Request, secret: str, limit: int) -> bytes:
    """Run the cheap checks and the signature check; return the verified body."""
    content_type = request.headers.get("Content-Type")
    try:
        spec.check_content_type(content_type)
    except UnsupportedContentTypeError as exc:
        raise RejectedError(415, "unsupported content type", str(exc)) from exc
    missing = [name for name in spec.required_headers if name not in request.headers]
    if missing:
        raise RejectedError(400, "missing headers", f"missing header(s): {', '.join(missing)}")
    body = await _read_limited(request, limit)
    try:
        spec.verify(request.headers, body, secret)
    except SignatureError as exc:
        raise RejectedError(401, "bad signature", str(exc)) from exc
    try:
        if len(body) > DECODE_IN_THREAD_ABOVE:
            await asyncio.to_thread(spec.decode, content_type, body)
        else:
            spec.decode(content_type, body)
    except PayloadError as exc:
        raise RejectedError(400, "bad json", str(exc)) from exc
    return body


async def receive_webhook(request: web.Request) -> web.Response:
    """Check, verify and store one delivery; answer 2xx only once it is on disk."""
    deps = request.app[DEPS]
    spec = PARSERS.get(request.match_info["service"])
    if spec is None:
        return _error(404, "unknown service")
    try:
        found = await deps.hooks.find(request.match_info["token"])
    except StoreError:
        log.exception("hook lookup failed")
        return _error(503, "database unavailable")
    if found is None or found[0].service != spec.name:
        return _error(404, "unknown hook")
    hook, secret = found
    try:
        body = await _check(spec, request, secret, deps.max_body)
    except RejectedError as rejected:
        log.info("hook %s: rejected delivery (%s): %s", hook.id, rejected.reason, rejected.message)
        try:
            await deps.writer.reject(Rejection(hook.id, rejected.reason, deps.clock()))
        except (StoreError, RuntimeError):
            log.exception("hook %s: could not count a rejection", hook.id)
        response = _error(rejected.status, rejected.message, reason=rejected.reason)
        if rejected.status == 413:
            response.force_close()  # the rest of the body is never read: close, don't drain
        return response

    headers = _kept_headers(request.headers)
    event_name = spec.event_name(headers)
    delivery_id = spec.delivery_id(headers) or f"local-{uuid.uuid4()}"
    try:
        is_new = await deps.writer.accept(
            NewDelivery(hook.id, spec.name, delivery_id, event_name, headers, body, deps.clock())
        )
    except (StoreError, RuntimeError):
        log.exception("hook %s: delivery %s could not be stored", hook.id, delivery_id)
        return _error(503, "could not store the delivery; retry later")
    status = "accepted" if is_new else "duplicate"
    log.debug("hook %s: delivery %s %s", hook.id, delivery_id, status)
    code = 200 if event_name == "ping" else 202
    return web.json_response({"status": status, "delivery": delivery_id}, status=code)


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Keep the headers parsers read, lower-cased; drop hop-by-hop and auth noise."""
    dropped = {"authorization", "cookie", "connection", "transfer-encoding", "host"}
    return {k.lower(): v for k, v in headers.items() if k.lower() not in dropped}


async def healthz(request: web.Request) -> web.Response:
    """Answer 200 with JSON while accepting; 503 only when the database is unusable."""
    deps = request.app[DEPS]
    report = await deps.health()
    status = 200 if report.get("db") == "ok" else 503
    return web.json_response(report, status=status, dumps=json.dumps)


def make_app(deps: ServerDeps) -> web.Application:
    """Build the receiver application around its dependencies."""
    # client_max_size only guards request.read()/post(); our own reader enforces max_body.
    app = web.Application(client_max_size=deps.max_body + 1)
    app[DEPS] = deps
    app.router.add_post("/webhook/{service}/{token}", receive_webhook)
    app.router.add_get("/healthz", healthz)
    return app
