"""The fake Discord against the real discord.py client: login, gateway, sends, limits, errors."""

from __future__ import annotations

import asyncio
import io
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import discord
import pytest
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route

from tests.e2e.fake_discord import FakeDiscord, pointed_at

pytestmark = pytest.mark.e2e


@dataclass
class Running:
    """A logged-in bot and what its commands saw."""

    bot: commands.Bot
    fake: FakeDiscord
    sent: list[discord.Message] = field(default_factory=list)
    checked: list[tuple[str, bool]] = field(default_factory=list)
    resumed: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    original = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    try:
        with pointed_at(server):
            yield server
    finally:
        await server.stop()
        assert original == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)


def make_bot() -> commands.Bot:
    intents = discord.Intents.default()
    intents.message_content = True
    return commands.Bot(
        command_prefix="!",
        intents=intents,
        allowed_mentions=discord.AllowedMentions.none(),
        guild_ready_timeout=0.2,
    )


@pytest.fixture
async def running(fake: FakeDiscord) -> AsyncIterator[Running]:
    bot = make_bot()
    state = Running(bot, fake)
    ready = asyncio.Event()

    @bot.event
    async def on_ready() -> None:
        ready.set()

    @bot.event
    async def on_resumed() -> None:
        state.resumed.set()

    @bot.command()
    async def ping(ctx: commands.Context[commands.Bot]) -> None:
        state.sent.append(await ctx.send("pong"))

    @bot.command()
    async def whoami(ctx: commands.Context[commands.Bot]) -> None:
        assert isinstance(ctx.author, discord.Member)
        state.checked.append((ctx.author.name, ctx.author.guild_permissions.manage_guild))

    @bot.tree.command(description="Answer with pong")
    async def slashping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("slash pong", ephemeral=True)

    task = asyncio.create_task(bot.start(fake.token))
    try:
        async with asyncio.timeout(20):
            waiter = asyncio.create_task(ready.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                task.result()
            assert ready.is_set()
        yield state
    finally:
        await bot.close()
        async with asyncio.timeout(10):
            await asyncio.gather(task, return_exceptions=True)


async def test_login_calls_and_gateway_handshake(running: Running) -> None:
    fake = running.fake
    assert ("GET", "/users/@me") in fake.requests
    assert ("GET", "/oauth2/applications/@me") in fake.requests
    assert ("GET", "/gateway/bot") not in fake.requests
    assert fake.unhandled == []
    assert fake.gateway_queries[0] == {"v": "10", "encoding": "json", "compress": "zlib-stream"}
    identify = fake.identifies[0]
    assert identify["token"] == fake.token
    assert identify["intents"] & (1 << 15)
    bot = running.bot
    assert bot.user is not None
    assert bot.user.id == int(fake.bot_user["id"])
    guild = bot.get_guild(fake.guild_id)
    assert guild is not None
    assert guild.get_channel(fake.channel_id) is not None
    # Without the members intent discord.py caches only its own member.
    assert guild.me is not None
    assert guild.me.guild_permissions.send_messages


async def test_ping_command_replies_pong(running: Running) -> None:
    fake = running.fake
    async with asyncio.timeout(20):
        await fake.send_user_message("!ping")
        messages = await fake.wait_for_messages(1)
        while not running.sent:
            await asyncio.sleep(0.01)
    message = messages[0]
    assert message["content"] == "pong"
    assert message["channel_id"] == str(fake.channel_id)
    assert message["nonce"] == str(running.sent[0].nonce)
    assert message["enforce_nonce"] is True
    assert message["allowed_mentions"] == {"parse": []}
    assert message["multipart"] is False
    assert running.sent[0].id == int(message["id"])


async def test_guild_permissions_come_from_roles(running: Running) -> None:
    fake = running.fake
    async with asyncio.timeout(20):
        await fake.send_user_message("!whoami", author="admin")
        await fake.send_user_message("!whoami", author="member")
        while len(running.checked) < 2:
            await asyncio.sleep(0.02)
    assert running.checked == [("admin", True), ("member", False)]


async def test_embed_nonce_and_allowed_mentions_are_recorded(running: Running) -> None:
    fake = running.fake
    channel = running.bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    embed = discord.Embed(title="Deploy", description="done @everyone")
    async with asyncio.timeout(20):
        sent = await channel.send(
            embed=embed, nonce="abc", allowed_mentions=discord.AllowedMentions.none()
        )
        again = await channel.send("other", nonce="abc")
    record = fake.messages[0]
    assert record["nonce"] == "abc"
    assert record["enforce_nonce"] is True
    assert record["allowed_mentions"] == {"parse": []}
    assert record["embeds"][0]["title"] == "Deploy"
    assert record["mention_everyone"] is False
    assert sent.embeds[0].title == "Deploy"
    # enforce_nonce: the second send returns the first message instead of creating one.
    assert again.id == sent.id
    assert len(fake.messages) == 1


async def test_files_go_multipart(running: Running) -> None:
    fake = running.fake
    channel = running.bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    async with asyncio.timeout(20):
        sent = await channel.send("log", file=discord.File(io.BytesIO(b"hello"), "log.txt"))
    record = fake.messages[0]
    assert record["multipart"] is True
    assert record["content"] == "log"
    assert record["files"][0]["data"] == b"hello"
    assert sent.attachments[0].filename == "log.txt"


async def test_rate_limit_advertised_headers_make_discord_py_wait(running: Running) -> None:
    fake = running.fake
    fake.rate_limit(fake.channel_id, limit=5, per=1.0)
    channel = running.bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    started = time.monotonic()
    async with asyncio.timeout(20):
        await asyncio.gather(*(channel.send(f"m{i}") for i in range(12)))
    elapsed = time.monotonic() - started
    assert sorted(m["content"] for m in fake.messages) == sorted(f"m{i}" for i in range(12))
    assert elapsed >= 1.9  # three windows of one second: discord.py waited


async def test_rate_limit_hidden_gives_429s_that_discord_py_retries(running: Running) -> None:
    fake = running.fake
    fake.rate_limit(fake.channel_id, limit=5, per=1.0, advertise=False)
    channel = running.bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    started = time.monotonic()
    async with asyncio.timeout(20):
        for i in range(12):
            await channel.send(f"m{i}")
    elapsed = time.monotonic() - started
    assert [m["content"] for m in fake.messages] == [f"m{i}" for i in range(12)]
    assert fake.responses_429 >= 2
    assert elapsed >= 1.9


async def test_429_without_via_is_a_ban_for_discord_py(running: Running) -> None:
    fake = running.fake
    fake.rate_limit(fake.channel_id, limit=1, per=5.0, advertise=False, via=False)
    channel = running.bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    async with asyncio.timeout(20):
        await channel.send("first")
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send("second")
    assert caught.value.status == 429
    assert fake.responses_429 == 1


async def test_fail_channel_403_raises_forbidden(running: Running) -> None:
    fake = running.fake
    fake.fail_channel(fake.channel_id, 403, 50001, "Missing Access")
    channel = running.bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    async with asyncio.timeout(20):
        with pytest.raises(discord.Forbidden) as caught:
            await channel.send("nope")
        assert caught.value.code == 50001
        fake.fail_channel(fake.channel_id, 404, 10003, "Unknown Channel", times=1)
        with pytest.raises(discord.NotFound):
            await channel.send("nope")
        await channel.send("works again")
    assert [m["content"] for m in fake.messages] == ["works again"]


async def test_embed_limits_are_enforced(running: Running) -> None:
    fake = running.fake
    channel = running.bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    async with asyncio.timeout(20):
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send("x" * 2001)
        assert caught.value.code == 50035
        big = [discord.Embed(description="y" * 4000) for _ in range(2)]
        with pytest.raises(discord.HTTPException) as caught:
            await channel.send(embeds=big)
        assert "6000" in str(caught.value)
    assert fake.messages == []


async def test_dms_are_recorded_or_refused(running: Running) -> None:
    fake = running.fake
    user = await running.bot.fetch_user(int(fake.users["member"]["id"]))
    async with asyncio.timeout(20):
        await user.send("hello in private")
        dms = await fake.wait_for_dms(1)
        assert dms[0]["content"] == "hello in private"
        fake.refuse_dms()
        with pytest.raises(discord.Forbidden) as caught:
            await user.send("again")
    assert caught.value.code == 50007
    assert fake.messages == []


async def test_resume_after_drop_and_outage(running: Running) -> None:
    fake = running.fake
    first_session = fake.identifies[0]
    async with asyncio.timeout(20):
        await fake.drop_gateway()
        await running.resumed.wait()
        running.resumed.clear()
        fake.set_unreachable(True)
        await asyncio.sleep(0.3)
        channel = running.bot.get_channel(fake.channel_id)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises((aiohttp.ClientError, OSError)):
            await channel.send("lost")
        # Delivered on RESUME from the session backlog.
        await fake.send_user_message("!ping")
        fake.set_unreachable(False)
        await running.resumed.wait()
        messages = await fake.wait_for_messages(1)
        fake.set_unreachable(True, mode="503")
        with pytest.raises(discord.DiscordServerError):
            await channel.send("lost again")
        fake.set_unreachable(False)
    assert [m["content"] for m in messages] == ["pong"]
    assert fake.identifies == [first_session]


async def test_slash_command_sync_and_interaction(running: Running) -> None:
    fake = running.fake
    async with asyncio.timeout(20):
        synced = await running.bot.tree.sync()
        assert [c.name for c in synced] == ["slashping"]
        interaction = await fake.dispatch_interaction("slashping")
        response = await interaction.wait_response()
    assert response["type"] == 4
    assert response["data"]["content"] == "slash pong"
    assert response["data"]["flags"] & 64


async def test_rest_replies_have_plain_json_content_type(fake: FakeDiscord) -> None:
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{fake.api_base}/users/@me", headers=headers) as response:
            assert response.headers["Content-Type"] == "application/json"
            assert (await response.json())["bot"] is True
        async with session.get(f"{fake.api_base}/users/@me") as response:
            assert response.status == 401
        async with session.get(f"{fake.api_base}/nowhere", headers=headers) as response:
            assert response.status == 404
            assert response.headers["Content-Type"] == "application/json"


async def test_gateway_zlib_stream_frames(fake: FakeDiscord) -> None:
    url = f"{fake.gateway_url}?v=10&encoding=json&compress=zlib-stream"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        frame = await ws.receive_bytes(timeout=5)
        assert frame.endswith(b"\x00\x00\xff\xff")
        inflater = zlib.decompressobj()
        hello = inflater.decompress(frame)
        assert b'"op": 10' in hello
        await ws.send_json({"op": 1, "d": None})
        ack = inflater.decompress(await ws.receive_bytes(timeout=5))
        assert b'"op": 11' in ack
        await ws.send_json({"op": 2, "d": {"token": "wrong", "intents": 0, "properties": {}}})
        closed = await ws.receive(timeout=5)
        assert closed.type is aiohttp.WSMsgType.CLOSE
        assert closed.data == 4004


async def test_plain_gateway_without_compression(fake: FakeDiscord) -> None:
    url = f"{fake.gateway_url}?v=10&encoding=json"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 1 << 9}})
        ready = await ws.receive_json(timeout=5)
        guild = await ws.receive_json(timeout=5)
    assert (ready["t"], ready["s"]) == ("READY", 1)
    assert (guild["t"], guild["s"]) == ("GUILD_CREATE", 2)
