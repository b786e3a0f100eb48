"""Every ci sample, parsed and rendered by default, compared with tests/golden/ci_<name>.txt.

`UPDATE_GOLDEN=1 pytest tests/formatters/test_golden_ci.py` rewrites the golden files;
read every changed one before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import jinja2
import pytest

from formatters import render
from formatters.message import message_to_text
from parsers import ci
from parsers.event import Event

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "parsers" / "samples" / "ci"
GOLDEN = ROOT / "tests" / "golden"


def parse_sample(name: str) -> list[Event]:
    """Parse parsers/samples/ci/<name>.json with the headers its sender sends."""
    return ci.parse(ci.sample_headers(name), (SAMPLES / f"{name}.json").read_bytes(), {})


def own_template(event: Event) -> str:
    """Return the first default template that exists for the event (no fallback on error)."""
    for name in render._default_names(event):
        try:
            render._DEFAULT_ENV.get_template(name)
        except jinja2.TemplateNotFound:
            continue
        return name
    raise AssertionError(f"no template for {event.kind}")


@pytest.mark.parametrize("name", sorted(ci.SAMPLES))
def test_sample_renders_as_its_golden_file(name: str) -> None:
    """parse → render_default of each sample equals tests/golden/ci_<name>.txt."""
    rendered = "".join(message_to_text(render.render_default(e)) for e in parse_sample(name))
    path = GOLDEN / f"ci_{name}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"missing {path}; run with UPDATE_GOLDEN=1 to create it"
    assert rendered == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(ci.SAMPLES))
def test_sample_uses_its_ci_template_without_error(name: str) -> None:
    """No sample falls back to the generic embed because its CI template failed."""
    for event in parse_sample(name):
        template = own_template(event)
        assert template == f"ci/{event.kind.split('.')[0]}.j2"
        message = render._embed_message(render._DEFAULT_ENV.get_template(template), event)
        assert message == render.render_default(event)


def test_seed_shapes() -> None:
    """The seed's three CI messages: started, a stage passed with its next, a failure."""
    started = render.render_default(parse_sample("gitlab_pipeline_started")[0]).embeds[0]
    assert started.title == "⚙️ Pipeline Started"
    for part in ("**Project:**", "**Branch:** main", "**Stage:** Build", "**Triggered by:** sam"):
        assert part in (started.description or "")

    stage = next(e for e in parse_sample("gitlab_stage_passed") if e.kind == "stage.success")
    passed = render.render_default(stage).embeds[0]
    assert passed.title == '✅ Stage "Build" passed'
    assert "**Duration:** 1m 45s · **Next:** Test" in (passed.description or "")

    failed = render.render_default(parse_sample("gitlab_pipeline_failed")[0]).embeds[0]
    assert failed.title == "❌ Pipeline Failed"
    text = failed.description or ""
    assert "**Stage:** Test · **Job:** unit-tests" in text
    assert "(Test): script failure" in text
    assert "visual-diff" not in text  # allowed to fail: not a reason the pipeline failed


def test_payload_text_is_escaped_and_mentions_broken() -> None:
    """Branch names, job names and commit messages cannot format or ping."""
    event = parse_sample("gitlab_pipeline_failed")[0]
    fields = dict(event.fields)
    fields["commit_message"] = "**bold** @everyone <@123>"
    fields["failed_jobs"] = [{"name": "a_b*c", "stage": "`x`", "reason": "@here", "url": None}]
    hostile = Event(
        **{slot: getattr(event, slot) for slot in Event.__slots__ if slot != "fields"},
        fields=fields,
    )
    text = render.render_default(hostile).embeds[0].description or ""
    assert "\\*\\*bold\\*\\*" in text
    assert "@everyone" not in text
    assert "@here" not in text
    assert "<@123>" not in text
    assert "a\\_b\\*c" in text
    assert "\\`x\\`" in text
