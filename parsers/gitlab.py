"""Turn GitLab webhook deliveries into Events.

Pure: no I/O, no clock. `identify` and `verify` are the cheap steps the receiver runs
before storing a delivery; `parse` (or `parse_payload` on an already-decoded body)
dispatches on the event name through one table, `_EVENTS`, of small per-event functions.

**Event names** come from `X-Gitlab-Event` ("Push Hook" → `push`, "Merge Request Hook" →
`merge_request`, "Confidential Issue Hook" → `issue`, any other "<Words> Hook" → its
snake_case words). A "System Hook" is routed by the body's `object_kind` (`push`,
`tag_push`, `merge_request`, …) or, without one, becomes the generic event `system`. When
the header names one event of the table and the body's `object_kind` another, the body is
refused (PayloadError): the two must agree.

**Kinds**, in GitLab's own words:

* `push` (branch pushes; the fields `created`, `deleted` tell new and deleted branches).
* `tag_push.created|deleted|updated` (from the all-zero `before` / `after` SHAs).
* `merge_request.<action>`: open, update, merge, close, reopen, approved, unapproved,
  approval, unapproval (a delivery without an action reads as `update`).
* `pipeline.<status>`, `job.<status>`, `deployment.<status>`: success, failed, running, …
* `issue.<action>`: open, close, reopen, update (confidential issues too).
* `note.<noteable type>`: merge_request, issue, commit, snippet.
* `release.<action>`, `wiki_page.<action>`: create, update, delete.
* Every other event (member, project, subgroup, feature_flag, emoji, milestone,
  resource_access_token, vulnerability, system, events GitLab adds later) is generic:
  `<event>.<action>` where the action is `object_attributes.action`, else `action`, else
  `event_name`; plain `<event>` when there is none. Generic events carry `name`,
  `event_name` and `attributes` (the scalar values GitLab sent) and a title made from
  what is there.

New statuses and actions GitLab adds arrive as `<event>.<word>` as long as the word is
lower_snake; anything else raises UnsupportedEventError naming it.

**Verification** (`verify`): GitLab sends the hook's secret token itself in
`X-Gitlab-Token`; it is compared with the secret in constant time. GitLab can also sign
deliveries the Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature:
v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, gitlab-org/gitlab!230944), keyed
with its "signing token" `whsec_<base64 of a 32-byte key>`. When `webhook-signature` is
present it must verify against `signing_key(secret)`; the token, then optional, must still
match when sent. A signed delivery may therefore omit the token: GitLab sends the token in
clear with every request, while the signing key never travels.

**Delivery id** (the dedupe key): `Idempotency-Key` (the same across GitLab's retries and
"Resend request"), else `X-Gitlab-Event-UUID`, else `webhook-id`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from parsers._body import loads_object
from parsers._headers import header, nonblank_header
from parsers._json import (
    as_dict,
    as_str,
    get_dict,
    get_int,
    get_opt_bool,
    get_opt_dict,
    get_opt_int,
    get_opt_list,
    get_opt_names,
    get_opt_str,
    get_opt_str_list,
    get_opt_value,
    get_str,
    join,
)
from parsers._push import ChangedPaths
from parsers._text import first_line, one_line, plural
from parsers.errors import PayloadError, SignatureError, UnsupportedEventError
from parsers.event import JSON, Event

__all__ = [
    "ALIASES",
    "CONTENT_TYPES",
    "DEFAULT_SELECTION",
    "EVENT_NAMES",
    "FIELD_DOCS",
    "KINDS",
    "SAMPLES",
    "SERVICE",
    "SETUP_HINT",
    "decode",
    "delivery_id",
    "identify",
    "parse",
    "parse_payload",
    "sample_headers",
    "sign",
    "sign_standard_webhooks",
    "signing_key",
    "signing_token",
    "verify",
]

SERVICE = "gitlab"
CONTENT_TYPES: tuple[str, ...] = ("application/json",)
EVENT_HEADER = "X-Gitlab-Event"
IDENTIFY_HINT = f"missing or unknown {EVENT_HEADER} header"
TOKEN_HEADER = "X-Gitlab-Token"  # noqa: S105 - a header name, not a secret
DELIVERY_HEADERS = ("Idempotency-Key", "X-Gitlab-Event-UUID", "webhook-id")
SYSTEM_HOOK = "System Hook"

# Standard Webhooks (standard-webhooks/standard-webhooks spec/standard-webhooks.md).
WEBHOOK_ID = "webhook-id"
WEBHOOK_TIMESTAMP = "webhook-timestamp"
WEBHOOK_SIGNATURE = "webhook-signature"
SIGNATURE_TOLERANCE = timedelta(minutes=5)  # the reference library's window
_SIGNING_PREFIX = "whsec_"

# Same bounds as a GitHub push (parsers/github.py): linear, and bounded for hostile bodies.
MAX_PUSH_COMMITS = 2048
MAX_PUSH_FILES = 1000
MAX_COMMIT_PATHS = 20

_NULL_SHA = "0" * 40
_KIND_GRAMMAR = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?")
_WORD = re.compile(r"[a-z][a-z0-9_]*")
_HOOK_NAME = re.compile(r"([A-Za-z]+(?: [A-Za-z]+)*) Hook")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_URLSAFE_32_BYTES = re.compile(r"[A-Za-z0-9_-]{43}=?")
_TIME_ZONE_SUFFIX = re.compile(r"\s*(UTC|Z|[+-]\d{2}:?\d{2})$")

# X-Gitlab-Event values whose event name is not just their snake_case words.
_HOOKS = {
    "Confidential Issue Hook": "issue",
    "Confidential Note Hook": "note",
}
# object_kind values that name an event differently from the header.
_OBJECT_KINDS = {"build": "job", "access_token": "resource_access_token", "work_item": "issue"}


# --------------------------------------------------------------------------- edges


def delivery_id(headers: Mapping[str, str]) -> str | None:
    """Return the dedupe key: `Idempotency-Key`, else `X-Gitlab-Event-UUID`, else `webhook-id`.

    Args:
        headers: The request headers; names match case-insensitively.

    Returns:
        The id, or None when the delivery carries none of the three.
    """
    for name in DELIVERY_HEADERS:
        value = nonblank_header(headers, name)
        if value is not None:
            return value
    return None


def _hook_event(hook: str) -> str | None:
    """Map an `X-Gitlab-Event` value ("Merge Request Hook") to its event name, or None."""
    known = _HOOKS.get(hook)
    if known is not None:
        return known
    match = _HOOK_NAME.fullmatch(hook)
    if match is None:
        return None
    return "_".join(match[1].lower().split())


def _body_event(payload: Mapping[str, JSON]) -> str | None:
    """Return the event the body's `object_kind` names, or None when it has none."""
    kind = get_opt_str(payload, "object_kind")
    if not kind:
        return None
    return _OBJECT_KINDS.get(kind, kind)


def _system_event(payload: Mapping[str, JSON]) -> str:
    """Route a System Hook delivery: by `object_kind`, else the generic event `system`."""
    return _body_event(payload) or "system"


def identify(headers: Mapping[str, str], body: bytes) -> tuple[str | None, str | None]:
    """Return the delivery's event name and dedupe id, reading the body only for System Hooks.

    Args:
        headers: The request headers; names match case-insensitively.
        body: The raw body bytes.

    Returns:
        (event name such as `push` or `merge_request`, delivery id); the event name is
        None when `X-Gitlab-Event` is absent or is not a GitLab hook name.

    Raises:
        PayloadError: A System Hook body is not a JSON object.
    """
    delivery = delivery_id(headers)
    hook = nonblank_header(headers, EVENT_HEADER)
    if hook is None:
        return None, delivery
    if hook == SYSTEM_HOOK:
        return _system_event(decode(body)), delivery
    return _hook_event(hook), delivery


