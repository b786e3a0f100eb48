"""Discord message destinations: payloads are Message JSON, coalesced under backlog.

The console, a channel webhook and a channel take a rendered `Message`. Here, rows
become messages, a backlog is joined into full posts (up to 10 embeds, or 2,000
characters of text: Discord's business, not the generic worker's), and failures are
retried for as long as it takes, with exponential backoff and jitter, honouring
Discord's retry_after.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from bot.delivery.base import (
    Destination,
    PermanentSinkError,
    RejectedMessageError,
    Sent,
    Sink,
    TransientSinkError,
)
from bot.delivery.console import strip_controls
from bot.store import AttemptResult, OutboxRow
from formatters.message import LIMITS, Message, clamp, embed_size, message_from_json

BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0
SEND_TIMEOUT = 60.0


def backoff(attempts: int, retry_after: float | None, rng: Callable[[], float]) -> float:
    """Return the delay before the next try: exponential with jitter, at least retry_after."""
    exponential: float = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** max(0, attempts - 1))
    delay = exponential * (0.5 + rng() / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def _shape(message: Message) -> str:
    if (message.embeds and message.content) or message.mention_roles:
        return "mixed"
    return "embeds" if message.embeds else "content"


def group_size(candidates: Sequence[OutboxRow]) -> int:
    """Return how many of the oldest ready rows fit one post.

    Embed messages share a post up to 10 embeds and 6,000 characters; content-only
    messages are joined up to 2,000 characters; the two are never mixed.
    """
    messages = []
    for row in candidates:
        try:
            messages.append(message_from_json(json.loads(row.payload)))
        except (ValueError, KeyError, TypeError):
            break  # an unreadable row goes alone and dies alone
    if not messages:
        return 1
    shape = _shape(messages[0])
    if shape == "mixed":
        return 1
    taken, embeds, size, length = 0, 0, 0, -1
    for message in messages:
        if _shape(message) != shape:
            break
        if shape == "embeds":
            embeds += len(message.embeds)
            size += sum(embed_size(e) for e in message.embeds)
            if embeds > LIMITS.embeds or size > LIMITS.total:
                break
        else:
            length += len(message.content) + 1
            if length > LIMITS.content:
                break
        taken += 1
    return max(1, taken)


# Bidi overrides and isolates (LRE RLE PDF LRO RLO, LRI RLI FSI PDI): a name carrying
# U+202E shows "exe.gnp" as "png.exe". Right-to-left text itself needs none of them.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def _plain(text: str | None) -> str | None:
    return None if text is None else strip_controls(text).translate(_BIDI_CONTROLS)


def without_controls(message: Message) -> Message:
    """Return the message without C0/C1 controls (newline and tab stay) or bidi overrides.

    Payload text reaches every part of a post (a login in the author line, a branch in
    the title, any value a user template prints); what a control character does there
    is never what the sender meant to show.
    """
    embeds = tuple(
        replace(
            embed,
            title=_plain(embed.title),
            description=_plain(embed.description),
            author=_plain(embed.author),
            footer=_plain(embed.footer),
            fields=tuple(
                replace(item, name=_plain(item.name) or "", value=_plain(item.value) or "")
                for item in embed.fields
            ),
        )
        for embed in message.embeds
    )
    return clamp(replace(message, content=_plain(message.content) or "", embeds=embeds))


def coalesce(messages: Sequence[Message]) -> Message:
    """Join messages chosen by group_size into one post."""
    if len(messages) == 1:
        return messages[0]
    if messages[0].embeds:
        return Message(embeds=tuple(e for m in messages for e in m.embeds))
    return Message(content="\n".join(m.content for m in messages))


class MessageDestination:
    """A message Sink as an outbox Destination: decode, coalesce, time, retry forever."""

    send_timeout = SEND_TIMEOUT

    def __init__(self, sink: Sink, rng: Callable[[], float] = random.random) -> None:
        self.sink = sink
        self.key = sink.key
        self.coalescing = sink.coalesces
        self._rng = rng

    def group_size(self, candidates: Sequence[OutboxRow]) -> int:
        """Join a backlog into full posts when the sink allows it; else one row per post."""
        return group_size(candidates) if self.sink.coalesces else 1

    def wait_seconds(self) -> float:
        """Discord's own rate limits are met by discord.py and retry_after: no quota here."""
        return 0.0

    def retry_delay(self, row: OutboxRow, retry_after: float | None) -> float | None:
        """Retry Discord for as long as it takes (a dead channel fails the destination)."""
        return backoff(row.attempts, retry_after, self._rng)

    async def send(self, rows: Sequence[OutboxRow]) -> Sent:
        """Post the rows as one message, with the first row's nonce (stable across retries)."""
        message = without_controls(
            coalesce([message_from_json(json.loads(r.payload)) for r in rows])
        )
        started = time.monotonic()
        try:
            receipt = await self.sink.send(message, nonce=rows[0].nonce)
        except (TransientSinkError, PermanentSinkError, RejectedMessageError) as exc:
            exc.result = self._timed(started, exc.result, str(exc))
            raise
        return Sent(receipt, self._timed(started, None, None))

    def _timed(
        self, started: float, result: AttemptResult | None, error: str | None
    ) -> AttemptResult:
        """The sink's result (its status code, when it knows it) with the time it took."""
        known = result or getattr(self.sink, "last_result", None) or AttemptResult()
        elapsed = round((time.monotonic() - started) * 1000, 1)
        return replace(
            known,
            response_ms=known.response_ms if known.response_ms is not None else elapsed,
            error=known.error or error,
        )


def as_destination(
    found: Sink | Destination, rng: Callable[[], float] = random.random
) -> Destination:
    """Return `found` as a Destination: a message Sink is wrapped, a Destination kept."""
    if isinstance(found, Destination):
        return found
    return MessageDestination(found, rng)
