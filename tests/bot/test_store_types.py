"""Store: Completion's named parts land in their tables, queue states are enums, one thread."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.store import (
    DEAD,
    DONE,
    IN_FLIGHT,
    READY,
    AlertMisses,
    AlertStateChange,
    Completion,
    FilterCount,
    HookStatus,
    InboxState,
    LogEntry,
    NewDelivery,
    NewHeldEvent,
    NewOutbox,
    OutboxState,
    PRStateChange,
    Store,
    StoreError,
)


async def _hook(store: Store, destination: str = "console"):
    return await store.hooks.create(
        service="github", destination=destination, token="tok", secret="s" * 32, now=1.0
    )


async def _pending(store: Store, hook_id: str, *delivery_ids: str, at: float = 100.0):
    deliveries = [
        NewDelivery(hook_id, "github", d, "push", {"x-github-event": "push"}, b"{}", at)
        for d in delivery_ids
    ]
    await store.inbox.write_batch(deliveries, [])
    return await store.inbox.pending(100)


def _outbox(hook_id: str, nonce: str, dead_reason: str | None = None) -> NewOutbox:
    return NewOutbox(
        "console", '{"content": "hi"}', nonce, hook_id, "d-" + nonce, 100.0, dead_reason
    )


def _raw(store_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(store_path) as conn:
        return conn.execute(sql).fetchall()


# -- Completion's named parts --------------------------------------------------------------


async def test_completion_parts_are_written_where_they_belong(store: Store):
    """Each named part of a Completion shows up through its own repository."""
    hook = await _hook(store)
    (row,) = await _pending(store, hook.id, "d1")
    subject = "github:octo/repo#1"
    await store.inbox.complete(
        [
            Completion(
                row.id,
                [_outbox(hook.id, "n1")],
                [LogEntry(100.0, "queued", hook.id, "d1", "push")],
                hook_status=HookStatus(hook.id, "queued", "template failed"),
                filter_counts=[FilterCount(hook.id, "branch:main", 2, 1)],
                held=[NewHeldEvent(hook.id, 600.0, '{"kind": "push"}', "d1")],
                pr_states=[PRStateChange(hook.id, subject, '{"approved": true}')],
                alert_states=[AlertStateChange(hook.id, "status == 'failure'", subject, True)],
                alert_misses=[AlertMisses(hook.id, 3)],
                at=100.0,
            )
        ]
    )
    updated = await store.hooks.get(hook.id)
    assert updated is not None
    assert (updated.last_delivery_status, updated.last_error) == ("queued", "template failed")
    assert updated.alert_misses == 3
    assert await store.hooks.filter_stats(hook.id) == {"branch:main": (2, 1)}
    assert [(h.hook_id, h.window_end, h.event) for h in await store.windows.due(600.0)] == [
        (hook.id, 600.0, '{"kind": "push"}')
    ]
    assert await store.subjects.pr_state(hook.id, subject) == '{"approved": true}'
    assert await store.subjects.alert_active(hook.id, "status == 'failure'", subject)
    assert not await store.subjects.alert_active(hook.id, "other", subject)
    assert [r.nonce for r in await store.outbox.rows()] == ["n1"]
    assert [e.outcome for e in await store.ledger.recent(hook.id)] == ["queued"]
    assert await store.inbox.pending(10) == []


async def test_completion_counts_add_up_across_a_batch(store: Store):
    """Several completions in one transaction add their counts; an alert turns off again."""
    hook = await _hook(store)
    first, second = await _pending(store, hook.id, "d1", "d2")
    rule, subject = "x", "s"
    await store.inbox.complete(
        [
            Completion(
                first.id,
                filter_counts=[FilterCount(hook.id, "f", 1, 0)],
                alert_states=[AlertStateChange(hook.id, rule, subject, True)],
                alert_misses=[AlertMisses(hook.id, 1)],
            ),
            Completion(
                second.id,
                filter_counts=[FilterCount(hook.id, "f", 0, 2)],
                alert_states=[AlertStateChange(hook.id, rule, subject, False)],
                alert_misses=[AlertMisses(hook.id, 0)],
            ),
        ]
    )
    assert await store.hooks.filter_stats(hook.id) == {"f": (1, 2)}
    assert not await store.subjects.alert_active(hook.id, rule, subject)
    updated = await store.hooks.get(hook.id)
    assert updated is not None
    assert updated.alert_misses == 1


async def test_completion_state_of_a_deleted_hook_is_not_kept(store: Store):
    """A hook deleted while its delivery was worked on leaves no orphan state behind."""
    hook = await _hook(store)
    (row,) = await _pending(store, hook.id, "d1")
    await store.hooks.delete(hook.id)
    await store.inbox.complete(
        [
            Completion(
                row.id,
                filter_counts=[FilterCount(hook.id, "f", 1, 0)],
                held=[NewHeldEvent(hook.id, 600.0, "{}", "d1")],
                pr_states=[PRStateChange(hook.id, "s", "{}")],
                alert_states=[AlertStateChange(hook.id, "r", "s", True)],
                at=100.0,
            )
        ]
    )
    assert await store.hooks.filter_stats(hook.id) == {}
    assert await store.windows.next_due() is None
    assert await store.subjects.pr_state(hook.id, "s") is None
    assert not await store.subjects.alert_active(hook.id, "r", "s")


def test_named_parts_are_frozen_and_compare_by_value():
    """The parts are small frozen values, not bare tuples."""
    for part in (
        HookStatus("hook_001", "queued"),
        FilterCount("hook_001", "f", 1, 0),
        NewHeldEvent("hook_001", 60.0, "{}", "d"),
        PRStateChange("hook_001", "s", "{}"),
        AlertStateChange("hook_001", "r", "s", True),
        AlertMisses("hook_001", 2),
    ):
        assert dataclasses.is_dataclass(part)
        assert part == dataclasses.replace(part)
        field = dataclasses.fields(part)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(part, field, "other")
    assert HookStatus("h", "skipped").error is None


# -- queue states ----------------------------------------------------------------------------


def test_old_state_names_are_the_enum_members():
    """READY, IN_FLIGHT, DONE, DEAD stay importable and are the OutboxState members."""
    assert tuple(OutboxState) == (READY, IN_FLIGHT, DONE, DEAD)
    assert READY is OutboxState.READY
    assert DEAD is OutboxState.DEAD
    assert [s.label for s in OutboxState] == ["ready", "in-flight", "done", "dead"]


async def test_outbox_states_through_a_row_life(store: Store, tmp_path: Path):
    """Ready → in flight → done / dead: rows read back as OutboxState, stored as 0–3."""
    hook = await _hook(store)
    (row,) = await _pending(store, hook.id, "d1")
    await store.inbox.complete(
        [Completion(row.id, [_outbox(hook.id, "a"), _outbox(hook.id, "b"), _outbox(hook.id, "c")])]
    )
    rows = await store.outbox.rows()
    assert [r.status for r in rows] == [READY, READY, READY]
    assert all(type(r.status) is OutboxState for r in rows)
    assert await store.outbox.destinations_ready() == ["console"]
    first = await store.outbox.claim_group("console", 100.0, lambda c: 1)
    assert isinstance(first, list)
    assert [r.status for r in first] == [IN_FLIGHT]
    await store.outbox.mark_done(first, 101.0)
    second = await store.outbox.claim_group("console", 102.0, lambda c: 1)
    assert isinstance(second, list)
    await store.outbox.mark_dead(second, "gone", 103.0)
    assert [r.status for r in await store.outbox.rows()] == [DONE, DEAD, READY]
    assert await store.outbox.counts() == {"ready": 1, "in-flight": 0, "done": 1, "dead": 1}
    raw = _raw(tmp_path / "hookbot.db", "SELECT status FROM outbox ORDER BY id")
    assert raw == [(2,), (3,), (0,)], "the numbers the schema documents (0 ready … 3 dead)"


async def test_a_kept_dead_row_is_never_claimed(store: Store):
    """A row queued with a dead reason (its hook is failing) is stored dead, not ready."""
    hook = await _hook(store)
    (row,) = await _pending(store, hook.id, "d1")
    await store.inbox.complete([Completion(row.id, [_outbox(hook.id, "a", "kept, not sent")])])
    assert [r.status for r in await store.outbox.rows()] == [DEAD]
    assert await store.outbox.destinations_ready() == []
    assert await store.outbox.claim_group("console", 200.0, lambda c: 1) is None


async def test_inbox_states_pending_done_failed(store: Store, tmp_path: Path):
    """Pending rows are claimed; done and set-aside ones are not, and only they are pruned."""
    hook = await _hook(store)
    done, failed, pending = await _pending(store, hook.id, "d1", "d2", "d3", at=10.0)
    await store.inbox.complete([Completion(done.id)])
    await store.inbox.set_aside(failed, "crashed 3 times", 20.0)
    assert [r.delivery_id for r in await store.inbox.pending(10)] == ["d3"]
    raw = _raw(tmp_path / "hookbot.db", "SELECT delivery_id, status FROM inbox ORDER BY id")
    assert raw == [("d1", InboxState.DONE), ("d2", InboxState.FAILED), ("d3", InboxState.PENDING)]
    await store.prune(older_than=500.0, keep_dedupe_after=500.0)
    assert [r.delivery_id for r in await store.inbox.pending(10)] == [pending.delivery_id]
    assert await store.inbox.count() == 1
    hook_now = await store.hooks.get(hook.id)
    assert hook_now is not None
    assert (hook_now.last_delivery_status, hook_now.last_error) == ("failed", "crashed 3 times")


async def test_prune_keeps_ready_rows_and_removes_finished_ones(store: Store):
    """Old done and dead rows go; old ready and in-flight rows stay (they are not sent yet)."""
    hook = await _hook(store)
    (row,) = await _pending(store, hook.id, "d1")
    await store.inbox.complete(
        [Completion(row.id, [_outbox(hook.id, n) for n in "abcd"])]  # created at 100
    )
    done = await store.outbox.claim_group("console", 100.0, lambda c: 1)
    assert isinstance(done, list)
    await store.outbox.mark_done(done, 100.0)
    dead = await store.outbox.claim_group("console", 100.0, lambda c: 1)
    assert isinstance(dead, list)
    await store.outbox.mark_dead(dead, "gone", 100.0)
    assert await store.outbox.claim_group("console", 100.0, lambda c: 1) is not None
    await store.prune(older_than=1000.0, keep_dedupe_after=0.0)
    assert [(r.nonce, r.status) for r in await store.outbox.rows()] == [
        ("c", IN_FLIGHT),
        ("d", READY),
    ]


async def test_fail_and_restore_go_through_the_hook_repository(store: Store):
    """hooks.fail_destination / hooks.restore keep working (one transaction in the outbox)."""
    hook = await _hook(store, destination="webhook:https://discord.com/api/webhooks/1/secret")
    (row,) = await _pending(store, hook.id, "d1")
    await store.inbox.complete(
        [
            Completion(
                row.id, [dataclasses.replace(_outbox(hook.id, "a"), destination=hook.destination)]
            )
        ]
    )
    assert await store.hooks.fail_destination(hook.destination, "HTTP 404", 5.0) == 1
    assert await store.hooks.restore("hook_999", 6.0) == 0
    assert await store.hooks.restore(hook.id, 6.0) == 1
    restored = await store.hooks.get(hook.id)
    assert restored is not None
    assert (restored.enabled, restored.failing) == (True, None)
    assert [(r.status, r.attempts, r.not_before) for r in await store.outbox.rows()] == [
        (READY, 0, 6.0)
    ]


# -- the database thread ---------------------------------------------------------------------


async def test_every_transaction_runs_on_one_thread_of_its_own(store: Store):
    """`run` hops to the store's own thread (not the loop's), the same one every time."""

    def where(conn: sqlite3.Connection) -> int:
        conn.execute("SELECT 1").fetchone()
        return threading.get_ident()

    idents = set(await asyncio.gather(*(store.run(where) for _ in range(20))))
    assert len(idents) == 1
    assert idents != {threading.get_ident()}


async def test_concurrent_transactions_do_not_interleave(store: Store):
    """Many writers at once: each transaction is whole (no 'within a transaction' errors)."""
    hook = await _hook(store)

    async def deliver(n: int) -> list[bool]:
        return await store.inbox.write_batch(
            [NewDelivery(hook.id, "github", f"d{n}", "push", {}, b"{}", float(n))], []
        )

    results = await asyncio.gather(*(deliver(n) for n in range(200)))
    assert results == [[True]] * 200
    counted = await store.hooks.get(hook.id)
    assert counted is not None
    assert counted.accepted == 200


async def test_a_closed_store_raises_store_error(tmp_path: Path):
    """After close, every call is a StoreError (the health check says so); close twice is fine."""
    store = await Store.open(str(tmp_path / "db.sqlite"))
    await store.close()
    await store.close()
    with pytest.raises(StoreError):
        await store.ping()
    with pytest.raises(StoreError):
        await store.hooks.find_all()


async def test_sql_errors_become_store_errors(store: Store):
    """A failing statement is a StoreError, and the store keeps working after it."""
    with pytest.raises(StoreError, match="no such table"):
        await store.run(lambda conn: conn.execute("SELECT * FROM nowhere").fetchall())
    await store.ping()


async def test_a_file_that_cannot_be_opened_raises_sqlite_error(tmp_path: Path):
    """The CLI tells a path it cannot open from a database error by sqlite3.Error."""
    with pytest.raises(sqlite3.Error):
        await Store.open(str(tmp_path / "missing" / "db.sqlite"))


async def test_stores_open_in_separate_event_loops(tmp_path: Path):
    """The CLI opens the store once per asyncio.run: nothing is tied to one loop."""
    path = str(tmp_path / "db.sqlite")

    async def count_hooks(create: bool) -> int:
        store = await Store.open(path)
        try:
            if create:
                await _hook(store)
            return len(await store.hooks.find_all())
        finally:
            await store.close()

    assert await asyncio.to_thread(asyncio.run, count_hooks(True)) == 1
    assert await asyncio.to_thread(asyncio.run, count_hooks(False)) == 1


# -- per-hook options ------------------------------------------------------------------------


async def test_hook_options_are_stored_and_updated(store: Store):
    """A hook's service options (JSON) are kept with it and can be changed."""
    plain = await _hook(store)
    assert plain.options == {}
    hook = await store.hooks.create(
        service="custom",
        destination="console",
        token="tok-2",
        secret="s" * 32,
        now=1.0,
        options={"signed": True, "title": "$.name"},
    )
    assert hook.options == {"signed": True, "title": "$.name"}
    assert await store.hooks.update(hook.id, 2.0, options={"signed": False})
    updated = await store.hooks.get(hook.id)
    assert updated is not None
    assert updated.options == {"signed": False}


async def test_close_ends_the_database_thread(tmp_path: Path):
    """Closing the store ends its thread (after what was already asked of it)."""

    def ours() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name == "hookbot-sqlite"}

    before = ours()
    store = await Store.open(str(tmp_path / "db.sqlite"))
    (thread,) = ours() - before
    pending = asyncio.ensure_future(store.hooks.find_all())
    await asyncio.sleep(0)  # its transaction is queued
    await store.close()
    assert await pending == []
    thread.join(timeout=5)
    assert not thread.is_alive()
