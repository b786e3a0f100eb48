"""Forwards: a hook's outgoing HTTP endpoints (DESIGN "Forwarding").

Table: forwards. A forward's rows in the outbox have the destination `forward:<id>`;
removing a forward kills its queued rows in the same transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bot.store.base import Repository, placeholders, transaction
from bot.store.types import OutboxState


@dataclass(frozen=True, slots=True)
class Forward:
    """One forward as stored; `number` is its place among its hook's (1 = oldest)."""

    id: int
    hook_id: str
    url: str
    secret: str
    events: tuple[str, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    retries: int = 3
    timeout: int = 30
    body: str | None = None
    created_at: float = 0.0
    number: int = 0

    @property
    def destination(self) -> str:
        """The outbox destination key of this forward."""
        return f"forward:{self.id}"


def _forward(row: sqlite3.Row, number: int) -> Forward:
    return Forward(
        id=row["id"],
        hook_id=row["hook_id"],
        url=row["url"],
        secret=row["secret"],
        events=tuple(json.loads(row["events"])),
        headers=tuple((str(k), str(v)) for k, v in json.loads(row["headers"])),
        retries=row["retries"],
        timeout=row["timeout"],
        body=row["body"],
        created_at=row["created_at"],
        number=number,
    )


def _numbered(rows: Sequence[sqlite3.Row]) -> dict[str, list[Forward]]:
    found: dict[str, list[Forward]] = {}
    for row in rows:
        mine = found.setdefault(row["hook_id"], [])
        mine.append(_forward(row, len(mine) + 1))
    return found


class ForwardRepo(Repository):
    """Forwards of hooks: add, list (numbered per hook), remove, the secret at send time."""

    async def add(
        self,
        hook_id: str,
        url: str,
        secret: str,
        now: float,
        *,
        events: Sequence[str] = (),
        headers: Sequence[tuple[str, str]] = (),
        retries: int = 3,
        timeout_seconds: int = 30,
        body: str | None = None,
    ) -> Forward:
        """Attach a forward to a hook; return it, numbered."""

        def add(conn: sqlite3.Connection) -> Forward:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO forwards (hook_id, url, secret, events, headers, retries,"
                    " timeout, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        hook_id,
                        url,
                        secret,
                        json.dumps(list(events)),
                        json.dumps([list(pair) for pair in headers]),
                        retries,
                        timeout_seconds,
                        body,
                        now,
                    ),
                )
                rows = conn.execute(
                    "SELECT * FROM forwards WHERE hook_id = ? ORDER BY id", (hook_id,)
                ).fetchall()
                return _numbered(rows)[hook_id][-1]

        return await self._store.run(add)

    async def of_hook(self, hook_id: str) -> list[Forward]:
        """Return a hook's forwards, numbered in the order they were added."""
        return (await self.of_hooks([hook_id])).get(hook_id, [])

    async def of_hooks(self, hook_ids: Collection[str]) -> dict[str, list[Forward]]:
        """Return the forwards of several hooks (one query; the pipeline's per batch)."""
        ids = sorted(set(hook_ids))
        if not ids:
            return {}
        sql = f"SELECT * FROM forwards WHERE hook_id IN ({placeholders(len(ids))}) ORDER BY id"  # noqa: S608 - only placeholders are interpolated

        def select(conn: sqlite3.Connection) -> dict[str, list[Forward]]:
            return _numbered(conn.execute(sql, ids).fetchall())

        return await self._store.run(select)

    async def secret(self, forward_id: int) -> str | None:
        """Return a forward's secret, or None once it was removed (read at send time)."""

        def select(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT secret FROM forwards WHERE id = ?", (forward_id,))
            found = row.fetchone()
            return None if found is None else str(found[0])

        return await self._store.run(select)

    async def remove(self, forward_id: int, reason: str) -> int:
        """Delete a forward; its queued rows go dead with `reason`. Returns how many."""

        def remove(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                conn.execute("DELETE FROM forwards WHERE id = ?", (forward_id,))
                return conn.execute(
                    "UPDATE outbox SET status = ?, last_error = ? WHERE destination = ?"
                    " AND status = ?",
                    (
                        OutboxState.DEAD,
                        reason,
                        f"forward:{forward_id}",
                        OutboxState.READY,
                    ),
                ).rowcount

        return await self._store.run(remove)

    async def failed_hooks(self, delivery_id: str) -> list[str]:
        """Return the hooks whose requests of this delivery to a forward ran out of tries."""

        def select(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT DISTINCT hook_id FROM outbox WHERE delivery_id = ? AND status = ?"
                " AND destination IN (SELECT 'forward:' || id FROM forwards) ORDER BY hook_id",
                (delivery_id, OutboxState.DEAD),
            )
            return [str(r[0]) for r in rows]

        return await self._store.run(select)

    async def retry_failed(self, delivery_id: str, hook_id: str, now: float) -> int:
        """Queue again a delivery's failed requests to the hook's forwards (tries from 0)."""

        def retry(conn: sqlite3.Connection) -> int:
            with transaction(conn):
                return conn.execute(
                    "UPDATE outbox SET status = ?, attempts = 0, not_before = ?, last_error = NULL"
                    " WHERE delivery_id = ? AND hook_id = ? AND status = ?"
                    " AND destination IN (SELECT 'forward:' || id FROM forwards)",
                    (OutboxState.READY, now, delivery_id, hook_id, OutboxState.DEAD),
                ).rowcount

        return await self._store.run(retry)
