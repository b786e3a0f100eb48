"""Store: migrations, PRAGMAs, hooks, inbox dedupe, outbox state machine, pruning."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.store import (
    DEAD,
    DONE,
    READY,
    Completion,
    HookStatus,
    LogEntry,
    NewDelivery,
    NewOutbox,
    Rejection,
    Store,
)


async def _hook(store: Store, destination: str = "console", now: float = 100.0):
    return await store.hooks.create(
        service="github", destination=destination, token=f"tok-{now}", secret="s" * 32, now=now
    )


def ONE(candidates):  # noqa: N802 - reads as a constant chooser
    return 1


def ALL(candidates):  # noqa: N802
    return len(candidates)


def _delivery(hook_id: str, delivery_id: str, at: float = 100.0) -> NewDelivery:
    return NewDelivery(
        hook_id, "github", delivery_id, "push", {"x-github-event": "push"}, b"{}", at
    )


def _outbox(hook_id: str, nonce: str, destination: str = "console", at: float = 100.0):
    return NewOutbox(destination, '{"content": "hi"}', nonce, hook_id, "d-" + nonce, at)


async def test_store_open_sets_wal_and_full_sync(store: Store):
    """The database runs in WAL mode with synchronous=FULL."""
    assert await store.pragmas() == {"journal_mode": "wal", "synchronous": "FULL"}


async def test_store_migrate_twice_keeps_version(tmp_path: Path):
    """Opening a migrated database again applies nothing twice."""
    path = str(tmp_path / "db.sqlite")
    first = await Store.open(path)
    await _hook(first)
    await first.close()
    second = await Store.open(path)
    assert len(await second.hooks.find_all()) == 1
    await second.close()
    with sqlite3.connect(path) as conn:
        files = sorted((Path(__file__).parents[2] / "bot" / "store" / "migrations").glob("*.sql"))
        assert conn.execute("PRAGMA user_version").fetchone()[0] == int(files[-1].name[:4])


async def test_hooks_ids_are_never_reused_after_delete(store: Store):
    """hook_001 deleted → the next hook is hook_002, not hook_001 again."""
    first = await _hook(store, now=1.0)
    assert first.id == "hook_001"
    await store.hooks.delete(first.id)
    second = await _hook(store, now=2.0)
    assert second.id == "hook_002"


async def test_inbox_redelivery_is_a_no_op(store: Store):
    """The same delivery id twice stores one row and counts one acceptance."""
    hook = await _hook(store)
    assert await store.inbox.write_batch([_delivery(hook.id, "d1")], []) == [True]
    assert await store.inbox.write_batch([_delivery(hook.id, "d1")], []) == [False]
    assert await store.inbox.count() == 1
    refreshed = await store.hooks.get(hook.id)
    assert refreshed is not None
    assert refreshed.accepted == 1


async def test_inbox_rejections_count_by_reason(store: Store):
    """Rejections are counted on the hook per reason, with the last reason kept."""
    hook = await _hook(store)
    await store.inbox.write_batch(
        [], [Rejection(hook.id, "bad signature", 1.0), Rejection(hook.id, "bad signature", 2.0)]
    )
    await store.inbox.write_batch([], [Rejection(hook.id, "too large", 3.0)])
    refreshed = await store.hooks.get(hook.id)
    assert refreshed is not None
    assert refreshed.rejected == 3
    assert refreshed.rejections == {"bad signature": 2, "too large": 1}
    assert refreshed.last_rejection == "too large"
    assert await store.inbox.count() == 0


async def test_inbox_complete_queues_outbox_and_marks_done(store: Store):
    """Completing a delivery writes its outbox rows and takes it off the pending list."""
    hook = await _hook(store)
    await store.inbox.write_batch([_delivery(hook.id, "d1")], [])
    (row,) = await store.inbox.pending(10)
    await store.inbox.complete(
        [
            Completion(
                row.id, [_outbox(hook.id, "n1")], [LogEntry(1.0, "queued", hook.id, "d1")], None
            )
        ]
    )
    assert await store.inbox.pending(10) == []
    assert [r.nonce for r in await store.outbox.rows()] == ["n1"]


async def test_outbox_claim_waits_for_backoff_and_keeps_order(store: Store):
    """A rescheduled head row blocks later rows of its destination until its time."""
    hook = await _hook(store)
    await store.inbox.write_batch([_delivery(hook.id, "d1")], [])
    (row,) = await store.inbox.pending(10)
    await store.inbox.complete(
        [Completion(row.id, [_outbox(hook.id, "a"), _outbox(hook.id, "b")], [], None)]
    )
    first = await store.outbox.claim_group("console", 100.0, ONE)
    assert isinstance(first, list)
    assert [(r.nonce, r.attempts) for r in first] == [("a", 1)]
    await store.outbox.reschedule(first, 150.0, "429", 100.0)
    assert await store.outbox.claim_group("console", 120.0, ONE) == 150.0
    again = await store.outbox.claim_group("console", 151.0, ALL)
    assert isinstance(again, list)
    assert [(r.nonce, r.attempts) for r in again] == [("a", 2)], "a formed group stays as it was"
    await store.outbox.mark_done(again, 151.0)
    third = await store.outbox.claim_group("console", 152.0, ONE)
    assert isinstance(third, list)
    assert [r.nonce for r in third] == ["b"]


async def test_outbox_group_is_claimed_whole_after_a_crash(store: Store):
    """Rows grouped before a crash are recovered and claimed as the same group."""
    hook = await _hook(store)
    await store.inbox.write_batch([_delivery(hook.id, "d1")], [])
    (row,) = await store.inbox.pending(10)
    rows = [_outbox(hook.id, n) for n in "abcd"]
    await store.inbox.complete([Completion(row.id, rows, [], None)])
    group = await store.outbox.claim_group("console", 100.0, lambda c: 3)
    assert isinstance(group, list)
    assert [r.nonce for r in group] == ["a", "b", "c"]
    assert await store.outbox.recover_in_flight() == 3
    again = await store.outbox.claim_group("console", 101.0, ALL)
    assert isinstance(again, list)
    assert [r.nonce for r in again] == ["a", "b", "c"]
    assert {r.group_id for r in again} == {group[0].id}


async def test_outbox_recover_in_flight_makes_rows_ready(store: Store):
    """Rows claimed when the process died are ready again after recovery."""
    hook = await _hook(store)
    await store.inbox.write_batch([_delivery(hook.id, "d1")], [])
    (row,) = await store.inbox.pending(10)
    await store.inbox.complete([Completion(row.id, [_outbox(hook.id, "a")], [], None)])
    claimed = await store.outbox.claim_group("console", 100.0, ONE)
    assert claimed is not None
    assert await store.outbox.claim_group("console", 100.0, ONE) is None
    assert await store.outbox.recover_in_flight() == 1
    assert [r.status for r in await store.outbox.rows()] == [READY]


async def test_fail_destination_then_restore_requeues(store: Store):
    """A failing destination kills its ready rows; restore re-queues them."""
    hook = await _hook(store, destination="webhook:http://x/webhooks/1/t")
    await store.inbox.write_batch([_delivery(hook.id, "d1")], [])
    (row,) = await store.inbox.pending(10)
    await store.inbox.complete(
        [
            Completion(
                row.id,
                [_outbox(hook.id, "a", hook.destination), _outbox(hook.id, "b", hook.destination)],
                [],
                None,
            )
        ]
    )
    assert await store.hooks.fail_destination(hook.destination, "HTTP 404", 1.0) == 2
    failing = await store.hooks.get(hook.id)
    assert failing is not None
    assert failing.failing == "HTTP 404"
    assert [r.status for r in await store.outbox.rows()] == [DEAD, DEAD]
    assert await store.hooks.restore(hook.id, 2.0) == 2
    restored = await store.hooks.get(hook.id)
    assert restored is not None
    assert restored.failing is None
    assert [r.status for r in await store.outbox.rows()] == [READY, READY]


async def test_prune_removes_old_rows_in_batches(store: Store):
    """Pruning deletes done rows and ledger lines older than the cut-off, keeps newer ones."""
    hook = await _hook(store)
    old = [_delivery(hook.id, f"old{i}", at=10.0) for i in range(1200)]
    await store.inbox.write_batch([*old, _delivery(hook.id, "new", at=1000.0)], [])
    for row in await store.inbox.pending(2000):
        await store.inbox.complete(
            [Completion(row.id, [], [LogEntry(row.received_at, "queued")], None)]
        )
    pruned = await store.prune(older_than=500.0, keep_dedupe_after=500.0)
    assert pruned == 2400
    assert await store.inbox.count() == 1
    assert [e.at for e in await store.log.recent()] == [1000.0]


async def test_prune_keeps_dedupe_ids_for_the_dedupe_window(store: Store):
    """Inbox ids younger than the dedupe window survive a shorter retention."""
    hook = await _hook(store)
    await store.inbox.write_batch([_delivery(hook.id, "d1", at=100.0)], [])
    for row in await store.inbox.pending(10):
        await store.inbox.complete([Completion(row.id, [], [], None)])
    await store.prune(older_than=200.0, keep_dedupe_after=50.0)
    assert await store.inbox.count() == 1


@pytest.mark.parametrize("status", [DONE, DEAD])
async def test_outbox_finished_rows_are_not_claimed(store: Store, status: int):
    """Done and dead rows are never claimed again."""
    hook = await _hook(store)
    await store.inbox.write_batch([_delivery(hook.id, "d1")], [])
    (row,) = await store.inbox.pending(10)
    await store.inbox.complete([Completion(row.id, [_outbox(hook.id, "a")], [], None)])
    claimed = await store.outbox.claim_group("console", 100.0, ONE)
    assert isinstance(claimed, list)
    if status == DONE:
        await store.outbox.mark_done(claimed, 101.0)
    else:
        await store.outbox.mark_dead(claimed, "gone", 101.0)
    assert await store.outbox.claim_group("console", 200.0, ONE) is None


async def test_pending_stops_once_the_bodies_pass_the_byte_bound(store: Store):
    """A run of large deliveries is read a few at a time; a lone huge one still comes."""
    hook = await _hook(store)
    big = b"x" * 1000
    await store.inbox.write_batch(
        [NewDelivery(hook.id, "github", f"d{n}", "push", {}, big, 100.0 + n) for n in range(10)],
        [],
    )
    assert [r.delivery_id for r in await store.inbox.pending(10, max_bytes=2500)] == [
        "d0",
        "d1",
        "d2",
    ]
    assert len(await store.inbox.pending(10, max_bytes=10)) == 1
    assert len(await store.inbox.pending(4)) == 4


async def test_a_completed_batch_keeps_each_hooks_last_status_and_last_error(store: Store):
    """Per hook: the last status wins; an error stays until a later error replaces it."""
    first, second = await _hook(store, now=1.0), await _hook(store, now=2.0)
    await store.inbox.write_batch(
        [_delivery(first.id, f"a{n}") for n in range(3)] + [_delivery(second.id, "b0")], []
    )
    rows = await store.inbox.pending(10)
    statuses = [
        HookStatus(first.id, "error", "payload error: x"),
        HookStatus(first.id, "queued", None),
        HookStatus(second.id, "error", "parser error: y"),
        HookStatus(first.id, "dropped", None),
    ]
    await store.inbox.complete(
        [Completion(row.id, hook_status=status) for row, status in zip(rows, statuses, strict=True)]
    )
    one, two = await store.hooks.get(first.id), await store.hooks.get(second.id)
    assert one is not None
    assert two is not None
    assert (one.last_delivery_status, one.last_error) == ("dropped", "payload error: x")
    assert (two.last_delivery_status, two.last_error) == ("error", "parser error: y")
    assert await store.inbox.pending(10) == []
