"""The ledger: one table for both directions, `out` lines per attempt, --failed and pages."""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path

import pytest

from bot.store import (
    DONE,
    AttemptResult,
    Completion,
    Direction,
    LogEntry,
    NewDelivery,
    NewOutbox,
    OutboxRow,
    Rejection,
    Store,
)

WEBHOOK = "webhook:https://discord.com/api/webhooks/123/SeCrEtToKeN"
REDACTED = "webhook:https://discord.com/api/webhooks/123/***"


async def _claimed(store: Store, nonces: str = "a", destination: str = WEBHOOK) -> list[OutboxRow]:
    """A hook posting to `destination` with one group of rows claimed (attempt 1)."""
    hook = await store.hooks.create(
        service="github", destination=destination, token="tok", secret="s" * 32, now=1.0
    )
    delivery = NewDelivery(hook.id, "github", "d1", "push", {}, b"{}", 100.0)
    await store.inbox.write_batch([delivery], [])
    (row,) = await store.inbox.pending(10)
    queued = [NewOutbox(destination, '{"content": "hi"}', n, hook.id, "d1", 100.0) for n in nonces]
    await store.inbox.complete([Completion(row.id, queued)])
    claimed = await store.outbox.claim_group(destination, 100.0, len)
    assert isinstance(claimed, list)
    return claimed


def _out(entries: list[LogEntry]) -> list[LogEntry]:
    return [e for e in entries if e.direction == Direction.OUT]


async def test_an_attempt_out_is_recorded_with_its_figures(store: Store):
    """A retry then a success: two `out` lines with status, time, try number, redacted URL."""
    rows = await _claimed(store)
    await store.outbox.reschedule(
        rows, 130.0, "HTTP 503", 101.0, result=AttemptResult(503, 812.5, "HTTP 503: busy")
    )
    again = await store.outbox.claim_group(WEBHOOK, 131.0, len)
    assert isinstance(again, list)
    await store.outbox.mark_done(again, 132.0, "message 42", result=AttemptResult(200, 95.0))
    retry, sent = _out(await store.ledger.recent(rows[0].hook_id))
    assert (retry.outcome, retry.status_code, retry.response_ms, retry.attempt, retry.error) == (
        "retry",
        503,
        812.5,
        1,
        "HTTP 503: busy",
    )
    assert (sent.outcome, sent.status_code, sent.response_ms, sent.attempt, sent.error) == (
        "sent",
        200,
        95.0,
        2,
        None,
    )
    assert {retry.destination, sent.destination} == {REDACTED}
    assert (sent.delivery_id, sent.detail, sent.at) == ("d1", "message 42", 132.0)
    assert retry.failed
    assert not sent.failed


async def test_no_token_reaches_the_ledger(store: Store, tmp_path: Path):
    """Destination, error and detail of `out` lines are stored redacted."""
    rows = await _claimed(store)
    await store.outbox.mark_dead(
        rows,
        f"destination failed: 404 at {WEBHOOK.removeprefix('webhook:')}",
        101.0,
        result=AttemptResult(404, 20.0),
    )
    with sqlite3.connect(tmp_path / "hookbot.db") as conn:
        stored = repr(conn.execute("SELECT * FROM ledger").fetchall())
    conn.close()
    assert "SeCrEtToKeN" not in stored
    assert "webhooks/123/***" in stored
    (dead,) = _out(await store.ledger.recent())
    assert dead.destination == REDACTED
    assert dead.error is not None
    assert "SeCrEtToKeN" not in dead.error
    assert "SeCrEtToKeN" not in (dead.detail or "")
    assert dead.status_code == 404


async def test_callers_without_figures_still_get_out_lines(store: Store):
    """Today's worker passes no AttemptResult: the line has the try, the destination, the error."""
    rows = await _claimed(store, destination="discord:channel:42")
    await store.outbox.reschedule(rows, 130.0, "429 rate limited", 101.0)
    (line,) = _out(await store.ledger.recent())
    assert (line.destination, line.attempt, line.error, line.status_code) == (
        "discord:channel:42",
        1,
        "429 rate limited",
        None,
    )
    assert line.detail == "429 rate limited"


async def test_one_result_per_row_or_one_for_the_group(store: Store):
    """A group post takes one result for all its rows, or one per row; a wrong count is refused."""
    rows = await _claimed(store, "abc")
    with pytest.raises(ValueError, match="2 attempt results for 3 rows"):
        await store.outbox.mark_done(rows, 101.0, result=[AttemptResult(200)] * 2)
    per_row = [AttemptResult(200, float(n)) for n in range(3)]
    await store.outbox.mark_done(rows, 101.0, result=per_row)
    lines = _out(await store.ledger.recent())
    assert [(e.status_code, e.response_ms) for e in lines] == [(200, 0.0), (200, 1.0), (200, 2.0)]
    assert [r.status for r in await store.outbox.rows()] == [DONE] * 3


