"""Pipeline: parse → render → outbox in one transaction; errors are logged, never fatal."""

from __future__ import annotations

import json

from bot.delivery.outbox import make_nonce
from bot.pipeline import Pipeline
from bot.store import DEAD, READY, NewDelivery, Store
from tests.conftest import sample


async def _deliver(
    store: Store, body: bytes, event: str = "push", delivery: str = "d1", **hook_changes
):
    hook = await store.hooks.create(
        service="github", destination="console", token="t", secret="s", now=1.0
    )
    if hook_changes:
        await store.hooks.update(hook.id, 2.0, **hook_changes)
    headers = {
        "x-github-event": event,
        "x-github-delivery": delivery,
        "content-type": "application/json",
    }
    await store.inbox.write_batch(
        [NewDelivery(hook.id, "github", delivery, event, headers, body, 3.0)], []
    )
    pipeline = Pipeline(store, on_queued=lambda: None, clock=lambda: 10.0)
    (row,) = await store.inbox.pending(10)
    await pipeline.process(row)
    assert await store.inbox.pending(10) == [], "the delivery is done whatever happened"
    return hook.id


def test_nonce_is_stable_and_short():
    """The same row always gets the same nonce, at most 25 characters; parts differ."""
    assert make_nonce("hook_001", "abc", 0) == make_nonce("hook_001", "abc", 0)
    assert make_nonce("hook_001", "abc", 0) != make_nonce("hook_001", "abc", 1)
    assert len(make_nonce("hook_001", "abc" * 100, 9)) <= 25


async def test_pipeline_push_queues_one_message(store: Store):
    """A push becomes one ready outbox row with the stable nonce and a ledger line."""
    hook_id = await _deliver(store, sample("github/push"))
    (row,) = await store.outbox.rows()
    assert row.status == READY
    assert row.nonce == make_nonce(hook_id, "d1", 0)
    assert "Fix encryption bug" in row.payload
    assert [e.outcome for e in await store.log.recent(hook_id)] == ["queued"]


async def test_pipeline_unknown_event_is_ignored_and_logged(store: Store):
    """An unknown kind is recorded as ignored; nothing is queued."""
    hook_id = await _deliver(store, b"{}", event="not_a_github_event")
    assert await store.outbox.rows() == []
    (entry,) = await store.log.recent(hook_id)
    assert entry.outcome == "ignored"


async def test_pipeline_missing_key_is_logged_with_its_path(store: Store):
    """A push missing its repository is an error naming the path, recorded on the hook."""
    payload = json.loads(sample("github/push"))
    del payload["repository"]
    hook_id = await _deliver(store, json.dumps(payload).encode())
    assert await store.outbox.rows() == []
    (entry,) = await store.log.recent(hook_id)
    assert entry.outcome == "error"
    assert "repository" in (entry.detail or "")
    hook = await store.hooks.get(hook_id)
    assert hook is not None
    assert "repository" in (hook.last_error or "")


async def test_pipeline_disabled_hook_records_but_does_not_post(store: Store):
    """A hook that is off keeps the delivery and logs it as skipped."""
    hook_id = await _deliver(store, sample("github/push"), enabled=False)
    assert await store.outbox.rows() == []
    assert [e.outcome for e in await store.log.recent(hook_id)] == ["skipped"]


async def test_pipeline_failing_destination_keeps_rows_dead(store: Store):
    """While a destination is failing, new messages are kept dead with the reason."""
    await _deliver(store, sample("github/push"), failing="HTTP 404")
    (row,) = await store.outbox.rows()
    assert row.status == DEAD


async def test_pipeline_user_template_renders_content(store: Store):
    """A hook template for the kind renders the message content."""
    await _deliver(
        store, sample("github/push"), templates={"push": "{{ author }} pushed {{ commit_count }}"}
    )
    (row,) = await store.outbox.rows()
    assert json.loads(row.payload)["content"] == "mona pushed 3"


async def test_pipeline_broken_template_falls_back_to_default(store: Store):
    """A template failing at send time falls back to the default; the error shows on the hook."""
    hook_id = await _deliver(store, sample("github/push"), templates={"push": "{{ nope.missing }}"})
    (row,) = await store.outbox.rows()
    assert "Fix encryption bug" in row.payload
    hook = await store.hooks.get(hook_id)
    assert hook is not None
    assert "template" in (hook.last_error or "")


async def test_pipeline_ping_warns_about_events_github_will_not_send(store: Store):
    """A ping whose webhook sends only push and pull_request warns about the rest."""
    await _deliver(store, sample("github/ping"), event="ping")
    (row,) = await store.outbox.rows()
    message = json.loads(row.payload)
    text = json.dumps(message, ensure_ascii=False)
    assert "Connected: octo-org/Hello-World" in text
    assert "will not send" in text
    assert "issues" in text
    assert "workflow" in text


async def test_pipeline_ping_with_every_event_has_no_warning(store: Store):
    """A webhook sending every event (`*`) gets no warning."""
    payload = json.loads(sample("github/ping"))
    payload["hook"]["events"] = ["*"]
    await _deliver(store, json.dumps(payload).encode(), event="ping")
    (row,) = await store.outbox.rows()
    assert "will not send" not in row.payload


async def test_pipeline_ping_warning_follows_selection_and_alert_rules(store: Store):
    """The ping warning names what the selection and the alert rules need."""
    rule = {"expression": "pr.reviews >= 2", "mention_role": None}
    await _deliver(store, sample("github/ping"), event="ping", events=["push"], alerts=[rule])
    (row,) = await store.outbox.rows()
    warning = json.loads(row.payload)["embeds"][0]["description"].replace("\\", "")
    assert "will not send:** pull_request_review." in warning, "the rule reads reviews"
    assert "issues" not in warning, "issues are not selected"
