"""The Discord connection: the discord.py client, its endpoints, and login with capped retries.

hookbot promises login and gateway retries at most 30 s apart (DESIGN "Guarantees").
Logins are retried here. Gateway reconnects are discord.py's: `connect(reconnect=True)`
waits up to 2**10 s between tries and has no option to cap it, and its public way out,
`reconnect=False`, closes the client for good (discord.py 2.7 cannot log a closed client
in again: its loop stays unset). So the one class `Client.connect` builds,
`discord.client.ExponentialBackoff`, is replaced by a subclass whose public `delay()` is
capped. That name is not public: pyproject.toml pins discord.py's range and
tests/bot/test_discord_backoff.py fails when `connect` stops using it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
import discord
import discord.client
import yarl
from discord.backoff import ExponentialBackoff
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.config import Settings

log = logging.getLogger(__name__)

LOGIN_BACKOFF_CAP = 30.0
LOGIN_BACKOFF_BASE = 1.0
# discord.py sleeps through a 429 shorter than this; a longer one raises RateLimited and
# the outbox reschedules the row instead of holding a worker.
MAX_RATELIMIT_WAIT = 30.0
LOGIN_RETRYABLE = (OSError, TimeoutError, aiohttp.ClientError, discord.HTTPException)


def point_at(settings: Settings) -> None:
    """Send discord.py's REST calls and gateway to DISCORD_API_BASE / DISCORD_GATEWAY_URL.

    discord.py has no option for these; a plain commands.Bot never asks /gateway/bot,
    so the class attributes are what it reads (DESIGN "Configuration").
    """
    if settings.discord_api_base:
        Route.BASE = settings.discord_api_base
    if settings.discord_gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def retry_delay(failures: int) -> float:
    """Return the wait after `failures` failed logins in a row: 1 s, 2 s, 4 s … at most 30 s."""
    exponent = min(max(0, failures - 1), 16)  # 2**16 s is far past the cap
    return min(LOGIN_BACKOFF_CAP, LOGIN_BACKOFF_BASE * 2.0**exponent)


class CappedBackoff(ExponentialBackoff[bool]):
    """discord.py's gateway reconnect backoff with every delay at most 30 s."""

    def delay(self) -> float:
        """Return discord.py's next delay (random, growing), capped at 30 s."""
        return min(LOGIN_BACKOFF_CAP, float(super().delay()))


def cap_gateway_backoff() -> None:
    """Make `Client.connect` build CappedBackoff instead of its 2**10 s ExponentialBackoff."""
    discord.client.ExponentialBackoff = CappedBackoff  # type: ignore[attr-defined,assignment]


def intents() -> discord.Intents:
    """Guilds, guild messages, message content (for the `!` prefix) and DMs."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.message_content = True
    wanted.dm_messages = True
    return wanted


class HookBot(commands.Bot):
    """The bot's connection: the channel sink posts through it; its state shows in /healthz.

    Its commands are not built in: the Discord component adds the Cog before logging in.
    """

    def __init__(self) -> None:
        super().__init__(
            command_prefix="!",
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT,
        )
        self.state = "connecting"
        self._synced = False

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
        """The gateway dropped; discord.py reconnects (at most 30 s apart)."""
        if self.state == "ready":
            self.state = "connecting"


class DiscordComponent:
    """Runs the bot in hookbot's loop: adds the commands, logs in (retrying), stops.

    The receiver does not wait for Discord: deliveries are accepted and wait in the outbox.
    """

    name = "discord"

    def __init__(self, bot: HookBot, token: str, cog: commands.Cog) -> None:
        self.bot = bot
        self._token = token
        self._cog = cog
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Add the commands and start logging in."""
        cap_gateway_backoff()
        await self.bot.add_cog(self._cog)
        self._task = asyncio.create_task(self._run(), name="discord")

    async def stop(self) -> None:
        """Close the connection and end the login loop."""
        await self.bot.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        """Log in, retrying 1 s, 2 s, 4 s … at most 30 s apart; then stay connected."""
        bot = self.bot
        failures = 0
        while not bot.is_closed():
            try:
                await bot.login(self._token)
            except discord.LoginFailure:
                bot.state = "error: DISCORD_TOKEN was refused"
                log.error("Discord refused DISCORD_TOKEN; the bot stays off, the receiver runs")
                return
            except LOGIN_RETRYABLE as exc:
                failures += 1
                wait = retry_delay(failures)
                bot.state = "connecting"
                log.warning("Discord unreachable (%s); logging in again in %.0fs", exc, wait)
                await asyncio.sleep(wait)
                continue
            await self._connect()
            return

    async def _connect(self) -> None:
        """Stay connected; discord.py reconnects by itself (see cap_gateway_backoff)."""
        bot = self.bot
        try:
            await bot.connect(reconnect=True)
        except discord.PrivilegedIntentsRequired:
            bot.state = "error: the Message Content intent is not enabled for this bot"
            log.error(
                "Discord: enable the Message Content intent in the Developer Portal "
                "(Bot → Privileged Gateway Intents); the receiver runs"
            )
        except discord.ConnectionClosed as exc:
            # Only the codes no retry can fix get here (bad token, shard, version, intents).
            bot.state = f"error: the gateway closed with {exc.code}"
            log.error("Discord gateway refused the bot (%s); the receiver runs", exc.code)