def signing_key(secret: str) -> bytes:
    """Return the HMAC key of GitLab's Standard Webhooks signature for a hook secret.

    GitLab's signing token is `whsec_` + base64 of a 32-byte key. A secret written that
    way is decoded; a secret of 43 URL-safe base64 characters (hookbot's own,
    `secrets.token_urlsafe(32)`) is the 32 bytes it encodes; any other secret is its
    UTF-8 bytes. `signing_token(secret)` spells the key the way GitLab's form wants it.

    Args:
        secret: The hook's secret.

    Returns:
        The key bytes.

    Raises:
        SignatureError: The secret starts with `whsec_` but is not base64 after it.
    """
    if secret.startswith(_SIGNING_PREFIX):
        try:
            return base64.b64decode(secret.removeprefix(_SIGNING_PREFIX), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SignatureError("the whsec_ secret is not valid base64") from exc
    if _URLSAFE_32_BYTES.fullmatch(secret):
        return base64.urlsafe_b64decode(secret.rstrip("=") + "=")
    return secret.encode("utf-8", "surrogatepass")


def signing_token(secret: str) -> str:
    """Return the value to paste in GitLab's "Signing token" field for a hook secret.

    Args:
        secret: The hook's secret.

    Returns:
        `whsec_` + base64 of `signing_key(secret)` (GitLab accepts 32-byte keys only,
        which hookbot's own secrets are).
    """
    return _SIGNING_PREFIX + base64.b64encode(signing_key(secret)).decode("ascii")


def _signed_content(msg_id: str, timestamp: str, body: bytes) -> bytes:
    """Return the bytes Standard Webhooks signs: `{id}.{timestamp}.{body}`."""
    return b"%s.%s.%s" % (msg_id.encode("utf-8", "surrogatepass"), timestamp.encode(), body)


def sign_standard_webhooks(body: bytes, secret: str, msg_id: str, timestamp: int) -> dict[str, str]:
    """Return the Standard Webhooks headers GitLab adds to a delivery with a signing token.

    Args:
        body: The exact body bytes.
        secret: The hook's secret (see `signing_key`).
        msg_id: The `webhook-id` (GitLab uses the Idempotency-Key).
        timestamp: The attempt time in Unix seconds.

    Returns:
        `webhook-id`, `webhook-timestamp` and `webhook-signature` (`v1,<base64>`).
    """
    stamp = str(timestamp)
    digest = hmac.digest(signing_key(secret), _signed_content(msg_id, stamp, body), "sha256")
    return {
        WEBHOOK_ID: msg_id,
        WEBHOOK_TIMESTAMP: stamp,
        WEBHOOK_SIGNATURE: "v1," + base64.b64encode(digest).decode("ascii"),
    }


def sign(body: bytes, secret: str) -> dict[str, str]:
    """Return the credential header a genuine GitLab sends: the secret token itself.

    Args:
        body: The body (unused: the token does not depend on it).
        secret: The hook's secret.

    Returns:
        `{"X-Gitlab-Token": secret}`.
    """
    del body
    return {TOKEN_HEADER: secret}


def _verify_signature(
    headers: Mapping[str, str], body: bytes, signature: str, secret: str, now: datetime | None
) -> None:
    """Check a Standard Webhooks `webhook-signature` (any `v1` entry of the list may match)."""
    msg_id = nonblank_header(headers, WEBHOOK_ID)
    stamp = nonblank_header(headers, WEBHOOK_TIMESTAMP)
    if msg_id is None or stamp is None:
        raise SignatureError("webhook-signature needs webhook-id and webhook-timestamp")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise SignatureError("webhook-timestamp is not Unix seconds")
    if now is not None:
        skew = abs(now.timestamp() - int(stamp))
        if skew > SIGNATURE_TOLERANCE.total_seconds():
            raise SignatureError("webhook-timestamp is too far from now (replayed or clock skew)")
    expected = hmac.digest(signing_key(secret), _signed_content(msg_id, stamp, body), "sha256")
    versions = 0
    for entry in signature.split():
        version, comma, value = entry.partition(",")
        if version != "v1" or not comma:
            continue  # another scheme (v1a: ed25519), or not a signature at all
        versions += 1
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(expected, given):
            return
    if not versions:
        raise SignatureError("webhook-signature has no v1 signature")
    raise SignatureError("webhook-signature does not match the body and secret")


def verify(
    headers: Mapping[str, str], body: bytes, secret: str, *, now: datetime | None = None
) -> None:
    """Check a delivery's credentials against the hook's secret (see the module doc).

    Args:
        headers: The request headers; names match case-insensitively.
        body: The exact body bytes as received.
        secret: The hook's secret.
        now: The current time, to refuse a signature whose `webhook-timestamp` is more
            than SIGNATURE_TOLERANCE away; None skips that check (the parsers have no
            clock; redeliveries are caught by the delivery id anyway).

    Raises:
        SignatureError: No secret is configured; `X-Gitlab-Token` is missing (on an
            unsigned delivery) or differs from the secret; or `webhook-signature` is
            present and malformed, stale or wrong.
    """
    if not secret:
        raise SignatureError("no secret is configured")
    token = header(headers, TOKEN_HEADER)
    signature = nonblank_header(headers, WEBHOOK_SIGNATURE)
    if token is None and signature is None:
        raise SignatureError(f"missing {TOKEN_HEADER} header")
    if token is not None and not hmac.compare_digest(
        token.encode("utf-8", "surrogatepass"), secret.encode("utf-8", "surrogatepass")
    ):
        raise SignatureError(f"{TOKEN_HEADER} does not match the secret")
    if signature is not None:
        _verify_signature(headers, body, signature, secret, now)


def decode(body: bytes) -> dict[str, JSON]:
    """Decode a delivery body, which must be one JSON object.

    Args:
        body: The raw body bytes.

    Returns:
        The decoded object.

    Raises:
        PayloadError: The body is not UTF-8 JSON, or not an object.
    """
    return loads_object(body)


def _route(headers: Mapping[str, str], payload: Mapping[str, JSON]) -> str:
    """Return the event name of a decoded delivery (see the module doc)."""
    hook = nonblank_header(headers, EVENT_HEADER)
    if hook is None:
        raise UnsupportedEventError(f"missing {EVENT_HEADER} header")
    if hook == SYSTEM_HOOK:
        return _system_event(payload)
    name = _hook_event(hook)
    if name is None:
        raise UnsupportedEventError(f"{EVENT_HEADER} {hook[:60]!r} is not a GitLab hook name")
    said = _body_event(payload)
    if said is not None and said != name and said in _EVENTS and name in _EVENTS:
        raise PayloadError(f"object_kind names {said!r} but {EVENT_HEADER} says {hook!r}")
    return name


def parse(
    headers: Mapping[str, str],
    body: bytes,
    options: Mapping[str, JSON] = MappingProxyType({}),
) -> list[Event]:
    """Decode a delivery and turn it into Events.

    Args:
        headers: The request headers; names match case-insensitively.
        body: The raw body bytes.
        options: The hook's parser options (none are used by GitLab yet).

    Returns:
        The delivery's Events (one per delivery).

    Raises:
        PayloadError: The body is not a JSON object, misses a required value, has one of
            the wrong type, or its `object_kind` contradicts the header.
        UnsupportedEventError: `X-Gitlab-Event` is missing or not a hook name, or the
            kind is not lower_snake words.
    """
    del options
    payload = decode(body)
    return parse_payload(_route(headers, payload), delivery_id(headers) or "", payload)


def parse_payload(event_name: str, delivery_id: str, payload: dict[str, JSON]) -> list[Event]:
    """Turn an already-decoded GitLab payload into Events.

    Args:
        event_name: The event name (`push`, `merge_request`, …; see `identify`).
        delivery_id: The delivery's dedupe id, or "".
        payload: The decoded top-level JSON object.

    Returns:
        The delivery's Events (one per delivery).

    Raises:
        PayloadError: A required value is missing or has the wrong type; `path` names it.
        UnsupportedEventError: The event name or the kind is not lower_snake words.
    """
    if not _WORD.fullmatch(event_name):
        raise UnsupportedEventError(f"GitLab event {event_name[:60]!r} is not supported")
    parse_event = _EVENTS.get(event_name, _parse_generic)
    return [parse_event(_Delivery(event_name, delivery_id, payload))]


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True, slots=True)
class _Delivery:
    """What every per-event function reads: the event name, its id and the payload."""

    event: str
    delivery_id: str
    payload: dict[str, JSON]


def _words(word: str) -> str:
    """Say a snake_case word in words (`waiting_for_resource` → `waiting for resource`)."""
    return word.replace("_", " ")


def _snake(name: str) -> str:
    """Spell a GitLab class name in snake_case (`MergeRequest` → `merge_request`)."""
    return _CAMEL_BOUNDARY.sub("_", name.replace("::", "")).replace(" ", "_").lower()


def _time(obj: Mapping[str, JSON], path: str, *, at: str = "") -> datetime | None:
    """Read a GitLab timestamp as an aware UTC datetime.

    GitLab writes ISO 8601 (`2013-12-03T17:23:34Z`), `2016-08-12 15:23:28 UTC` and
    `2021-04-28 21:50:00 +0200`. A string that is none of these (the docs even show
    `2015-04-08T21: 00:25-07:00`) reads as None; a value that is not a string is refused.
    """
    value = get_opt_value(obj, path, at=at)
    if value is None:
        return None
    text = as_str(value, join(at, path)).strip()
    zone = _TIME_ZONE_SUFFIX.search(text)
    if zone is not None:
        offset = "+00:00" if zone[1] in ("UTC", "Z") else zone[1]
        text = text[: zone.start()] + offset
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 moved west of UTC
        return None


def _seconds(obj: Mapping[str, JSON], path: str, *, at: str = "") -> int | None:
    """Read a duration in (possibly fractional) seconds as whole seconds, or None."""
    value = get_opt_value(obj, path, at=at)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError("expected a number", join(at, path))
    if value != value or value in (float("inf"), float("-inf")):  # NaN, ±inf
        raise PayloadError("expected a finite number", join(at, path))
    return max(0, round(value))


