"""Sinks: where a rendered Message goes (console, Discord channel webhook, …)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from collections.abc import Callable, Mapping
from typing import Protocol, TextIO

import aiohttp
import discord

from bot.redact import redact
from formatters.message import Embed, Message, clamp, message_to_discord_payload

log = logging.getLogger(__name__)

SEND_TIMEOUT = aiohttp.ClientTimeout(total=30)
RULE = "─" * 60

# Terminal control: whole escape sequences first (CSI like ESC[2J, and OSC/DCS/APC/PM/SOS
# strings like ESC]0;title BEL, when terminated), so no debris like "[2J" is left; then
# every remaining C0 control but newline and tab, DEL, and every C1 control.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI … final byte
    # OSC/DCS/SOS/PM/APC string … BEL or ST, within one line
    r"|(?:\x1b[\]P^_X]|[\x90\x98\x9d-\x9f])[^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def strip_controls(text: str) -> str:
    """Return `text` without terminal control characters (newline and tab stay).

    Removes C0 controls (NUL, BEL, BS, CR, ESC, …) except newline and tab, DEL and the C1
    range (U+0080-U+009F), along with whole CSI/OSC escape sequences. Other Unicode,
    emoji and right-to-left text included, is untouched.
    """
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))


class TransientSinkError(Exception):
    """The send failed but may work later (429, 5xx, timeouts); retry after a delay."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSinkError(Exception):
    """The destination refuses for good (gone, forbidden); stop sending there."""


class RejectedMessageError(Exception):
    """The destination refused this one message (400): it goes dead, the destination stays."""


class Sink(Protocol):
    """A destination the outbox worker can deliver one Message to."""

    key: str
    coalesces: bool  # may several queued messages share one post (under backlog)?

    async def send(self, message: Message, *, nonce: str) -> str | None:
        """Deliver `message`; return a receipt (e.g. a message id) or None.

        Raises:
            TransientSinkError: try again later.
            PermanentSinkError: the destination will never accept it.
        """
        ...


def describe_message(message: Message) -> str:
    """Render a Message as readable plain text (the console's format)."""
    lines: list[str] = []
    if message.content:
        lines.append(message.content)
    for embed in message.embeds:
        if embed.author:
            lines.append(f"[{embed.author}]")
        if embed.title:
            lines.append(embed.title if not embed.url else f"{embed.title} <{embed.url}>")
        if embed.description:
            lines.append(embed.description)
        lines.extend(f"{f.name}: {f.value}" for f in embed.fields)
        if embed.footer:
            lines.append(f"— {embed.footer}")
    return "\n".join(lines)


class ConsoleSink:
    """Print messages readably; the default destination when no Discord is configured."""

    key = "console"
    coalesces = False  # nothing to save locally; one message per print reads best

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(self, message: Message, *, nonce: str) -> str | None:
        """Print the message and flush, so it is out before the row is marked done.

        The write runs in a thread: a slow terminal or a full pipe must not stall the loop.
        """
        stream = self._stream or sys.stdout
        # Payload text is untrusted: no escape sequence reaches the terminal.
        text = f"{RULE}\n{strip_controls(describe_message(message))}\n"

        def write() -> None:
            stream.write(text)
            stream.flush()

        await asyncio.to_thread(write)
        return None


class DiscordWebhookSink:
    """Post to a Discord channel webhook URL (as given, so proxies and fakes work).

    Channel webhooks take no nonce: this sink is at-least-once; `?wait=true` makes
    Discord answer with the created message, whose id is the receipt.
    """

    coalesces = True

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url
        self.key = f"webhook:{url}"
        self._session = session

    async def send(self, message: Message, *, nonce: str) -> str | None:
        """Execute the webhook with mentions disabled."""
        payload = message_to_discord_payload(message)  # mentions off, but an alert's role
        try:
            async with self._session.post(
                self.url,
                params={"wait": "true"},
                json=payload,
                timeout=SEND_TIMEOUT,
            ) as response:
                text = await response.text()
                if response.status < 300:
                    return _message_id(text)
                raise _classify(response.status, response.headers, text)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TransientSinkError(f"webhook unreachable: {redact(repr(exc))}") from exc


def _message_id(text: str) -> str | None:
    try:
        answer = json.loads(text)
    except ValueError:
        return None
    return str(answer.get("id")) if isinstance(answer, dict) and "id" in answer else None


