"""Turn custom JSON deliveries (any sender, any JSON) into Events.

Pure: no I/O, no clock. A custom hook accepts whatever JSON a script or a monitoring
tool POSTs, so nothing in the body is required:

* The body is any JSON value: an object (the usual case), an array, a string or a number
  (then `payload` is that value and nothing is lifted), or nothing at all (an empty or
  all-whitespace body is a valid event with `payload` null). Invalid JSON, or nesting
  deeper than orjson's 1,024 levels, is a PayloadError.
* Kind: `custom.<slug>` from the first of the top-level `event`, `type`, `kind`, `action`
  fields that is a string with a non-empty slug, else `custom.event`. The slug is
  lower-case; dots in the value separate parts (`invoice.paid` → `custom.invoice.paid`,
  because Standard Webhooks senders name their events that way and patterns such as
  `custom.invoice.*` then work); inside each part every run of characters outside
  `[a-z0-9_]` becomes `_`, parts are trimmed of `_` and empty parts dropped; the slug is
  cut to 64 characters (`Server Alert!` → `custom.server_alert`).
* Fields: `payload` (the whole body) and `body_json` (the body as compact JSON for the
  default message: at most `PREVIEW_LIMIT` characters, no backtick, see `compact_json`),
  then every top-level key among the body's first `MAX_LIFTED_KEYS` whose value is a
  string, number or boolean and whose name is a plain identifier (so `{{ message }}` and
  `status=…` filters read it). A body key named `payload` or `body_json` stays inside
  `payload`. Templates therefore see `payload.host` and `host` alike.
* Event attributes: `title` from the first non-blank string among `title`, `message`,
  `text`, `summary`, `event`, `name` (else "Custom event"); `url` from `url`, `link`,
  `html_url` when it is an http(s) address; `status` (lower-cased) from `status`,
  `state`, `level`, `severity`; `actor` from `actor`, `author`, `user`, `username`;
  `branch` from `branch`; `occurred_at` from `timestamp`, `time`, `occurred_at`,
  `created_at`, `date` when ISO 8601; `source` is the hook's target (`options["target"]`),
  else the User-Agent, else "custom".

Verification is optional (DESIGN.md "Services"): when a Standard Webhooks signature
(`webhook-id`, `webhook-timestamp`, `webhook-signature`) or `X-Hub-Signature-256` is sent,
it must verify; an unsigned delivery passes unless the hook was made with `--signed`
(options `{"signed": true}`). The registry should call `verify_with_options`, which
knows the hook's options and the receiver's clock; `verify`, the contract's three-argument
form, is the strict policy (a signature is required), so a registry that wires it alone
fails closed.

Standard Webhooks key: a secret in the `whsec_<base64>` form is base64-decoded; any other
secret (hookbot's are `secrets.token_urlsafe`) is used as its UTF-8 bytes, which is what a
Standard Webhooks library does when given `whsec_` + base64 of those bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from urllib.parse import urlsplit

import orjson

from parsers._headers import header, media_type, nonblank_header
from parsers.errors import PayloadError, SignatureError, UnsupportedContentTypeError
from parsers.event import JSON, Event
from parsers.signatures import sign_hmac_sha256, verify_hmac_sha256

__all__ = [
    "ALIASES",
    "CONTENT_TYPES",
    "DEFAULT_SELECTION",
    "FIELD_DOCS",
    "KINDS",
    "KIND_GRAMMAR",
    "SAMPLES",
    "SERVICE",
    "SETUP_HINT",
    "compact_json",
    "identify",
    "kind_of",
    "parse",
    "sample_headers",
    "sign",
    "sign_standard",
    "slug",
    "verify",
    "verify_with_options",
]

SERVICE = "custom"
CONTENT_TYPES: tuple[str, ...] = ("application/json",)
EVENT_NAME = "custom"
"""The one event name: every kind is `custom` or `custom.<slug>`."""

HUB_SIGNATURE_HEADER = "X-Hub-Signature-256"
WEBHOOK_ID_HEADER = "webhook-id"
WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp"
WEBHOOK_SIGNATURE_HEADER = "webhook-signature"
DELIVERY_HEADERS = (WEBHOOK_ID_HEADER, "Idempotency-Key", "X-Request-Id")

TIMESTAMP_TOLERANCE = 300
"""Seconds a Standard Webhooks timestamp may differ from the receiver's clock (the
reference library's ±5 minutes)."""