def _project_path(p: Mapping[str, JSON]) -> str | None:
    """Return the project's `namespace/path`, wherever this payload keeps it."""
    return get_opt_str(p, "project.path_with_namespace") or get_opt_str(p, "project_name")


def _repo(d: _Delivery) -> str:
    """Return the project path, which project events must carry."""
    path = _project_path(d.payload)
    if not path:
        raise PayloadError("missing required value", "project.path_with_namespace")
    return path


def _repo_url(p: Mapping[str, JSON]) -> str | None:
    """Return the project's web page."""
    return get_opt_str(p, "project.web_url") or get_opt_str(p, "repository.homepage") or None


def _actor(p: Mapping[str, JSON]) -> str | None:
    """Return the username of who did it (`user.username`, `user_username`, else a name)."""
    return (
        get_opt_str(p, "user.username")
        or get_opt_str(p, "user_username")
        or get_opt_str(p, "user.name")
        or get_opt_str(p, "user_name")
    )


def _under(base: str | None, path: str) -> str | None:
    """Return `<base>/-/<path>` (a project page), or None without a base."""
    return f"{base}/-/{path}" if base else None


def _event(
    d: _Delivery,
    kind: str,
    title: str,
    *,
    fields: dict[str, JSON],
    source: str | None = None,
    occurred_at: datetime | None = None,
    url: str | None = None,
    status: str | None = None,
    branch: str | None = None,
    subject: str | None = None,
    action: str | None = None,
    user_object_only: bool = False,
) -> Event:
    """Build the Event, adding the fields every GitLab kind carries.

    `user_object_only`: only the `user` object names the actor (in member events the
    top-level `user_*` values describe the member, not who acted).
    """
    if not _KIND_GRAMMAR.fullmatch(kind):
        raise UnsupportedEventError(f"GitLab event kind {kind[:80]!r} is not supported")
    p = d.payload
    if user_object_only:
        actor = get_opt_str(p, "user.username") or get_opt_str(p, "user.name")
        actor_name = get_opt_str(p, "user.name")
        avatar = get_opt_str(p, "user.avatar_url")
    else:
        actor = _actor(p)
        actor_name = get_opt_str(p, "user.name") or get_opt_str(p, "user_name")
        avatar = get_opt_str(p, "user.avatar_url") or get_opt_str(p, "user_avatar")
    common: dict[str, JSON] = {
        "repo": _project_path(p),
        "repo_url": _repo_url(p),
        "actor_name": actor_name,
        "actor_avatar_url": avatar,
        "action": action,
    }
    return Event(
        service=SERVICE,
        provider=SERVICE,
        kind=kind,
        source=source if source is not None else _repo(d),
        delivery_id=d.delivery_id,
        occurred_at=occurred_at,
        title=one_line(title) or kind,
        actor=actor,
        url=url or None,
        status=status,
        branch=branch,
        subject=subject,
        fields=MappingProxyType(common | fields),
    )


def _sha_subject(repo: str, sha: str | None) -> str | None:
    """Name a commit for alert state: `gitlab:group/project@<sha>`."""
    if not sha or sha == _NULL_SHA:
        return None
    return f"{SERVICE}:{repo}@{sha}"


def _state(state: str | None) -> str | None:
    """Say an MR or issue state the way GitHub's do (`opened` → `open`)."""
    return "open" if state == "opened" else state


def _action(obj: Mapping[str, JSON], path: str, default: str, *, at: str = "") -> str:
    """Read an action word; a missing or empty one is `default`."""
    return get_opt_str(obj, path, at=at) or default


_PAST = {
    "open": "opened",
    "close": "closed",
    "reopen": "reopened",
    "update": "updated",
    "merge": "merged",
    "create": "created",
    "delete": "deleted",
    "destroy": "destroyed",
    "rename": "renamed",
    "transfer": "transferred",
    "award": "awarded",
    "revoke": "revoked",
}


def _past(action: str) -> str:
    """Say an action word in the past tense for titles (`open` → `opened`)."""
    return _PAST.get(action, _words(action))


# CI-like statuses in titles: GitLab's word → how a title says it.
_OUTCOMES = {
    "success": "succeeded",
    "failed": "failed",
    "canceled": "canceled",
    "canceling": "canceling",
    "running": "running",
    "pending": "pending",
    "created": "created",
    "skipped": "skipped",
    "manual": "waiting for a manual action",
    "scheduled": "scheduled",
    "preparing": "preparing",
    "waiting_for_resource": "waiting for a resource",
    "waiting_for_callback": "waiting for a callback",
    "blocked": "blocked",
}


def _outcome(status: str) -> str:
    """Say a pipeline, job or deployment status in words for titles."""
    return _OUTCOMES.get(status, _words(status))


def _on(branch: str | None, tag: str | None = None) -> str:
    """Return ` on <branch>` / ` on tag <tag>` for titles, or nothing."""
    if branch:
        return f" on {branch}"
    return f" on tag {tag}" if tag else ""


def _status_word(status: str, path: str) -> str:
    """Check that a status or action can be the last word of a kind."""
    if not _WORD.fullmatch(status):
        raise UnsupportedEventError(f"GitLab status {status[:60]!r} at {path!r} is not supported")
    return status


# --------------------------------------------------------------------------- push, tags


def _commit_entry(commit: Mapping[str, JSON], at: str) -> dict[str, JSON]:
    """Shape one commit of a push (or a pipeline's or note's commit)."""
    commit_id = get_str(commit, "id", at=at)
    message = get_opt_str(commit, "message", at=at) or get_opt_str(commit, "title", at=at) or ""
    return {
        "id": commit_id,
        "short_id": commit_id[:8],
        "message": first_line(message),
        "full_message": message,
        "author": get_opt_str(commit, "author.name", at=at),
        "url": get_opt_str(commit, "url", at=at),
    }


def _commits(p: Mapping[str, JSON]) -> tuple[list[JSON], list[JSON], int, int]:
    """Shape the pushed commits; return them, the changed paths (each once), and what was cut.

    Linear and bounded like a GitHub push: at most MAX_PUSH_COMMITS commits,
    MAX_COMMIT_PATHS paths per list of a commit, MAX_PUSH_FILES distinct paths in all.
    Returns (commits, files, commits omitted from the payload, distinct paths omitted).
    """
    items = get_opt_list(p, "commits")
    commits: list[JSON] = []
    files = ChangedPaths(MAX_PUSH_FILES)
    for i, item in enumerate(items[:MAX_PUSH_COMMITS]):
        at = f"commits.{i}"
        commit = as_dict(item, at)
        changed = {
            key: get_opt_str_list(commit, key, at=at) for key in ("added", "removed", "modified")
        }
        for paths in changed.values():
            files.add(map(str, paths))  # get_opt_str_list checked that each is a string
        entry = _commit_entry(commit, at)
        entry["timestamp"] = get_opt_str(commit, "timestamp", at=at)
        entry.update({key: paths[:MAX_COMMIT_PATHS] for key, paths in changed.items()})
        commits.append(entry)
    return commits, files.kept, max(0, len(items) - MAX_PUSH_COMMITS), files.omitted


@dataclass(frozen=True, slots=True)
class _Push:
    """What push and tag_push share: the ref move and the commits."""

    ref: str
    before: str | None
    after: str | None
    created: bool
    deleted: bool
    head_sha: str | None
    commits: list[JSON]
    files: list[JSON]
    count: int
    commits_omitted: int
    files_omitted: int
    latest: str | None
    occurred_at: datetime | None

    def fields(self) -> dict[str, JSON]:
        """Return the fields push and tag_push both carry."""
        return {
            "ref": self.ref,
            "before": self.before,
            "head_sha": self.head_sha,
            "created": self.created,
            "deleted": self.deleted,
            "commit_count": self.count,
            "commits": self.commits,
            "commits_omitted": self.commits_omitted,
            "latest_commit_message": self.latest,
            "files": self.files,
            "files_omitted": self.files_omitted,
        }


def _push(p: Mapping[str, JSON]) -> _Push:
    """Read the ref move and the commits of a push or tag push."""
    ref = get_str(p, "ref")
    before = get_opt_str(p, "before")
    after = get_opt_str(p, "after")
    deleted = after == _NULL_SHA
    commits, files, cut, files_omitted = _commits(p)
    count = max(get_opt_int(p, "total_commits_count") or 0, len(commits) + cut)
    head_sha = None if deleted else (get_opt_str(p, "checkout_sha") or after)
    head: Mapping[str, JSON] | None = None
    for commit in commits:
        shaped = as_dict(commit, "commits")
        if shaped["id"] == head_sha:
            head = shaped
    if head is None and commits:
        head = as_dict(commits[-1], "commits")  # GitLab lists commits oldest first
    return _Push(
        ref=ref,
        before=before,
        after=after,
        created=before == _NULL_SHA,
        deleted=deleted,
        head_sha=head_sha,
        commits=commits,
        files=files,
        count=count,
        commits_omitted=count - len(commits),
        files_omitted=files_omitted,
        latest=None if head is None else as_str(head["message"], "commits.message"),
        occurred_at=None if head is None else _time(head, "timestamp", at="commits"),
    )


