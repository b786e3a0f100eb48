"""Forwards from chat: `!hook forward …` against the fake Discord, to a local receiver.

The receiver (127.0.0.1) verifies each request with the standardwebhooks package and
with a plain HMAC of the body; HOOKBOT_FORWARD_ALLOW is 127.0.0.1/32.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from standardwebhooks import Webhook

from bot.app import running
from bot.delivery.guard import parse_allow
from tests.conftest import SAMPLES
from tests.e2e.fake_discord import FakeDiscord, pointed_at
from tests.e2e.test_discord_bot import World, _ready, _settings

pytestmark = pytest.mark.e2e

SECRET = "Secret: "


class Endpoint:
    """A forward's endpoint on 127.0.0.1 that checks both signatures of what it gets."""

    def __init__(self) -> None:
        self.secret = ""
        self.verified: list[dict] = []
        self.refused: list[str] = []
        self.answers: list[int] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def hit(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            parsed = Webhook(self.secret).verify(body, dict(request.headers))
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            if request.headers["X-Hookbot-Signature-256"] != f"sha256={digest}":
                raise ValueError("X-Hookbot-Signature-256 does not match")
        except Exception as exc:  # any failure to verify is recorded
            self.refused.append(repr(exc))
            return web.Response(status=401)
        self.verified.append({"body": parsed, "headers": dict(request.headers)})
        return web.Response(status=self.answers.pop(0) if self.answers else 200)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/in", self.hit)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/in"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[tuple[World, Endpoint]]:
    fake = FakeDiscord()
    await fake.start()
    endpoint = Endpoint()
    await endpoint.start()
    settings = replace(_settings(tmp_path, fake), hookbot_forward_allow=parse_allow("127.0.0.1/32"))
    try:
        with pointed_at(fake):
            async with running(settings) as app, aiohttp.ClientSession() as session:
                await _ready(app)
                yield World(app, fake, session), endpoint
    finally:
        await endpoint.stop()
        await fake.stop()


def _text(reply: dict) -> str:
    return json.dumps(reply.get("embeds", []), ensure_ascii=False) + reply.get("content", "")


async def test_forward_from_chat_end_to_end(chat: tuple[World, Endpoint]) -> None:
    """Add (secret by DM only), an event verified by both signatures, list, logs, test, remove."""
    world, endpoint = chat
    url, secret = await world.create_hook()
    dms = len(world.fake.dms)
    (reply,) = await world.command(f"!hook forward github {endpoint.url} --header X-Team:ops")
    assert "forward 1 added" in _text(reply)
    dm = (await world.fake.wait_for_dms(dms + 1))[-1]["content"]
    endpoint.secret = dm.split(SECRET, 1)[1].strip()
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.secret not in _text(reply)

    body = (SAMPLES / "github" / "push.json").read_bytes()
    assert await world.post(url, secret, body) == 202
    async with asyncio.timeout(10):
        while not endpoint.verified:
            await asyncio.sleep(0.02)
    assert endpoint.refused == []
    got = endpoint.verified[0]
    assert got["body"]["type"] == "push"
    assert got["body"]["hook"] == "hook_001"
    assert got["body"]["data"]["repo"]
    assert got["headers"]["X-Team"] == "ops"
    assert got["headers"]["X-Hookbot-Event"] == "push"

    (listed,) = await world.command("!hook forward github list")
    assert endpoint.url in _text(listed)
    (info,) = await world.command("!hook info github")
    assert "Forwards" in _text(info)

    async with asyncio.timeout(10):
        while True:
            (logs,) = await world.command("!hook logs github")
            if "forward:1 HTTP 200" in _text(logs):
                break
            await asyncio.sleep(0.1)

    (tested,) = await world.command("!hook forward github test 1")
    assert "HTTP 200" in _text(tested)
    assert len(endpoint.verified) == 2

    (removed,) = await world.command("!hook forward github remove 1")
    assert "removed forward 1" in _text(removed)
    (empty,) = await world.command("!hook forward github list")
    assert "none" in _text(empty)


async def test_private_and_unallowed_forwards_are_refused_in_chat(chat) -> None:
    """A private address and a bad --body are refused at command time, with the reason."""
    world, endpoint = chat
    await world.create_hook()
    (private,) = await world.command("!hook forward github http://169.254.169.254/latest")
    assert "not a public address" in _text(private)
    bad = "!hook forward github " + endpoint.url + ' --body {"text": {{ title }}}'
    (refused,) = await world.command(bad)
    assert "valid JSON" in _text(refused)
    assert "line 1" in _text(refused)
    (listed,) = await world.command("!hook forward github list")
    assert "none" in _text(listed)
