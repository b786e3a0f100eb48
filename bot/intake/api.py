"""The management API under /api (DESIGN "Forwarding, the ledger, the API").

Off unless HOOKBOT_API_TOKEN is set: then every request needs `Authorization: Bearer
<token>` (compared in constant time); otherwise every /api path answers 404. Every
change goes through HookService, the same service `!hook`, `/hook` and `hookbot hook`
call; the API only turns JSON into its arguments and its answers into JSON. Errors are
`{"error": …}` with the status. `ROUTES` is the table docs/api.md is checked against.

The API sees every hook, as the shell does (hooks made in Discord included), and hooks it
creates belong to no guild, like the shell's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.core.grammar import HOOK_ID
from bot.core.verbs import (
    DEFAULT_FORWARD_RETRIES,
    DEFAULT_FORWARD_TIMEOUT,
    FORWARD_TIMEOUT_RANGE,
    MAX_FORWARD_RETRIES,
    AddForward,
)
from bot.redact import redact
from bot.service import (
    HookCredentials,
    HookError,
    HookNotFoundError,
    HookService,
    destination_for,
    setup_hint,
)
from bot.store import Hook, LogEntry, Store, StoreError
from bot.store.forwards import Forward

log = logging.getLogger(__name__)

PREFIX = "/api"
MAX_BODY = 1024 * 1024  # an API request body (a test's sample data included)
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
MAX_PAGE = 100_000
STATUS_FILTERS = ("all", "failed")
PATCHABLE = ("events", "filters", "aggregate", "enabled")  # applied in this order
CREATE_FIELDS = ("service", "target", "events", "webhook_url", "channel_id", "new", "signed")
FORWARD_FIELDS = ("url", "events", "headers", "retries", "timeout", "body")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class ApiDeps:
    """What the API needs: the one HookService, the store (ledger reads) and its settings."""

    service: HookService
    store: Store
    token: str | None
    bot_available: bool = False  # DISCORD_TOKEN is set: hooks may post to a channel id
    default_webhook_url: str | None = None  # DISCORD_WEBHOOK_URL, the shell's default too


API = web.AppKey("api", ApiDeps)


class ApiError(Exception):
    """A request the API refuses: answered `{"error": message, **extra}` with `status`."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def _error(status: int, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status)


def authorized(header: str | None, token: str) -> bool:
    """Return True when an Authorization header carries `Bearer <token>`.

    Both sides are hashed first, so `hmac.compare_digest` compares equal lengths and the
    time taken says nothing about the token, not even its length.
    """
    scheme, _, given = (header or "").strip().partition(" ")
    same = hmac.compare_digest(
        hashlib.sha256(given.strip().encode()).digest(), hashlib.sha256(token.encode()).digest()
    )
    return same and scheme.lower() == "bearer"


