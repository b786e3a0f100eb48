"""The project's GitHub fixtures, parsed and rendered, compared with tests/golden/fixtures/.

`UPDATE_GOLDEN=1 pytest tests/formatters/test_golden_fixtures.py` rewrites the golden files;
read every changed one before committing it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import jinja2
import pytest

from formatters import render
from formatters.message import Message, message_to_text
from parsers import github
from parsers.event import Event
from tests.formatters.conftest import build_event

TESTS = Path(__file__).resolve().parents[1]
FIXTURES = TESTS / "fixtures" / "github"
GOLDEN = TESTS / "golden" / "fixtures"
NAMES = sorted(
    path.name.removesuffix(".json")
    for path in FIXTURES.glob("*.json")
    if not path.name.endswith(".headers.json")
)


def parse_fixture(name: str) -> list[Event]:
    """Parse tests/fixtures/github/<name>.json with its recorded headers."""
    headers = json.loads((FIXTURES / f"{name}.headers.json").read_text(encoding="utf-8"))
    return github.parse(headers, (FIXTURES / f"{name}.json").read_bytes())


def render_strictly(event: Event) -> tuple[str, Message]:
    """Render with the event's own default template, raising instead of falling back.

    render_default never raises: a template bug would silently show the generic embed.
    This walks the same lookup and lets the first template's error out.
    """
    for name in render._default_names(event):
        try:
            template = render._DEFAULT_ENV.get_template(name)
        except jinja2.TemplateNotFound:
            continue
        return name, render._embed_message(template, event)
    raise AssertionError(f"no template for {event.kind}")


def test_there_are_fixtures() -> None:
    assert len(NAMES) >= 10


@pytest.mark.parametrize("name", NAMES)
def test_fixture_renders_as_its_golden_file(name: str) -> None:
    """parse → render_default of each fixture equals tests/golden/fixtures/<name>.txt."""
    rendered = "".join(
        message_to_text(render.render_default(event)) for event in parse_fixture(name)
    )
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"missing {path}; run with UPDATE_GOLDEN=1 to create it"
    assert rendered == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", NAMES)
def test_fixture_uses_its_own_template_without_error(name: str) -> None:
    """No fixture falls back to the generic embed because its template failed."""
    for event in parse_fixture(name):
        template, message = render_strictly(event)
        assert template.startswith("github/"), template
        assert message == render.render_default(event)


@pytest.mark.parametrize("kind", github.KINDS)
def test_every_kind_renders_with_no_fields_at_all(kind: str) -> None:
    """A kind's template copes with every optional field missing (no crash, no fallback)."""
    event = build_event(kind, actor=None, url=None, branch=None, fields={})
    template, message = render_strictly(event)
    assert template.startswith("github/"), template
    (embed,) = message.embeds
    assert embed.title


@pytest.mark.parametrize("kind", github.KINDS)
def test_every_kind_renders_with_empty_nested_objects(kind: str) -> None:
    """Nested objects that are present but empty, or hold nulls, do not crash a template."""
    nested = {
        key: {}
        for key in (
            "pr",
            "review",
            "comment",
            "issue",
            "release",
            "workflow",
            "job",
            "check_suite",
            "check_run",
            "commit_status",
            "deployment",
            "deployment_status",
            "fork",
            "member",
            "repository",
            "discussion",
        )
    }
    nulls = dict.fromkeys(
        ("commits", "labels", "commit_count", "tag", "ref", "stars", "forks", "hook_events"),
    )
    event = build_event(kind, status=None, fields=nested | nulls)
    template, message = render_strictly(event)
    assert template.startswith("github/"), template
    assert message.embeds[0].title
