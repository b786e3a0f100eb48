"""The forward destination (`forward:<id>`): signed JSON POSTs to a user's endpoint.

An outbox row's payload is a `ForwardRequest` (JSON): the URL, the body text, the
user's headers, the timeout and the retries, fixed when the pipeline queued it. The
forward's secret is read at send time, so no secret sits in the outbox. Each request
carries the Standard Webhooks headers (`webhook-id`, the same on every try,
`webhook-timestamp`, `webhook-signature`, made by the standardwebhooks package),
`X-Hookbot-Signature-256: sha256=<hex HMAC-SHA256 of the body, keyed with the secret
as shown>`, `X-Hookbot-Event` and `X-Hookbot-Delivery`. Redirects are not followed.

Retries (DESIGN "Forwarding"): at once, then 2 s, 4 s, 8 s … capped at 60 s, for
`retries` tries after the first; 2xx is success; 429, 5xx, timeouts and network errors
are retried (Retry-After honoured); any other answer fails at once. Every address a
request connects to is checked by bot.delivery.guard first (see GuardedResolver).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import json
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from standardwebhooks import Webhook

from bot.delivery.base import PermanentSinkError, RejectedMessageError, Sent, TransientSinkError
from bot.delivery.guard import ForwardRefusedError, IPNetwork, host_and_port, refusal, resolve
from bot.delivery.quota import FORWARD_QUOTA, HourlyQuota
from bot.redact import redact
from bot.store import AttemptResult, OutboxRow

RETRY_BASE = 2.0
RETRY_CAP = 60.0
MAX_RETRY_AFTER = 3600.0
MAX_TIMEOUT = 300.0
USER_AGENT = "hookbot-forward/1"
SIGNATURE_HEADER = "X-Hookbot-Signature-256"
# Headers hookbot sets itself; a user's --header may not replace them.
RESERVED_HEADERS = frozenset(
    {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        SIGNATURE_HEADER.lower(),
        "x-hookbot-event",
        "x-hookbot-delivery",
        "content-type",
        "content-length",
        "host",
        "transfer-encoding",
    }
)

SecretLookup = Callable[[int], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class ForwardRequest:
    """One queued POST to a forward: the outbox payload of a `forward:<id>` row."""

    url: str
    body: str
    event: str
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 30.0
    retries: int = 3
    body_error: str | None = None  # the --body template failed; the default body is sent

    def to_json(self) -> str:
        """Return the payload stored in the outbox row."""
        return json.dumps(
            {
                "url": self.url,
                "body": self.body,
                "event": self.event,
                "headers": [list(pair) for pair in self.headers],
                "timeout": self.timeout,
                "retries": self.retries,
                "body_error": self.body_error,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ForwardRequest:
        """Read a payload written by `to_json`.

        Raises:
            ValueError, KeyError or TypeError: not such a payload.
        """
        data = json.loads(text)
        return cls(
            url=str(data["url"]),
            body=str(data["body"]),
            event=str(data["event"]),
            headers=tuple((str(k), str(v)) for k, v in data.get("headers", [])),
            timeout=float(data.get("timeout", 30.0)),
            retries=int(data.get("retries", 3)),
            body_error=data.get("body_error"),
        )


def forward_delay(
    attempts: int, retries: int, retry_after: float | None, base: float
) -> float | None:
    """Return the wait before the next try after `attempts` tries, or None when used up.

    `base` 2 s gives 2, 4, 8 … s, capped at 60 s; a Retry-After is waited at least
    (at most an hour).
    """
    if attempts > retries:
        return None
    delay = min(RETRY_CAP, base * 2.0 ** max(0, attempts - 1))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Return a Retry-After header's wait in seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


@functools.lru_cache(maxsize=1024)
def _webhook(secret: str) -> Webhook:
    """One signer per forward secret (building one decodes the key each time)."""
    return Webhook(secret)


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> dict[str, str]:
    """Return the signature headers of one request (Standard Webhooks and hookbot's own)."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": _webhook(secret).sign(msg_id, moment, body),
        SIGNATURE_HEADER: f"sha256={digest}",
    }


class GuardedResolver(AbstractResolver):
    """Resolve a host and refuse it unless every address passes the guard.

    aiohttp connects to the addresses this returns: the addresses checked are the
    addresses used, so a name cannot resolve to a public address for the check and to
    a private one for the connection.
    """

    def __init__(self, allow: Sequence[IPNetwork]) -> None:
        self._allow = tuple(allow)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Return the host's addresses, all checked; raise ForwardRefusedError otherwise."""
        addresses = await resolve(host, port)
        reason = refusal(addresses, self._allow)
        if reason is not None:
            raise ForwardRefusedError(f"{host}: {reason}")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        """Nothing to release."""


