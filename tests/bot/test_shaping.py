"""Shaping through HookService and the pipeline: templates, lookup order, selection, filters."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bot.core.grammar import split_format_args
from bot.pipeline import Pipeline, find_template
from bot.service import HookService, InvalidInputError, Scope, clean_template
from bot.store import Hook, NewDelivery, Store
from parsers import github
from tests.conftest import sample

SCOPE = Scope(guild_id="1", channel_id="10")


@pytest.fixture
def service(store: Store) -> HookService:
    return HookService(store, "https://hooks.example", clock=lambda: 1000.0)


def _push_event():
    headers = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
    return github.parse(headers, sample("github/push"))[0]


def test_find_template_follows_the_lookup_order():
    """hook + kind → hook + event name → hook → channel + kind → channel + event → default."""
    event = _push_event()
    hook = Hook(id="hook_001", service="github", destination="console", token="t", secret="s")
    channel = {("github", "push"): "channel-event"}
    assert find_template(hook, event, {}) is None
    assert find_template(hook, event, channel) == "channel-event"
    assert find_template(hook, event, {**channel, ("github", "push"): "c"}) == "c"
    hook = replace(hook, templates={"*": "hook-any"})
    assert find_template(hook, event, channel) == "hook-any"
    hook = replace(hook, templates={"*": "hook-any", "push": "hook-kind"})
    assert find_template(hook, event, channel) == "hook-kind"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ('"🔔 {{event}}"', "🔔 {{event}}"),
        ("'{{ title }}'", "{{ title }}"),
        ("“{{ title }}”", "{{ title }}"),
        ("`{{ title }}`", "{{ title }}"),
        ("```\nline 1\nline 2\n```", "line 1\nline 2"),
        ("```jinja\n{{ a }}\n  {{ b }}\n```", "{{ a }}\n  {{ b }}"),
        ("plain {{ title }}", "plain {{ title }}"),
        ('"unbalanced {{ title }}', '"unbalanced {{ title }}'),
    ],
)
def test_clean_template_undoes_chat_quoting(typed: str, stored: str):
    """Code blocks, backticks and one pair of quotes are removed; inner newlines kept."""
    assert clean_template(typed) == stored


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"🔔 {{event}}"', (None, '"🔔 {{event}}"', False)),
        ('push "{{title}}"', ("push", '"{{title}}"', False)),
        ("pull_request.opened {{title}}", ("pull_request.opened", "{{title}}", False)),
        ("reset", (None, None, False)),
        ("push reset", ("push", None, False)),
        ('"{{title}}" --preview', (None, '"{{title}}"', True)),
        ("push", (None, "push", False)),
        (
            "container.health_status.unhealthy 🩺 {{title}}",
            ("container.health_status.unhealthy", "🩺 {{title}}", False),
        ),
    ],
)
def test_split_format_args(text: str, expected):
    """A kind is taken only when a template follows it; `reset` and `--preview` are words."""
    assert split_format_args(text) == expected


async def test_set_template_refuses_unknown_variable_with_its_name(service: HookService):
    """An unknown variable is refused at command time, naming it."""
    await service.create("github", "console", SCOPE)
    with pytest.raises(InvalidInputError, match="nope"):
        await service.set_template("hook_001", None, "{{ nope }}", SCOPE)


async def test_set_template_refuses_syntax_error_with_its_line(service: HookService):
    """A syntax error is refused with its line."""
    await service.create("github", "console", SCOPE)
    with pytest.raises(InvalidInputError, match="line 2"):
        await service.set_template("hook_001", None, "ok\n{% if %}", SCOPE)


async def test_set_template_preview_does_not_store(service: HookService, store: Store):
    """--preview renders from a sample and stores nothing."""
    await service.create("github", "console", SCOPE)
    change = await service.set_template(
        "hook_001", None, "{{ author }}: {{ commit_count }}", SCOPE, preview=True
    )
    assert change.preview == "mona: 3"
    hook = await store.hooks.get("hook_001")
    assert hook is not None
    assert dict(hook.templates) == {}


async def test_set_template_preview_uses_the_last_real_delivery(service: HookService, store: Store):
    """The preview renders the hook's last real delivery when there is one."""
    created = await service.create("github", "console", SCOPE)
    payload = json.loads(sample("github/push"))
    payload["sender"]["login"] = "octocat"
    headers = {"x-github-event": "push", "content-type": "application/json"}
    await store.inbox.write_batch(
        [
            NewDelivery(
                created.hook.id, "github", "d", "push", headers, json.dumps(payload).encode(), 1.0
            )
        ],
        [],
    )
    change = await service.set_template("hook_001", "push", "{{ author }}", SCOPE)
    assert change.preview == "octocat"


async def test_channel_template_applies_to_the_channels_hooks(service: HookService, store: Store):
    """`format github-push …` is stored for the channel and used by the pipeline."""
    await service.create("github", "console", SCOPE)
    await service.set_template("github-push", None, "channel says {{ branch }}", SCOPE)
    assert await store.hooks.channel_templates("1", "10") == {
        ("github", "push"): "channel says {{ branch }}"
    }
    headers = {
        "x-github-event": "push",
        "x-github-delivery": "d1",
        "content-type": "application/json",
    }
    await store.inbox.write_batch(
        [NewDelivery("hook_001", "github", "d1", "push", headers, sample("github/push"), 1.0)], []
    )
    pipeline = Pipeline(store, on_queued=lambda: None, clock=lambda: 2.0)
    (row,) = await store.inbox.pending(10)
    await pipeline.process(row)
    (queued,) = await store.outbox.rows()
    assert json.loads(queued.payload)["content"] == "channel says main"


async def test_format_reset_goes_back_to_the_default(service: HookService, store: Store):
    """`format <ref> reset` removes the hook's templates."""
    await service.create("github", "console", SCOPE)
    await service.set_template("hook_001", "push", "{{ title }}", SCOPE)
    await service.set_template("hook_001", None, None, SCOPE)
    hook = await store.hooks.get("hook_001")
    assert hook is not None
    assert dict(hook.templates) == {}


async def test_events_and_filters_round_trip(service: HookService):
    """events sets the selection; filters are numbered, listed and removed."""
    await service.create("github", "console", SCOPE)
    hook, words = await service.set_events("github", "push,pr,-star", SCOPE)
    assert "push" in words
    assert hook.events
    _, added, applies = await service.add_filter("github", "branch=main", SCOPE)
    assert added.text == "branch=main"
    assert "push" in applies
    await service.add_filter("github", "author!=dependabot[bot]", SCOPE)
    _, counts = await service.filter_counts("github", SCOPE)
    assert [text for text, _, _ in counts] == ["branch=main", "author!=dependabot[bot]"]
    assert await service.remove_filter("github", "1", SCOPE) == "branch=main"
    with pytest.raises(InvalidInputError, match="filter hook_001 list"):
        await service.remove_filter("github", "5", SCOPE)
    assert await service.clear_filters("github", SCOPE) == 1


async def test_unknown_event_pattern_is_refused(service: HookService):
    """A pattern matching no kind is refused."""
    await service.create("github", "console", SCOPE)
    with pytest.raises(InvalidInputError, match="pusj"):
        await service.set_events("github", "pusj", SCOPE)