MAX_LIFTED_KEYS = 200
"""Top-level keys of the body considered for lifting into fields."""
PREVIEW_LIMIT = 1000
"""Characters of compact JSON in `body_json`."""
MAX_SLUG = 64
"""Characters of the slug after `custom.`."""
MAX_TITLE = 256

_TITLE_KEYS = ("title", "message", "text", "summary", "event", "name")
_KIND_KEYS = ("event", "type", "kind", "action")
_URL_KEYS = ("url", "link", "html_url")
_STATUS_KEYS = ("status", "state", "level", "severity")
_ACTOR_KEYS = ("actor", "author", "user", "username")
_TIME_KEYS = ("timestamp", "time", "occurred_at", "created_at", "date")
_RESERVED_FIELDS = frozenset({"payload", "body_json"})

_MAX_KEY = 64  # characters of a lifted key's name
_MAX_SLUG_INPUT = 4 * MAX_SLUG  # characters of the kind field read
_MAX_ID = 200  # characters of a delivery id header kept as is
_MAX_SIGNATURES = 16  # `webhook-signature` entries tried (a rotation list is short)
_MAX_URL = 2048
_MAX_TIME = 64

KIND_GRAMMAR = re.compile(r"custom\.[a-z0-9_]+(\.[a-z0-9_]+)*")
"""Every kind this parser can produce (the registry may check patterns against it)."""
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SLUG_RUN = re.compile(r"[^a-z0-9_]+")
_BLANKS = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")
# Escaped in `body_json`: what JSON must escape, plus what could break a code block or
# mislead a reader (the backtick, C1 controls, line separators, bidi overrides).
_JSON_ESCAPE = re.compile(
    '["\\\\`\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]'
)
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


# --------------------------------------------------------------------------- edges


def delivery_id(headers: Mapping[str, str]) -> str | None:
    """Return the sender's delivery id: `webhook-id`, `Idempotency-Key` or `X-Request-Id`.

    An id longer than 200 characters is replaced by `sha256:<hex>` of it, so the dedupe
    key stays short without two long ids colliding.

    Args:
        headers: The request headers; names match case-insensitively.

    Returns:
        The first of the three headers that is present and not blank, or None.
    """
    for name in DELIVERY_HEADERS:
        value = nonblank_header(headers, name)
        if value is not None:
            if len(value) > _MAX_ID:
                return "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()
            return value
    return None


def identify(headers: Mapping[str, str], body: bytes) -> tuple[str | None, str | None]:
    """Return the event name and the delivery id without reading the body.

    Every delivery to a custom hook is one of its events, so the name is always
    `custom`; the kind (`custom.<slug>`) needs the body and comes from `parse`.

    Args:
        headers: The request headers; names match case-insensitively.
        body: The raw body (unused: identifying stays cheap for any size).

    Returns:
        `("custom", delivery id or None)`.
    """
    del body
    return EVENT_NAME, delivery_id(headers)


def _standard_key(secret: str) -> bytes:
    """Return the HMAC key for Standard Webhooks: `whsec_<base64>` decoded, else UTF-8."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            pass  # not base64 after all: the text itself is the key
    return secret.encode("utf-8")


def _standard_signature(msg_id: str, timestamp: str, body: bytes, secret: str) -> bytes:
    """Return the raw HMAC-SHA256 of `{id}.{timestamp}.{body}`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.digest(_standard_key(secret), signed, "sha256")


def sign_standard(body: bytes, secret: str, msg_id: str, timestamp: int) -> dict[str, str]:
    """Return the Standard Webhooks headers a sender adds for this body.

    Args:
        body: The exact body bytes that will be sent.
        secret: The hook's signing secret (see the module doc for the key).
        msg_id: The message id (`webhook-id`), the same on every retry.
        timestamp: The attempt's time in Unix seconds (the caller owns the clock).

    Returns:
        `webhook-id`, `webhook-timestamp` and `webhook-signature` (`v1,<base64>`).
    """
    digest = _standard_signature(msg_id, str(timestamp), body, secret)
    return {
        WEBHOOK_ID_HEADER: msg_id,
        WEBHOOK_TIMESTAMP_HEADER: str(timestamp),
        WEBHOOK_SIGNATURE_HEADER: "v1," + base64.b64encode(digest).decode("ascii"),
    }


