"""The real discord.py client in hookbot against the fake Discord: commands, posts, faults."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.app import Running, running
from bot.config import Settings
from bot.service import Scope
from parsers.signatures import sign_hmac_sha256
from tests.conftest import make_settings, sample
from tests.e2e.fake_discord import FakeDiscord, pointed_at

pytestmark = pytest.mark.e2e

URL_LINE = re.compile(r"URL: (\S+)")
SECRET_LINE = re.compile(r"Secret: (\S+)")


@dataclass
class World:
    """hookbot running with its bot logged in to the fake Discord."""

    app: Running
    fake: FakeDiscord
    session: aiohttp.ClientSession

    async def command(self, content: str, *, author: str = "admin", replies: int = 1) -> list[dict]:
        """Type a message in the channel and return the bot's next replies there."""
        before = len(self.channel_messages())
        await self.fake.send_user_message(content, author=author)
        async with asyncio.timeout(10):
            while len(self.channel_messages()) < before + replies:
                await asyncio.sleep(0.02)
        return self.channel_messages()[before:]

    def channel_messages(self) -> list[dict]:
        return [m for m in self.fake.messages if str(m["channel_id"]) == str(self.fake.channel_id)]

    async def create_hook(self) -> tuple[str, str]:
        """`!hook github on` and return the URL and secret from the DM."""
        dms_before = len(self.fake.dms)
        await self.command("!hook github on")
        (dm,) = (await self.fake.wait_for_dms(dms_before + 1))[dms_before:]
        url = URL_LINE.search(dm["content"])
        secret = SECRET_LINE.search(dm["content"])
        assert url is not None
        assert secret is not None
        return url.group(1), secret.group(1)

    async def post(self, url: str, secret: str, body: bytes, event: str = "push") -> int:
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign_hmac_sha256(body, secret),
        }
        async with self.session.post(url, data=body, headers=headers) as response:
            return response.status


def _settings(tmp_path: Path, fake: FakeDiscord) -> Settings:
    """hookbot's settings for a run against the fake Discord."""
    return make_settings(
        tmp_path,
        discord_token=fake.token,
        discord_api_base=fake.api_base,
        discord_gateway_url=fake.gateway_url,
    )


async def _ready(app: Running, timeout: float = 15) -> None:
    assert app.bot is not None
    async with asyncio.timeout(timeout):
        while app.bot.state != "ready":
            await asyncio.sleep(0.05)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    fake = FakeDiscord()
    await fake.start()
    settings = _settings(tmp_path, fake)
    try:
        with pointed_at(fake):
            async with running(settings) as app, aiohttp.ClientSession() as session:
                await _ready(app)
                yield World(app, fake, session)
    finally:
        await fake.stop()


def _push_with(message: str) -> bytes:
    payload = json.loads(sample("github/push"))
    payload["head_commit"]["message"] = message
    payload["commits"][-1]["message"] = message
    return json.dumps(payload).encode()


async def test_bot_hook_on_replies_url_and_dms_the_secret(world: World):
    """`!hook github on`: the channel gets the URL and events to tick; the secret only by DM."""
    url, secret = await world.create_hook()
    (reply,) = [m for m in world.channel_messages() if m["embeds"]]
    text = json.dumps(reply["embeds"])
    assert url in text
    assert "Pull requests" in text
    assert all(secret not in json.dumps(m) for m in world.channel_messages())
    assert url.startswith("http://127.0.0.1:")


async def test_bot_service_first_order_works(world: World):
    """`!hook github on` and `!hook on github` create one hook, then show it again."""
    await world.create_hook()
    replies = await world.command("!hook on github")
    assert "hook_001" in json.dumps(replies[-1]["embeds"])
    hooks = await world.app.store.hooks.find_all()
    assert [h.id for h in hooks] == ["hook_001"]