def _classify(
    status: int, headers: Mapping[str, str], text: str
) -> TransientSinkError | PermanentSinkError | RejectedMessageError:
    """Map an HTTP failure to retry-later or give-up."""
    detail = text[:200]
    if status == 429:
        retry_after: float | None = None
        try:
            retry_after = float(json.loads(text).get("retry_after"))
        except (ValueError, TypeError, AttributeError):
            header = headers.get("Retry-After")
            if header:
                try:
                    retry_after = float(header)
                except ValueError:
                    retry_after = None
        return TransientSinkError(f"rate limited (429): {detail}", retry_after)
    if status >= 500 or status == 408:
        return TransientSinkError(f"HTTP {status}: {detail}")
    if status == 400:
        return RejectedMessageError(f"HTTP 400: {detail}")
    return PermanentSinkError(f"HTTP {status}: {detail}")


def to_discord_embed(embed: Embed) -> discord.Embed:
    """Turn our plain Embed into discord.py's (only this module knows discord.py's types)."""
    result = discord.Embed(
        title=embed.title,
        description=embed.description,
        url=embed.url,
        color=embed.color,
        timestamp=embed.timestamp,
    )
    if embed.author:
        result.set_author(name=embed.author, icon_url=embed.author_icon_url)
    if embed.footer:
        result.set_footer(text=embed.footer)
    for item in embed.fields:
        result.add_field(name=item.name, value=item.value, inline=item.inline)
    return result


class DiscordChannelSink:
    """Post to a Discord channel through the bot, with the outbox row's nonce.

    discord.py sends the nonce with `enforce_nonce`, so Discord drops a resend of the
    same row made within a few minutes (a crash between send and "done").
    """

    coalesces = True

    def __init__(self, client: discord.Client, channel_id: int) -> None:
        self.key = f"discord:channel:{channel_id}"
        self._client = client
        self._channel_id = channel_id

    async def send(self, message: Message, *, nonce: str) -> str | None:
        """Post the message with mentions disabled; classify failures for the outbox."""
        if not self._client.is_ready():
            raise TransientSinkError("Discord is not connected yet", retry_after=5.0)
        message = clamp(message)
        channel = self._client.get_partial_messageable(self._channel_id)
        try:
            sent = await channel.send(
                content=message.content or None,
                embeds=[to_discord_embed(e) for e in message.embeds],
                nonce=nonce,
                allowed_mentions=_allowed(message),
            )
        except discord.RateLimited as exc:
            raise TransientSinkError(
                f"rate limited for {exc.retry_after:.0f}s", exc.retry_after
            ) from exc
        except (discord.Forbidden, discord.NotFound) as exc:
            raise PermanentSinkError(f"{exc.status} {exc.text or exc.__class__.__name__}") from exc
        except discord.HTTPException as exc:
            if exc.status == 429 or exc.status >= 500:
                raise TransientSinkError(f"HTTP {exc.status}: {exc.text}") from exc
            if exc.status == 400:
                raise RejectedMessageError(f"HTTP 400: {exc.text}") from exc
            raise PermanentSinkError(f"HTTP {exc.status}: {exc.text}") from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransientSinkError(f"Discord unreachable: {exc!r}") from exc
        return str(sent.id)


def _allowed(message: Message) -> discord.AllowedMentions:
    """No mentions, except the roles an alert-if rule opted in to."""
    if not message.mention_roles:
        return discord.AllowedMentions.none()
    roles = [discord.Object(int(role)) for role in message.mention_roles]
    return discord.AllowedMentions(everyone=False, users=False, roles=roles, replied_user=False)


SinkFactory = Callable[[str], Sink]


def sink_factory(
    session: aiohttp.ClientSession,
    console: TextIO | None = None,
    client: discord.Client | None = None,
) -> SinkFactory:
    """Return a function building the sink for a destination key."""
    cache: dict[str, Sink] = {}

    def make(destination: str) -> Sink:
        sink = cache.get(destination)
        if sink is not None:
            return sink
        if destination == "console":
            sink = ConsoleSink(console)
        elif destination.startswith("webhook:"):
            sink = DiscordWebhookSink(destination.removeprefix("webhook:"), session)
        elif destination.startswith("discord:channel:"):
            if client is None:
                raise PermanentSinkError("DISCORD_TOKEN is not set: the bot cannot post")
            sink = DiscordChannelSink(client, int(destination.removeprefix("discord:channel:")))
        else:
            shown = redact(destination)
            raise PermanentSinkError(f"no sink for destination {shown!r} in this process")
        cache[destination] = sink
        return sink

    return make