async def test_deliveries_in_are_in_lines(store: Store):
    """Rejections and pipeline lines go in as `in`, with no out figures."""
    hook = await store.hooks.create(
        service="github", destination="console", token="tok", secret="s" * 32, now=1.0
    )
    await store.inbox.write_batch([], [Rejection(hook.id, "bad signature", 5.0)])
    (line,) = await store.ledger.recent(hook.id)
    assert (line.direction, line.outcome, line.detail) == (
        Direction.IN,
        "rejected",
        "bad signature",
    )
    assert (line.destination, line.status_code, line.attempt) == (None, None, None)
    assert line.failed


async def test_failed_only_and_pages(store: Store):
    """`logs --failed --page n`: failures only, newest page first, each page oldest first."""
    outcomes = ["queued", "rejected", "dropped", "error", "sent", "dead", "ignored", "failed"]
    entries = [
        LogEntry(float(n), outcomes[n % len(outcomes)], "hook_001", f"d{n}") for n in range(40)
    ]
    entries.append(LogEntry(99.0, "sent", "hook_001", "d99", error="late error"))
    entries.append(LogEntry(100.0, "error", "hook_002", "other"))
    await store.ledger.add(entries)

    page1 = await store.ledger.recent("hook_001", limit=10)
    assert [e.delivery_id for e in page1] == ["d31", *(f"d{n}" for n in range(32, 40)), "d99"]
    page2 = await store.ledger.recent("hook_001", limit=10, page=2)
    assert [e.delivery_id for e in page2] == [f"d{n}" for n in range(21, 31)]
    assert await store.ledger.recent("hook_001", limit=10, page=6) == []

    failed = await store.ledger.recent("hook_001", limit=100, failed_only=True)
    expected = [e for e in entries if e.hook_id == "hook_001" and e.failed]
    assert [e.delivery_id for e in failed] == [e.delivery_id for e in expected]
    assert {e.outcome for e in failed} == {"rejected", "error", "dead", "failed", "sent"}
    newest_failed = await store.ledger.recent("hook_001", limit=3, failed_only=True)
    assert [e.delivery_id for e in newest_failed] == [e.delivery_id for e in expected[-3:]]
    older_failed = await store.ledger.recent("hook_001", 3, True, 2)
    assert [e.delivery_id for e in older_failed] == [e.delivery_id for e in expected[-6:-3]]
    everyone = await store.ledger.recent(limit=2, failed_only=True)
    assert [e.delivery_id for e in everyone] == ["d99", "other"]


async def test_recent_of_several_hooks(store: Store):
    """A guild's ledger: the lines of its hooks, paged as one; no hooks, no lines."""
    await store.ledger.add(
        [LogEntry(float(n), "queued", f"hook_00{n % 3}", f"d{n}") for n in range(9)]
    )
    lines = await store.ledger.recent(["hook_001", "hook_002"], limit=4)
    assert [e.delivery_id for e in lines] == ["d4", "d5", "d7", "d8"]
    assert await store.ledger.recent([], limit=4) == []


async def test_recent_refuses_a_page_before_the_first(store: Store):
    """Pages and limits start at 1."""
    with pytest.raises(ValueError, match="start at 1"):
        await store.ledger.recent(page=0)
    with pytest.raises(ValueError, match="start at 1"):
        await store.ledger.recent(limit=0)


async def test_store_log_and_ledger_are_one(store: Store):
    """Lines added through `store.log` are read through `store.ledger`."""
    assert store.log is store.ledger
    await store.log.add([LogEntry(1.0, "deleted", "hook_001")])
    assert [e.outcome for e in await store.ledger.recent()] == ["deleted"]


async def test_a_version_6_ledger_is_carried_over(tmp_path: Path):
    """Lines written before the ledger had directions keep their columns; sends become `out`."""
    path = tmp_path / "old.db"
    folder = resources.files("bot.store") / "migrations"
    with sqlite3.connect(path) as conn:
        for number in range(1, 7):
            (script,) = [e for e in folder.iterdir() if e.name.startswith(f"{number:04d}_")]
            conn.executescript(script.read_text("utf-8"))
        conn.execute("PRAGMA user_version = 6")
        conn.executemany(
            "INSERT INTO delivery_log (at, hook_id, delivery_id, kind, outcome, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (1.0, "hook_001", "d1", "push", "queued", "Push to main"),
                (2.0, "hook_001", "d1", None, "retry", "HTTP 502"),
                (3.0, "hook_001", "d1", None, "sent", "m-1"),
            ],
        )
    conn.close()
    store = await Store.open(str(path))
    try:
        queued, retry, sent = await store.ledger.recent("hook_001")
        assert (queued.direction, queued.kind, queued.detail) == (
            Direction.IN,
            "push",
            "Push to main",
        )
        assert (retry.direction, retry.error, retry.detail) == (
            Direction.OUT,
            "HTTP 502",
            "HTTP 502",
        )
        assert (sent.direction, sent.error, sent.detail) == (Direction.OUT, None, "m-1")
        assert [e.delivery_id for e in await store.ledger.recent(failed_only=True)] == ["d1"]
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        plan = " ".join(
            str(r[3])
            for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM ledger WHERE hook_id = ?"
                " ORDER BY id DESC LIMIT 5",
                ("hook_001",),
            )
        )
    conn.close()
    assert "ledger" in tables
    assert "delivery_log" not in tables
    assert "TEMP B-TREE" not in plan
