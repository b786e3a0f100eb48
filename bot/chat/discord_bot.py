"""HookBot: the discord.py client in hookbot's loop; endpoints, login retries, state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import aiohttp
import discord
import yarl
from discord.backoff import ExponentialBackoff
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.config import Settings
from bot.service import HookService

log = logging.getLogger(__name__)

LOGIN_BACKOFF_CAP = 30.0
# discord.py sleeps through a 429 shorter than this; a longer one raises RateLimited and
# the outbox reschedules the row instead of holding a worker.
MAX_RATELIMIT_WAIT = 30.0


def point_at(settings: Settings) -> None:
    """Send discord.py's REST calls and gateway to DISCORD_API_BASE / DISCORD_GATEWAY_URL.

    discord.py has no option for these; a plain commands.Bot never asks /gateway/bot,
    so the class attributes are what it reads.
    """
    if settings.discord_api_base:
        Route.BASE = settings.discord_api_base
    if settings.discord_gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class _CappedBackoff(ExponentialBackoff[bool]):
    """discord.py's reconnect backoff with delays of at most 16 s instead of up to 17 min."""

    def __init__(self, base: int = 1, *, integral: bool = False) -> None:
        super().__init__(base, integral=integral)
        self._max = 4  # delays are drawn from [0, base * 2**exp]


def cap_reconnect_backoff() -> None:
    """Make discord.py retry the gateway at least every 16 s while Discord is away.

    `Client.connect` builds its own ExponentialBackoff (2**10 s at most) with no option
    to change it; hookbot promises retries capped at 30 s, so the class it uses is swapped.
    """
    discord.client.ExponentialBackoff = _CappedBackoff  # type: ignore[attr-defined,assignment]


def intents() -> discord.Intents:
    """Guilds, guild messages, message content (for the `!` prefix) and DMs."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True
    wanted.dm_messages = True
    return wanted


class HookBot(commands.Bot):
    """The bot: `!hook` / `/hook` commands and the connection the channel sink posts through."""

    def __init__(
        self, settings: Settings, service: HookService, on_delivery: Callable[[], None]
    ) -> None:
        super().__init__(
            command_prefix="!",
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
        )
        self.settings = settings
        self.service = service
        self.on_delivery = on_delivery
        self.state = "connecting"
        self._synced = False

    async def setup_hook(self) -> None:
        """Add the `hook` commands before connecting."""
        from bot.chat.commands import HookCommands  # the Cog needs the bot class defined

        await self.add_cog(HookCommands(self))

    async def on_ready(self) -> None:
        """Mark the bot ready and sync `/hook` once per process."""
        self.state = "ready"
        log.info("Discord: logged in as %s (%s guilds)", self.user, len(self.guilds))
        if not self._synced:
            try:
                await self.tree.sync()
                self._synced = True
            except discord.HTTPException:
                log.exception("Discord: could not sync the /hook command; `!hook` still works")

    async def on_resumed(self) -> None:
        """The gateway session resumed after a drop."""
        self.state = "ready"

    async def on_disconnect(self) -> None:
        """The gateway dropped; discord.py reconnects by itself."""
        if self.state == "ready":
            self.state = "connecting"


async def run_bot(bot: HookBot, token: str) -> None:
    """Log in and stay connected, retrying with backoff capped at 30 s while Discord is away.

    The receiver runs meanwhile: deliveries are accepted and wait in the outbox.
    """
    delay = 1.0
    while not bot.is_closed():
        try:
            await bot.login(token)
            delay = 1.0
            await bot.connect(reconnect=True)
            return
        except discord.LoginFailure:
            bot.state = "error: DISCORD_TOKEN was refused"
            log.error("Discord refused DISCORD_TOKEN; the bot stays off, the receiver runs")
            return
        except (OSError, aiohttp.ClientError, TimeoutError, discord.HTTPException) as exc:
            bot.state = "connecting"
            log.warning("Discord unreachable (%s); retrying in %.0fs", exc, delay)
        except discord.ConnectionClosed as exc:
            bot.state = "connecting"
            log.warning("Discord gateway closed (%s); retrying in %.0fs", exc.code, delay)
        await asyncio.sleep(delay)
        delay = min(LOGIN_BACKOFF_CAP, delay * 2)