def sign(body: bytes, secret: str) -> dict[str, str]:
    """Return the signature header a genuine sender adds: `X-Hub-Signature-256`.

    The GitHub-style header needs no message id or clock, so it is the one the CLI's
    samples and `test` use; `sign_standard` builds the Standard Webhooks headers.

    Args:
        body: The exact body bytes that will be sent.
        secret: The hook's signing secret.

    Returns:
        `{"X-Hub-Signature-256": "sha256=<hex>"}`.
    """
    return {HUB_SIGNATURE_HEADER: sign_hmac_sha256(body, secret)}


def _verify_standard(
    headers: Mapping[str, str], body: bytes, secret: str, signatures: str, now: float | None
) -> None:
    """Check a `webhook-signature` list; one matching `v1` entry is enough."""
    msg_id = nonblank_header(headers, WEBHOOK_ID_HEADER)
    timestamp = nonblank_header(headers, WEBHOOK_TIMESTAMP_HEADER)
    if msg_id is None:
        raise SignatureError("webhook-signature without webhook-id")
    if timestamp is None:
        raise SignatureError("webhook-signature without webhook-timestamp")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError("webhook-timestamp is not Unix seconds")
    if now is not None and abs(now - int(timestamp)) > TIMESTAMP_TOLERANCE:
        raise SignatureError("webhook-timestamp is more than 5 minutes away")
    given: list[bytes] = []
    for entry in signatures.split()[:_MAX_SIGNATURES]:
        version, comma, value = entry.partition(",")
        if version != "v1" or not comma:
            continue  # v1a (asymmetric) and unknown versions are not ours to check
        try:
            given.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not given:
        raise SignatureError("webhook-signature has no v1 signature")
    expected = _standard_signature(msg_id, timestamp, body, secret)
    # Compare against every entry, so the time taken does not tell which one matched.
    matched = False
    for candidate in given:
        matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise SignatureError("webhook-signature does not match the body and secret")


