"""Aggregation windows: events held until their window ends, then flushed as a digest.

Table: held_events.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from bot.store import outbox
from bot.store.base import Repository, transaction
from bot.store.types import HeldRow, NewHeldEvent, NewOutbox


def hold(conn: sqlite3.Connection, held: Iterable[NewHeldEvent], at: float) -> None:
    """Hold events in their hooks' windows (of hooks that still exist)."""
    conn.executemany(
        "INSERT INTO held_events (hook_id, window_end, event, delivery_id, created_at)"
        " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM hooks WHERE id = ?)",
        [(h.hook_id, h.window_end, h.event, h.delivery_id, at, h.hook_id) for h in held],
    )


class WindowRepo(Repository):
    """Aggregation windows: held events, due windows, flushes."""

    async def next_due(self) -> float | None:
        """Return the earliest window end among held events, or None."""

        def select(conn: sqlite3.Connection) -> float | None:
            end = conn.execute("SELECT MIN(window_end) FROM held_events").fetchone()[0]
            return None if end is None else float(end)

        return await self._store.run(select)

    async def due(self, now: float) -> list[HeldRow]:
        """Return held events whose window has ended, by hook, window and arrival."""

        def select(conn: sqlite3.Connection) -> list[HeldRow]:
            rows = conn.execute(
                "SELECT id, hook_id, window_end, event FROM held_events WHERE window_end <= ?"
                " ORDER BY hook_id, window_end, id",
                (now,),
            )
            return [HeldRow(r["id"], r["hook_id"], r["window_end"], r["event"]) for r in rows]

        return await self._store.run(select)

    async def flush(self, ids: Sequence[int], digest: NewOutbox | None) -> None:
        """Queue a window's digest and forget its held events, in one transaction."""

        def flush(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                if digest is not None:
                    outbox.insert(conn, [digest])
                conn.executemany("DELETE FROM held_events WHERE id = ?", [(i,) for i in ids])

        await self._store.run(flush)

    async def end_now(self, hook_id: str, now: float) -> int:
        """Make a hook's held events due now (`aggregate off` flushes what is held)."""

        def update(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                return conn.execute(
                    "UPDATE held_events SET window_end = ? WHERE hook_id = ?", (now, hook_id)
                ).rowcount

        return await self._store.run(update)

    async def held_count(self, hook_id: str) -> int:
        """Return how many events a hook holds."""

        def count(conn: sqlite3.Connection) -> int:
            return int(
                conn.execute(
                    "SELECT COUNT(*) FROM held_events WHERE hook_id = ?", (hook_id,)
                ).fetchone()[0]
            )

        return await self._store.run(count)
