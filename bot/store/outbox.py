"""The outbox: rendered messages queued per destination, and what became of each try.

Table: outbox. Finishing a try (sent, retry, dead) writes the row's state, an `out`
line of the ledger per row (redacted destination, attempt, status code, response
time, error) and, when the group is finished, its hooks' last status: one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence

from bot.redact import redact
from bot.store import hooks, ledger
from bot.store.base import Repository, placeholders, transaction
from bot.store.types import (
    AttemptResult,
    Direction,
    HookStatus,
    LogEntry,
    NewOutbox,
    OutboxRow,
    OutboxState,
)

READY, IN_FLIGHT, DONE, DEAD = (
    OutboxState.READY,
    OutboxState.IN_FLIGHT,
    OutboxState.DONE,
    OutboxState.DEAD,
)


def outbox_from_row(row: sqlite3.Row) -> OutboxRow:
    """Return a queued message as read."""
    return OutboxRow(
        id=row["id"],
        destination=row["destination"],
        payload=row["payload"],
        nonce=row["nonce"],
        attempts=row["attempts"],
        not_before=row["not_before"],
        hook_id=row["hook_id"],
        delivery_id=row["delivery_id"],
        status=OutboxState(row["status"]),
        group_id=row["group_id"],
    )


# -- statements for transactions that span tables ------------------------------------------


def insert(conn: sqlite3.Connection, rows: Iterable[NewOutbox]) -> None:
    """Queue messages (a nonce already queued is a no-op); rows with a dead reason are kept dead."""
    conn.executemany(
        "INSERT INTO outbox (destination, payload, nonce, status, not_before,"
        " last_error, delivery_id, hook_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (nonce) DO NOTHING",
        [
            (
                o.destination,
                o.payload,
                o.nonce,
                DEAD if o.dead_reason else READY,
                o.not_before,
                o.dead_reason,
                o.delivery_id,
                o.hook_id,
                o.not_before,
            )
            for o in rows
        ],
    )


def prune(conn: sqlite3.Connection, older_than: float, limit: int) -> int:
    """Delete up to `limit` finished (done or dead) rows created before `older_than`."""
    return conn.execute(
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status IN (?, ?)"
        " AND created_at < ? LIMIT ?)",
        (DONE, DEAD, older_than, limit),
    ).rowcount


def out_entries(
    rows: Sequence[OutboxRow],
    outcome: str,
    now: float,
    detail: str | None,
    error: str | None,
    result: AttemptResult | Sequence[AttemptResult] | None,
) -> list[LogEntry]:
    """Return the ledger's `out` line for each row of a finished try, redacted.

    `result` is one AttemptResult for the whole group (one post), or one per row.
    """
    if result is None or isinstance(result, AttemptResult):
        results = [result or AttemptResult()] * len(rows)
    else:
        results = list(result)
        if len(results) != len(rows):
            raise ValueError(f"{len(results)} attempt results for {len(rows)} rows")
    entries = []
    for row, got in zip(rows, results, strict=True):
        failure = got.error or error
        entries.append(
            LogEntry(
                at=now,
                outcome=outcome,
                hook_id=row.hook_id,
                delivery_id=row.delivery_id,
                detail=None if detail is None else redact(detail),
                direction=Direction.OUT,
                destination=redact(row.destination),
                status_code=got.status_code,
                response_ms=got.response_ms,
                attempt=row.attempts,
                error=None if failure is None else redact(failure),
            )
        )
    return entries


class OutboxRepo(Repository):
    """Queued messages: claims per destination, done / retry / dead, recovery."""

    async def destinations_ready(self) -> list[str]:
        """Return the destinations that have ready rows."""

        def select(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT DISTINCT destination FROM outbox WHERE status = ?", (READY,)
            )
            return [r[0] for r in rows]

        return await self._store.run(select)

    async def claim_group(
        self,
        destination: str,
        now: float,
        choose: Callable[[Sequence[OutboxRow]], int],
        limit: int = 10,
    ) -> list[OutboxRow] | float | None:
        """Claim the destination's oldest ready rows as one group, sent as one post.

        A group, once formed, is stored before sending and claimed whole again after a
        retry or a crash, so it is resent with the same rows and nonce. A new group is
        formed from up to `limit` ready rows; `choose(candidates)` says how many to take.
        Returns the rows; or, when the oldest row must wait (backoff), the time it may
        be sent at (rows of one destination go out in order); or None when idle.
        """

        def claim(conn: sqlite3.Connection) -> list[OutboxRow] | float | None:
            with transaction(conn, durable=False):
                head = conn.execute(
                    "SELECT * FROM outbox WHERE destination = ? AND status = ? ORDER BY id LIMIT 1",
                    (destination, READY),
                ).fetchone()
                if head is None:
                    return None
                if head["not_before"] > now:
                    return float(head["not_before"])
                if head["group_id"] is not None:
                    ids = [
                        r[0]
                        for r in conn.execute(
                            "SELECT id FROM outbox WHERE group_id = ? AND status = ? ORDER BY id",
                            (head["group_id"], READY),
                        )
                    ]
                else:
                    candidates = [
                        outbox_from_row(r)
                        for r in conn.execute(
                            "SELECT * FROM outbox WHERE destination = ? AND status = ?"
                            " AND group_id IS NULL AND not_before <= ? ORDER BY id LIMIT ?",
                            (destination, READY, now, limit),
                        )
                    ]
                    taken = max(1, min(len(candidates), choose(candidates)))
                    ids = [row.id for row in candidates[:taken]]
                sql = (
                    "UPDATE outbox SET status = ?, claimed_at = ?, attempts = attempts + 1,"  # noqa: S608 - only placeholders are interpolated
                    f" group_id = ? WHERE id IN ({placeholders(len(ids))}) RETURNING *"
                )
                group_id = head["group_id"] or head["id"]
                claimed = conn.execute(sql, (IN_FLIGHT, now, group_id, *ids)).fetchall()
                return sorted((outbox_from_row(r) for r in claimed), key=lambda row: row.id)

        return await self._store.run(claim)

    async def mark_done(
        self,
        rows: Sequence[OutboxRow],
        now: float,
        detail: str | None = None,
        *,
        result: AttemptResult | Sequence[AttemptResult] | None = None,
    ) -> None:
        """Mark a group sent (only ever after the sink returned).

        `result` (one for the group, or one per row) goes to the ledger's `out` lines.
        """
        await self._finish(rows, DONE, now, None, "sent", detail, result)

    async def reschedule(
        self,
        rows: Sequence[OutboxRow],
        not_before: float,
        error: str,
        now: float,
        *,
        result: AttemptResult | Sequence[AttemptResult] | None = None,
    ) -> None:
        """Put a group back to ready, to be tried again (whole) at `not_before`."""
        await self._finish(rows, READY, now, error, "retry", error, result, not_before)

    async def mark_dead(
        self,
        rows: Sequence[OutboxRow],
        error: str,
        now: float,
        *,
        result: AttemptResult | Sequence[AttemptResult] | None = None,
    ) -> None:
        """Give up on a group; the reason goes to the ledger."""
        await self._finish(rows, DEAD, now, error, "dead", error, result)

    async def _finish(
        self,
        rows: Sequence[OutboxRow],
        status: OutboxState,
        now: float,
        error: str | None,
        outcome: str,
        detail: str | None,
        result: AttemptResult | Sequence[AttemptResult] | None,
        not_before: float | None = None,
    ) -> None:
        entries = out_entries(rows, outcome, now, detail, error, result)

        def finish(conn: sqlite3.Connection) -> None:
            with transaction(conn, durable=False):
                conn.executemany(
                    "UPDATE outbox SET status = ?, last_error = ?, done_at = ?,"
                    " not_before = COALESCE(?, not_before) WHERE id = ?",
                    [
                        (status, error, now if status == DONE else None, not_before, row.id)
                        for row in rows
                    ],
                )
                ledger.insert(conn, entries)
                if status in (DONE, DEAD):
                    hook_ids = {r.hook_id for r in rows if r.hook_id}
                    hooks.record_status(conn, [HookStatus(h, outcome, error) for h in hook_ids])

        await self._store.run(finish)

    async def recover_in_flight(self) -> int:
        """Put rows left in flight by a crash back to ready; returns how many."""

        def recover(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                return conn.execute(
                    "UPDATE outbox SET status = ? WHERE status = ?", (READY, IN_FLIGHT)
                ).rowcount

        return await self._store.run(recover)

    async def counts(self) -> dict[str, int]:
        """Return how many rows are in each state (ready, in-flight, done, dead)."""

        def count(conn: sqlite3.Connection) -> dict[str, int]:
            totals = {state.label: 0 for state in OutboxState}
            for r in conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status"):
                totals[OutboxState(r[0]).label] = r[1]
            return totals

        return await self._store.run(count)

    async def rows(self, hook_id: str | None = None) -> list[OutboxRow]:
        """Return queued rows (all, or one hook's) in id order."""

        def select(conn: sqlite3.Connection) -> list[OutboxRow]:
            if hook_id is None:
                cursor = conn.execute("SELECT * FROM outbox ORDER BY id")
            else:
                cursor = conn.execute(
                    "SELECT * FROM outbox WHERE hook_id = ? ORDER BY id", (hook_id,)
                )
            return [outbox_from_row(r) for r in cursor]

        return await self._store.run(select)

    async def fail_destination(self, destination: str, reason: str, now: float) -> int:
        """Mark every hook posting to `destination` failing; its ready rows go dead.

        Returns how many rows were kept dead (they are re-queued by `restore_destination`).
        """

        def fail(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                hooks.mark_failing(conn, destination, reason, now)
                return conn.execute(
                    "UPDATE outbox SET status = ?, last_error = ? WHERE destination = ?"
                    " AND status = ?",
                    (DEAD, reason, destination, READY),
                ).rowcount

        return await self._store.run(fail)

    async def restore_destination(self, hook_id: str, now: float) -> int:
        """Give the destination of `hook_id` another chance; return how many rows re-queued.

        Enables the hooks posting there, clears their failing state and re-queues the
        rows kept dead meanwhile.
        """

        def restore(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                destination = hooks.destination_of(conn, hook_id)
                if destination is None:
                    return 0
                hooks.clear_failing(conn, destination, now)
                return conn.execute(
                    "UPDATE outbox SET status = ?, attempts = 0, not_before = ?"
                    " WHERE destination = ? AND status = ?",
                    (READY, now, destination, DEAD),
                ).rowcount

        return await self._store.run(restore)