def _when(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()


def _state(hook: Hook) -> str:
    if hook.failing:
        return "failing"
    return "on" if hook.enabled else "off"


def hook_json(hook: Hook) -> dict[str, Any]:
    """A hook as the API shows it: never its token or secret; its destination redacted."""
    return {
        "id": hook.id,
        "service": hook.service,
        "target": hook.target,
        "destination": redact(hook.destination),
        "guild_id": hook.guild_id,
        "channel_id": hook.channel_id,
        "state": _state(hook),
        "enabled": hook.enabled,
        "failing": hook.failing,
        "events": list(hook.events),
        "filters": list(hook.filters),
        "aggregate_seconds": hook.window_seconds,
        "alerts": [str(rule["expression"]) for rule in hook.alerts],
        "accepted": hook.accepted,
        "rejected": hook.rejected,
        "rejections": dict(hook.rejections),
        "last_delivery_at": _when(hook.last_delivery_at),
        "last_delivery_status": hook.last_delivery_status,
        "last_error": hook.last_error,
        "created_at": _when(hook.created_at),
        "updated_at": _when(hook.updated_at),
    }


def entry_json(entry: LogEntry) -> dict[str, Any]:
    """A ledger line as the API shows it (text fields redacted once more: idempotent)."""
    shown: dict[str, Any] = {}
    for item in fields(entry):
        value = getattr(entry, item.name)
        if isinstance(value, str):
            value = redact(str(value))  # a Direction is a str too: plain text out
        shown[item.name] = value
    shown["at"] = _when(entry.at)
    shown["failed"] = entry.failed
    return shown


async def _json_body(request: web.Request) -> dict[str, Any]:
    """Return the request's JSON object (an empty body is `{}`); ApiError when it is not one."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, f"body over the {MAX_BODY}-byte limit")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ApiError(413, f"body over the {MAX_BODY}-byte limit")
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "body must be a JSON object")
    return value


def _hook_ref(request: web.Request) -> str:
    """The {id} of the path: a hook id, else 404 (the API names hooks by id only)."""
    ref = request.match_info["id"]
    if not HOOK_ID.fullmatch(ref):
        raise ApiError(404, f"no hook {ref}; ids look like hook_001")
    return ref


def _text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    return value


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false")
    return value


def _strings(body: Mapping[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ApiError(400, f"{name} must be a list of strings")
    return value


def _events(body: Mapping[str, Any], *, null_ok: bool = True) -> str | None:
    """Read `events`: a string (`push,pr`) or a list of strings, joined; None when absent.

    An explicit null reads as absent when `null_ok`, and is refused otherwise.
    """
    events = body.get("events")
    if isinstance(events, list):
        return ",".join(_strings(body, "events"))
    if isinstance(events, str) or (events is None and (null_ok or "events" not in body)):
        return events
    raise ApiError(400, "events must be a string (push,pr) or a list of strings")


def _unknown(body: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise ApiError(
            400, f"unknown field(s): {', '.join(extra)}; known fields: {', '.join(allowed)}"
        )


def _number(request: web.Request, name: str, default: int, highest: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= highest:
        raise ApiError(400, f"{name} must be a whole number from 1 to {highest}")
    return int(raw)


# -- handlers ------------------------------------------------------------------------


async def list_hooks(request: web.Request) -> web.Response:
    """GET /api/hooks: every hook, in id order."""
    hooks = await request.app[API].service.list_hooks()
    return web.json_response({"hooks": [hook_json(h) for h in hooks]})


async def create_hook(request: web.Request) -> web.Response:
    """POST /api/hooks: create a hook (201), or re-enable the same one (200), like `on`."""
    deps = request.app[API]
    body = await _json_body(request)
    _unknown(body, CREATE_FIELDS)
    service = _text(body, "service")
    if not service:
        raise ApiError(400, 'service is required, e.g. {"service": "github"}')
    events = _events(body)
    destination = destination_for(
        _text(body, "webhook_url"),
        _text(body, "channel_id"),
        bot_available=deps.bot_available,
        default_webhook_url=deps.default_webhook_url,
    )
    creds = await deps.service.create(
        service,
        destination,
        target=_text(body, "target"),
        creator="api",
        new=_flag(body, "new"),
        events=events,
        signed=_flag(body, "signed"),
    )
    return web.json_response(_credentials_json(creds), status=201 if creds.created else 200)


def _credentials_json(creds: HookCredentials) -> dict[str, Any]:
    return {
        **hook_json(creds.hook),
        "url": creds.url,
        "created": creds.created,
        "setup": setup_hint(creds),
        "secret": creds.secret,  # last, as everywhere a secret is shown
    }


async def get_hook(request: web.Request) -> web.Response:
    """GET /api/hooks/{id}: one hook with its URL, selection in words and filter counts."""
    details = await request.app[API].service.details(_hook_ref(request))
    return web.json_response(
        {
            **hook_json(details.hook),
            "url": details.url,
            "selection": details.selection,
            "filter_counts": [
                {"filter": text, "kept": kept, "dropped": dropped}
                for text, kept, dropped in details.filters
            ],
        }
    )


async def patch_hook(request: web.Request) -> web.Response:
    """PATCH /api/hooks/{id}: change events, filters, aggregate and/or enabled.

    Fields are applied in PATCHABLE's order; a refused field stops there and the error
    names the fields already applied.
    """
    service = request.app[API].service
    ref = _hook_ref(request)
    body = await _json_body(request)
    _unknown(body, PATCHABLE)
    if not body:
        raise ApiError(400, f"nothing to change; give one of: {', '.join(PATCHABLE)}")
    events = _events(body, null_ok=False)
    filters = _strings(body, "filters") if "filters" in body else None
    aggregate = body.get("aggregate") or "off"  # null, like "off", ends the window
    if not isinstance(aggregate, str):
        raise ApiError(400, "aggregate must be a duration such as 5m, or off")
    enabled = _flag(body, "enabled") if "enabled" in body else None
    applied: list[str] = []
    try:
        await service.resolve(ref)
        if isinstance(events, str):
            await service.set_events(ref, events)
            applied.append("events")
        if filters is not None:
            await service.set_filters(ref, filters)
            applied.append("filters")
        if "aggregate" in body:
            await service.set_window(ref, aggregate)
            applied.append("aggregate")
        if enabled is True:
            await service.enable(ref)
        elif enabled is False:
            await service.disable(ref)
    except HookNotFoundError:
        raise
    except HookError as exc:
        raise ApiError(400, str(exc), applied=applied) from exc
    return web.json_response(hook_json(await service.resolve(ref)))


async def delete_hook(request: web.Request) -> web.Response:
    """DELETE /api/hooks/{id}: delete for good (its URL stops working); 204."""
    await request.app[API].service.delete(_hook_ref(request))
    return web.Response(status=204)


async def hook_deliveries(request: web.Request) -> web.Response:
    """GET /api/hooks/{id}/deliveries?status=failed&page=1&per_page=20: the hook's ledger.

    Newest first; page 1 is the newest `per_page` lines. `next_page` is null on the last.
    """
    deps = request.app[API]
    hook = await deps.service.resolve(_hook_ref(request))
    status = request.query.get("status", "all")
    if status not in STATUS_FILTERS:
        raise ApiError(400, f"status must be one of: {', '.join(STATUS_FILTERS)}")
    page = _number(request, "page", 1, MAX_PAGE)
    per_page = _number(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    failed = status == "failed"
    entries = await deps.store.log.recent(hook.id, limit=per_page, failed_only=failed, page=page)
    # One line past this page, read by offset: is there a next page?
    after = await deps.store.log.recent(
        hook.id, limit=1, failed_only=failed, page=page * per_page + 1
    )
    return web.json_response(
        {
            "hook": hook.id,
            "status": status,
            "page": page,
            "per_page": per_page,
            "next_page": page + 1 if after else None,
            "deliveries": [entry_json(e) for e in reversed(entries)],
        }
    )


async def test_hook(request: web.Request) -> web.Response:
    """POST /api/hooks/{id}/test {"kind": …, "sample_data": {…}}: a test delivery; 202.

    `kind` picks the bundled sample (headers, and body unless `sample_data` is given);
    without either, the hook's last delivery (or its first sample) is sent again.
    """
    service = request.app[API].service
    ref = _hook_ref(request)
    body = await _json_body(request)
    _unknown(body, ("kind", "sample_data"))
    kind = _text(body, "kind")
    data = body.get("sample_data")
    if "sample_data" in body and not isinstance(data, dict):
        raise ApiError(400, "sample_data must be a JSON object (it replaces the sample's body)")
    sample = None if data is None else json.dumps(data).encode()
    hook, what = await service.test(ref, kind=kind, sample_data=sample)
    return web.json_response({"hook": hook.id, "sent": what}, status=202)


def forward_json(forward: Forward) -> dict[str, Any]:
    """A forward as the API shows it: header names only (values may be credentials)."""
    return {
        "number": forward.number,
        "id": forward.id,
        "url": redact(forward.url),
        "events": list(forward.events),
        "headers": [name for name, _ in forward.headers],
        "retries": forward.retries,
        "timeout": forward.timeout,
        "body": forward.body,
        "created_at": _when(forward.created_at),
    }


def _forward_number(request: web.Request) -> int:
    raw = request.match_info["n"]
    if not raw.isdigit() or int(raw) < 1:
        raise ApiError(404, f"no forward {raw}; forwards are numbered 1, 2, … as listed")
    return int(raw)


def _headers_of(body: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    value = body.get("headers", {})
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return tuple((str(k), v) for k, v in value.items())
    raise ApiError(400, 'headers must be an object of strings, e.g. {"X-Team": "ops"}')


def _whole(body: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(400, f"{name} must be a whole number from {low} to {high}")
    return value


async def list_forwards(request: web.Request) -> web.Response:
    """GET /api/hooks/{id}/forwards: the hook's forwards, numbered."""
    hook, forwards = await request.app[API].service.list_forwards(_hook_ref(request))
    return web.json_response({"hook": hook.id, "forwards": [forward_json(f) for f in forwards]})


async def add_forward(request: web.Request) -> web.Response:
    """POST /api/hooks/{id}/forwards {"url", "events", "headers", "retries", "timeout", "body"}.

    201 with the forward and its secret, shown this once.
    """
    service = request.app[API].service
    ref = _hook_ref(request)
    body = await _json_body(request)
    _unknown(body, FORWARD_FIELDS)
    url = _text(body, "url")
    if not url or not url.startswith(("http://", "https://")):
        raise ApiError(400, 'url is required: an http(s) URL, e.g. {"url": "https://…"}')
    events = _events(body)
    low, high = FORWARD_TIMEOUT_RANGE
    add = AddForward(
        url=url,
        events=events,
        headers=_headers_of(body),
        retries=_whole(body, "retries", DEFAULT_FORWARD_RETRIES, 0, MAX_FORWARD_RETRIES),
        timeout_seconds=_whole(body, "timeout", DEFAULT_FORWARD_TIMEOUT, low, high),
        body=_text(body, "body"),
    )
    hook, forward = await service.add_forward(ref, add)
    shown = {"hook": hook.id, **forward_json(forward), "secret": forward.secret}
    return web.json_response(shown, status=201)


async def remove_forward(request: web.Request) -> web.Response:
    """DELETE /api/hooks/{id}/forwards/{n}: remove forward n; its queued requests go."""
    service = request.app[API].service
    hook, forward, dropped = await service.remove_forward(
        _hook_ref(request), _forward_number(request)
    )
    return web.json_response(
        {"hook": hook.id, "removed": forward_json(forward), "dropped": dropped}
    )


async def test_forward(request: web.Request) -> web.Response:
    """POST /api/hooks/{id}/forwards/{n}/test: send the last event (or a sample) now.

    200 with the ledger line of the try (status code, response time, error).
    """
    service = request.app[API].service
    hook, forward, entry = await service.test_forward(_hook_ref(request), _forward_number(request))
    return web.json_response({"hook": hook.id, "forward": forward.number, **entry_json(entry)})


@dataclass(frozen=True, slots=True)
class Route:
    """One API route: docs/api.md must show each (a test checks it)."""

    method: str
    path: str
    handler: Handler
    summary: str


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/hooks", list_hooks, "list every hook"),
    Route("POST", "/api/hooks", create_hook, "create a hook (or re-enable the same one)"),
    Route("GET", "/api/hooks/{id}", get_hook, "one hook, with its URL and filter counts"),
    Route("PATCH", "/api/hooks/{id}", patch_hook, "change events, filters, aggregate, enabled"),
    Route("DELETE", "/api/hooks/{id}", delete_hook, "delete a hook"),
    Route("GET", "/api/hooks/{id}/deliveries", hook_deliveries, "the hook's ledger, paged"),
    Route("POST", "/api/hooks/{id}/test", test_hook, "send a test delivery"),
    Route("GET", "/api/hooks/{id}/forwards", list_forwards, "the hook's forwards"),
    Route("POST", "/api/hooks/{id}/forwards", add_forward, "add a forward (its secret, once)"),
    Route("DELETE", "/api/hooks/{id}/forwards/{n}", remove_forward, "remove forward n"),
    Route("POST", "/api/hooks/{id}/forwards/{n}/test", test_forward, "send to forward n now"),
)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """404 while the API is off; 401 without the right token; errors as JSON."""
    deps = request.app.get(API)
    if deps is None or deps.token is None:
        return _error(404, "not found")
    if not authorized(request.headers.get("Authorization"), deps.token):
        response = _error(401, "give the API token: Authorization: Bearer <HOOKBOT_API_TOKEN>")
        response.headers["WWW-Authenticate"] = "Bearer"
        return response
    try:
        return await handler(request)
    except ApiError as exc:
        return _error(exc.status, exc.message, **exc.extra)
    except HookNotFoundError as exc:
        return _error(404, str(exc))
    except HookError as exc:
        return _error(400, str(exc))
    except StoreError:
        log.exception("api: the store failed")
        return _error(503, "database unavailable; retry later")
    except web.HTTPException as exc:  # no such route (404), wrong method (405)
        if exc.status < 400:
            raise
        return _error(exc.status, exc.reason.lower(), **_allowed(exc))


def _allowed(exc: web.HTTPException) -> dict[str, Any]:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return {"allowed": sorted(exc.allowed_methods)}
    return {}


def api_app(deps: ApiDeps | None) -> web.Application:
    """Build the /api sub-application (mounted by the receiver's app at PREFIX)."""
    app = web.Application(middlewares=[_guard])
    if deps is not None:
        app[API] = deps
    for route in ROUTES:
        app.router.add_route(route.method, route.path.removeprefix(PREFIX), route.handler)
    return app
