"""What a new user hit in Discord, through the real discord.py client and the fake Discord:
`on --events` in both word orders and as a /hook option, reuse by target, `info` showing
the target, `replay`, and `logs` without a ref."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import running
from bot.store import Hook, LogEntry, NewDelivery, Rejection
from tests.conftest import sample
from tests.e2e.fake_discord import FakeDiscord, pointed_at
from tests.e2e.test_discord_bot import World, _ready, _settings

pytestmark = pytest.mark.e2e


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    fake = FakeDiscord()
    await fake.start()
    try:
        with pointed_at(fake):
            async with running(_settings(tmp_path, fake)) as app, aiohttp.ClientSession() as s:
                await _ready(app)
                yield World(app, fake, s)
    finally:
        await fake.stop()


def _text(replies: list[dict[str, Any]]) -> str:
    return json.dumps([r["embeds"] for r in replies], ensure_ascii=False)


async def _hook(world: World, hook_id: str) -> Hook:
    hook = await world.app.store.hooks.get(hook_id)
    assert hook is not None
    return hook


async def test_chat_on_with_events_in_both_orders(world: World):
    """The seed's `!hook github on --events push,pr,release` creates a hook with that selection."""
    replies = await world.command("!hook github on --events push,pr,release")
    assert "✅" in _text(replies)
    hook = await _hook(world, "hook_001")
    assert hook.events == ("push", "pull_request", "release")
    assert hook.target is None
    await world.command("!hook on github octo/a --events push --new")
    second = await _hook(world, "hook_002")
    assert (second.target, second.events) == ("octo/a", ("push",))
    refused = await world.command("!hook on github --events pushes")
    assert "❌" in _text(refused)
    assert "pushes" in _text(refused)


async def test_chat_slash_on_has_events_and_new_options(world: World):
    """`/hook on ref:github events:"push, pr" new:true` sets the selection at creation."""
    await world.command("!hook on github")
    interaction = await world.fake.dispatch_interaction(
        "hook",
        options=[
            {
                "type": 1,
                "name": "on",
                "options": [
                    {"type": 3, "name": "ref", "value": "github"},
                    {"type": 3, "name": "events", "value": "push, pr"},
                    {"type": 5, "name": "new", "value": True},
                ],
            }
        ],
    )
    await interaction.wait_response()
    assert "hook_002" in json.dumps(interaction.responses[0])
    hook = await _hook(world, "hook_002")
    assert hook.events == ("push", "pull_request")


async def test_chat_on_reuses_only_the_same_target_and_info_shows_it(world: World):
    """`on github octo/b` next to octo/a's hook makes a second hook; `info` names each target."""
    await world.command("!hook on github octo/a")
    await world.command("!hook on github octo/b")
    again = await world.command("!hook on github octo/a")
    assert "hook_001" in _text(again)
    hooks = await world.app.store.hooks.find_all()
    assert [(h.id, h.target) for h in hooks] == [("hook_001", "octo/a"), ("hook_002", "octo/b")]
    (info,) = await world.command("!hook info hook_002")
    fields = {f["name"]: f["value"] for f in info["embeds"][0]["fields"]}
    assert fields["Target"] == "octo/b"


async def test_chat_replay_and_logs_without_a_ref(world: World):
    """`!hook replay <delivery>` replays; `!hook logs` (no ref) and `--failed` answer."""
    await world.command("!hook on github")
    headers = {"x-github-event": "push", "content-type": "application/json"}
    await world.app.store.log.add([LogEntry(1.0, "accepted", "hook_001", "d-1", "push")])
    await world.app.store.inbox.write_batch(
        [NewDelivery("hook_001", "github", "d-1", "push", headers, sample("github/push"), 1.0)],
        [Rejection("hook_001", "bad signature", 2.0)],
    )
    replayed = await world.command("!hook replay d-1")
    assert "Replaying through hook_001" in _text(replayed)

    async def answer(command: str) -> str:
        replies = await world.command(command)
        async with asyncio.timeout(10):
            while "ledger" not in _text(replies):
                await asyncio.sleep(0.05)
                replies = world.channel_messages()[-3:]
        (ledger,) = [r for r in replies if "ledger" in _text([r])]
        return _text([ledger])

    text = await answer("!hook logs")
    assert "❌" not in text
    assert "d-1" in text
    assert "bad signature" in text
    failed = await answer("!hook logs --failed")
    assert "bad signature" in failed
    assert "accepted" not in failed
    interaction = await world.fake.dispatch_interaction(
        "hook", options=[{"type": 1, "name": "logs", "options": []}]
    )
    await interaction.wait_response()
    assert "bad signature" in json.dumps(interaction.responses[0])


async def test_chat_unknown_words_say_what_to_type(world: World):
    """A misspelt verb is answered with the closest one, not silently ignored."""
    (reply,) = await world.command("!hook infi hook_001")
    assert "did you mean `info`" in _text([reply])
    await asyncio.sleep(0)