def _parse_push(d: _Delivery) -> Event:
    """Shape a branch push: new commits, a new branch, or a deleted one."""
    p = d.payload
    repo = _repo(d)
    repo_url = _repo_url(p)
    push = _push(p)
    ref = push.ref
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    tag = ref.removeprefix("refs/tags/") if ref.startswith("refs/tags/") else None
    name = branch or tag or ref
    if push.deleted:
        title = f"Branch {name} deleted"
    elif push.created and not push.count:
        title = f"Branch {name} created"
    else:
        target = f"new branch {name}" if push.created else name
        amount = plural(push.count, "commit") if push.count else "no new commits"
        title = f"Push to {target}: {amount}"
    compare_url = None
    if not (push.created or push.deleted) and push.before and push.after:
        compare_url = _under(repo_url, f"compare/{push.before}...{push.after}")
    tree_url = _under(repo_url, f"tree/{name}") if not push.deleted else None
    return _event(
        d,
        "push",
        title,
        occurred_at=push.occurred_at,
        url=compare_url or tree_url or repo_url,
        branch=branch,
        subject=_sha_subject(repo, push.head_sha),
        fields=push.fields()
        | {
            "branch": branch,
            "tag": tag,
            "compare_url": compare_url,
            "protected": get_opt_bool(p, "ref_protected"),
            "pusher": get_opt_str(p, "user_name"),
        },
    )


def _parse_tag_push(d: _Delivery) -> Event:
    """Shape `tag_push.created|deleted|updated`."""
    p = d.payload
    repo = _repo(d)
    repo_url = _repo_url(p)
    push = _push(p)
    tag = push.ref.removeprefix("refs/tags/")
    action = "deleted" if push.deleted else "created" if push.created else "updated"
    return _event(
        d,
        f"tag_push.{action}",
        f"Tag {tag} {action}",
        occurred_at=push.occurred_at,
        url=(repo_url if push.deleted else _under(repo_url, f"tags/{tag}")) or repo_url,
        subject=_sha_subject(repo, push.head_sha),
        fields=push.fields()
        | {
            "tag": tag,
            "tag_message": get_opt_str(p, "message") or "",
            "protected": get_opt_bool(p, "ref_protected"),
            "pusher": get_opt_str(p, "user_name"),
        },
    )


# --------------------------------------------------------------------------- merge requests


def _labels(obj: Mapping[str, JSON], p: Mapping[str, JSON], at: str) -> list[JSON]:
    """Return label titles from the object, else from the payload's top-level `labels`."""
    if get_opt_value(obj, "labels", at=at) is not None:
        return get_opt_names(obj, "labels", "title", at=at)
    return get_opt_names(p, "labels", "title")


def _merge_request(mr: Mapping[str, JSON], at: str) -> dict[str, JSON]:
    """Shape a merge request (from `object_attributes`, or the `merge_request` of a note)."""
    draft = get_opt_bool(mr, "draft", at=at)
    if draft is None:
        draft = get_opt_bool(mr, "work_in_progress", at=at)
    return {
        "number": get_int(mr, "iid", at=at),
        "id": get_opt_int(mr, "id", at=at),
        "title": get_str(mr, "title", at=at),
        "body": get_opt_str(mr, "description", at=at) or "",
        "state": get_opt_str(mr, "state", at=at),
        "draft": bool(draft),
        "base": get_opt_str(mr, "target_branch", at=at),
        "head": get_opt_str(mr, "source_branch", at=at),
        "head_sha": get_opt_str(mr, "last_commit.id", at=at),
        "merge_status": get_opt_str(mr, "detailed_merge_status", at=at)
        or get_opt_str(mr, "merge_status", at=at),
        "merge_commit_sha": get_opt_str(mr, "merge_commit_sha", at=at),
        "source_project": get_opt_str(mr, "source.path_with_namespace", at=at),
        "url": get_opt_str(mr, "url", at=at),
    }


def _mr_status(mr: Mapping[str, JSON]) -> str | None:
    """Return `open`, `merged`, `closed` or `locked` for a shaped merge request."""
    state = mr["state"]
    return _state(state if isinstance(state, str) else None)


def _mr_subject(repo: str, number: int) -> str:
    """Name a merge request for alert state: `gitlab:group/project!12`."""
    return f"{SERVICE}:{repo}!{number}"


_MR_VERBS = {
    "approved": "approved",
    "unapproved": "unapproved",
    "approval": "approval added",
    "unapproval": "approval removed",
}
# `changes` keys that every edit touches; the rest say what the update was about.
_BOOKKEEPING = frozenset(
    {"updated_at", "updated_by_id", "last_edited_at", "last_edited_by_id", "prepared_at"}
)


def _parse_merge_request(d: _Delivery) -> Event:
    """Shape `merge_request.<action>`."""
    p = d.payload
    at = "object_attributes"
    attrs = get_dict(p, at)
    action = _status_word(_action(attrs, "action", "update", at=at), f"{at}.action")
    mr = _merge_request(attrs, at)
    mr["labels"] = _labels(attrs, p, at)
    mr["assignees"] = get_opt_names(p, "assignees", "username")
    mr["reviewers"] = get_opt_names(p, "reviewers", "username")
    number = get_int(attrs, "iid", at=at)
    changes = get_opt_dict(p, "changes") or {}
    verb = _MR_VERBS.get(action, _past(action))
    repo = _repo(d)
    return _event(
        d,
        f"merge_request.{action}",
        f"MR !{number} {verb}: {mr['title']}",
        occurred_at=_time(attrs, "updated_at", at=at),
        url=get_opt_str(attrs, "url", at=at) or _under(_repo_url(p), f"merge_requests/{number}"),
        status=_mr_status(mr),
        branch=get_opt_str(attrs, "target_branch", at=at),
        subject=_mr_subject(repo, number),
        action=action,
        fields={
            "mr": mr,
            "labels": mr["labels"],
            "head": mr["head"],
            "changes": [key for key in changes if key not in _BOOKKEEPING],
            "new_commits": get_opt_str(attrs, "oldrev", at=at) is not None,
        },
    )


# --------------------------------------------------------------------------- CI


def _job_url(repo_url: str | None, job_id: int | None) -> str | None:
    """Return a job's web page."""
    return _under(repo_url, f"jobs/{job_id}") if job_id is not None else None


def _pipeline_jobs(
    p: Mapping[str, JSON], stages: list[JSON], repo_url: str | None
) -> list[dict[str, JSON]]:
    """Shape a pipeline's `builds`, in stage order, then creation order."""
    jobs: list[dict[str, JSON]] = []
    for i, item in enumerate(get_opt_list(p, "builds")):
        at = f"builds.{i}"
        build = as_dict(item, at)
        job_id = get_opt_int(build, "id", at=at)
        status = get_opt_str(build, "status", at=at)
        jobs.append(
            {
                "id": job_id,
                "name": get_opt_str(build, "name", at=at) or "job",
                "stage": get_opt_str(build, "stage", at=at),
                "status": status,
                "duration_seconds": _seconds(build, "duration", at=at),
                "failure_reason": get_opt_str(build, "failure_reason", at=at)
                if status == "failed"
                else None,
                "allow_failure": bool(get_opt_bool(build, "allow_failure", at=at)),
                "manual": bool(get_opt_bool(build, "manual", at=at)),
                "environment": get_opt_str(build, "environment.name", at=at),
                "url": _job_url(repo_url, job_id),
            }
        )
    order = {str(stage): n for n, stage in enumerate(stages)}

    def position(job: Mapping[str, JSON]) -> tuple[int, int]:
        stage, job_id = job["stage"], job["id"]
        return (
            order.get(stage, len(order)) if isinstance(stage, str) else len(order),
            job_id if isinstance(job_id, int) else 0,
        )

    return sorted(jobs, key=position)


_WAITING = frozenset({"pending", "created", "preparing", "waiting_for_resource", "scheduled"})


def _stage_status(statuses: list[str]) -> str:
    """Fold the statuses of a stage's jobs into one (an allowed failure counts as passed)."""
    for status, when in (
        ("failed", {"failed"}),
        ("running", {"running", "canceling"}),
        ("pending", _WAITING),
        ("canceled", {"canceled"}),
        ("manual", {"manual"}),
        ("success", {"success", "allowed_failure"}),
    ):
        if not when.isdisjoint(statuses):
            return status
    return "skipped"


def _stage_results(stages: list[JSON], jobs: list[dict[str, JSON]]) -> list[JSON]:
    """Return each stage with the status of its jobs, in pipeline order."""
    seen: dict[str, list[str]] = {str(stage): [] for stage in stages}
    for job in jobs:
        stage, status = job["stage"], job["status"]
        if not isinstance(stage, str):
            continue
        if status == "failed" and job["allow_failure"]:
            status = "allowed_failure"
        seen.setdefault(stage, []).append(status if isinstance(status, str) else "")
    return [{"name": stage, "status": _stage_status(found)} for stage, found in seen.items()]


