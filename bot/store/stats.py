"""Read-only figures for /metrics: queue depths and ages, and new `out` lines of the ledger.

Each is one short query on an index (inbox_pending, outbox_ready, the ledger's primary
key and ledger_at), cheap enough to run on every scrape.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from bot.store.connection import Store
from bot.store.types import Direction, InboxState, OutboxState


@dataclass(frozen=True, slots=True)
class QueueStats:
    """The pipeline's backlog and the outbox's, at one moment."""

    pending: int  # deliveries stored and not yet through the pipeline
    oldest_pending_at: float | None  # when the oldest of them arrived
    # destination (as stored, NOT redacted) → (rows ready or in flight, oldest created_at)
    outbox: dict[str, tuple[int, float]]


@dataclass(frozen=True, slots=True)
class SendLine:
    """One `out` line of the ledger: a try at sending, and how it went."""

    outcome: str
    destination: str | None  # stored redacted
    status_code: int | None


async def queue_stats(store: Store) -> QueueStats:
    """Return the inbox backlog and the outbox depth and age per destination."""

    def read(conn: sqlite3.Connection) -> QueueStats:
        pending = conn.execute(
            "SELECT COUNT(*) FROM inbox WHERE status = ?", (InboxState.PENDING,)
        ).fetchone()[0]
        oldest = conn.execute(
            "SELECT received_at FROM inbox WHERE status = ? ORDER BY id LIMIT 1",
            (InboxState.PENDING,),
        ).fetchone()
        outbox = {
            row[0]: (int(row[1]), float(row[2]))
            for row in conn.execute(
                "SELECT destination, COUNT(*), MIN(created_at) FROM outbox"
                " WHERE status IN (?, ?) GROUP BY destination",
                (OutboxState.READY, OutboxState.IN_FLIGHT),
            )
        }
        return QueueStats(int(pending), None if oldest is None else float(oldest[0]), outbox)

    return await store.run(read)


async def ledger_cursor(store: Store, since: float) -> int:
    """Return the id of the last ledger line written before `since` (0 for none)."""

    def read(conn: sqlite3.Connection) -> int:
        first = conn.execute(
            "SELECT id FROM ledger WHERE at >= ? ORDER BY at, id LIMIT 1", (since,)
        ).fetchone()
        if first is not None:
            return int(first[0]) - 1
        last = conn.execute("SELECT MAX(id) FROM ledger").fetchone()[0]
        return int(last or 0)

    return await store.run(read)


async def sends_after(store: Store, cursor: int, limit: int) -> tuple[int, list[SendLine]]:
    """Return the `out` lines among the `limit` ledger lines after id `cursor`; the new cursor."""

    def read(conn: sqlite3.Connection) -> tuple[int, list[SendLine]]:
        rows = conn.execute(
            "SELECT id, direction, outcome, destination, status_code FROM ledger"
            " WHERE id > ? ORDER BY id LIMIT ?",
            (cursor, limit),
        ).fetchall()
        if not rows:
            return cursor, []
        lines = [SendLine(r[2], r[3], r[4]) for r in rows if r[1] == Direction.OUT]
        return int(rows[-1][0]), lines

    return await store.run(read)
