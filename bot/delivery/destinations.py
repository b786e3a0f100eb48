"""The registry of destinations: an outbox row's destination key names where it goes.

    console               the terminal (bot/delivery/console.py)
    webhook:<url>         a Discord channel webhook (bot/delivery/discord_webhook.py)
    discord:channel:<id>  a Discord channel, through the bot (bot/delivery/discord_channel.py)
    forward:<id>          a forward's HTTP endpoint (bot/delivery/http.py)

The first three take Discord message JSON and are wrapped by bot/delivery/messages.py
(coalescing, Discord's retry policy); a forward takes an HTTP request. A key is never
logged as is: `redact` masks a webhook token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TextIO

import aiohttp
import discord

from bot.delivery.base import Destination, PermanentSinkError, Sink, SinkFactory
from bot.delivery.console import ConsoleSink
from bot.delivery.discord_channel import DiscordChannelSink
from bot.delivery.discord_webhook import DiscordWebhookSink
from bot.delivery.guard import IPNetwork
from bot.delivery.http import RETRY_BASE, ForwardDestination, SecretLookup
from bot.delivery.quota import FORWARD_QUOTA
from bot.redact import redact

CONSOLE = "console"
WEBHOOK = "webhook:"
CHANNEL = "discord:channel:"
FORWARD = "forward:"

__all__ = ["Forwards", "SinkFactory", "forward_key", "shown", "sink_factory"]


def forward_key(forward_id: int) -> str:
    """Return the destination key of a forward."""
    return f"{FORWARD}{forward_id}"


def shown(destination: str) -> str:
    """Return a destination key fit for logs and the ledger (no webhook token)."""
    return redact(destination)


class Forwards:
    """What forward destinations need: their session, secrets, guard and clock."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        secret_of: SecretLookup,
        allow: Sequence[IPNetwork] = (),
        clock: Callable[[], float] = time.time,
        retry_base: float = RETRY_BASE,
        quota: int = FORWARD_QUOTA,
    ) -> None:
        self.session = session
        self.secret_of = secret_of
        self.allow = tuple(allow)
        self.clock = clock
        self.retry_base = retry_base
        self.quota = quota

    def destination(self, forward_id: int) -> ForwardDestination:
        """Build the destination of one forward."""
        return ForwardDestination(
            forward_id,
            self.session,
            self.secret_of,
            self.allow,
            clock=self.clock,
            retry_base=self.retry_base,
            quota=self.quota,
        )


def sink_factory(
    session: aiohttp.ClientSession,
    console: TextIO | None = None,
    client: discord.Client | None = None,
    forwards: Forwards | None = None,
) -> SinkFactory:
    """Return a function building (once per key) the sink or destination of a key."""
    cache: dict[str, Sink | Destination] = {}

    def make(destination: str) -> Sink | Destination:
        found = cache.get(destination)
        if found is not None:
            return found
        made: Sink | Destination
        if destination == CONSOLE:
            made = ConsoleSink(console)
        elif destination.startswith(WEBHOOK):
            made = DiscordWebhookSink(destination.removeprefix(WEBHOOK), session)
        elif destination.startswith(CHANNEL):
            if client is None:
                raise PermanentSinkError("DISCORD_TOKEN is not set: the bot cannot post")
            made = DiscordChannelSink(client, int(destination.removeprefix(CHANNEL)))
        elif destination.startswith(FORWARD) and destination.removeprefix(FORWARD).isdigit():
            if forwards is None:
                raise PermanentSinkError("forwards are not sent by this process")
            made = forwards.destination(int(destination.removeprefix(FORWARD)))
        else:
            raise PermanentSinkError(
                f"no sink for destination {shown(destination)!r} in this process"
            )
        cache[destination] = made
        return made

    return make
