"""User templates see `payload` (the raw JSON) and, for custom hooks, the body's names first."""

from __future__ import annotations

import json

import pytest

from formatters.message import message_to_text
from formatters.render import (
    TemplateLimitError,
    TemplateParseError,
    reads_payload,
    render_default,
    render_user,
    template_context,
    validate_template,
)
from parsers import custom, github
from parsers.event import JSON, Event
from tests.conftest import sample


def push() -> Event:
    return github.parse_payload("push", "d-1", json.loads(sample("github/push")))[0]


def custom_event(body: dict[str, JSON]) -> Event:
    (event,) = custom.parse({"Content-Type": "application/json"}, json.dumps(body).encode(), {})
    return event


class Counted:
    """A payload source that counts how often it is asked."""

    def __init__(self, value: JSON) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> JSON:
        self.calls += 1
        return self.value


def test_a_template_reads_the_raw_payload_of_any_service() -> None:
    raw = json.loads(sample("github/push"))
    source = Counted(raw)
    message = render_user("{{ payload.pusher.name }} → {{ payload.ref }}", push(), source)
    assert message.content == f"{raw['pusher']['name']} → {raw['ref']}"
    assert source.calls == 1


def test_the_payload_is_not_decoded_for_a_template_that_does_not_read_it() -> None:
    source = Counted({"never": "read"})
    assert render_user("{{ event }} on {{ repo }}", push(), source).content.startswith("push on")
    assert source.calls == 0


@pytest.mark.parametrize(
    ("template", "reads"),
    [
        ("{{ payload.ref }}", True),
        ("{% for c in payload['commits'] %}{{ c.id }}{% endfor %}", True),
        ("{{ fields.payload }}", False),
        ("{% set payload = 1 %}{{ payload }}", False),
        ("{{ title }}", False),
    ],
)
def test_reads_payload_sees_only_the_context_name(template: str, reads: bool) -> None:
    assert reads_payload(template) is reads


def test_reads_payload_refuses_a_broken_template() -> None:
    with pytest.raises(TemplateParseError):
        reads_payload("{{ payload. }}")


def test_without_a_payload_source_payload_is_none() -> None:
    assert render_user("[{{ payload }}]", push()).content == "[]"


def test_custom_body_names_win_over_the_built_in_names() -> None:
    event = custom_event({"event": "Server Alert", "status": "CRIT", "repo": "infra"})
    assert event.kind == "custom.server_alert"
    message = render_user("{{ event }} · {{ status }} · {{ repo }} · {{ service }}", event)
    assert message.content == "Server Alert · CRIT · infra · custom"
    context = template_context(event)
    assert context["event"] == "Server Alert"
    assert context["payload"] == {"event": "Server Alert", "status": "CRIT", "repo": "infra"}


def test_other_services_keep_the_built_in_names_first() -> None:
    event = push()
    assert template_context(event)["event"] == "push"
    assert "payload" not in template_context(event)
    assert template_context(event, {"a": 1})["payload"] == {"a": 1}


def test_a_custom_payload_comes_from_the_event_not_the_source() -> None:
    event = custom_event({"message": "disk full", "host": "db-1"})
    source = Counted({"something": "else"})
    assert render_user("{{ payload.host }}: {{ message }}", event, source).content == (
        "db-1: disk full"
    )


def test_the_default_custom_embed_reads_the_built_in_names() -> None:
    """A body's own `title`/`status` keys do not change how the default embed reads them."""
    event = custom_event({"title": 42, "status": "ERROR", "event": "x"})
    text = message_to_text(render_default(event))
    assert "title: x" in text  # the parser's title (a string field), not the body's 42
    assert "#cf222e" in text  # the status, lower-cased by the parser, still picks the colour


def test_validate_template_checks_payload_paths_against_the_sample() -> None:
    raw = json.loads(sample("github/push"))
    validate_template("{{ payload.ref }}", push(), raw)
    with pytest.raises(TemplateLimitError):
        validate_template(
            "{% for a in payload.commits %}{% for b in range(5000) %}{% endfor %}{% endfor %}",
            push(),
            {"commits": list(range(100))},
        )