async def test_bot_push_is_posted_without_pings_and_with_nonce(world: World):
    """A signed push is posted in the hook's channel; @everyone and role mentions ping nobody."""
    url, secret = await world.create_hook()
    before = len(world.channel_messages())
    body = _push_with("@everyone <@&123> fix the build")
    assert await world.post(url, secret, body) == 202
    async with asyncio.timeout(10):
        while len(world.channel_messages()) <= before:
            await asyncio.sleep(0.02)
    posted = world.channel_messages()[-1]
    assert posted["allowed_mentions"] == {"parse": []}
    assert posted["nonce"]
    assert posted["enforce_nonce"] is True
    assert posted["mention_everyone"] is False
    assert posted["mention_roles"] == []
    assert "Push to main" in json.dumps(posted["embeds"], ensure_ascii=False)


async def test_bot_refuses_a_plain_member(world: World):
    """A member without Manage Server / Manage Webhooks gets a short refusal."""
    (reply,) = await world.command("!hook list", author="member")
    assert "❌" in json.dumps(reply["embeds"], ensure_ascii=False)
    assert "Manage Server" in json.dumps(reply["embeds"])
    assert await world.app.store.hooks.find_all() == []


async def test_bot_help_alone(world: World):
    """`!hook` alone shows the help."""
    (reply,) = await world.command("!hook")
    assert "!hook on github" in json.dumps(reply["embeds"])


async def test_bot_slash_on_gives_secret_ephemerally(world: World):
    """`/hook on ref:github`: the URL publicly, the secret in an ephemeral follow-up."""
    interaction = await world.fake.dispatch_interaction(
        "hook",
        options=[
            {"type": 1, "name": "on", "options": [{"type": 3, "name": "ref", "value": "github"}]}
        ],
    )
    await interaction.wait_response()
    async with asyncio.timeout(10):
        while not interaction.followups:
            await asyncio.sleep(0.02)
    first = interaction.responses[0]
    assert "Payload URL" in json.dumps(first)
    (hook,) = await world.app.store.hooks.find_all()
    assert hook.secret not in json.dumps(first)
    (followup,) = interaction.followups
    assert f"Secret: {hook.secret}" in followup["content"]
    assert followup["flags"] & 64, "the secret is ephemeral"


async def test_bot_deleted_channel_marks_hook_failing_and_stops_calling(world: World):
    """404 Unknown Channel: rows dead, hook failing (shown by list), no further calls."""
    url, secret = await world.create_hook()
    channel = world.fake.channel_id
    world.fake.fail_channel(channel, 404, 10003, "Unknown Channel")
    calls = lambda: sum(  # noqa: E731
        1
        for method, path in world.fake.requests
        if method == "POST" and f"/channels/{channel}/messages" in path
    )
    before = calls()
    assert await world.post(url, secret, sample("github/push")) == 202
    async with asyncio.timeout(10):
        while True:
            hook = await world.app.store.hooks.get("hook_001")
            assert hook is not None
            if hook.failing:
                break
            await asyncio.sleep(0.05)
    assert "404" in hook.failing
    after_first = calls()
    assert after_first == before + 1
    assert await world.post(url, secret, sample("github/push")) == 202
    await asyncio.sleep(1.0)
    assert calls() == after_first, "no more calls to a channel that is gone"
    rows = await world.app.store.outbox.rows("hook_001")
    assert rows
    assert {r.status for r in rows} == {3}


async def test_bot_502s_then_recovery_lose_nothing(world: World):
    """15 s of 502 on message posts: every event still arrives, once each."""
    url, secret = await world.create_hook()
    base = len(world.channel_messages())
    world.fake.fail_channel(world.fake.channel_id, 502, 0, "Bad Gateway")
    for i in range(5):
        assert await world.post(url, secret, _push_with(f"outage-{i}")) == 202
    await asyncio.sleep(15)
    assert world.channel_messages()[base:] == []
    world.fake.heal_channel(world.fake.channel_id)
    async with asyncio.timeout(40):
        while True:
            text = json.dumps(world.channel_messages()[base:])
            if all(f"outage-{i}" in text for i in range(5)):
                break
            await asyncio.sleep(0.1)
    text = json.dumps(world.channel_messages()[base:])
    for i in range(5):
        assert text.count(f"outage-{i}") == text.count("outage-0"), "each event once"


