"""Huge and hostile deliveries, parsed and rendered, always fit Discord's limits.

Payloads are built by mutating the bundled samples (parsers/samples/github), then go
through the real parser and render_default, as a delivery would.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from formatters.message import LIMITS, Message, embed_size, message_to_discord_payload
from formatters.render import render_default
from parsers import github
from parsers.event import Event
from tests.formatters.test_golden_fixtures import render_strictly

SAMPLES = Path(__file__).resolve().parents[2] / "parsers" / "samples" / "github"
EVENT_NAMES = sorted(github.EVENT_NAMES)
# Text that tries everything at once: markdown, mentions, astral characters, newlines.
HOSTILE = "**bold** `code` @everyone <@123> <@&42> <#7> 😀🎉 __x__ ||spoiler|| # head\n> q "


def sample(name: str) -> dict[str, Any]:
    """Return a fresh, mutable copy of a bundled sample."""
    payload = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(payload, dict)
    return payload


def parse(name: str, payload: dict[str, Any]) -> list[Event]:
    return github.parse_payload(name, "limits-test", payload)


def strings(message: Message) -> Iterator[str]:
    """Every string a message carries."""
    yield message.content
    for embed in message.embeds:
        for part in (embed.title, embed.description, embed.url, embed.author, embed.footer):
            if part is not None:
                yield part
        if embed.author_icon_url:
            yield embed.author_icon_url
        for field in embed.fields:
            yield field.name
            yield field.value


def assert_within_discord_limits(message: Message) -> None:
    """Check every Discord limit, and that no lone surrogate half reached the output."""
    assert len(message.content) <= LIMITS.content
    assert len(message.embeds) <= LIMITS.embeds
    total = 0
    for embed in message.embeds:
        assert embed.title is None or len(embed.title) <= LIMITS.title
        assert embed.description is None or len(embed.description) <= LIMITS.description
        assert embed.author is None or len(embed.author) <= LIMITS.author
        assert embed.footer is None or len(embed.footer) <= LIMITS.footer
        assert len(embed.fields) <= LIMITS.fields
        for field in embed.fields:
            assert 0 < len(field.name) <= LIMITS.field_name
            assert 0 < len(field.value) <= LIMITS.field_value
        total += embed_size(embed)
    assert total <= LIMITS.total
    for text in strings(message):
        assert not any("\ud800" <= char <= "\udfff" for char in text), "lone surrogate"
        text.encode("utf-8")  # strict: raises on any surrogate code point
    # What a sink sends serialises as strict UTF-8 JSON.
    json.dumps(message_to_discord_payload(message), ensure_ascii=False).encode("utf-8")


def render(events: list[Event]) -> list[Message]:
    """render_default each event (quickly), checking its own template did not fail."""
    started = time.perf_counter()
    messages = [render_default(event) for event in events]
    assert time.perf_counter() - started < 2.0, "rendering took too long"
    for event, message in zip(events, messages, strict=True):
        template, strict = render_strictly(event)  # raises if the template failed
        assert strict == message, f"{template} fell back"
    return messages


def test_push_of_2000_commits_shows_five_and_counts_the_rest() -> None:
    payload = sample("push")
    template = payload["commits"][-1]
    commits = []
    for n in range(2000):
        commit = copy.deepcopy(template)
        commit["id"] = f"{n:040x}"
        commit["message"] = f"Commit {n}: {HOSTILE * 3}"
        commit["url"] = f"https://github.com/octo-org/Hello-World/commit/{n:040x}"
        commit["modified"] = [f"src/file_{n}_{i}.py" for i in range(5)]
        commits.append(commit)
    payload["commits"] = commits
    payload["head_commit"] = commits[-1]
    [event] = parse("push", payload)
    assert event.fields["commit_count"] == 2000
    [message] = render([event])
    assert_within_discord_limits(message)
    (embed,) = message.embeds
    assert embed.title is not None
    assert "2000 commits" in embed.title
    assert embed.description is not None
    assert "…and 1995 more" in embed.description
    assert embed.description.count("/commit/") == 5
    assert "@everyone" not in embed.description
    assert "<@123>" not in embed.description


@pytest.mark.parametrize("action", ["opened", "ready_for_review", "merged"])
def test_pull_request_with_a_300_kb_body_and_title(action: str) -> None:
    payload = sample("pull_request")
    payload["action"] = "closed" if action == "merged" else action
    pr = payload["pull_request"]
    pr["merged"] = action == "merged"
    # Astral characters everywhere, so any cut lands next to a surrogate pair's code point.
    pr["body"] = ("😀" * 7 + HOSTILE) * 4000
    pr["title"] = "🎉" * 300 + HOSTILE * 10
    assert len(pr["body"]) > 300_000
    [event] = parse("pull_request", payload)
    [message] = render([event])
    assert_within_discord_limits(message)
    (embed,) = message.embeds
    assert embed.title is not None
    assert embed.title.endswith("…")
    assert embed.description is not None
    assert "@everyone" not in embed.description


def test_issue_with_100_long_labels_and_assignees() -> None:
    payload = sample("issues")
    issue = payload["issue"]
    issue["labels"] = [
        {"id": n, "name": f"label-{n}-" + "x" * 500 + HOSTILE, "color": "ffffff"}
        for n in range(100)
    ]
    issue["assignees"] = [
        {"login": f"user{n}-" + "y" * 300, "id": n, "type": "User"} for n in range(100)
    ]
    issue["body"] = HOSTILE * 5000
    [event] = parse("issues", payload)
    [message] = render([event])
    assert_within_discord_limits(message)
    description = message.embeds[0].description or ""
    assert "and 90 more" in description  # labels beyond the first ten are counted


def _hostile(value: Any, depth: int = 0) -> Any:
    """Make every user-facing string of a payload long and hostile."""
    user_text = {"title", "body", "message", "name", "description", "display_title", "summary"}
    if isinstance(value, dict):
        return {
            key: (HOSTILE * 200 if key in user_text and isinstance(inner, str) else _hostile(inner))
            for key, inner in value.items()
        }
    if isinstance(value, list):
        return [_hostile(item) for item in value]
    return value


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_every_sample_with_hostile_text_and_100_extra_fields(name: str) -> None:
    """Every event's sample, with long hostile text and 100 unknown keys, fits the limits."""
    payload = _hostile(sample(name))
    for n in range(100):
        payload[f"extra_field_{n}"] = {"value": "z" * 1000, "list": list(range(20))}
    events = parse(name, payload)
    assert events
    for message in render(events):
        assert_within_discord_limits(message)
        for embed in message.embeds:
            for text in (embed.title or "", embed.description or ""):
                assert "@everyone" not in text
                assert "<@123>" not in text
                assert "<@&42>" not in text


def test_event_with_100_long_fields_renders_generic_within_limits() -> None:
    """An Event carrying 100 big fields (a custom kind) still fits, through _generic.j2."""
    [event] = parse("push", sample("push"))
    fields = dict(event.fields) | {f"field_{n}": "v" * 5000 for n in range(100)}
    custom = replace(
        event, kind="custom.thing", title="t" * 10_000, fields=MappingProxyType(fields)
    )
    [message] = render([custom])
    assert_within_discord_limits(message)
