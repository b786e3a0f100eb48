"""Event sources hookbot reads itself (Docker hosts): where each host's stream resumes.

Table: docker_sources. The watcher commits a batch of events to the inbox first and only
then moves the host's cursor (the Engine `timeNano` of the newest event in the batch), so
a crash between the two replays events that the inbox then drops as duplicates.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from bot.store.base import Repository, transaction


@dataclass(frozen=True, slots=True)
class SourceCursor:
    """Where one Docker host's stream resumes, and when it last moved."""

    host: str
    cursor_nano: int
    updated_at: float


class SourceRepo(Repository):
    """Cursors of the Docker hosts' event streams."""

    async def cursor(self, host: str) -> int | None:
        """Return the host's cursor (Engine nanoseconds), or None before its first event."""

        def select(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT cursor_nano FROM docker_sources WHERE host = ?", (host,)
            ).fetchone()
            return None if row is None else int(row[0])

        return await self._store.run(select)

    async def advance(self, host: str, cursor_nano: int, at: float) -> None:
        """Move the host's cursor forward to `cursor_nano` (never back).

        Not fsynced on its own: a cursor lost on power loss only replays events the
        inbox already holds (the next durable commit syncs it anyway).
        """

        def upsert(conn: sqlite3.Connection) -> None:
            with transaction(conn, durable=False):
                conn.execute(
                    "INSERT INTO docker_sources (host, cursor_nano, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (host) DO UPDATE SET"
                    " cursor_nano = MAX(cursor_nano, excluded.cursor_nano),"
                    " updated_at = excluded.updated_at",
                    (host, cursor_nano, at),
                )

        await self._store.run(upsert)

    async def all(self) -> list[SourceCursor]:
        """Return every host's cursor, by host name."""

        def select(conn: sqlite3.Connection) -> list[SourceCursor]:
            rows = conn.execute(
                "SELECT host, cursor_nano, updated_at FROM docker_sources ORDER BY host"
            ).fetchall()
            return [SourceCursor(r["host"], int(r["cursor_nano"]), r["updated_at"]) for r in rows]

        return await self._store.run(select)