async def test_bot_burst_under_rate_limit_is_coalesced(world: World):
    """100 events into a channel limited to 5 posts / 5 s: all arrive, in order, in ≤ 20 posts.

    Ten embeds a post make 10 the floor; uncoalesced it would be 100. The slack covers a
    loaded machine, where the first posts leave before the pipeline has queued the rest.
    """
    url, secret = await world.create_hook()
    base = len(world.channel_messages())
    world.fake.rate_limit(world.fake.channel_id, limit=5, per=5.0)
    bodies = [_push_with(f"burst-{i:03d}") for i in range(100)]
    for start in range(0, 100, 20):  # a burst: 20 deliveries in flight at a time, in order
        statuses = await asyncio.gather(
            *(world.post(url, secret, b) for b in bodies[start : start + 20])
        )
        assert statuses == [202] * 20

    def seen() -> list[int]:
        found = re.findall(r"burst-(\d{3})", json.dumps(world.channel_messages()[base:]))
        return list(dict.fromkeys(int(n) for n in found))

    async with asyncio.timeout(60):
        while len(seen()) < 100:
            await asyncio.sleep(0.1)
    assert sorted(seen()) == list(range(100)), "complete"
    queued = [
        int(m)
        for r in await world.app.store.outbox.rows("hook_001")
        for m in re.findall(r"burst-(\d{3})", r.payload)
    ]
    assert seen() == list(dict.fromkeys(queued)), "posted in the order they were accepted"
    assert len(world.channel_messages()[base:]) <= 20


async def test_bot_gateway_drop_reconnects_and_answers(world: World):
    """After the gateway drops, the bot resumes and still answers commands."""
    await world.fake.drop_gateway()
    await asyncio.sleep(0.5)
    await _ready(world.app)
    (reply,) = await world.command("!hook")
    assert "!hook on github" in json.dumps(reply["embeds"])


async def test_bot_discord_down_at_startup_then_posts(tmp_path: Path):
    """Discord unreachable at start-up: deliveries are accepted, posted once it is back."""
    fake = FakeDiscord()
    await fake.start()
    fake.set_unreachable(True)
    settings = _settings(tmp_path, fake)
    try:
        with pointed_at(fake):
            async with running(settings) as app, aiohttp.ClientSession() as session:
                assert app.bot is not None
                creds = await app.service.create(
                    "github",
                    f"discord:channel:{fake.channel_id}",
                    Scope(guild_id=str(fake.guild_id), channel_id=str(fake.channel_id)),
                )
                world = World(app, fake, session)
                url = f"http://127.0.0.1:{app.port}/webhook/github/{creds.hook.token}"
                assert await world.post(url, creds.secret, _push_with("while-down")) == 202
                async with session.get(f"http://127.0.0.1:{app.port}/healthz") as response:
                    assert response.status == 200
                    assert (await response.json())["discord"] == "connecting"
                await asyncio.sleep(1.5)
                assert world.channel_messages() == []
                fake.set_unreachable(False)
                await _ready(app, timeout=30)
                async with asyncio.timeout(20):
                    while "while-down" not in json.dumps(world.channel_messages()):
                        await asyncio.sleep(0.1)
    finally:
        await fake.stop()


def _push_by(login: str, message: str) -> bytes:
    payload = json.loads(_push_with(message))
    payload["sender"]["login"] = login
    return json.dumps(payload).encode()


async def test_bot_filter_drops_dependabot_pushes(world: World):
    """`!hook github filter author!=dependabot[bot]`: a bot push and a human push → one post."""
    url, secret = await world.create_hook()
    (reply,) = await world.command("!hook github filter author!=dependabot[bot]")
    text = json.dumps(reply["embeds"], ensure_ascii=False)
    assert "✅" in text
    assert "push" in text
    base = len(world.channel_messages())
    assert await world.post(url, secret, _push_by("dependabot[bot]", "bump-lodash")) == 202
    assert await world.post(url, secret, _push_by("mona", "human-change")) == 202
    async with asyncio.timeout(10):
        while "human-change" not in json.dumps(world.channel_messages()[base:]):
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    posted = world.channel_messages()[base:]
    assert len(posted) == 1
    assert "bump-lodash" not in json.dumps(posted)
    (info,) = await world.command("!hook info hook_001")
    assert "kept 1, dropped 1" in json.dumps(info["embeds"])


