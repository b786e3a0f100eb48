"""GitLab's bundled samples, parsed and rendered, compared with tests/golden/gitlab_*.txt.

`UPDATE_GOLDEN=1 pytest tests/formatters/test_golden_gitlab.py` rewrites the golden files;
read every changed one before committing it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import jinja2
import pytest

from formatters import render
from formatters.message import Message, message_to_text
from parsers import gitlab
from parsers.event import Event
from tests.formatters.conftest import build_event

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SAMPLES = Path(__file__).resolve().parents[2] / "parsers" / "samples" / "gitlab"
# Events without a template of their own use the generic embed.
GENERIC_EVENTS = {"member"}


def golden_path(sample: str) -> Path:
    """Name a sample's golden file: `merge_request.merge` → gitlab_merge_request_merge.txt."""
    return GOLDEN / f"gitlab_{re.sub(r'[^a-z0-9_]', '_', sample)}.txt"


def parse_sample(name: str) -> Event:
    """Parse a bundled sample with the headers GitLab sends."""
    [event] = gitlab.parse(gitlab.sample_headers(name), (SAMPLES / f"{name}.json").read_bytes())
    return event


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


def test_golden_files_belong_to_samples() -> None:
    """Every gitlab_*.txt golden file is a sample's (a renamed sample leaves no orphan)."""
    expected = {golden_path(name).name for name in gitlab.SAMPLES}
    assert {path.name for path in GOLDEN.glob("gitlab_*.txt")} <= expected


@pytest.mark.parametrize("name", sorted(gitlab.SAMPLES))
def test_sample_renders_as_its_golden_file(name: str) -> None:
    """parse → render_default of each sample equals tests/golden/gitlab_<name>.txt."""
    rendered = message_to_text(render.render_default(parse_sample(name)))
    path = golden_path(name)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"missing {path}; run with UPDATE_GOLDEN=1 to create it"
    assert rendered == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(gitlab.SAMPLES))
def test_sample_uses_its_own_template_without_error(name: str) -> None:
    """No sample falls back to the generic embed because its template failed."""
    event = parse_sample(name)
    template, message = render_strictly(event)
    if event.kind.split(".", 1)[0] in GENERIC_EVENTS:
        assert template == "_generic.j2"
    else:
        assert template.startswith("gitlab/"), template
    assert message == render.render_default(event)


def test_failed_pipeline_message_names_stage_job_and_reason() -> None:
    """The seed's shape: ❌ Pipeline failed · the stage · the failing job · its reason."""
    [embed] = render.render_default(parse_sample("pipeline.failed")).embeds
    assert embed.title == "❌ Pipeline #1043 failed on feature/apple-pay"
    description = embed.description or ""
    assert "❌ test" in description
    assert "[unit-tests](" in description
    assert "script failure" in description
    assert "allowed to fail" in description  # e2e-safari, told apart from the real failure


def test_merged_mr_message() -> None:
    """A merged MR is purple and says who merged it."""
    [embed] = render.render_default(parse_sample("merge_request.merge")).embeds
    assert embed.title == "✅ MR !58 merged: Add Apple Pay checkout"
    assert embed.color == render.COLORS["purple"]
    assert "**Merged by:** grace" in (embed.description or "")


def test_comment_text_is_escaped_and_mentions_are_broken() -> None:
    """A comment's markdown is escaped and its @everyone cannot ping."""
    [embed] = render.render_default(parse_sample("note")).embeds
    description = embed.description or ""
    assert "\\*\\*declined card\\*\\*" in description
    assert "@everyone" not in description
    assert "@\u200beveryone" in description


TEMPLATED_KINDS = [kind for kind in gitlab.KINDS if kind.split(".", 1)[0] in gitlab.EVENT_NAMES]


@pytest.mark.parametrize("kind", TEMPLATED_KINDS)
def test_every_kind_renders_with_no_fields_at_all(kind: str) -> None:
    """A kind's template copes with every optional field missing (no crash, no fallback)."""
    event = build_event(kind, service="gitlab", actor=None, url=None, branch=None, fields={})
    template, message = render_strictly(event)
    assert template.startswith("gitlab/"), template
    (embed,) = message.embeds
    assert embed.title


@pytest.mark.parametrize("kind", TEMPLATED_KINDS)
def test_every_kind_renders_with_empty_nested_objects(kind: str) -> None:
    """Nested objects that are present but empty, or hold nulls, do not crash a template."""
    nested: dict[str, object] = {
        key: {}
        for key in (
            "mr",
            "issue",
            "comment",
            "commit",
            "snippet",
            "release",
            "pipeline",
            "job",
            "deployment",
            "wiki_page",
            "merge_request",
        )
    }
    nulls = dict.fromkeys(
        ("commits", "labels", "commit_count", "tag", "ref", "jobs", "failed_jobs", "files"),
    )
    event = build_event(kind, service="gitlab", status=None, fields=nested | nulls)
    template, message = render_strictly(event)
    assert template.startswith("gitlab/"), template
    assert message.embeds[0].title


@pytest.mark.parametrize("kind", ["pipeline.failed", "job.failed"])
def test_ci_templates_cope_with_odd_jobs(kind: str) -> None:
    """Jobs with nulls or unknown statuses render; a long job list is cut."""
    jobs = [{"name": None, "stage": None, "status": "failed", "id": None}] * 8 + [{}]
    fields = {
        "pipeline": {
            "status": "failed",
            "stages": ["build", None],
            "stage_results": [{"name": None, "status": None}, "build", {}, {"name": "x" * 300}] * 4,
        },
        "job": {"status": "weird_status", "failure_reason": None},
        "jobs": jobs,
        "failed_jobs": jobs,
    }
    event = build_event(kind, service="gitlab", fields=fields)
    _, message = render_strictly(event)
    assert message.embeds[0].title
