"""Custom JSON deliveries parsed and rendered, compared with tests/golden/custom_*.txt.

`UPDATE_GOLDEN=1 pytest tests/formatters/test_golden_custom.py` rewrites the golden files;
read every changed one before committing it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from formatters.message import message_to_text
from formatters.render import render_default, render_user
from parsers import custom
from parsers.event import Event

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
SAMPLES = ROOT / "parsers" / "samples" / "custom"
JSON_HEADERS = {"Content-Type": "application/json"}
SEED_BODY = b'{"event": "Server Alert", "message": "CPU usage at 95%"}'


def parse(body: bytes, headers: dict[str, str] | None = None, **options: str) -> Event:
    """Parse a custom delivery that gives one Event."""
    (event,) = custom.parse(JSON_HEADERS if headers is None else headers, body, options)
    return event


def sample(name: str) -> Callable[[], Event]:
    """Return a builder parsing the bundled sample `name` with its headers."""

    def build() -> Event:
        body = (SAMPLES / f"{name}.json").read_bytes()
        return parse(body, custom.sample_headers(name), target="monitoring")

    return build


def empty() -> Event:
    """An empty POST (`curl -X POST <url>`)."""
    return parse(b"", {})


def array() -> Event:
    """A body that is JSON but not an object."""
    return parse(b'[{"id": 1, "ok": true}, {"id": 2, "ok": false}]')


def hostile() -> Event:
    """Markdown, mentions and code fences in every value a message shows."""
    body = {
        "title": "**Deploy** @everyone <@123456789012345678> `rm -rf /` # heading",
        "event": "Fence ```attack```",
        "note": "```\n@here the fence is closed here ```\n**bold**",
        "status": "ERROR",
        "url": "https://status.example.com/incidents/7",
    }
    return parse(json.dumps(body).encode())


def big() -> Event:
    """A long body: the code block shows its start and ends in an ellipsis."""
    points = [{"t": i, "v": i * 1.5} for i in range(500)]
    body = {"event": "metrics", "message": "Hourly metrics", "level": "info", "points": points}
    return parse(json.dumps(body).encode())


CASES: dict[str, Callable[[], Event]] = {
    **{name: sample(name) for name in sorted(custom.SAMPLES)},
    "empty": empty,
    "array": array,
    "hostile": hostile,
    "big": big,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_render_default_matches_golden_file(name: str) -> None:
    """The default embed of each case equals tests/golden/custom_<name>.txt."""
    text = message_to_text(render_default(CASES[name]()))
    path = GOLDEN / f"custom_{name}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing {path}; run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(set(CASES) - {"empty"}))
def test_the_body_is_one_unbreakable_code_block(name: str) -> None:
    """The custom template (not the generic one) ran, and no value escaped the fence."""
    event = CASES[name]()
    (embed,) = render_default(event).embeds
    assert embed.description is not None
    assert embed.description.startswith("```json\n")
    assert embed.description.endswith("\n```")
    assert embed.description.count("```") == 2
    assert embed.description.count("\n") == 2
    assert embed.footer == f"custom · {event.kind}"


def test_an_empty_post_is_a_title_alone() -> None:
    (embed,) = render_default(empty()).embeds
    assert embed.title == "Custom event"
    assert embed.description is None


def test_hostile_title_is_escaped_and_mentions_are_broken() -> None:
    (embed,) = render_default(hostile()).embeds
    assert embed.title is not None
    assert "@everyone" not in embed.title
    assert "<@123" not in embed.title
    assert r"\*\*Deploy\*\*" in embed.title


@pytest.mark.parametrize(
    ("status", "color"),
    [("critical", 0xCF222E), ("WARNING", 0xDB6D28), ("resolved", 0x2EA043), ("weird", 0x0969DA)],
)
def test_the_colour_follows_the_status(status: str, color: int) -> None:
    body = json.dumps({"message": "m", "severity": status}).encode()
    (embed,) = render_default(parse(body)).embeds
    assert embed.color == color


def test_user_template_reads_the_payload_and_lifted_keys() -> None:
    """`payload.*` and the body's top-level keys both work."""
    event = parse(b'{"event": "Server Alert", "message": "CPU usage at 95%", "host": "web-01"}')
    message = render_user("🔔 {{ payload.event }} on {{ host }}: {{ message }}", event)
    assert message.content == "🔔 Server Alert on web-01: CPU usage at 95%"


def test_seed_template_renders_the_seed_message() -> None:
    """The seed: `!hook format hook_001 "🔔 {{event}}: {{message}}"` on its body."""
    message = render_user("🔔 {{event}}: {{message}}", parse(SEED_BODY))
    assert message.content == "🔔 Server Alert: CPU usage at 95%"
