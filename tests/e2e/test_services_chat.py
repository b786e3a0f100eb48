"""The services from chat, as a user sets them up: `!hook` against the fake Discord.

`!hook custom <url>` and the seed's template end to end, `--signed`, and the `on` answers
of gitlab and ci: what is shown in the channel, and what (with the secret) comes by DM.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.app import running
from parsers.signatures import sign_hmac_sha256
from tests.e2e.fake_discord import FakeDiscord, pointed_at
from tests.e2e.test_discord_bot import SECRET_LINE, URL_LINE, World, _ready, _settings

pytestmark = pytest.mark.e2e

SEED_BODY = b'{"event": "Server Alert", "message": "CPU usage at 95%"}'
CURL_LINE = re.compile(r"^curl -X POST '(?P<url>[^']+)' -H 'Content-Type: application/json'", re.M)


@pytest.fixture
async def chat(tmp_path: Path) -> AsyncIterator[World]:
    fake = FakeDiscord()
    await fake.start()
    try:
        with pointed_at(fake):
            async with running(_settings(tmp_path, fake)) as app, aiohttp.ClientSession() as s:
                await _ready(app)
                yield World(app, fake, s)
    finally:
        await fake.stop()


async def create(world: World, command: str) -> tuple[str, str, str, str]:
    """Run a creating command; return the channel answer, the DM, the URL and the secret."""
    dms_before = len(world.fake.dms)
    (reply,) = await world.command(command)
    dm = "\n".join(d["content"] for d in (await world.fake.wait_for_dms(dms_before + 1))[-1:])
    url, secret = URL_LINE.search(dm), SECRET_LINE.search(dm)
    assert url is not None
    assert secret is not None
    return json.dumps(reply["embeds"], ensure_ascii=False), dm, url.group(1), secret.group(1)


async def next_post(world: World, before: int) -> dict:
    async with asyncio.timeout(10):
        while len(world.channel_messages()) <= before:
            await asyncio.sleep(0.02)
    return world.channel_messages()[-1]


async def post(world: World, url: str, body: bytes, headers: dict[str, str]) -> int:
    async with world.session.post(url, data=body, headers=headers) as response:
        return response.status


async def test_custom_seed_example_end_to_end(chat: World) -> None:
    """`!hook custom <url>`, the curl line from the DM, the seed's template, the message."""
    answer, dm, url, secret = await create(chat, "!hook custom https://api.monitoring.com/events")
    assert "✅ custom hook hook_001 created" in answer
    assert secret not in answer
    assert dm.rstrip().endswith(f"Secret: {secret}")  # the secret last, alone on its line
    curl = CURL_LINE.search(dm)
    assert curl is not None, dm
    assert curl["url"] == url
    (hook,) = await chat.app.store.hooks.find_all()
    assert hook.options == {"target": "https://api.monitoring.com/events"}

    (reply,) = await chat.command('!hook format hook_001 "🔔 {{event}}: {{message}}"')
    assert "🔔 Server Alert: CPU usage at 95%" in json.dumps(reply["embeds"], ensure_ascii=False)

    before = len(chat.channel_messages())
    assert await post(chat, url, SEED_BODY, {"Content-Type": "application/json"}) == 202
    posted = await next_post(chat, before)
    assert posted["content"] == "🔔 Server Alert: CPU usage at 95%"


async def test_a_signed_custom_hook_from_chat_refuses_unsigned_posts(chat: World) -> None:
    _, dm, url, secret = await create(chat, "!hook custom billing --signed")
    assert "X-Hub-Signature-256" in dm
    (hook,) = await chat.app.store.hooks.find_all()
    assert hook.options == {"target": "billing", "signed": True}
    headers = {"Content-Type": "application/json"}
    assert await post(chat, url, SEED_BODY, headers) == 401
    before = len(chat.channel_messages())
    signed = {**headers, "X-Hub-Signature-256": sign_hmac_sha256(SEED_BODY, secret)}
    assert await post(chat, url, SEED_BODY, signed) == 202
    posted = await next_post(chat, before)
    assert "CPU usage at 95%" in json.dumps(posted["embeds"], ensure_ascii=False)


async def test_ci_on_names_the_four_platforms_with_the_secret_only_by_dm(chat: World) -> None:
    answer, dm, url, secret = await create(chat, "!hook ci on")
    assert url in answer
    assert secret not in answer
    for platform in ("Jenkins", "GitLab CI", "CircleCI", "GitHub Actions"):
        assert platform in dm
    assert dm.count(url) >= 4  # one URL for all four
    assert "Workflow runs" in dm
    assert "Pipeline events" in dm


async def test_gitlab_on_says_what_to_tick(chat: World) -> None:
    answer, dm, _, secret = await create(chat, "!hook gitlab on acme/web-shop")
    assert "Settings → Webhooks" in dm
    assert f"Secret token: {secret}" in dm
    assert secret not in answer
    (hook,) = await chat.app.store.hooks.find_all()
    assert (hook.target, hook.options) == ("acme/web-shop", {"target": "acme/web-shop"})


async def test_signed_is_refused_where_signatures_are_always_checked(chat: World) -> None:
    (reply,) = await chat.command("!hook on github octo/repo --signed")
    text = json.dumps(reply["embeds"], ensure_ascii=False)
    assert "❌" in text
    assert "always verified" in text
    assert await chat.app.store.hooks.find_all() == []