def verify_with_options(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    options: Mapping[str, JSON],
    *,
    now: float | None = None,
) -> None:
    """Check a delivery's signatures under the hook's policy.

    Every signature the sender sent must verify (Standard Webhooks and
    `X-Hub-Signature-256` alike); without any, the delivery passes unless the hook
    requires one (`options["signed"]` is true, from `on custom … --signed`).

    Args:
        headers: The request headers; names match case-insensitively.
        body: The exact body bytes as received.
        secret: The hook's signing secret.
        options: The hook's options; `signed: true` makes a signature required.
        now: The receiver's clock in Unix seconds, to refuse a Standard Webhooks
            timestamp more than 5 minutes away (replays); None skips that check.

    Raises:
        SignatureError: A signature is malformed or does not match, or none was sent
            and the hook requires one.
    """
    # A signature header that is present but blank still counts as sent, and fails.
    standard = header(headers, WEBHOOK_SIGNATURE_HEADER)
    hub = header(headers, HUB_SIGNATURE_HEADER)
    if standard is None and hub is None:
        if options.get("signed") is True:
            raise SignatureError(
                "missing signature: this hook requires webhook-signature or X-Hub-Signature-256"
            )
        return
    if not secret:
        raise SignatureError("no signing secret is configured")
    if standard is not None:
        _verify_standard(headers, body, secret, standard, now)
    if hub is not None:
        verify_hmac_sha256(body, hub, secret)


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Check a delivery strictly: a valid signature is required (a `--signed` hook).

    The contract's three-argument form cannot see the hook's options, so it takes the
    safe side; the receiver calls `verify_with_options` to accept unsigned posts.

    Args:
        headers: The request headers; names match case-insensitively.
        body: The exact body bytes as received.
        secret: The hook's signing secret.

    Raises:
        SignatureError: No signature was sent, or one does not verify.
    """
    verify_with_options(headers, body, secret, {"signed": True})


# --------------------------------------------------------------------------- decoding


def decode(headers: Mapping[str, str], body: bytes) -> JSON:
    """Decode a custom delivery's body into its JSON value.

    Args:
        headers: The request headers (for Content-Type).
        body: The raw body bytes.

    Returns:
        The decoded value; None for an empty or all-whitespace body.

    Raises:
        UnsupportedContentTypeError: A non-empty body sent with a content type other
            than application/json (a missing content type is read as JSON).
        PayloadError: The body is not UTF-8 JSON, or nests deeper than 1,024 levels.
    """
    if not body.strip():
        return None
    media = media_type(header(headers, "Content-Type"))
    if media and media not in CONTENT_TYPES:
        raise UnsupportedContentTypeError(
            f"unsupported content type {media!r}; send application/json"
        )
    try:
        value: JSON = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON: {exc}") from exc
    return value


# --------------------------------------------------------------------------- kinds


def slug(value: str) -> str:
    """Turn an event name from the body into the part of a kind after `custom.`.

    Args:
        value: The body's event/type/kind/action value (only its first 256
            characters are read).

    Returns:
        Dot-separated lower_snake parts, at most 64 characters; "" when nothing usable
        is left (`"Deploy Finished!"` → `deploy_finished`, `"invoice.paid"` →
        `invoice.paid`).
    """
    parts = (
        _SLUG_RUN.sub("_", part).strip("_") for part in value[:_MAX_SLUG_INPUT].lower().split(".")
    )
    joined = ".".join(part for part in parts if part)
    return joined[:MAX_SLUG].rstrip("._")


def kind_of(payload: JSON) -> str:
    """Return the kind of a decoded body: `custom.<slug>` or `custom.event`.

    Args:
        payload: The decoded body.

    Returns:
        The kind, from the first of `event`, `type`, `kind`, `action` that is a string
        with a non-empty slug.
    """
    if isinstance(payload, dict):
        for key in _KIND_KEYS:
            value = payload.get(key)
            if isinstance(value, str):
                name = slug(value)
                if name:
                    return f"{EVENT_NAME}.{name}"
    return f"{EVENT_NAME}.event"


# --------------------------------------------------------------------------- preview


def _string(text: str, limit: int) -> str:
    """Quote a string as JSON (see `_JSON_ESCAPE`), reading at most `limit` characters."""

    def escape(match: re.Match[str]) -> str:
        char = match[0]
        return _SHORT_ESCAPES.get(char) or f"\\u{ord(char):04x}"

    return '"' + _JSON_ESCAPE.sub(escape, text[:limit]) + '"'


def _scalar(value: JSON, limit: int) -> str:
    if isinstance(value, str):
        return _string(value, limit)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)  # int or float; orjson never decodes NaN or infinities


def _tokens(value: JSON, limit: int) -> Iterator[str]:
    """Yield the compact JSON of a value piece by piece, without recursion.

    Each open object or array is a frame (its `(key, item)` iterator, with key None in
    arrays, and whether an item was written yet), so depth costs a list entry, not a
    Python stack frame.
    """
    frames: list[tuple[Iterator[tuple[str | None, JSON]], str, list[bool]]] = []
    current: JSON = value
    while True:
        if isinstance(current, dict):
            yield "{"
            frames.append((iter(current.items()), "}", [False]))
        elif isinstance(current, list):
            yield "["
            frames.append((((None, item) for item in current), "]", [False]))
        else:
            yield _scalar(current, limit)
        while frames:
            items, closer, written = frames[-1]
            pair = next(items, None)
            if pair is None:
                frames.pop()
                yield closer
                continue
            if written[0]:
                yield ","
            written[0] = True
            key, current = pair
            if key is not None:
                yield _string(key, limit) + ":"
            break
        else:
            return


def compact_json(value: JSON, limit: int = PREVIEW_LIMIT) -> str:
    r"""Write a value as compact JSON of at most `limit` characters, safe in a code block.

    The text never contains a backtick (written `\u0060`, still valid JSON), a control
    character or a line break, so it cannot close a Markdown code fence. The work is
    bounded by `limit`, whatever the size or depth of the value; a cut text ends in `…`.

    Args:
        value: A decoded JSON value.
        limit: The longest result, in characters (at least 1).

    Returns:
        The JSON text, or its first `limit - 1` characters followed by `…`.
    """
    limit = max(limit, 1)
    pieces: list[str] = []
    size = 0
    for piece in _tokens(value, limit):
        pieces.append(piece)
        size += len(piece)
        if size > limit:
            return "".join(pieces)[: limit - 1] + "…"
    return "".join(pieces)


# --------------------------------------------------------------------------- parsing


def _line(text: str, limit: int) -> str:
    """Collapse whitespace and control characters into single spaces; cut to `limit`."""
    collapsed = _BLANKS.sub(" ", text[: limit * 4]).strip()
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 1] + "…"


def _first_text(body: Mapping[str, JSON], keys: tuple[str, ...], limit: int) -> str | None:
    """Return the first of `keys` holding a string that is not blank, as one line."""
    for key in keys:
        value = body.get(key)
        if isinstance(value, str):
            text = _line(value, limit)
            if text:
                return text
    return None


def _status(body: Mapping[str, JSON]) -> str | None:
    """Return the first status-like value (string or number), lower-cased, as one line."""
    for key in _STATUS_KEYS:
        value = body.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str):
            text = _line(value, 64).lower()
            if text:
                return text
    return None


def _url(body: Mapping[str, JSON]) -> str | None:
    """Return the first http(s) address among the URL-like keys."""
    for key in _URL_KEYS:
        value = body.get(key)
        if not isinstance(value, str) or len(value) > _MAX_URL:
            continue
        candidate = value.strip()
        if _BLANKS.search(candidate):
            continue
        try:
            parts = urlsplit(candidate)
        except ValueError:
            continue
        if parts.scheme.lower() in ("http", "https") and parts.hostname:
            return candidate
    return None


def _occurred_at(body: Mapping[str, JSON]) -> datetime | None:
    """Return the first ISO 8601 time among the time-like keys, as tz-aware UTC."""
    for key in _TIME_KEYS:
        value = body.get(key)
        if not isinstance(value, str) or len(value) > _MAX_TIME:
            continue
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            continue
    return None


def _lifted(body: Mapping[str, JSON]) -> dict[str, JSON]:
    """Return the body's scalar top-level keys that templates and filters can name."""
    lifted: dict[str, JSON] = {}
    for key, value in itertools.islice(body.items(), MAX_LIFTED_KEYS):
        if (
            isinstance(value, str | int | float)  # bool is an int
            and len(key) <= _MAX_KEY
            and key not in _RESERVED_FIELDS
            and _IDENTIFIER.fullmatch(key)
        ):
            lifted[key] = value
    return lifted


