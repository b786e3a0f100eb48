"""One command from nothing to a connected repository (issue 18), end to end.

hookbot runs with its bot on the fake Discord, GITHUB_TOKEN against the fake GitHub API
(the real PyGithub) and NGROK_AUTHTOKEN with the fake agent (the real pyngrok). No
connection leaves 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import Running, running
from formatters.message import Message
from parsers.signatures import sign_hmac_sha256
from tests.conftest import RecordingSink, make_settings, sample
from tests.e2e.fake_discord import FakeDiscord, pointed_at
from tests.e2e.fake_github import FakeGitHub, loopback_only
from tests.e2e.ngrok_agent import alive, fake_agent

pytestmark = pytest.mark.e2e

REPO = "octo-org/Hello-World"
SHA = "3c4d5e6f708192a3b4c5d6e7f80912a3b4c5d6e7"  # the push sample's head commit
URL_LINE = re.compile(r"URL: (\S+)")
SECRET_LINE = re.compile(r"Secret: (\S+)")
DEFAULT_EVENTS = ["push", "create", "delete", "pull_request", "issues", "release", "workflow_run"]


@dataclass
class World:
    """hookbot with its bot on the fake Discord, the fake GitHub and the fake tunnel."""

    app: Running
    discord: FakeDiscord
    github: FakeGitHub
    session: aiohttp.ClientSession

    def channel(self) -> list[dict[str, Any]]:
        return [
            m for m in self.discord.messages if str(m["channel_id"]) == str(self.discord.channel_id)
        ]

    async def command(self, content: str) -> dict[str, Any]:
        """Type a command in the channel; return the bot's reply there."""
        before = len(self.channel())
        await self.discord.send_user_message(content, author="admin")
        async with asyncio.timeout(15):
            while len(self.channel()) <= before:
                await asyncio.sleep(0.02)
        return self.channel()[before]

    async def secret_dm(self, before: int) -> tuple[str, str]:
        (dm,) = (await self.discord.wait_for_dms(before + 1))[before:]
        url, secret = URL_LINE.search(dm["content"]), SECRET_LINE.search(dm["content"])
        assert url is not None
        assert secret is not None
        return url.group(1), secret.group(1)

    async def posted(self, text: str, timeout: float = 15) -> dict[str, Any]:
        """Wait for a message in the channel whose embeds hold `text`."""
        async with asyncio.timeout(timeout):
            while True:
                for message in self.channel():
                    if text in json.dumps(message["embeds"], ensure_ascii=False):
                        return message
                await asyncio.sleep(0.05)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    agent = fake_agent(tmp_path)
    discord, github = FakeDiscord(), FakeGitHub()
    github.add_repo(REPO)
    github.add_commit(REPO, SHA, [("src/encryption.py", 15, 8), ("tests/test_crypto.py", 40, 0)])
    await discord.start()
    await github.start()
    settings = make_settings(
        tmp_path,
        discord_token=discord.token,
        discord_api_base=discord.api_base,
        discord_gateway_url=discord.gateway_url,
        github_token=github.token,
        github_api_base=github.base_url,
        ngrok_authtoken="ngrok-token",
        ngrok_path=str(agent.path),
    )
    try:
        with loopback_only() as refused, pointed_at(discord):
            async with running(settings) as app, aiohttp.ClientSession() as session:
                assert app.bot is not None
                async with asyncio.timeout(15):
                    while app.bot.state != "ready":
                        await asyncio.sleep(0.05)
                yield World(app, discord, github, session)
        assert refused == [], "a connection left 127.0.0.1"
    finally:
        await github.stop()
        await discord.stop()
        for pid in agent.pids():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


async def _post(
    session: aiohttp.ClientSession, url: str, secret: str, body: bytes, event: str
) -> int:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign_hmac_sha256(body, secret),
    }
    async with session.post(url, data=body, headers=headers) as response:
        return response.status


async def test_one_command_connects_a_repository(world: World):
    """`!hook github on owner/repo` → webhook made, ping → ✅ Connected, push → Files line."""
    tunnel = world.app.tunnel
    assert tunnel is not None
    assert tunnel.public_url is not None
    dms = len(world.discord.dms)
    reply = await world.command(f"!hook github on {REPO}")
    url, secret = await world.secret_dm(dms)
    text = json.dumps(reply["embeds"], ensure_ascii=False)
    (made,) = world.github.hooks.values()
    assert f"✅ Webhook installed on {REPO} (GitHub hook {made.id})" in text
    assert url.startswith(f"{tunnel.public_url}/webhook/github/"), "the URL is the tunnel's"
    assert url in text
    assert secret not in json.dumps(world.channel())
    assert made.config == {
        "url": url,
        "content_type": "json",
        "secret": secret,
        "insecure_ssl": "0",
    }
    assert made.events == DEFAULT_EVENTS

    # GitHub pings the new webhook through the tunnel; the channel hears it.
    connected = await world.posted(f"✅ Connected: {REPO}")
    assert world.github.pings == [(url, 200)]
    assert "GitHub will not send" not in json.dumps(connected["embeds"], ensure_ascii=False)

    # A push sent to the tunnel URL is posted with its Files line from the API.
    assert await _post(world.session, url, secret, sample("github/push"), "push") == 202
    pushed = await world.posted("Push to main")
    description = pushed["embeds"][0]["description"]
    assert "**Files:** src/encryption.py (+15, −8), tests/test\\_crypto.py (+40, −0)" in description
    assert [c.path for c in world.github.calls("GET")] == [f"/api/v3/repos/{REPO}/commits/{SHA}"]


