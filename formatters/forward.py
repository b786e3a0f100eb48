"""What a forward POSTs: the default JSON body of an event, or the user's `--body` (pure).

The default body (DESIGN "Forwarding") is
`{"type": kind, "id": delivery, "timestamp": ISO-8601, "hook": id, "data": {service,
provider, kind, title, url, actor, repo, branch, status, fields}}`; an alert's type is
`alert` and its data adds `alert` (the alert's text). A `--body` template is Jinja2 in
the same bounded sandbox as message templates, seeing the same names (the event's
fields at top level, `event`, `title`, …) plus `body` (the default body), `hook` and
`delivery`; it must render one JSON value (`tojson` writes any value as JSON).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import jinja2

from formatters.render import (
    BoundedEnvironment,
    TemplateError,
    TemplateParseError,
    TemplateRenderError,
    metered,
    template_context,
)
from parsers.event import JSON, Event

MAX_BODY = 256 * 1024  # characters a rendered body may have


def _tojson(value: Any) -> str:
    """Write a value as JSON; an undefined name is an error naming it (not `null`)."""
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises UndefinedError, naming the variable
    return json.dumps(plain(value), ensure_ascii=False)


_ENV = BoundedEnvironment()
_ENV.filters["tojson"] = _tojson


class BodyError(TemplateError):
    """A `--body` template fails, or does not render valid JSON (with its line, if known)."""


def plain(value: Any) -> JSON:
    """Return `value` as plain JSON data: mappings become dicts, sequences lists."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def iso_time(timestamp: float) -> str:
    """Return a unix time as ISO-8601 in UTC with a `Z` (2026-12-01T14:30:00Z)."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def default_body(
    event: Event, *, delivery: str, hook_id: str, timestamp: float, alert: str | None = None
) -> dict[str, JSON]:
    """Return the default forward body of an event (or of an alert it raised)."""
    data: dict[str, JSON] = {
        "service": event.service,
        "provider": event.provider,
        "kind": event.kind,
        "title": event.title,
        "url": event.url,
        "actor": event.actor,
        "repo": event.source,
        "branch": event.branch,
        "status": event.status,
        "fields": plain(event.fields),
    }
    if alert is not None:
        data["alert"] = alert
    return {
        "type": "alert" if alert is not None else event.kind,
        "id": delivery,
        "timestamp": iso_time(timestamp),
        "hook": hook_id,
        "data": data,
    }


@lru_cache(maxsize=256)
def _compile(source: str) -> jinja2.Template:
    try:
        return _ENV.from_string(source)
    except TemplateError:
        raise
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateParseError(exc.message or "invalid syntax", exc.lineno) from exc
    except Exception as exc:
        raise TemplateParseError(f"{type(exc).__name__}: {exc}") from exc


def render_body(source: str, event: Event, body: Mapping[str, JSON]) -> str:
    """Render a `--body` template for an event; return compact JSON text.

    Raises:
        BodyError: the template fails, or its output is not one valid JSON value (the
            message names the output's line and column).
    """
    names: dict[str, Any] = {k: plain(v) for k, v in template_context(event).items()}
    names.update(body=plain(body), hook=body.get("hook"), delivery=body.get("id"))
    try:
        template = _compile(source)
        with metered(names):
            output = template.render(names)
    except TemplateError as exc:
        raise BodyError(f"--body: {exc}") from exc
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise BodyError(f"--body: {exc}", line) from exc
    except Exception as exc:
        raise BodyError(f"--body: {TemplateRenderError(f'{type(exc).__name__}: {exc}')}") from exc
    if len(output) > MAX_BODY:
        raise BodyError(f"--body renders more than {MAX_BODY} characters")
    try:
        value = json.loads(output)
    except ValueError as exc:
        where = getattr(exc, "lineno", None)
        msg = getattr(exc, "msg", str(exc))
        column = getattr(exc, "colno", None)
        raise BodyError(
            f"--body does not render valid JSON: {msg} (output line {where}, column {column})"
            '; write values with `tojson`, e.g. {"text": {{ title|tojson }}}',
            where,
        ) from exc
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def body_text(body: Mapping[str, JSON]) -> str:
    """Return the default body as the compact JSON text that is sent (and signed)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)