def _source(headers: Mapping[str, str], options: Mapping[str, JSON]) -> str:
    """Return the hook's target name, else the sender's User-Agent, else `custom`."""
    target = options.get("target")
    if isinstance(target, str) and target.strip():
        return _line(target, MAX_TITLE)
    agent = nonblank_header(headers, "User-Agent")
    return _line(agent, MAX_TITLE) if agent else SERVICE


def parse(headers: Mapping[str, str], body: bytes, options: Mapping[str, JSON]) -> list[Event]:
    """Decode a custom delivery and turn it into its one Event.

    Args:
        headers: The request headers; names match case-insensitively.
        body: The raw body bytes (empty is fine).
        options: The hook's options; `target` names the sender (the `source`).

    Returns:
        One Event of kind `custom.<slug>` or `custom.event`.

    Raises:
        UnsupportedContentTypeError: A non-empty body with a content type other than
            application/json.
        PayloadError: The body is not valid JSON.
    """
    payload = decode(headers, body)
    obj: Mapping[str, JSON] = payload if isinstance(payload, dict) else {}
    fields = _lifted(obj)
    fields["payload"] = payload
    fields["body_json"] = compact_json(payload) if body.strip() else None
    return [
        Event(
            service=SERVICE,
            provider=SERVICE,
            kind=kind_of(payload),
            source=_source(headers, options),
            delivery_id=delivery_id(headers) or "",
            occurred_at=_occurred_at(obj),
            title=_first_text(obj, _TITLE_KEYS, MAX_TITLE) or "Custom event",
            actor=_first_text(obj, _ACTOR_KEYS, MAX_TITLE),
            url=_url(obj),
            status=_status(obj),
            branch=_first_text(obj, ("branch",), MAX_TITLE),
            fields=MappingProxyType(fields),
        )
    ]