async def test_bot_format_with_seed_template_is_used_next(world: World):
    """`!hook format hook_001 "🔔 {{event}}: {{message}}"` previews, then the next push uses it."""
    url, secret = await world.create_hook()
    (reply,) = await world.command('!hook format hook_001 "🔔 {{event}}: {{message}}"')
    assert "🔔 push: Push to main" in json.dumps(reply["embeds"], ensure_ascii=False)
    base = len(world.channel_messages())
    assert await world.post(url, secret, _push_with("after-format")) == 202
    async with asyncio.timeout(10):
        while len(world.channel_messages()) <= base:
            await asyncio.sleep(0.05)
    posted = world.channel_messages()[base]
    assert posted["content"] == "🔔 push: Push to main: 3 commits"
    assert posted["embeds"] == []


async def test_bot_multiline_template_in_a_code_block_is_kept(world: World):
    """A template typed as a code block over several lines is stored as meant."""
    await world.create_hook()
    lines = (
        "🚀 {{ author }} pushed {{ commit_count }} to {{ branch }}\n"
        "Latest: {{ latest_commit_message }}"
    )
    template = f"```\n{lines}\n```"
    (reply,) = await world.command(f"!hook github format push {template}")
    assert "✅" in json.dumps(reply["embeds"], ensure_ascii=False)
    hook = await world.app.store.hooks.get("hook_001")
    assert hook is not None
    assert hook.templates["push"] == lines


async def test_bot_bad_template_and_filter_are_refused(world: World):
    """Unknown variables, syntax errors and bad filters are refused with the reason."""
    await world.create_hook()
    (reply,) = await world.command('!hook format hook_001 "{{ nope }}"')
    assert "nope" in json.dumps(reply["embeds"])
    assert "❌" in json.dumps(reply["embeds"], ensure_ascii=False)
    (reply,) = await world.command('!hook format hook_001 "{% if %}"')
    assert "line 1" in json.dumps(reply["embeds"])
    (reply,) = await world.command("!hook filter hook_001 colour=blue")
    assert "branch" in json.dumps(reply["embeds"]), "the valid keys are listed"
    (reply,) = await world.command("!hook filter hook_001 branch=[")
    assert "[" in json.dumps(reply["embeds"])
    hook = await world.app.store.hooks.get("hook_001")
    assert hook is not None
    assert (hook.filters, dict(hook.templates)) == ((), {})


def _review_by(login: str) -> bytes:
    payload = json.loads(sample("github/pull_request_review"))
    payload["review"]["user"]["login"] = login
    payload["review"]["state"] = "approved"
    payload["sender"]["login"] = login
    return json.dumps(payload).encode()


async def test_bot_alert_fires_once_for_three_approvals(world: World):
    """Rule `pr.status == 'approved' and pr.reviews >= 2`: three approvals → one ⚡ alert."""
    url, secret = await world.create_hook()
    (reply,) = await world.command(
        "!hook alert-if hook_001 \"pr.status == 'approved' and pr.reviews >= 2\""
    )
    text = json.dumps(reply["embeds"], ensure_ascii=False)
    assert "✅" in text
    assert "pull_request_review" in text, "the answer says which GitHub events to tick"
    base = len(world.channel_messages())
    assert await world.post(url, secret, sample("github/pull_request"), "pull_request") == 202
    for login in ("alice", "bob", "carol"):
        assert await world.post(url, secret, _review_by(login), "pull_request_review") == 202
    async with asyncio.timeout(10):
        while not any(m["content"].startswith("⚡") for m in world.channel_messages()[base:]):
            await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)
    alerts = [m for m in world.channel_messages()[base:] if m["content"].startswith("⚡")]
    assert len(alerts) == 1
    assert "octo-org/Hello-World#45" in alerts[0]["content"]
    assert alerts[0]["allowed_mentions"] == {"parse": []}