def _short_commit(p: Mapping[str, JSON], path: str) -> dict[str, JSON] | None:
    """Shape the optional commit object at `path`."""
    commit = get_opt_dict(p, path)
    return None if commit is None else _commit_entry(commit, path)


def _pipeline_mr(p: Mapping[str, JSON]) -> dict[str, JSON] | None:
    """Shape the merge request a pipeline runs for, when it runs for one."""
    at = "merge_request"
    mr = get_opt_dict(p, at)
    if mr is None:
        return None
    return {
        "number": get_int(mr, "iid", at=at),
        "title": get_opt_str(mr, "title", at=at) or "",
        "url": get_opt_str(mr, "url", at=at),
        "base": get_opt_str(mr, "target_branch", at=at),
        "head": get_opt_str(mr, "source_branch", at=at),
        "state": get_opt_str(mr, "state", at=at),
    }


def _parse_pipeline(d: _Delivery) -> Event:
    """Shape `pipeline.<status>`: a whole pipeline, with its jobs and why it failed."""
    p = d.payload
    at = "object_attributes"
    attrs = get_dict(p, at)
    repo = _repo(d)
    repo_url = _repo_url(p)
    pipeline_id = get_int(attrs, "id", at=at)
    status = _status_word(get_str(attrs, "status", at=at), f"{at}.status")
    ref = get_opt_str(attrs, "ref", at=at)
    is_tag = bool(get_opt_bool(attrs, "tag", at=at))
    branch = None if is_tag else ref
    tag = ref if is_tag else None
    sha = get_opt_str(attrs, "sha", at=at)
    stages = get_opt_str_list(attrs, "stages", at=at)
    jobs = _pipeline_jobs(p, stages, repo_url)
    failed = [job for job in jobs if job["status"] == "failed"]
    blocking = [job for job in failed if not job["allow_failure"]] or failed
    url = get_opt_str(attrs, "url", at=at) or _under(repo_url, f"pipelines/{pipeline_id}")
    pipeline: dict[str, JSON] = {
        "id": pipeline_id,
        "iid": get_opt_int(attrs, "iid", at=at),
        "name": get_opt_str(attrs, "name", at=at),
        "status": status,
        "detailed_status": get_opt_str(attrs, "detailed_status", at=at),
        "source": get_opt_str(attrs, "source", at=at),
        "ref": ref,
        "tag": is_tag,
        "sha": sha,
        "before_sha": get_opt_str(attrs, "before_sha", at=at),
        "stages": stages,
        "duration_seconds": _seconds(attrs, "duration", at=at),
        "queued_seconds": _seconds(attrs, "queued_duration", at=at),
        "url": url,
        "failed_stage": blocking[0]["stage"] if blocking else None,
        "stage_results": _stage_results(stages, jobs),
    }
    return _event(
        d,
        f"pipeline.{status}",
        f"Pipeline #{pipeline_id} {_outcome(status)}{_on(branch, tag)}",
        occurred_at=_time(attrs, "finished_at", at=at) or _time(attrs, "created_at", at=at),
        url=url,
        status=status,
        branch=branch,
        subject=_sha_subject(repo, sha),
        fields={
            "pipeline": pipeline,
            "tag": tag,
            "commit": _short_commit(p, "commit"),
            "merge_request": _pipeline_mr(p),
            "jobs": [*jobs],
            "failed_jobs": [*blocking],
        },
    )


def _parse_job(d: _Delivery) -> Event:
    """Shape `job.<status>` (GitLab's `build` object kind): one CI job."""
    p = d.payload
    repo = _repo(d)
    repo_url = _repo_url(p)
    job_id = get_int(p, "build_id")
    name = get_opt_str(p, "build_name") or "job"
    status = _status_word(get_str(p, "build_status"), "build_status")
    stage = get_opt_str(p, "build_stage")
    ref = get_opt_str(p, "ref")
    is_tag = bool(get_opt_bool(p, "tag"))
    branch = None if is_tag else ref
    tag = ref if is_tag else None
    sha = get_opt_str(p, "sha")
    url = _job_url(repo_url, job_id)
    pipeline_id = get_opt_int(p, "pipeline_id")
    job: dict[str, JSON] = {
        "id": job_id,
        "name": name,
        "stage": stage,
        "status": status,
        # GitLab fills the reason in before a retry finishes: only a failure has one.
        "failure_reason": get_opt_str(p, "build_failure_reason") if status == "failed" else None,
        "allow_failure": bool(get_opt_bool(p, "build_allow_failure")),
        "duration_seconds": _seconds(p, "build_duration"),
        "queued_seconds": _seconds(p, "build_queued_duration"),
        "retries": get_opt_int(p, "retries_count"),
        "pipeline_id": pipeline_id,
        "pipeline_url": _under(repo_url, f"pipelines/{pipeline_id}")
        if pipeline_id is not None
        else None,
        "ref": ref,
        "tag": is_tag,
        "sha": sha,
        "runner": get_opt_str(p, "runner.description"),
        "environment": get_opt_str(p, "environment.name"),
        "url": url,
    }
    in_stage = f" (stage {stage})" if stage else ""
    return _event(
        d,
        f"job.{status}",
        f"Job {name} {_outcome(status)}{_on(branch, tag)}{in_stage}",
        occurred_at=_time(p, "build_finished_at")
        or _time(p, "build_started_at")
        or _time(p, "build_created_at"),
        url=url or repo_url,
        status=status,
        branch=branch,
        subject=_sha_subject(repo, sha),
        fields={
            "job": job,
            "tag": tag,
            "commit": {
                "id": sha,
                "message": first_line(get_opt_str(p, "commit.message") or ""),
                "author": get_opt_str(p, "commit.author_name"),
            },
        },
    )


def _parse_deployment(d: _Delivery) -> Event:
    """Shape `deployment.<status>`: a deployment to an environment started or ended."""
    p = d.payload
    repo = _repo(d)
    repo_url = _repo_url(p)
    status = _status_word(get_str(p, "status"), "status")
    environment = get_opt_str(p, "environment") or "an environment"
    commit_url = get_opt_str(p, "commit_url")
    # The payload has only a short SHA; the commit page's address ends with the full one.
    last = commit_url.rsplit("/", 1)[-1] if commit_url else ""
    sha = last if _SHA.fullmatch(last) else None
    job_url = get_opt_str(p, "deployable_url")
    environment_url = get_opt_str(p, "environment_external_url") or None
    ref = get_opt_str(p, "ref")
    deployment: dict[str, JSON] = {
        "id": get_opt_int(p, "deployment_id"),
        "status": status,
        "environment": get_opt_str(p, "environment"),
        "environment_tier": get_opt_str(p, "environment_tier"),
        "environment_url": environment_url,
        "ref": ref,
        "short_sha": get_opt_str(p, "short_sha"),
        "sha": sha,
        "commit_title": get_opt_str(p, "commit_title"),
        "commit_url": commit_url,
        "job_url": job_url,
    }
    return _event(
        d,
        f"deployment.{status}",
        f"Deployment to {environment} {_outcome(status)}",
        occurred_at=_time(p, "status_changed_at"),
        url=job_url or environment_url or _under(repo_url, "environments"),
        status=status,
        branch=ref,
        subject=_sha_subject(repo, sha),
        fields={"deployment": deployment},
    )


# --------------------------------------------------------------------------- issues, notes


def _issue(obj: Mapping[str, JSON], p: Mapping[str, JSON], at: str) -> dict[str, JSON]:
    """Shape an issue (from `object_attributes`, or the `issue` of a note)."""
    return {
        "number": get_int(obj, "iid", at=at),
        "id": get_opt_int(obj, "id", at=at),
        "title": get_str(obj, "title", at=at),
        "body": get_opt_str(obj, "description", at=at) or "",
        "state": get_opt_str(obj, "state", at=at),
        "labels": _labels(obj, p, at),
        "confidential": bool(get_opt_bool(obj, "confidential", at=at)),
        "type": get_opt_str(obj, "type", at=at),
        "severity": get_opt_str(obj, "severity", at=at),
        "due_date": get_opt_str(obj, "due_date", at=at),
        "url": get_opt_str(obj, "url", at=at),
    }


def _issue_subject(repo: str, number: int) -> str:
    """Name an issue for alert state: `gitlab:group/project#23`."""
    return f"{SERVICE}:{repo}#{number}"


def _parse_issue(d: _Delivery) -> Event:
    """Shape `issue.<action>` (confidential issues and other work items too)."""
    p = d.payload
    at = "object_attributes"
    attrs = get_dict(p, at)
    action = _status_word(_action(attrs, "action", "update", at=at), f"{at}.action")
    issue = _issue(attrs, p, at)
    issue["assignees"] = get_opt_names(p, "assignees", "username")
    number = get_int(attrs, "iid", at=at)
    noun = get_opt_str(attrs, "type", at=at) or "Issue"
    return _event(
        d,
        f"issue.{action}",
        f"{noun} #{number} {_past(action)}: {issue['title']}",
        occurred_at=_time(attrs, "updated_at", at=at),
        url=get_opt_str(attrs, "url", at=at) or _under(_repo_url(p), f"issues/{number}"),
        status=_state(get_opt_str(attrs, "state", at=at)),
        subject=_issue_subject(_repo(d), number),
        action=action,
        fields={"issue": issue, "labels": issue["labels"]},
    )


