"""Hooks and what hangs off them: rejection counts, filter counts, old tokens, templates.

Tables: hooks, hook_rejections, filter_stats, previous_tokens, channel_templates.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from bot.store.base import Repository, placeholders, transaction
from bot.store.types import AlertMisses, FilterCount, Hook, HookStatus, Rejection
from parsers.event import JSON

# Columns `update` may change; JSON ones take Python values.
UPDATABLE = frozenset(
    {
        "enabled",
        "failing",
        "token",
        "secret",
        "old_token",
        "old_secret",
        "grace_until",
        "events",
        "filters",
        "templates",
        "last_error",
        "destination",
        "window_seconds",
        "alerts",
        "options",
    }
)
JSON_COLUMNS = frozenset({"events", "filters", "templates", "alerts", "options"})


def hook_from_row(row: sqlite3.Row, rejections: Mapping[str, int]) -> Hook:
    """Return a hook as read, with its rejection counts by reason."""
    return Hook(
        id=row["id"],
        service=row["service"],
        destination=row["destination"],
        token=row["token"],
        secret=row["secret"],
        guild_id=row["guild_id"],
        channel_id=row["channel_id"],
        target=row["target"],
        creator=row["creator"],
        old_token=row["old_token"],
        old_secret=row["old_secret"],
        grace_until=row["grace_until"],
        events=tuple(json.loads(row["events"])),
        filters=tuple(json.loads(row["filters"])),
        templates=json.loads(row["templates"]),
        enabled=bool(row["enabled"]),
        failing=row["failing"],
        accepted=row["accepted"],
        rejected=row["rejected"],
        rejections=dict(rejections),
        last_rejection=row["last_rejection"],
        last_delivery_at=row["last_delivery_at"],
        last_delivery_status=row["last_delivery_status"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        window_seconds=row["window_seconds"],
        alerts=tuple(json.loads(row["alerts"])),
        alert_misses=row["alert_misses"],
        options=json.loads(row["options"]),
    )


def read_hooks(conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[Hook]:
    """Read hooks (`where` is a fixed clause of this module) with their rejection counts."""
    rows = conn.execute(f"SELECT * FROM hooks {where} ORDER BY seq", params).fetchall()  # noqa: S608 - fixed clauses
    counts: dict[str, dict[str, int]] = {}
    if rows:
        sql = (
            "SELECT hook_id, reason, count FROM hook_rejections"  # noqa: S608 - placeholders only
            f" WHERE hook_id IN ({placeholders(len(rows))})"
        )
        for r in conn.execute(sql, [row["id"] for row in rows]):
            counts.setdefault(r["hook_id"], {})[r["reason"]] = r["count"]
    return [hook_from_row(row, counts.get(row["id"], {})) for row in rows]


# -- statements for transactions that span tables ------------------------------------------


def record_status(conn: sqlite3.Connection, statuses: Iterable[HookStatus]) -> None:
    """Record each hook's last delivery status; an error replaces the last one kept.

    Statuses come in order; each hook is written once, with its last status and its
    last error (a batch of one hook's deliveries is one UPDATE, not one per delivery).
    """
    last: dict[str, tuple[str, str | None]] = {}
    for s in statuses:
        kept_error = last[s.hook_id][1] if s.hook_id in last else None
        last[s.hook_id] = (s.status, s.error if s.error is not None else kept_error)
    conn.executemany(
        "UPDATE hooks SET last_delivery_status = ?, last_error = COALESCE(?, last_error)"
        " WHERE id = ?",
        [(status, error, hook_id) for hook_id, (status, error) in last.items()],
    )


def count_accepted(conn: sqlite3.Connection, accepted: Mapping[str, tuple[int, float]]) -> None:
    """Add new deliveries to their hooks' counts: hook id → (how many, last received at)."""
    conn.executemany(
        "UPDATE hooks SET accepted = accepted + ?, last_delivery_at = ? WHERE id = ?",
        [(n, at, hook_id) for hook_id, (n, at) in accepted.items()],
    )


def count_rejections(conn: sqlite3.Connection, rejections: Sequence[Rejection]) -> None:
    """Count refused requests on their hooks, by reason, keeping the last reason."""
    conn.executemany(
        "INSERT INTO hook_rejections (hook_id, reason, count) VALUES (?, ?, 1)"
        " ON CONFLICT (hook_id, reason) DO UPDATE SET count = count + 1",
        [(r.hook_id, r.reason) for r in rejections],
    )
    conn.executemany(
        "UPDATE hooks SET rejected = rejected + 1, last_rejection = ? WHERE id = ?",
        [(r.reason, r.hook_id) for r in rejections],
    )


def count_filters(conn: sqlite3.Connection, counts: Iterable[FilterCount]) -> None:
    """Add to each filter's kept / dropped counts (of hooks that still exist)."""
    conn.executemany(
        "INSERT INTO filter_stats (hook_id, filter, kept, dropped)"
        " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM hooks WHERE id = ?)"
        " ON CONFLICT (hook_id, filter) DO UPDATE"
        " SET kept = kept + excluded.kept, dropped = dropped + excluded.dropped",
        [(c.hook_id, c.filter, c.kept, c.dropped, c.hook_id) for c in counts],
    )


def add_alert_misses(conn: sqlite3.Connection, misses: Iterable[AlertMisses]) -> None:
    """Count rules that were false because the event lacked a name."""
    conn.executemany(
        "UPDATE hooks SET alert_misses = alert_misses + ? WHERE id = ?",
        [(m.count, m.hook_id) for m in misses if m.count],
    )


def destination_of(conn: sqlite3.Connection, hook_id: str) -> str | None:
    """Return where a hook posts, or None when there is no such hook."""
    row = conn.execute("SELECT destination FROM hooks WHERE id = ?", (hook_id,)).fetchone()
    return None if row is None else str(row["destination"])


def mark_failing(conn: sqlite3.Connection, destination: str, reason: str, now: float) -> None:
    """Mark every hook posting to `destination` failing, with the reason."""
    conn.execute(
        "UPDATE hooks SET failing = ?, last_error = ?, updated_at = ? WHERE destination = ?",
        (reason, reason, now, destination),
    )


def clear_failing(conn: sqlite3.Connection, destination: str, now: float) -> None:
    """Enable every hook posting to `destination` and clear its failing state."""
    conn.execute(
        "UPDATE hooks SET enabled = 1, failing = NULL, updated_at = ? WHERE destination = ?",
        (now, destination),
    )


class HookRepo(Repository):
    """Hooks: creation, lookup by id and token, edits and counters."""

    async def create(
        self,
        *,
        service: str,
        destination: str,
        token: str,
        secret: str,
        now: float,
        guild_id: str | None = None,
        channel_id: str | None = None,
        target: str | None = None,
        creator: str | None = None,
        events: Sequence[str] = (),
        options: Mapping[str, JSON] | None = None,
    ) -> Hook:
        """Insert a hook with the next id of the installation-wide sequence."""

        def insert(conn: sqlite3.Connection) -> str:
            with transaction(conn):
                row = conn.execute(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'hooks'"
                ).fetchone()
                seq = (row[0] if row else 0) + 1
                hook_id = f"hook_{seq:03d}"
                conn.execute(
                    "INSERT INTO hooks (seq, id, service, guild_id, channel_id, destination,"
                    " target, creator, token, secret, events, options, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        seq,
                        hook_id,
                        service,
                        guild_id,
                        channel_id,
                        destination,
                        target,
                        creator,
                        token,
                        secret,
                        json.dumps(list(events)),
                        json.dumps(dict(options or {})),
                        now,
                        now,
                    ),
                )
                return hook_id

        hook_id = await self._store.run(insert)
        hook = await self.get(hook_id)
        assert hook is not None  # noqa: S101 - just inserted in a committed transaction
        return hook

    async def get(self, hook_id: str) -> Hook | None:
        """Return the hook with this id, or None."""
        hooks = await self._select("WHERE id = ?", (hook_id,))
        return hooks[0] if hooks else None

    async def get_many(self, hook_ids: Collection[str]) -> dict[str, Hook]:
        """Return the hooks with these ids (missing ones are left out), in one read."""
        if not hook_ids:
            return {}
        hooks = await self._select(f"WHERE id IN ({placeholders(len(hook_ids))})", tuple(hook_ids))
        return {hook.id: hook for hook in hooks}

    async def find_all(
        self, *, guild_id: str | None = None, channel_id: str | None = None
    ) -> list[Hook]:
        """Return hooks in id order, optionally only a guild's or a channel's."""
        clauses, params = [], []
        if guild_id is not None:
            clauses.append("guild_id = ?")
            params.append(guild_id)
        if channel_id is not None:
            clauses.append("channel_id = ?")
            params.append(channel_id)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return await self._select(where, tuple(params))

    async def find_by_token(self, token: str, now: float) -> tuple[Hook, str] | None:
        """Return the hook a URL token names and the secret that signs for it.

        A token rotated out with a grace keeps working, with its own secret, until its
        own grace ends (one read).
        """

        def find(conn: sqlite3.Connection) -> tuple[Hook, str] | None:
            hooks = read_hooks(conn, "WHERE token = ?", (token,))
            if hooks:
                return hooks[0], hooks[0].secret
            previous = conn.execute(
                "SELECT hook_id, secret FROM previous_tokens WHERE token = ? AND grace_until > ?",
                (token, now),
            ).fetchone()
            if previous is None:
                return None
            hooks = read_hooks(conn, "WHERE id = ?", (previous["hook_id"],))
            return (hooks[0], previous["secret"]) if hooks else None

        return await self._store.run(find)

    async def rotate(
        self, hook_id: str, now: float, *, token: str, secret: str, keep_old_until: float | None
    ) -> bool:
        """Give a hook a new token and secret; True when the hook exists.

        With `keep_old_until`, the current token and secret keep working until then,
        next to any earlier ones still in their own grace; without it, every old token
        stops now. Expired old tokens are forgotten.
        """

        def rotate(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                current = conn.execute(
                    "SELECT token, secret FROM hooks WHERE id = ?", (hook_id,)
                ).fetchone()
                if current is None:
                    return False
                if keep_old_until is None:
                    conn.execute("DELETE FROM previous_tokens WHERE hook_id = ?", (hook_id,))
                else:
                    conn.execute(
                        "DELETE FROM previous_tokens WHERE hook_id = ? AND grace_until <= ?",
                        (hook_id, now),
                    )
                    conn.execute(
                        "INSERT INTO previous_tokens (token, hook_id, secret, grace_until)"
                        " VALUES (?, ?, ?, ?)",
                        (current["token"], hook_id, current["secret"], keep_old_until),
                    )
                conn.execute(
                    "UPDATE hooks SET token = ?, secret = ?, updated_at = ? WHERE id = ?",
                    (token, secret, now, hook_id),
                )
                return True

        return await self._store.run(rotate)

    async def _select(self, where: str, params: tuple[Any, ...]) -> list[Hook]:
        return await self._store.run(read_hooks, where, params)

    async def update(self, hook_id: str, now: float, **changes: Any) -> bool:
        """Change stored columns of a hook; JSON columns take Python values."""
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        values = {
            k: json.dumps(v if not isinstance(v, tuple) else list(v)) if k in JSON_COLUMNS else v
            for k, v in changes.items()
        }
        assignments = ", ".join(f"{k} = ?" for k in values)

        def update(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                cursor = conn.execute(
                    f"UPDATE hooks SET {assignments}, updated_at = ? WHERE id = ?",  # noqa: S608 - names from UPDATABLE
                    (*values.values(), now, hook_id),
                )
                return cursor.rowcount == 1

        return await self._store.run(update)

    async def delete(self, hook_id: str) -> bool:
        """Delete a hook (its queued rows stay in the ledger); True when it existed."""

        def delete(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                return conn.execute("DELETE FROM hooks WHERE id = ?", (hook_id,)).rowcount == 1

        return await self._store.run(delete)

    async def filter_stats(self, hook_id: str) -> dict[str, tuple[int, int]]:
        """Return each filter's (kept, dropped) counts since it was added."""

        def select(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
            rows = conn.execute(
                "SELECT filter, kept, dropped FROM filter_stats WHERE hook_id = ?", (hook_id,)
            )
            return {r["filter"]: (r["kept"], r["dropped"]) for r in rows}

        return await self._store.run(select)

    async def reset_filter_stats(self, hook_id: str, filters: Sequence[str]) -> None:
        """Forget the counts of filters that were removed (re-adding one starts at zero)."""

        def reset(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.executemany(
                    "DELETE FROM filter_stats WHERE hook_id = ? AND filter = ?",
                    [(hook_id, f) for f in filters],
                )

        await self._store.run(reset)

    async def channel_templates(self, guild_id: str, channel_id: str) -> dict[tuple[str, str], str]:
        """Return a channel's templates keyed by (service, kind)."""

        def select(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
            rows = conn.execute(
                "SELECT service, kind, template FROM channel_templates"
                " WHERE guild_id = ? AND channel_id = ?",
                (guild_id, channel_id),
            )
            return {(r["service"], r["kind"]): r["template"] for r in rows}

        return await self._store.run(select)

    async def set_channel_template(
        self,
        guild_id: str,
        channel_id: str,
        service: str,
        kind: str,
        template: str | None,
        now: float,
    ) -> None:
        """Store (or, with None, remove) a channel's template for a service's kind."""

        def write(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                if template is None:
                    conn.execute(
                        "DELETE FROM channel_templates WHERE guild_id = ? AND channel_id = ?"
                        " AND service = ? AND kind = ?",
                        (guild_id, channel_id, service, kind),
                    )
                    return
                conn.execute(
                    "INSERT INTO channel_templates (guild_id, channel_id, service, kind, template,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (guild_id, channel_id, service, kind)"
                    " DO UPDATE SET template = excluded.template, updated_at = excluded.updated_at",
                    (guild_id, channel_id, service, kind, template, now),
                )

        await self._store.run(write)

    async def fail_destination(self, destination: str, reason: str, now: float) -> int:
        """Mark every hook posting to `destination` failing; its ready rows go dead.

        One transaction over hooks and outbox: see OutboxRepo.fail_destination.
        """
        return await self._store.outbox.fail_destination(destination, reason, now)

    async def restore(self, hook_id: str, now: float) -> int:
        """Enable a hook, clear its failing state and re-queue its rows kept dead meanwhile.

        One transaction over hooks and outbox: see OutboxRepo.restore_destination.
        """
        return await self._store.outbox.restore_destination(hook_id, now)
