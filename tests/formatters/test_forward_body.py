"""The forward body: the default JSON of an event, and `--body` templates (pure)."""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest

from formatters.forward import BodyError, body_text, default_body, iso_time, render_body
from parsers.event import Event

EVENT = Event(
    service="github",
    kind="workflow_run.completed",
    source="octo/app",
    delivery_id="d-1",
    occurred_at=None,
    title='CI "build" failed',
    actor="octocat",
    url="https://github.com/octo/app/actions/runs/1",
    status="failure",
    branch="main",
    fields=MappingProxyType({"workflow_name": "CI", "jobs": [{"name": "test"}]}),
)


def test_default_body_has_the_designed_shape():
    """type, id, timestamp (ISO-8601, UTC), hook and data with the event's facts."""
    body = default_body(EVENT, delivery="d-1", hook_id="hook_007", timestamp=1_764_599_400.0)
    assert body["type"] == "workflow_run.completed"
    assert body["id"] == "d-1"
    assert body["timestamp"] == "2025-12-01T14:30:00Z"
    assert body["hook"] == "hook_007"
    data = body["data"]
    assert isinstance(data, dict)
    assert data["repo"] == "octo/app"
    assert data["status"] == "failure"
    assert data["fields"] == {"workflow_name": "CI", "jobs": [{"name": "test"}]}
    assert set(data) == {
        "service", "provider", "kind", "title", "url", "actor", "repo", "branch", "status",
        "fields",
    }  # fmt: skip
    assert json.loads(body_text(body)) == body


def test_alert_body_is_typed_alert():
    """An alert's body says alert and carries its text."""
    body = default_body(EVENT, delivery="d", hook_id="h", timestamp=0.0, alert="⚡ CI failed")
    assert body["type"] == "alert"
    assert body["data"]["alert"] == "⚡ CI failed"  # type: ignore[index]


def test_iso_time_is_utc_with_z():
    """Seconds precision, Z suffix."""
    assert iso_time(0.0) == "1970-01-01T00:00:00Z"


def test_body_template_renders_json_with_tojson():
    """Fields at top level, the default body as `body`; quotes in values stay valid JSON."""
    body = default_body(EVENT, delivery="d-1", hook_id="hook_007", timestamp=0.0)
    source = (
        '{"text": {{ title|tojson }}, "workflow": {{ workflow_name|tojson }},\n'
        ' "hook": {{ hook|tojson }}, "original": {{ body.data.kind|tojson }}}'
    )
    out = json.loads(render_body(source, EVENT, body))
    assert out == {
        "text": 'CI "build" failed',
        "workflow": "CI",
        "hook": "hook_007",
        "original": "workflow_run.completed",
    }


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ('{"text": {{ title }}}', 1),  # a string without tojson: not JSON
        ('{\n  "a": 1,\n}', 3),  # trailing comma on line 3
    ],
)
def test_body_that_is_not_json_is_refused_with_its_line(source: str, line: int):
    """The error names the line of the output that is wrong."""
    body = default_body(EVENT, delivery="d", hook_id="h", timestamp=0.0)
    with pytest.raises(BodyError) as caught:
        render_body(source, EVENT, body)
    assert caught.value.line == line
    assert "valid JSON" in str(caught.value)


def test_body_template_errors_are_body_errors():
    """Undefined names and syntax errors are refused too."""
    body = default_body(EVENT, delivery="d", hook_id="h", timestamp=0.0)
    with pytest.raises(BodyError, match="nope"):
        render_body("{{ nope|tojson }}", EVENT, body)
    with pytest.raises(BodyError):
        render_body("{% if %}", EVENT, body)