@dataclass(frozen=True, slots=True)
class _Noteable:
    """What a note is on: how titles name it, and the fields and state it brings."""

    words: str
    title: str
    subject: str | None
    status: str | None
    branch: str | None
    fields: dict[str, JSON]


def _noteable(d: _Delivery, noteable: str, repo: str) -> _Noteable:
    """Read the thing a note is on from the payload (`merge_request`, `issue`, …)."""
    p = d.payload
    if noteable == "merge_request":
        raw = get_dict(p, "merge_request")
        mr = _merge_request(raw, "merge_request")
        mr["labels"] = _labels(raw, p, "merge_request")
        number = get_int(p, "merge_request.iid")
        return _Noteable(
            f"MR !{number}",
            as_str(mr["title"], "merge_request.title"),
            _mr_subject(repo, number),
            _mr_status(mr),
            get_opt_str(p, "merge_request.target_branch"),
            {"mr": mr, "labels": mr["labels"], "head": mr["head"]},
        )
    if noteable == "issue":
        issue = _issue(get_dict(p, "issue"), p, "issue")
        number = get_int(p, "issue.iid")
        return _Noteable(
            f"issue #{number}",
            as_str(issue["title"], "issue.title"),
            _issue_subject(repo, number),
            _state(get_opt_str(p, "issue.state")),
            None,
            {"issue": issue, "labels": issue["labels"]},
        )
    if noteable == "commit":
        commit = _commit_entry(get_dict(p, "commit"), "commit")
        sha = as_str(commit["id"], "commit.id")
        return _Noteable(
            f"commit {sha[:8]}",
            as_str(commit["message"], "commit.message"),
            _sha_subject(repo, sha),
            None,
            None,
            {"commit": commit},
        )
    if noteable == "snippet":
        at = "snippet"
        raw = get_dict(p, at)
        snippet_id = get_int(raw, "id", at=at)
        snippet: dict[str, JSON] = {
            "id": snippet_id,
            "title": get_opt_str(raw, "title", at=at) or "",
            "file_name": get_opt_str(raw, "file_name", at=at),
            "url": get_opt_str(raw, "url", at=at),
        }
        return _Noteable(
            f"snippet ${snippet_id}",
            as_str(snippet["title"], "snippet.title"),
            f"{SERVICE}:{repo}${snippet_id}",
            None,
            None,
            {"snippet": snippet},
        )
    return _Noteable(_words(noteable), "", None, None, None, {})


def _parse_note(d: _Delivery) -> Event:
    """Shape `note.<noteable type>`: a comment on an MR, issue, commit or snippet."""
    p = d.payload
    at = "object_attributes"
    attrs = get_dict(p, at)
    repo = _repo(d)
    noteable = _status_word(_snake(get_str(attrs, "noteable_type", at=at)), f"{at}.noteable_type")
    action = _action(attrs, "action", "create", at=at)
    on = _noteable(d, noteable, repo)
    url = get_opt_str(attrs, "url", at=at)
    comment: dict[str, JSON] = {
        "id": get_opt_int(attrs, "id", at=at),
        "body": get_str(attrs, "note", at=at),
        "url": url,
        "author": _actor(p),
        "system": bool(get_opt_bool(attrs, "system", at=at)),
        "path": get_opt_str(attrs, "position.new_path", at=at)
        or get_opt_str(attrs, "st_diff.new_path", at=at),
    }
    said = "Comment on" if action == "create" else f"Comment {_past(action)} on"
    about = f": {on.title}" if on.title else ""
    return _event(
        d,
        f"note.{noteable}",
        f"{said} {on.words}{about}",
        occurred_at=_time(attrs, "updated_at", at=at) or _time(attrs, "created_at", at=at),
        url=url or _repo_url(p),
        status=on.status,
        branch=on.branch,
        subject=on.subject,
        action=action,
        fields={"comment": comment, "noteable_type": noteable, **on.fields},
    )


# --------------------------------------------------------------------------- releases, wiki


def _parse_release(d: _Delivery) -> Event:
    """Shape `release.<action>`: a release created, updated or deleted."""
    p = d.payload
    action = _status_word(get_str(p, "action"), "action")
    tag = get_str(p, "tag")
    name = get_opt_str(p, "name") or ""
    links: list[JSON] = []
    for i, item in enumerate(get_opt_list(p, "assets.links")):
        at = f"assets.links.{i}"
        link = as_dict(item, at)
        links.append(
            {"name": get_opt_str(link, "name", at=at), "url": get_opt_str(link, "url", at=at)}
        )
    commit = _short_commit(p, "commit")
    url = get_opt_str(p, "url") or _under(_repo_url(p), f"releases/{tag}")
    release: dict[str, JSON] = {
        "tag": tag,
        "name": name,
        "body": get_opt_str(p, "description") or "",
        "url": url,
        "released_at": get_opt_str(p, "released_at"),
        "upcoming": bool(get_opt_bool(p, "upcoming_release")),
        "assets_count": get_opt_int(p, "assets.count"),
        "links": links,
        "commit": commit,
    }
    named = f": {name}" if name and name != tag else ""
    return _event(
        d,
        f"release.{action}",
        f"Release {tag} {_past(action)}{named}",
        occurred_at=_time(p, "released_at") or _time(p, "created_at"),
        url=url,
        action=action,
        fields={"release": release, "tag": tag},
    )


def _parse_wiki_page(d: _Delivery) -> Event:
    """Shape `wiki_page.<action>`: a wiki page created, updated or deleted."""
    p = d.payload
    at = "object_attributes"
    attrs = get_dict(p, at)
    action = _status_word(get_str(attrs, "action", at=at), f"{at}.action")
    title = get_str(attrs, "title", at=at)
    url = get_opt_str(attrs, "url", at=at)
    page: dict[str, JSON] = {
        "title": title,
        "slug": get_opt_str(attrs, "slug", at=at),
        "format": get_opt_str(attrs, "format", at=at),
        "message": get_opt_str(attrs, "message", at=at) or "",
        "url": url,
        "diff_url": get_opt_str(attrs, "diff_url", at=at),
        "version_id": get_opt_str(attrs, "version_id", at=at),
    }
    return _event(
        d,
        f"wiki_page.{action}",
        f"Wiki page {title} {_past(action)}",
        url=(get_opt_str(p, "wiki.web_url") if action == "delete" else url) or url,
        action=action,
        fields={"wiki_page": page},
    )


# --------------------------------------------------------------------------- generic events

# What the thing of a generic event is called, first match wins.
_NAME_PATHS = (
    "object_attributes.title",
    "object_attributes.name",
    "user_username",
    "full_path",
    "path_with_namespace",
    "name",
    "title",
)
# Where it happened, when that is not the project.
_PLACE_PATHS = ("group_name", "group.full_path", "group.group_name", "parent_full_path")
_URL_PATHS = ("object_attributes.url", "object_attributes.awarded_on_url", "url", "project.web_url")
_SOURCE_PATHS = ("path_with_namespace", "full_path", "group.full_path", "group_path")
# Member Hook event names, said as a verb phrase about the user.
_MEMBER_VERBS = {
    "user_add_to_group": "added to",
    "user_remove_from_group": "removed from",
    "user_update_for_group": "changed access in",
    "user_access_request_to_group": "requested access to",
    "user_access_request_denied_for_group": "was denied access to",
    "user_add_to_project": "added to",
    "user_remove_from_project": "removed from",
    "user_update_for_project": "changed access in",
}


def _first_str(p: Mapping[str, JSON], paths: tuple[str, ...]) -> str | None:
    """Return the first non-empty string at one of the paths (any other value is skipped)."""
    for path in paths:
        value = get_opt_value(p, path)
        if isinstance(value, str) and value:
            return value
    return None


def _scalars(obj: Mapping[str, JSON]) -> dict[str, JSON]:
    """Return the string, number and boolean values of an object (templates read these)."""
    return {
        key: value
        for key, value in obj.items()
        if isinstance(value, str | int | float | bool) and not key.endswith("email")
    }


