"""The channel destination (`discord:channel:<id>`): the bot posts with the row's nonce."""

from __future__ import annotations

import aiohttp
import discord

from bot.delivery.base import PermanentSinkError, RejectedMessageError, TransientSinkError
from formatters.message import Embed, Message, clamp


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