def guarded_session(allow: Sequence[IPNetwork]) -> aiohttp.ClientSession:
    """Return the session forwards send with: every connection checked, no DNS cache."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(allow), use_dns_cache=False)
    return aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT})


class ForwardDestination:
    """The outbox Destination of one forward: one row per request, its own quota."""

    coalescing = False
    send_timeout = MAX_TIMEOUT + 10.0  # each request has its own, shorter, timeout

    def __init__(
        self,
        forward_id: int,
        session: aiohttp.ClientSession,
        secret_of: SecretLookup,
        allow: Sequence[IPNetwork] = (),
        *,
        clock: Callable[[], float] = time.time,
        retry_base: float = RETRY_BASE,
        quota: int = FORWARD_QUOTA,
    ) -> None:
        self.key = f"forward:{forward_id}"
        self.forward_id = forward_id
        self._session = session
        self._secret_of = secret_of
        self._allow = tuple(allow)
        self._clock = clock
        self._retry_base = retry_base
        self._quota = HourlyQuota(clock, quota)

    def group_size(self, candidates: Sequence[OutboxRow]) -> int:
        """Forwards send one event per request."""
        return 1

    def wait_seconds(self) -> float:
        """The hourly quota: how long until the next request may go."""
        return self._quota.wait_seconds()

    def retry_delay(self, row: OutboxRow, retry_after: float | None) -> float | None:
        """At once, then 2 s, 4 s, 8 s … (≤ 60 s), for the forward's retries; then give up."""
        try:
            retries = ForwardRequest.from_json(row.payload).retries
        except (ValueError, KeyError, TypeError):
            retries = 0
        return forward_delay(row.attempts, retries, retry_after, self._retry_base)

    async def send(self, rows: Sequence[OutboxRow]) -> Sent:
        """POST the row's body, signed; classify the answer for the outbox."""
        (row,) = rows
        request = ForwardRequest.from_json(row.payload)
        secret = await self._secret_of(self.forward_id)
        if secret is None:
            raise PermanentSinkError("the forward was removed")
        self._quota.record()
        return await send_request(
            self._session,
            request,
            secret,
            msg_id=f"msg_{row.nonce}",
            delivery=row.delivery_id or "",
            allow=self._allow,
            now=self._clock(),
        )


async def send_request(
    session: aiohttp.ClientSession,
    request: ForwardRequest,
    secret: str,
    *,
    msg_id: str,
    delivery: str,
    allow: Sequence[IPNetwork],
    now: float,
) -> Sent:
    """Send one forward request and return what came back, or raise a classified error.

    Raises:
        TransientSinkError: 429, 5xx, a timeout or a network error (retry).
        RejectedMessageError: any other answer, or a refused address (fail at once).
    """
    started = time.monotonic()

    def result(status: int | None, error: str | None = None) -> AttemptResult:
        elapsed = round((time.monotonic() - started) * 1000, 1)
        return AttemptResult(status, elapsed, None if error is None else redact(error))

    try:
        host, _ = host_and_port(request.url)
    except ValueError as exc:
        raise RejectedMessageError(str(exc), result(None, str(exc))) from None
    literal = _literal(host)
    if literal is not None and (reason := refusal([literal], allow)) is not None:
        error = f"refused: {host}: {reason}"
        raise RejectedMessageError(error, result(None, error))
    headers = {
        name: value for name, value in request.headers if name.lower() not in RESERVED_HEADERS
    }
    headers.update(sign(secret, msg_id, int(now), request.body))
    headers.update(
        {
            "Content-Type": "application/json",
            "X-Hookbot-Event": request.event,
            "X-Hookbot-Delivery": delivery,
        }
    )
    try:
        async with session.post(
            request.url,
            data=request.body.encode(),
            headers=headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=min(request.timeout, MAX_TIMEOUT)),
        ) as response:
            text = (await response.content.read(2048)).decode(errors="replace")
            status = response.status
            retry_after = parse_retry_after(response.headers.get("Retry-After"), now)
            location = response.headers.get("Location")
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, ForwardRefusedError):
            error = f"refused: {exc.os_error}"
            raise RejectedMessageError(error, result(None, error)) from exc
        error = f"unreachable: {exc}"
        raise TransientSinkError(error, result=result(None, error)) from exc
    except TimeoutError as exc:
        error = f"timed out after {request.timeout:g}s"
        raise TransientSinkError(error, result=result(None, error)) from exc
    except aiohttp.ClientError as exc:
        error = f"unreachable: {exc!r}"
        raise TransientSinkError(error, result=result(None, error)) from exc
    if 200 <= status < 300:
        return Sent(f"HTTP {status}", result(status))
    detail = " ".join(text.split())[:200]
    if status == 429 or status >= 500:
        error = f"HTTP {status}: {detail}".rstrip(": ")
        raise TransientSinkError(error, retry_after, result(status, error))
    if 300 <= status < 400:
        error = f"HTTP {status}: redirect to {location or '?'} not followed"
    else:
        error = f"HTTP {status}: {detail}".rstrip(": ")
    raise RejectedMessageError(error, result(status, error))


def _literal(host: str) -> str | None:
    """Return the host when it is an IP address (aiohttp connects to it without resolving)."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def reserved_header(name: str) -> bool:
    """Return True for a header hookbot sets itself (a --header cannot replace it)."""
    return name.lower() in RESERVED_HEADERS