class FakeClock:
    """Wall time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        import time

        return time.time() + self.offset


async def test_bot_aggregate_one_minute_posts_one_digest(tmp_path: Path):
    """`!hook github aggregate 1m` and three pushes → one digest once the window ends."""
    fake = FakeDiscord()
    await fake.start()
    clock = FakeClock()
    settings = _settings(tmp_path, fake)
    try:
        with pointed_at(fake):
            async with running(settings, clock=clock) as app, aiohttp.ClientSession() as session:
                await _ready(app)
                world = World(app, fake, session)
                url, secret = await world.create_hook()
                (reply,) = await world.command("!hook github aggregate 1m")
                assert "digest" in json.dumps(reply["embeds"])
                base = len(world.channel_messages())
                for branch in ("main", "feature-oauth", "dev"):
                    payload = json.loads(_push_with(f"on-{branch}"))
                    payload["ref"] = f"refs/heads/{branch}"
                    assert await world.post(url, secret, json.dumps(payload).encode()) == 202
                async with asyncio.timeout(10):
                    while await app.store.windows.held_count("hook_001") < 3:
                        await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)
                assert world.channel_messages()[base:] == [], "held until the window ends"
                clock.offset += 61
                assert app.windows is not None
                app.windows.notify()
                async with asyncio.timeout(10):
                    while len(world.channel_messages()) <= base:
                        await asyncio.sleep(0.05)
                await asyncio.sleep(0.5)
                (digest,) = world.channel_messages()[base:]
                text = json.dumps(digest["embeds"], ensure_ascii=False)
                assert "GitHub Activity (last 1m)" in text
                assert "3 (main, feature-oauth, dev)" in text
    finally:
        await fake.stop()


async def test_bot_delete_with_yes_and_list_info(world: World):
    """`list` and `info` describe the hook; `delete <ref> yes` removes it and its URL."""
    url, secret = await world.create_hook()
    (listed,) = await world.command("!hook list")
    assert "hook_001" in json.dumps(listed["embeds"])
    (info,) = await world.command("!hook hook_001 info")
    assert "Events" in json.dumps(info["embeds"])
    (deleted,) = await world.command("!hook delete hook_001 yes")
    assert "Deleted hook_001" in json.dumps(deleted["embeds"])
    assert await world.post(url, secret, sample("github/push")) == 404


async def test_bot_another_guilds_hook_is_invisible(world: World):
    """A hook of another guild is answered like one that does not exist, and stays."""
    other = await world.app.store.hooks.create(
        service="github",
        destination="discord:channel:424242",
        token="o" * 32,
        secret="p" * 40,
        now=1.0,
        guild_id="999999",
        channel_id="424242",
    )
    (listed,) = await world.command("!hook list")
    assert other.id not in json.dumps(listed["embeds"])
    (info,) = await world.command(f"!hook info {other.id}")
    (missing,) = await world.command("!hook info hook_999")
    assert json.dumps(info["embeds"]).replace(other.id, "X") == json.dumps(
        missing["embeds"]
    ).replace("hook_999", "X")
    (deleted,) = await world.command(f"!hook delete {other.id} yes")
    assert "❌" in json.dumps(deleted["embeds"], ensure_ascii=False)
    assert await world.app.store.hooks.get(other.id) is not None


async def test_bot_closed_dms_point_to_slash(world: World):
    """With DMs closed, the answer says so and points to /hook; the secret never shows."""
    world.fake.refuse_dms(True)
    (reply,) = await world.command("!hook github on")
    text = json.dumps(reply["embeds"], ensure_ascii=False)
    assert "DMs are closed" in text
    assert "/hook rotate" in text
    hook = await world.app.store.hooks.get("hook_001")
    assert hook is not None
    assert hook.secret not in json.dumps(world.channel_messages())
