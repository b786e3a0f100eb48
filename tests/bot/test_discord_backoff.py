"""Login and gateway retries at most 30 s apart (DESIGN "Guarantees").

`cap_gateway_backoff` replaces the backoff class discord.py's `Client.connect` builds, a
name that is not public (pyproject.toml pins discord.py's range). The last test fails
when `connect` no longer builds it by that name: then the cap is silently gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import discord.client
import pytest
from discord.backoff import ExponentialBackoff
from discord.ext import commands

from bot.chat.discord_bot import (
    LOGIN_BACKOFF_CAP,
    CappedBackoff,
    DiscordComponent,
    HookBot,
    retry_delay,
)
from tests.e2e.fake_discord import FakeDiscord, pointed_at


def test_backoff_login_delays_double_up_to_thirty_seconds():
    """1, 2, 4, 8, 16, then 30 s however long Discord stays away."""
    assert [retry_delay(n) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert retry_delay(10_000) == LOGIN_BACKOFF_CAP


def test_backoff_gateway_delays_are_capped():
    """discord.py's delays grow to 2**10 s; the capped ones never pass 30 s and reach it."""
    backoff = CappedBackoff()
    delays = [backoff.delay() for _ in range(60)]
    assert max(delays) == LOGIN_BACKOFF_CAP
    assert min(delays) >= 0.0


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    try:
        with pointed_at(server):
            yield server
    finally:
        await server.stop()


@pytest.mark.e2e
async def test_backoff_gateway_reconnects_use_the_capped_class(
    fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch
):
    """Discord away after login: discord.py's reconnect loop asks CappedBackoff for its waits."""
    asked: list[float] = []

    def quick(self: CappedBackoff) -> float:
        asked.append(ExponentialBackoff.delay(self))  # discord.py's own draw, not waited
        return 0.05

    monkeypatch.setattr(CappedBackoff, "delay", quick)
    # cap_gateway_backoff replaces a module global: put discord.py's back after the test.
    monkeypatch.setattr(discord.client, "ExponentialBackoff", discord.client.ExponentialBackoff)
    bot = HookBot()
    component = DiscordComponent(bot, fake.token, commands.Cog())
    await component.start()
    try:
        async with asyncio.timeout(15):
            while bot.state != "ready":
                await asyncio.sleep(0.05)
        fake.set_unreachable(True)
        async with asyncio.timeout(15):
            while not asked:
                await asyncio.sleep(0.05)
        fake.set_unreachable(False)
        async with asyncio.timeout(15):
            while bot.state != "ready":
                await asyncio.sleep(0.05)
    finally:
        await component.stop()
