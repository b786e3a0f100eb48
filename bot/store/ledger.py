"""The ledger: one table for both directions (DESIGN "the ledger").

Every delivery in (queued, dropped, held, ignored, rejected with its reason, …) and
every attempt out (sent, retry, dead: destination, status code, response time,
attempt, error). Destinations and errors of `out` lines are stored redacted.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Sequence

from bot.store.base import Repository, placeholders, transaction
from bot.store.types import FAILED_OUTCOMES, Direction, LogEntry

COLUMNS = (
    "at, hook_id, delivery_id, kind, outcome, detail,"
    " direction, destination, status_code, response_ms, attempt, error"
)
# `logs --failed`: the same rule as LogEntry.failed.
FAILED_WHERE = f"(outcome IN ({placeholders(len(FAILED_OUTCOMES))}) OR error IS NOT NULL)"


def insert(conn: sqlite3.Connection, entries: Iterable[LogEntry]) -> None:
    """Append ledger lines (inside the caller's transaction)."""
    conn.executemany(
        f"INSERT INTO ledger ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - fixed column list
        [
            (
                e.at,
                e.hook_id,
                e.delivery_id,
                e.kind,
                e.outcome,
                e.detail,
                str(e.direction),
                e.destination,
                e.status_code,
                e.response_ms,
                e.attempt,
                e.error,
            )
            for e in entries
        ],
    )


def prune(conn: sqlite3.Connection, older_than: float, limit: int) -> int:
    """Delete up to `limit` lines older than `older_than`; return how many went."""
    return conn.execute(
        "DELETE FROM ledger WHERE id IN (SELECT id FROM ledger WHERE at < ? LIMIT ?)",
        (older_than, limit),
    ).rowcount


def entry_from_row(row: sqlite3.Row) -> LogEntry:
    """Return a ledger line as read."""
    return LogEntry(
        at=row["at"],
        outcome=row["outcome"],
        hook_id=row["hook_id"],
        delivery_id=row["delivery_id"],
        kind=row["kind"],
        detail=row["detail"],
        direction=Direction(row["direction"]),
        destination=row["destination"],
        status_code=row["status_code"],
        response_ms=row["response_ms"],
        attempt=row["attempt"],
        error=row["error"],
    )


class LedgerRepo(Repository):
    """The ledger: what happened to each delivery and each send, newest last."""

    async def add(self, entries: Sequence[LogEntry]) -> None:
        """Append ledger lines."""

        def add(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                insert(conn, entries)

        await self._store.run(add)

    async def recent(
        self,
        hook_id: str | Collection[str] | None = None,
        limit: int = 20,
        failed_only: bool = False,
        page: int = 1,
    ) -> list[LogEntry]:
        """Return a page of ledger lines (all, one hook's, or some hooks'), oldest first.

        `hook_id` is one hook's id or several (a guild's hooks: an empty collection
        gives no lines). Page 1 is the newest `limit` lines, page 2 the `limit` before
        them, and so on; `failed_only` keeps the lines that report a failure
        (LogEntry.failed).
        """
        if limit < 1 or page < 1:
            raise ValueError("limit and page start at 1")
        clauses: list[str] = []
        params: list[object] = []
        if isinstance(hook_id, str):
            clauses.append("hook_id = ?")
            params.append(hook_id)
        elif hook_id is not None:
            ids = sorted(set(hook_id))
            if not ids:
                return []
            clauses.append(f"hook_id IN ({placeholders(len(ids))})")
            params.extend(ids)
        if failed_only:
            clauses.append(FAILED_WHERE)
            params.extend(FAILED_OUTCOMES)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        sql = f"SELECT * FROM ledger {where} ORDER BY id DESC LIMIT ? OFFSET ?"  # noqa: S608 - fixed clauses
        params += [limit, (page - 1) * limit]

        def select(conn: sqlite3.Connection) -> list[LogEntry]:
            return [entry_from_row(r) for r in conn.execute(sql, params)][::-1]

        return await self._store.run(select)
