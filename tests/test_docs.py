"""docs/events.md is generated from the code and must be committed up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot import eventdocs
from formatters.render import template_context
from parsers import github

ROOT = Path(__file__).resolve().parents[1]
EVENTS_DOC = ROOT / "docs" / "events.md"
REGENERATE = "run `python -m bot.eventdocs > docs/events.md` and commit the result"


def test_events_doc_is_up_to_date() -> None:
    """The committed docs/events.md equals what bot.eventdocs renders now."""
    assert EVENTS_DOC.is_file(), f"docs/events.md is missing: {REGENERATE}"
    committed = EVENTS_DOC.read_text(encoding="utf-8")
    assert committed == eventdocs.render_events_doc(), f"docs/events.md is stale: {REGENERATE}"


def test_events_doc_is_deterministic() -> None:
    """Two renders are identical (no clock, no set or dict-order surprises)."""
    assert eventdocs.render_events_doc() == eventdocs.render_events_doc()


def test_events_doc_main_writes_the_document() -> None:
    """`python -m bot.eventdocs` prints exactly the rendered document, as UTF-8."""
    result = subprocess.run(
        [sys.executable, "-m", "bot.eventdocs"], cwd=ROOT, capture_output=True, check=True
    )
    assert result.stdout.decode("utf-8") == eventdocs.render_events_doc()


@pytest.mark.parametrize("name", sorted(github.EVENT_NAMES))
def test_every_event_name_has_a_bundled_sample_and_section(name: str) -> None:
    """Each event the parser knows has a sample (send-sample, docs) and a section."""
    event = eventdocs.sample_event(name)
    assert event is not None, f"add parsers/samples/github/{name}.json"
    assert event.kind in github.KINDS
    doc = eventdocs.render_events_doc()
    assert f"## `{name}`" in doc
    assert f"`hookbot send-sample github {name}` posts:" in doc


def test_samples_describe_octo_org_hello_world_by_mona() -> None:
    """The samples tell one consistent story: repo octo-org/Hello-World, sender mona et al."""
    for name in sorted(github.EVENT_NAMES):
        payload = eventdocs.sample_payload(name)
        assert payload is not None
        event = eventdocs.sample_event(name)
        assert event is not None
        assert event.source == "octo-org/Hello-World", name
        assert event.actor in {"mona", "octocat", "hubot"}, name
        assert event.url, name


def test_template_variables_are_what_templates_see() -> None:
    """The documented variables are exactly the ones template_context adds to the fields."""
    event = eventdocs.sample_event("push")
    assert event is not None
    context = template_context(event)
    assert set(eventdocs.TEMPLATE_VARIABLES) <= set(context)
    assert set(context) - set(eventdocs.TEMPLATE_VARIABLES) <= set(event.fields)


def test_every_sample_field_is_documented() -> None:
    """Each field a sample carries has a description in FIELD_DOCS (no "—" rows)."""
    doc = eventdocs.render_events_doc()
    undocumented = [line for line in doc.splitlines() if line.endswith("| — |")]
    assert not undocumented, "document these in parsers.github.FIELD_DOCS:\n" + "\n".join(
        undocumented
    )
