"""Forwards between the pipeline and the outbox: checking one, queuing its requests.

`check_forward` is what `forward <ref> <url> …` checks before anything is stored (the
guard at command time, headers, the body template against a sample); `forward_rows`
is what the pipeline queues for an event the hook posts (one outbox row per forward
that selects it); `send_now` is `forward <ref> test <n>`, sent at once.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.selection import selects
from bot.delivery.base import Sent
from bot.delivery.guard import IPNetwork, check_url
from bot.delivery.http import ForwardRequest, guarded_session, reserved_header, send_request
from bot.delivery.outbox import make_nonce
from bot.store import NewOutbox
from bot.store.forwards import Forward
from formatters.forward import BodyError, body_text, default_body, render_body
from parsers.event import JSON, Event

MAX_FORWARDS = 10  # per hook
MAX_HEADERS = 20
SECRET_BYTES = 32


def new_secret() -> str:
    """Return a new forward secret in the Standard Webhooks form (`whsec_` + base64)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@dataclass(frozen=True, slots=True)
class Queued:
    """What the pipeline queues for one event: outbox rows, and body templates that failed."""

    rows: list[NewOutbox]
    body_errors: list[str]


def body_for(
    forward: Forward, event: Event, *, delivery: str, now: float, alert: str | None = None
) -> tuple[str, str | None]:
    """Return the body to send (the template's, else the default) and why the template failed."""
    body = default_body(
        event, delivery=delivery, hook_id=forward.hook_id, timestamp=now, alert=alert
    )
    return _chosen_body(forward, event, body, body_text(body))


def _chosen_body(
    forward: Forward, event: Event, body: Mapping[str, JSON], default_text: str
) -> tuple[str, str | None]:
    if forward.body is None:
        return default_text, None
    try:
        return render_body(forward.body, event, body), None
    except BodyError as exc:
        return default_text, f"forward {forward.number}: {exc}; the default body was sent"


def forward_rows(
    forwards: Sequence[Forward],
    event: Event,
    *,
    delivery: str,
    part: str,
    now: float,
    alert: str | None = None,
) -> Queued:
    """Return the outbox rows of an event (or an alert it raised) for a hook's forwards.

    A forward with `--events` takes only the kinds they select; an alert goes to every
    forward.
    """
    rows: list[NewOutbox] = []
    errors: list[str] = []
    defaults: dict[
        str, tuple[Mapping[str, JSON], str]
    ] = {}  # per hook: built once, not per forward
    for forward in forwards:
        if (
            alert is None
            and forward.events
            and not selects(forward.events, event.service, event.kind)
        ):
            continue
        if forward.hook_id not in defaults:
            body = default_body(
                event, delivery=delivery, hook_id=forward.hook_id, timestamp=now, alert=alert
            )
            defaults[forward.hook_id] = (body, body_text(body))
        text, error = _chosen_body(forward, event, *defaults[forward.hook_id])
        if error is not None:
            errors.append(error)
        request = ForwardRequest(
            url=forward.url,
            body=text,
            event="alert" if alert is not None else event.kind,
            headers=forward.headers,
            timeout=float(forward.timeout),
            retries=forward.retries,
            body_error=error,
        )
        rows.append(
            NewOutbox(
                destination=forward.destination,
                payload=request.to_json(),
                nonce=make_nonce(forward.hook_id, delivery, f"forward:{forward.id}:{part}"),
                hook_id=forward.hook_id,
                delivery_id=delivery,
                not_before=now,
            )
        )
    return Queued(rows, errors)


async def check_forward(
    url: str,
    headers: Sequence[tuple[str, str]],
    body: str | None,
    sample: Event,
    allow: Sequence[IPNetwork],
) -> None:
    """Check a new forward: its host (every address), its headers, its body template.

    Raises:
        ValueError: what is wrong, in words (the body template's with its line).
    """
    if len(headers) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} --header options")
    for name, _ in headers:
        if reserved_header(name):
            raise ValueError(f"--header {name} is set by hookbot itself (signatures, event, type)")
    if body is not None:
        sample_body = default_body(sample, delivery="sample", hook_id="hook", timestamp=time.time())
        try:
            render_body(body, sample, sample_body)
        except BodyError as exc:
            raise ValueError(f"--body refused: {exc}") from exc
    try:
        await check_url(url, allow)
    except OSError as exc:
        raise ValueError(f"forward refused: {exc}") from exc


async def send_now(
    forward: Forward, event: Event, allow: Sequence[IPNetwork], *, now: float, delivery: str
) -> tuple[Sent | None, str | None]:
    """Send one event to a forward at once (`forward test`); return what came back or the error.

    The answer's status code and time are in `Sent.result`; on failure the error text is
    returned instead (with the status code and time, when an answer came).
    """
    text, error = body_for(forward, event, delivery=delivery, now=now)
    request = ForwardRequest(
        url=forward.url,
        body=text,
        event=event.kind,
        headers=forward.headers,
        timeout=float(forward.timeout),
        retries=0,
        body_error=error,
    )
    async with guarded_session(allow) as session:
        try:
            sent = await send_request(
                session,
                request,
                forward.secret,
                msg_id=f"msg_test_{secrets.token_hex(8)}",
                delivery=delivery,
                allow=allow,
                now=now,
            )
        except Exception as exc:  # every failure is the answer to a test
            result = getattr(exc, "result", None)
            return (None if result is None else Sent(None, result)), str(exc)
    return sent, error
