"""What hooks remember about subjects: PR state and alert-if rule state.

Tables: pr_state, alert_state. Both are read by the pipeline's AlertTracker and
written in the transaction that completes a delivery.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from bot.store.base import Repository
from bot.store.types import AlertStateChange, PRStateChange


def save_pr_states(conn: sqlite3.Connection, changes: Iterable[PRStateChange], at: float) -> None:
    """Store subjects' new PR states (of hooks that still exist)."""
    conn.executemany(
        "INSERT INTO pr_state (hook_id, subject, state, updated_at)"
        " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM hooks WHERE id = ?)"
        " ON CONFLICT (hook_id, subject) DO UPDATE"
        " SET state = excluded.state, updated_at = excluded.updated_at",
        [(c.hook_id, c.subject, c.state, at, c.hook_id) for c in changes],
    )


def save_alert_states(conn: sqlite3.Connection, changes: Iterable[AlertStateChange]) -> None:
    """Store whether rules are true (already fired) per subject (of hooks that still exist)."""
    conn.executemany(
        "INSERT INTO alert_state (hook_id, rule, subject, active)"
        " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM hooks WHERE id = ?)"
        " ON CONFLICT (hook_id, rule, subject) DO UPDATE SET active = excluded.active",
        [(c.hook_id, c.rule, c.subject, int(c.active), c.hook_id) for c in changes],
    )


class SubjectRepo(Repository):
    """PR state and alert state per (hook, subject)."""

    async def pr_state(self, hook_id: str, subject: str) -> str | None:
        """Return a subject's stored PR state JSON for a hook."""

        def select(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT state FROM pr_state WHERE hook_id = ? AND subject = ?", (hook_id, subject)
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._store.run(select)

    async def alert_active(self, hook_id: str, rule: str, subject: str) -> bool:
        """Return whether a rule is currently true (already fired) for a subject."""

        def select(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT active FROM alert_state WHERE hook_id = ? AND rule = ? AND subject = ?",
                (hook_id, rule, subject),
            ).fetchone()
            return bool(row and row[0])

        return await self._store.run(select)