# --------------------------------------------------------------------------- registry data

KINDS: tuple[str, ...] = ("custom.event",)
"""Kinds known by name; any `custom.<slug>` (see KIND_GRAMMAR) may arrive as well."""

DEFAULT_SELECTION: tuple[str, ...] = ("custom.*",)

ALIASES: dict[str, tuple[str, ...]] = {}
"""No short words: the sender names its events, and `custom` already means `custom.*`."""

FIELD_DOCS: dict[str, dict[str, str]] = {
    EVENT_NAME: {
        "payload": "The whole body as sent (an object, array, string or number; "
        "null for an empty body).",
        "body_json": "The body as compact JSON, at most 1,000 characters, safe inside a "
        "code block (backticks written as \\u0060); null for an empty body.",
        "<key>": "Every top-level string, number or boolean of the body whose name is an "
        "identifier (`event`, `message`, `host`, …), among its first 200 keys.",
    },
}
"""Field path → one-line description, per event name (`<key>`: any top-level key)."""

SETUP_HINT = """\
POST any JSON to {url} with `Content-Type: application/json`:
```
curl -X POST '{url}' -H 'Content-Type: application/json' \\
  -d '{{"event": "Server Alert", "message": "CPU usage at 95%"}}'
```
An `event` (or `type`, `kind`, `action`) field sets the kind (`custom.server_alert`); \
`title` or `message` is the headline; `url`, `status` and `timestamp` are read when present.

Signing is optional unless the hook was made with `--signed`. Sign the exact body with \
HMAC-SHA256 of the secret:
```
body='{{"event": "Server Alert", "message": "CPU usage at 95%"}}'
sig=$(printf %s "$body" | openssl dgst -sha256 -hmac '{secret}' | sed 's/^.* //')
curl -X POST '{url}' -H 'Content-Type: application/json' \\
  -H "X-Hub-Signature-256: sha256=$sig" -d "$body"
```
Standard Webhooks senders (Svix, GitLab, the `standardwebhooks` libraries): use the \
secret `whsec_` followed by the output of `printf %s '{secret}' | openssl base64 -A`; their \
`webhook-id` is used to drop duplicates."""
"""What the `on` answer says, filled in with `str.format(url=…, secret=…)` (so literal braces
are doubled). It holds the secret: send it where secrets go (DM, ephemeral reply, stdout)."""

_SAMPLE_HEADERS: dict[str, dict[str, str]] = {
    "server_alert": {
        "Content-Type": "application/json",
        "User-Agent": "PulseMonitor-Webhook/2.3",
        "X-Request-Id": "6f1c2a9e-4b7d-4e0a-9d51-2f8e3c7a1b04",
    },
    "deploy_finished": {
        "Content-Type": "application/json",
        "User-Agent": "shipit/1.8.0",
        "Idempotency-Key": "deploy-311-finished",
    },
    "backup_done": {
        "Content-Type": "application/json",
        "User-Agent": "curl/8.5.0",
    },
}

SAMPLES: dict[str, str] = {
    "server_alert": "custom.server_alert",
    "deploy_finished": "custom.deploy.finished",
    "backup_done": "custom.event",
}
"""Sample name → the kind its body (`parsers/samples/custom/<name>.json`) produces."""


def sample_headers(name: str) -> dict[str, str]:
    """Return the (unsigned) headers a real sender sends with a bundled sample.

    Args:
        name: A key of SAMPLES.

    Returns:
        A fresh dict of headers.

    Raises:
        KeyError: There is no such sample.
    """
    if name not in _SAMPLE_HEADERS:
        raise KeyError(f"no custom sample named {name!r}; samples: {', '.join(SAMPLES)}")
    return dict(_SAMPLE_HEADERS[name])