def _parse_generic(d: _Delivery) -> Event:
    """Shape any other event: `<event>.<action or event_name>`, titled from what is there."""
    p = d.payload
    attrs = get_opt_dict(p, "object_attributes")
    event_name = get_opt_str(p, "event_name")
    action = (
        (get_opt_str(attrs, "action", at="object_attributes") if attrs is not None else None)
        or get_opt_str(p, "action")
        or event_name
    )
    kind = d.event if not action or action == d.event else f"{d.event}.{action}"
    name = _first_str(p, _NAME_PATHS)
    place = _first_str(p, _PLACE_PATHS)
    label = _words(d.event).capitalize()
    if d.event == "member" and action in _MEMBER_VERBS and name:
        access = get_opt_str(p, "group_access") or get_opt_str(p, "project_access")
        role = f" ({access})" if access else ""
        title = f"{name} {_MEMBER_VERBS[action]} {place or _project_path(p) or 'the group'}{role}"
    elif action == "expiring_access_token":
        expires = get_opt_str(p, "object_attributes.expires_at")
        when = f" on {expires}" if expires else " soon"
        where = f" ({place or _project_path(p)})" if place or _project_path(p) else ""
        title = f"Access token {name or '?'} expires{when}{where}"
    else:
        verb = action.removeprefix(f"{d.event}_") if action else ""
        said = f" {_past(verb)}" if verb else ""
        where = f" in {place}" if place and place != name else ""
        title = f"{label}{said}" + (f": {name}" if name else "") + where
    source = _project_path(p) or _first_str(p, _SOURCE_PATHS) or SERVICE
    return _event(
        d,
        kind,
        title,
        source=source,
        occurred_at=_time(p, "updated_at")
        or (_time(attrs, "updated_at", at="object_attributes") if attrs is not None else None),
        url=_first_str(p, _URL_PATHS),
        action=action,
        user_object_only=True,
        fields={
            "name": name,
            "event_name": event_name,
            "attributes": _scalars(attrs if attrs is not None else p),
        },
    )


# --------------------------------------------------------------------------- the table

_EVENTS: dict[str, Callable[[_Delivery], Event]] = {
    "push": _parse_push,
    "tag_push": _parse_tag_push,
    "merge_request": _parse_merge_request,
    "pipeline": _parse_pipeline,
    "job": _parse_job,
    "deployment": _parse_deployment,
    "issue": _parse_issue,
    "note": _parse_note,
    "release": _parse_release,
    "wiki_page": _parse_wiki_page,
}

EVENT_NAMES: frozenset[str] = frozenset(_EVENTS)
"""The event names with their own parser; every other `… Hook` is parsed generically."""


def _kinds(event: str, words: str) -> tuple[str, ...]:
    """Spell `event.word` for each space-separated word."""
    return tuple(f"{event}.{word}" for word in words.split())


_CI_STATUSES = (
    "created waiting_for_resource preparing pending running success failed canceling canceled"
    " skipped manual scheduled"
)

KINDS: tuple[str, ...] = (
    "push",
    *_kinds("tag_push", "created deleted updated"),
    *_kinds(
        "merge_request", "open update merge close reopen approved unapproved approval unapproval"
    ),
    *_kinds("pipeline", _CI_STATUSES),
    *_kinds("job", _CI_STATUSES),
    *_kinds("deployment", "running success failed canceled blocked"),
    *_kinds("issue", "open update close reopen"),
    *_kinds("note", "merge_request issue commit snippet"),
    *_kinds("release", "create update delete"),
    *_kinds("wiki_page", "create update delete"),
    # Generic events of the shared corpus (GitLab's webhook docs).
    *_kinds("member", " ".join(_MEMBER_VERBS)),
    *_kinds("project", "project_create project_destroy project_rename project_transfer"),
    *_kinds("subgroup", "subgroup_create subgroup_destroy"),
    *_kinds("milestone", "create close reopen delete"),
    *_kinds("emoji", "award revoke"),
    *_kinds("resource_access_token", "expiring_access_token"),
    "feature_flag",
    "vulnerability",
)
"""Every kind known by name; new GitLab statuses and actions add `<event>.<word>`."""

DEFAULT_SELECTION: tuple[str, ...] = (
    "push",
    "tag_push",
    "merge_request.open",
    "merge_request.merge",
    "merge_request.close",
    "merge_request.reopen",
    "pipeline.success",
    "pipeline.failed",
    "issue.open",
    "issue.close",
    "release.create",
    "deployment.success",
    "deployment.failed",
)
"""What a new GitLab hook posts: the seed's list minus the noise (updates, notes, jobs)."""

ALIASES: dict[str, tuple[str, ...]] = {
    "mr": ("merge_request",),
    "pr": ("merge_request",),
    "issue": ("issue",),
    "issues": ("issue",),
    "ci": ("pipeline", "job"),
    "comment": ("note",),
    "wiki": ("wiki_page",),
    "deploy": ("deployment",),
}
"""Short event words users may type, and the patterns they stand for."""

SETUP_HINT = (
    "In GitLab: the project's (or group's) Settings → Webhooks → Add new webhook, with\n"
    "  URL: {url}\n"
    "  Secret token: {secret}\n"
    "  Trigger: Push events, Tag push events, Merge request events, Pipeline events,"
    " Issues events, Releases events, Deployment events (Comments, Job events and"
    " Wiki page events too if you select them)\n"
    "  Enable SSL verification: on"
)
"""What the `on` answer tells the user to do in GitLab."""

ATTRIBUTE_EVENTS: dict[str, tuple[str, ...]] = {
    "branch": ("push", "merge_request", "pipeline", "job", "deployment", "note"),
    "status": ("merge_request", "pipeline", "job", "deployment", "issue", "note"),
}
"""Which events set Event.branch and Event.status (the `branch` and `status` filter keys).

A note has them when it is on a merge request (its target branch and state) or an issue
(its state); tag pushes, releases and the generic events have neither.
"""

# --------------------------------------------------------------------------- samples

SAMPLES: dict[str, str] = {
    "push": "push",
    "push.branch-deleted": "push",
    "tag_push": "tag_push.created",
    "tag_push.deleted": "tag_push.deleted",
    "merge_request": "merge_request.open",
    "merge_request.merge": "merge_request.merge",
    "merge_request.close": "merge_request.close",
    "merge_request.approved": "merge_request.approved",
    "pipeline": "pipeline.success",
    "pipeline.failed": "pipeline.failed",
    "job": "job.failed",
    "deployment": "deployment.success",
    "deployment.failed": "deployment.failed",
    "issue": "issue.open",
    "issue.close": "issue.close",
    "note": "note.merge_request",
    "note.issue": "note.issue",
    "note.commit": "note.commit",
    "note.snippet": "note.snippet",
    "release": "release.create",
    "wiki_page": "wiki_page.create",
    "member": "member.user_add_to_group",
}
"""Sample name → the kind it produces; bodies are `parsers/samples/gitlab/<name>.json`."""

_SAMPLE_HOOKS = {
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "merge_request": "Merge Request Hook",
    "pipeline": "Pipeline Hook",
    "job": "Job Hook",
    "deployment": "Deployment Hook",
    "issue": "Issue Hook",
    "note": "Note Hook",
    "release": "Release Hook",
    "wiki_page": "Wiki Page Hook",
    "member": "Member Hook",
}


def sample_headers(name: str) -> dict[str, str]:
    """Return the (unsigned) headers GitLab sends with a bundled sample.

    Args:
        name: A key of SAMPLES.

    Returns:
        Content-Type, User-Agent, X-Gitlab-Event, X-Gitlab-Instance and the three
        per-delivery UUIDs (deterministic per sample).

    Raises:
        KeyError: The sample does not exist.
    """
    if name not in SAMPLES:
        raise KeyError(name)
    event = name.split(".", 1)[0]

    def uid(what: str) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hookbot:gitlab:{name}:{what}"))

    return {
        "Content-Type": "application/json",
        "User-Agent": "GitLab/17.11.1",
        "X-Gitlab-Event": _SAMPLE_HOOKS[event],
        "X-Gitlab-Instance": "https://gitlab.example.com",
        "X-Gitlab-Webhook-UUID": uid("webhook"),
        "X-Gitlab-Event-UUID": uid("event"),
        "Idempotency-Key": uid("idempotency"),
    }


# --------------------------------------------------------------------------- field docs

_MR_DOCS = {
    "mr.number": "Merge request IID (the `!12` number).",
    "mr.id": "Merge request id across the instance.",
    "mr.title": "Title.",
    "mr.body": "Description (Markdown, may be empty).",
    "mr.state": "`opened`, `closed`, `merged` or `locked`, as GitLab says it.",
    "mr.draft": "True while the merge request is a draft.",
    "mr.base": "Target branch (the one merged into).",
    "mr.head": "Source branch (the one with the changes).",
    "mr.head_sha": "SHA of the last commit.",
    "mr.merge_status": "`mergeable`, `checking`, `broken_status`… (detailed merge status).",
    "mr.merge_commit_sha": "SHA of the merge commit, once merged.",
    "mr.source_project": "Project path of the source branch (differs for forks).",
    "mr.url": "Merge request web page.",
    "mr.labels": "Label titles.",
    "labels": "Label titles (same as `mr.labels`).",
    "head": "Source branch (same as `mr.head`).",
}

_ISSUE_DOCS = {
    "issue.number": "Issue IID (the `#23` number).",
    "issue.id": "Issue id across the instance.",
    "issue.title": "Title.",
    "issue.body": "Description (Markdown, may be empty).",
    "issue.state": "`opened` or `closed`.",
    "issue.labels": "Label titles.",
    "issue.confidential": "True for a confidential issue.",
    "issue.type": "`Issue`, `Incident`, `Task`…",
    "issue.severity": "Incident severity (`high`, `unknown`…).",
    "issue.due_date": "Due date (`YYYY-MM-DD`), when set.",
    "issue.url": "Issue web page.",
    "labels": "Label titles (same as `issue.labels`).",
}

