"""The inbox: deliveries committed before the 2xx, claimed by the pipeline, completed.

Table: inbox. `complete` is the pipeline's one transaction per batch: the inbox rows
are marked done in the same transaction that queues their messages, writes their
ledger lines and the state they changed (each table's statements come from its own
repository module).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from bot.store import hooks, ledger, outbox, subjects, windows
from bot.store.base import Repository, placeholders, transaction
from bot.store.types import (
    Completion,
    HookStatus,
    InboxRow,
    InboxState,
    LogEntry,
    NewDelivery,
    Rejection,
)

# What one read of pending deliveries may hold in bodies (bytes).
PENDING_BYTES = 8 * 1024 * 1024


def inbox_from_row(row: sqlite3.Row) -> InboxRow:
    """Return a stored delivery as read."""
    return InboxRow(
        id=row["id"],
        hook_id=row["hook_id"],
        service=row["service"],
        delivery_id=row["delivery_id"],
        event_name=row["event_name"],
        headers=json.loads(row["headers"]),
        body=bytes(row["body"]),
        received_at=row["received_at"],
        attempts=row["attempts"],
    )


def prune(conn: sqlite3.Connection, older_than: float, limit: int) -> int:
    """Delete up to `limit` finished deliveries received before `older_than`."""
    return conn.execute(
        "DELETE FROM inbox WHERE id IN (SELECT id FROM inbox WHERE status != ?"
        " AND received_at < ? LIMIT ?)",
        (InboxState.PENDING, older_than, limit),
    ).rowcount


class InboxRepo(Repository):
    """Deliveries: group-committed writes, claims by the pipeline, completion."""

    async def write_batch(
        self, deliveries: Sequence[NewDelivery], rejections: Sequence[Rejection]
    ) -> list[bool]:
        """Commit deliveries and rejection counts in one transaction.

        Returns, per delivery, True when it was new and False for a redelivery.
        """

        def write(conn: sqlite3.Connection) -> list[bool]:
            inserted = []
            with transaction(conn):
                accepted: dict[str, tuple[int, float]] = {}
                for d in deliveries:
                    cursor = conn.execute(
                        "INSERT INTO inbox (hook_id, service, delivery_id, event_name, headers,"
                        " body, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT (hook_id, delivery_id) DO NOTHING",
                        (
                            d.hook_id,
                            d.service,
                            d.delivery_id,
                            d.event_name,
                            json.dumps(dict(d.headers)),
                            d.body,
                            d.received_at,
                        ),
                    )
                    is_new = cursor.rowcount == 1
                    inserted.append(is_new)
                    if is_new:
                        count, _ = accepted.get(d.hook_id, (0, 0.0))
                        accepted[d.hook_id] = (count + 1, d.received_at)
                hooks.count_accepted(conn, accepted)
                hooks.count_rejections(conn, rejections)
                ledger.insert(
                    conn,
                    [
                        LogEntry(r.at, "rejected", r.hook_id, None, None, r.reason)
                        for r in rejections
                    ],
                )
            return inserted

        return await self._store.run(write)

    async def pending(self, limit: int, max_bytes: int = PENDING_BYTES) -> list[InboxRow]:
        """Return up to `limit` deliveries the pipeline has not finished, oldest first.

        Rows stop once their bodies pass `max_bytes` together (the first row always
        comes), so a run of large pushes is not all held in memory at once.
        """

        def select(conn: sqlite3.Connection) -> list[InboxRow]:
            cursor = conn.execute(
                "SELECT * FROM inbox WHERE status = ? ORDER BY id LIMIT ?",
                (InboxState.PENDING, limit),
            )
            found: list[InboxRow] = []
            size = 0
            for r in cursor:
                found.append(inbox_from_row(r))
                size += len(found[-1].body)
                if size >= max_bytes:
                    break
            return found

        return await self._store.run(select)

    async def count_attempt(self, inbox_ids: Sequence[int]) -> None:
        """Record that the pipeline starts on these deliveries (before it does)."""

        def count(conn: sqlite3.Connection) -> None:
            with transaction(conn, durable=False):
                conn.execute(
                    "UPDATE inbox SET attempts = attempts + 1"  # noqa: S608 - placeholders only
                    f" WHERE id IN ({placeholders(len(inbox_ids))})",
                    list(inbox_ids),
                )

        await self._store.run(count)

    async def set_aside(self, row: InboxRow, reason: str, at: float) -> None:
        """Mark a delivery failed for good, with the reason in the ledger and on its hook."""

        def fail(conn: sqlite3.Connection) -> None:
            with transaction(conn, durable=False):
                conn.execute(
                    "UPDATE inbox SET status = ? WHERE id = ?", (InboxState.FAILED, row.id)
                )
                ledger.insert(
                    conn,
                    [LogEntry(at, "failed", row.hook_id, row.delivery_id, row.event_name, reason)],
                )
                hooks.record_status(conn, [HookStatus(row.hook_id, "failed", reason)])

        await self._store.run(fail)

    async def complete(self, completions: Sequence[Completion]) -> None:
        """Queue rendered messages and mark deliveries done, all in one transaction."""

        def complete(conn: sqlite3.Connection) -> None:
            with transaction(conn, durable=False):
                outbox.insert(conn, [o for c in completions for o in c.outbox])
                conn.execute(
                    "UPDATE inbox SET status = ?"  # noqa: S608 - placeholders only
                    f" WHERE id IN ({placeholders(len(completions))})",
                    [InboxState.DONE, *(c.inbox_id for c in completions)],
                )
                ledger.insert(conn, [e for c in completions for e in c.entries])
                hooks.record_status(
                    conn, [c.hook_status for c in completions if c.hook_status is not None]
                )
                hooks.count_filters(conn, [f for c in completions for f in c.filter_counts])
                for c in completions:  # held events and PR states carry their completion's time
                    if c.held:
                        windows.hold(conn, c.held, c.at)
                    if c.pr_states:
                        subjects.save_pr_states(conn, c.pr_states, c.at)
                subjects.save_alert_states(conn, [a for c in completions for a in c.alert_states])
                hooks.add_alert_misses(conn, [m for c in completions for m in c.alert_misses])

        await self._store.run(complete)

    async def last_delivery(self, hook_id: str) -> InboxRow | None:
        """Return the hook's most recent stored delivery, if any."""

        def select(conn: sqlite3.Connection) -> InboxRow | None:
            r = conn.execute(
                "SELECT * FROM inbox WHERE hook_id = ? ORDER BY id DESC LIMIT 1", (hook_id,)
            ).fetchone()
            return None if r is None else inbox_from_row(r)

        return await self._store.run(select)

    async def by_delivery_id(self, delivery_id: str) -> list[InboxRow]:
        """Return the stored deliveries with this provider delivery id (one per hook)."""

        def select(conn: sqlite3.Connection) -> list[InboxRow]:
            rows = conn.execute(
                "SELECT * FROM inbox WHERE delivery_id = ? ORDER BY id", (delivery_id,)
            )
            return [inbox_from_row(r) for r in rows]

        return await self._store.run(select)

    async def count(self) -> int:
        """Return how many deliveries are stored."""

        def count(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT COUNT(*) FROM inbox").fetchone()[0])

        return await self._store.run(count)