async def test_rotate_and_delete_reach_github(world: World):
    """`rotate` gives the webhook the new URL and secret; `delete` removes it and says so."""
    dms = len(world.discord.dms)
    await world.command(f"!hook github on {REPO}")
    old_url, _ = await world.secret_dm(dms)
    (made,) = world.github.hooks.values()
    await world.posted(f"✅ Connected: {REPO}")  # GitHub's ping, before the next replies

    reply = await world.command("!hook rotate hook_001")
    new_url, new_secret = await world.secret_dm(dms + 1)
    assert new_url != old_url
    assert (made.config["url"], made.config["secret"]) == (new_url, new_secret)
    assert "now uses the new URL and secret" in json.dumps(reply["embeds"], ensure_ascii=False)

    reply = await world.command("!hook events hook_001 push,pr")
    assert made.events == ["push", "pull_request"]
    assert "now sends: push, pull_request" in json.dumps(reply["embeds"], ensure_ascii=False)

    reply = await world.command("!hook delete hook_001 yes")
    text = json.dumps(reply["embeds"], ensure_ascii=False)
    assert "✅ Deleted hook_001" in text
    assert f"Removed the webhook from {REPO}" in text
    assert world.github.hooks == {}
    assert [c.path for c in world.github.calls("DELETE")] == [
        f"/api/v3/repos/{REPO}/hooks/{made.id}"
    ]


async def test_a_refused_token_still_leaves_a_working_hook(world: World):
    """404 (no admin rights): the answer says what to do; a webhook added by hand works."""
    world.github.add_repo("octo-org/locked", admin=False)
    dms = len(world.discord.dms)
    reply = await world.command("!hook github on octo-org/locked")
    url, secret = await world.secret_dm(dms)
    text = json.dumps(reply["embeds"], ensure_ascii=False)
    assert "The webhook was not installed on octo-org/locked" in text
    assert "admin rights" in text
    assert world.github.hooks == {}
    assert await _post(world.session, url, secret, sample("github/push"), "push") == 202
    await world.posted("Push to main")


# -- the Files line in the pipeline: no other event waits for it ------------------------


@pytest.fixture
async def receiver(tmp_path: Path) -> AsyncIterator[tuple[Running, RecordingSink, FakeGitHub]]:
    github = FakeGitHub()
    github.add_repo(REPO)
    github.add_commit(REPO, SHA, [("src/encryption.py", 15, 8)])
    await github.start()
    sink = RecordingSink()
    settings = make_settings(tmp_path, github_token=github.token, github_api_base=github.base_url)
    try:
        with loopback_only() as refused:
            async with running(settings, sinks=lambda _key: sink) as app:
                yield app, sink, github
        assert refused == []
    finally:
        await github.stop()


def _files(message: Message) -> str | None:
    description = message.embeds[0].description or ""
    return next((x for x in description.splitlines() if x.startswith("**Files:**")), None)


async def test_a_slow_api_holds_no_other_event(
    receiver: tuple[Running, RecordingSink, FakeGitHub],
):
    """The commit API takes 3 s: a pull request sent just after the push is not held."""
    app, sink, github = receiver
    github.commit_delay = 3.0
    hook = await app.store.hooks.create(
        service="github",
        destination="console",
        token="t" * 32,
        secret="s" * 40,
        now=1.0,
        events=("push", "pull_request"),
    )
    url = f"http://127.0.0.1:{app.port}/webhook/github/{hook.token}"
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        assert await _post(session, url, hook.secret, sample("github/push"), "push") == 202
        await asyncio.sleep(0.05)
        body = sample("github/pull_request")
        assert await _post(session, url, hook.secret, body, "pull_request") == 202
        await sink.wait_for(2, timeout=10)
        assert time.monotonic() - started < 1.5, "neither waited for the slow API"
    kinds = [message.embeds[0].footer for message, _ in sink.sent]
    assert len(kinds) == 2
    pushed = next(m for m, _ in sink.sent if "Push to" in (m.embeds[0].title or ""))
    assert _files(pushed) is None


async def test_a_lone_push_waits_for_its_files_line(
    receiver: tuple[Running, RecordingSink, FakeGitHub],
):
    """Nothing else waiting: the push is posted with its Files line."""
    app, sink, github = receiver
    github.commit_delay = 0.3
    hook = await app.store.hooks.create(
        service="github", destination="console", token="u" * 32, secret="s" * 40, now=1.0
    )
    url = f"http://127.0.0.1:{app.port}/webhook/github/{hook.token}"
    async with aiohttp.ClientSession() as session:
        assert await _post(session, url, hook.secret, sample("github/push"), "push") == 202
    await sink.wait_for(1)
    ((message, _),) = sink.sent
    assert _files(message) == "**Files:** src/encryption.py (+15, −8)"