_COMMIT_DOCS = {
    "id": "Full SHA.",
    "short_id": "First 8 characters of the SHA (GitLab's short form).",
    "message": "First line of the message.",
    "full_message": "Whole message.",
    "author": "Author's git name.",
    "url": "Commit web page.",
}

_PUSH_DOCS = {
    "ref": "Full ref pushed (`refs/heads/main`, `refs/tags/v1.0`).",
    "before": "SHA the ref pointed at before the push (all zeros when created).",
    "head_sha": "SHA the ref points at now; null when deleted.",
    "created": "True when the push created the ref.",
    "deleted": "True when the push deleted the ref.",
    "commit_count": "Commits pushed (`total_commits_count`: GitLab lists at most 20).",
    "commits": "The commits GitLab listed, oldest first.",
    **{f"commits[].{key}": doc for key, doc in _COMMIT_DOCS.items()},
    "commits[].timestamp": "Commit time as GitLab wrote it.",
    "commits[].added": f"Paths added (at most {MAX_COMMIT_PATHS}).",
    "commits[].removed": f"Paths removed (at most {MAX_COMMIT_PATHS}).",
    "commits[].modified": f"Paths modified (at most {MAX_COMMIT_PATHS}).",
    "commits_omitted": "How many commits `commit_count` has beyond `commits`.",
    "latest_commit_message": "First line of the head commit's message.",
    "files": f"Every path changed across the commits, each once (at most {MAX_PUSH_FILES}).",
    "files_omitted": "How many more distinct paths changed than `files` keeps.",
    "protected": "True when the ref is protected.",
    "pusher": "Display name of who pushed.",
}

_CI_JOB_DOCS = {
    "id": "Job id.",
    "name": "Job name.",
    "stage": "Stage name.",
    "status": "GitLab's status (`success`, `failed`, `running`, `manual`…).",
    "failure_reason": "Why it failed (`script_failure`, `runner_system_failure`…); failed only.",
    "allow_failure": "True when the job may fail without failing the pipeline.",
    "duration_seconds": "Run time in seconds.",
    "url": "Job web page.",
}

_GENERIC_DOCS = {
    "name": "What the event is about (a title, name, username or path), when there is one.",
    "event_name": "GitLab's `event_name`, when the payload has one.",
    "attributes": "The string, number and boolean values GitLab sent about the thing.",
}

FIELD_DOCS: dict[str, dict[str, str]] = {
    "*": {
        "repo": "Project path (`group/project`); null for group-level events.",
        "repo_url": "Project web page.",
        "actor_name": "Display name of who did it.",
        "actor_avatar_url": "Avatar image of who did it.",
        "action": "GitLab's action word (`open`, `create`…); null for pushes and CI.",
    },
    "push": _PUSH_DOCS
    | {
        "branch": "Branch name.",
        "tag": "Tag name; null for branch pushes.",
        "compare_url": "Web page comparing before and after; null for new or deleted branches.",
    },
    "tag_push": _PUSH_DOCS
    | {
        "tag": "Tag name.",
        "tag_message": "Annotated tag message (may be empty).",
    },
    "merge_request": _MR_DOCS
    | {
        "mr.assignees": "Usernames of the assignees.",
        "mr.reviewers": "Usernames of the reviewers.",
        "changes": "Attributes this update changed (`labels`, `title`, `draft`…).",
        "new_commits": "True when an update pushed new commits.",
    },
    "pipeline": {
        "pipeline.id": "Pipeline id (the `#31` GitLab shows).",
        "pipeline.iid": "Pipeline number within the project.",
        "pipeline.name": "Pipeline name, when set.",
        "pipeline.status": "GitLab's status (`success`, `failed`, `running`, `canceled`…).",
        "pipeline.detailed_status": "Status as the UI shows it (`passed`, `failed`…).",
        "pipeline.source": "What started it (`push`, `merge_request_event`, `schedule`…).",
        "pipeline.ref": "Branch or tag it ran on.",
        "pipeline.tag": "True when it ran on a tag.",
        "pipeline.sha": "Commit SHA.",
        "pipeline.before_sha": "SHA before the push that started it.",
        "pipeline.stages": "Stage names, in order.",
        "pipeline.duration_seconds": "Run time in seconds, once finished.",
        "pipeline.queued_seconds": "Seconds it waited for a runner.",
        "pipeline.url": "Pipeline web page.",
        "pipeline.failed_stage": "Stage of the first failed job (one not allowed to fail).",
        "pipeline.stage_results": "Each stage (`name`) with its jobs' overall `status`.",
        "tag": "Tag name when it ran on a tag.",
        "commit": "The commit (`commit.id`, `commit.message`, `commit.author`, `commit.url`).",
        "merge_request": "The merge request it ran for: number, title, url, base, head, state.",
        "jobs": "Its jobs, in stage order.",
        **{f"jobs[].{key}": doc for key, doc in _CI_JOB_DOCS.items()},
        "jobs[].manual": "True for a manual job.",
        "jobs[].environment": "Environment the job deploys to.",
        "failed_jobs": "The failed jobs (those not allowed to fail, when there are any).",
    },
    "job": {
        **{f"job.{key}": doc for key, doc in _CI_JOB_DOCS.items()},
        "job.queued_seconds": "Seconds it waited for a runner.",
        "job.retries": "How many times it was retried.",
        "job.pipeline_id": "Id of its pipeline.",
        "job.pipeline_url": "Its pipeline's web page.",
        "job.ref": "Branch or tag it ran on.",
        "job.tag": "True when it ran on a tag.",
        "job.sha": "Commit SHA.",
        "job.runner": "Description of the runner.",
        "job.environment": "Environment the job deploys to.",
        "tag": "Tag name when it ran on a tag.",
        "commit.id": "Commit SHA.",
        "commit.message": "First line of the commit message.",
        "commit.author": "Commit author's name.",
    },
    "deployment": {
        "deployment.id": "Deployment id.",
        "deployment.status": "`running`, `success`, `failed` or `canceled`.",
        "deployment.environment": "Environment name.",
        "deployment.environment_tier": "`production`, `staging`, `testing`…",
        "deployment.environment_url": "The environment's external address.",
        "deployment.ref": "Branch or tag deployed, when GitLab says.",
        "deployment.short_sha": "Short SHA deployed.",
        "deployment.sha": "Full SHA deployed, when known.",
        "deployment.commit_title": "Title of the deployed commit.",
        "deployment.commit_url": "Deployed commit's web page.",
        "deployment.job_url": "The deploying job's web page.",
    },
    "issue": _ISSUE_DOCS | {"issue.assignees": "Usernames of the assignees."},
    "note": {
        "comment.id": "Note id.",
        "comment.body": "Comment text (Markdown).",
        "comment.url": "Comment web address.",
        "comment.author": "Username of the commenter.",
        "comment.system": "True for a note GitLab wrote itself.",
        "comment.path": "File a diff comment is on.",
        "noteable_type": "What it is on: `merge_request`, `issue`, `commit`, `snippet`.",
        **_MR_DOCS,
        **{key: doc for key, doc in _ISSUE_DOCS.items() if key != "labels"},
        **{f"commit.{key}": doc for key, doc in _COMMIT_DOCS.items()},
        "snippet.id": "Snippet id (the `$53` number).",
        "snippet.title": "Snippet title.",
        "snippet.file_name": "Snippet file name.",
        "snippet.url": "Snippet web page.",
    },
    "release": {
        "release.tag": "Tag name.",
        "release.name": "Release title (may be empty).",
        "release.body": "Release notes (Markdown).",
        "release.url": "Release web page.",
        "release.released_at": "Release time as GitLab wrote it.",
        "release.upcoming": "True for a release dated in the future.",
        "release.assets_count": "Number of assets.",
        "release.links": "Asset links (`name`, `url`).",
        "release.commit": "The tagged commit (`id`, `message`, `url`…).",
        "tag": "Tag name (same as `release.tag`).",
    },
    "wiki_page": {
        "wiki_page.title": "Page title.",
        "wiki_page.slug": "Page slug.",
        "wiki_page.format": "`markdown`, `rdoc`, `asciidoc`…",
        "wiki_page.message": "Commit message of the change (may be empty).",
        "wiki_page.url": "Page web address.",
        "wiki_page.diff_url": "Web page of the change.",
        "wiki_page.version_id": "Wiki commit SHA.",
    },
    **dict.fromkeys(
        (
            "member",
            "project",
            "subgroup",
            "milestone",
            "emoji",
            "resource_access_token",
            "feature_flag",
            "vulnerability",
            "system",
        ),
        _GENERIC_DOCS,
    ),
}
"""Field path → one-line description, per event name (`*`: fields every kind carries)."""
