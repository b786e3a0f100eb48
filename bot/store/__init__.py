"""aiosqlite store: schema migrations and typed repositories; all SQL lives here.

Every repository method is one transaction run as one function on aiosqlite's
connection thread: one thread hop per transaction, and no other coroutine's
statements can interleave with it (a shared aiosqlite connection otherwise
mixes statements of concurrent transactions).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

T = TypeVar("T")

READY, IN_FLIGHT, DONE, DEAD = 0, 1, 2, 3
INBOX_PENDING, INBOX_DONE, INBOX_FAILED = 0, 1, 2
OUTBOX_STATES = {READY: "ready", IN_FLIGHT: "in-flight", DONE: "done", DEAD: "dead"}
PRUNE_BATCH = 500


class StoreError(Exception):
    """The database cannot do what was asked (closed, corrupt, full disk…)."""


@dataclass(frozen=True, slots=True)
class Hook:
    """One hook as stored."""

    id: str
    service: str
    destination: str
    token: str
    secret: str
    guild_id: str | None = None
    channel_id: str | None = None
    target: str | None = None
    creator: str | None = None
    old_token: str | None = None
    old_secret: str | None = None
    grace_until: float | None = None
    events: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    templates: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True
    failing: str | None = None
    accepted: int = 0
    rejected: int = 0
    rejections: Mapping[str, int] = field(default_factory=dict)
    last_rejection: str | None = None
    last_delivery_at: float | None = None
    last_delivery_status: str | None = None
    last_error: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    window_seconds: int | None = None
    alerts: tuple[Mapping[str, str | None], ...] = ()
    alert_misses: int = 0


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A verified delivery to commit to the inbox before answering 2xx."""

    hook_id: str
    service: str
    delivery_id: str
    event_name: str | None
    headers: Mapping[str, str]
    body: bytes
    received_at: float


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused request, counted on its hook by reason."""

    hook_id: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class InboxRow:
    """A stored delivery waiting for (or done with) the pipeline."""

    id: int
    hook_id: str
    service: str
    delivery_id: str
    event_name: str | None
    headers: Mapping[str, str]
    body: bytes
    received_at: float
    attempts: int = 0  # times the pipeline started on it (counted before it starts)


@dataclass(frozen=True, slots=True)
class NewOutbox:
    """A rendered message to queue for one destination."""

    destination: str
    payload: str
    nonce: str
    hook_id: str
    delivery_id: str
    not_before: float
    dead_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """What the pipeline made of one delivery: messages to queue and ledger lines.

    `hook_status` is (hook_id, last_delivery_status, last_error) to record on the hook.
    """

    inbox_id: int
    outbox: Sequence[NewOutbox] = ()
    entries: Sequence[LogEntry] = ()
    hook_status: tuple[str, str, str | None] | None = None
    filter_counts: Sequence[tuple[str, str, int, int]] = ()  # (hook_id, filter, kept, dropped)
    held: Sequence[tuple[str, float, str, str]] = ()  # (hook_id, window_end, event JSON, delivery)
    pr_states: Sequence[tuple[str, str, str]] = ()  # (hook_id, subject, state JSON)
    alert_states: Sequence[tuple[str, str, str, bool]] = ()  # (hook_id, rule, subject, active)
    alert_misses: Sequence[tuple[str, int]] = ()  # (hook_id, rules false for a missing name)
    at: float = 0.0  # when the pipeline processed it


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A queued message as claimed by a delivery worker."""

    id: int
    destination: str
    payload: str
    nonce: str
    attempts: int
    not_before: float
    hook_id: str | None
    delivery_id: str | None
    status: int = READY
    group_id: int | None = None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the delivery ledger."""

    at: float
    outcome: str
    hook_id: str | None = None
    delivery_id: str | None = None
    kind: str | None = None
    detail: str | None = None


def _split_statements(script: str) -> Iterator[str]:
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""
    if statement.strip():
        yield statement


def _migrations() -> list[tuple[int, str]]:
    folder = resources.files("bot.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text("utf-8")))
    return sorted(found)


@contextmanager
def _transaction(conn: sqlite3.Connection, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
    """Run one write transaction; `durable=False` skips the fsync at commit.

    Only what a 2xx or a user's command promises needs FULL. Pipeline and outbox
    state changes may be lost on power loss without losing anything: a lost
    "done" means a resend, a lost completion means the delivery is processed
    again (outbox nonces are unique). In WAL mode the next FULL commit fsyncs
    the earlier frames too.
    """
    if not durable:
        conn.execute("PRAGMA synchronous=NORMAL")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
    finally:
        if not durable:
            conn.execute("PRAGMA synchronous=FULL")


def _hook_from_row(row: sqlite3.Row, rejections: Mapping[str, int]) -> Hook:
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
    )


def _inbox_from_row(row: sqlite3.Row) -> InboxRow:
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


def _outbox_from_row(row: sqlite3.Row) -> OutboxRow:
    return OutboxRow(
        id=row["id"],
        destination=row["destination"],
        payload=row["payload"],
        nonce=row["nonce"],
        attempts=row["attempts"],
        not_before=row["not_before"],
        hook_id=row["hook_id"],
        delivery_id=row["delivery_id"],
        status=row["status"],
        group_id=row["group_id"],
    )


def _insert_log(conn: sqlite3.Connection, entries: Iterable[LogEntry]) -> None:
    conn.executemany(
        "INSERT INTO delivery_log (at, hook_id, delivery_id, kind, outcome, detail)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(e.at, e.hook_id, e.delivery_id, e.kind, e.outcome, e.detail) for e in entries],
    )


class Store:
    """The one SQLite database: connection, PRAGMAs, migrations, repositories."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self.hooks = HookRepo(self)
        self.inbox = InboxRepo(self)
        self.outbox = OutboxRepo(self)
        self.log = DeliveryLogRepo(self)
        self.windows = WindowRepo(self)

    @classmethod
    async def open(cls, path: str) -> Store:
        """Open (creating if needed) and migrate the database at `path`."""
        db = await aiosqlite.connect(path, isolation_level=None, check_same_thread=False)
        store = cls(db)
        try:
            await store.run(_configure)
            await store.run(_migrate)
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        await self._db.close()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` on the connection's thread: one hop, one transaction.

        aiosqlite has no public way to run a function on its thread, so this uses
        `Connection._execute`; the pinned aiosqlite range keeps it available.
        """
        conn: sqlite3.Connection = self._db._conn
        try:
            result: T = await self._db._execute(fn, conn, *args)  # type: ignore[no-untyped-call]
        except sqlite3.Error as exc:
            raise StoreError(f"database error: {exc}") from exc
        except ValueError as exc:  # aiosqlite: "Connection closed"
            raise StoreError(str(exc)) from exc
        return result

    async def pragmas(self) -> dict[str, str]:
        """Return the journal mode and synchronous level in force (for health and bench)."""

        def read(conn: sqlite3.Connection) -> dict[str, str]:
            journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
            sync = conn.execute("PRAGMA synchronous").fetchone()[0]
            names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
            return {"journal_mode": str(journal), "synchronous": names.get(sync, str(sync))}

        return await self.run(read)

    async def ping(self) -> None:
        """Check that the database answers; raises StoreError when it does not."""
        await self.run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def prune(self, older_than: float, keep_dedupe_after: float) -> int:
        """Delete payloads, sent rows and ledger lines older than `older_than`, in small batches.

        Inbox rows (the dedupe ids) are only pruned when older than both bounds.
        """
        inbox_cutoff = min(older_than, keep_dedupe_after)
        statements = (
            (
                "DELETE FROM inbox WHERE id IN (SELECT id FROM inbox WHERE status != 0"
                " AND received_at < ? LIMIT ?)",
                inbox_cutoff,
            ),
            (
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status IN (2, 3)"
                " AND created_at < ? LIMIT ?)",
                older_than,
            ),
            (
                "DELETE FROM delivery_log WHERE id IN (SELECT id FROM delivery_log"
                " WHERE at < ? LIMIT ?)",
                older_than,
            ),
        )
        total = 0
        for sql, cutoff in statements:
            while True:

                def batch(conn: sqlite3.Connection, sql: str = sql, cutoff: float = cutoff) -> int:
                    with _transaction(conn):
                        return conn.execute(sql, (cutoff, PRUNE_BATCH)).rowcount

                deleted = await self.run(batch)
                total += deleted
                if deleted < PRUNE_BATCH:
                    break
                await asyncio.sleep(0)  # let requests in between batches
        return total


def _configure(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a 2xx promises the delivery survives power loss, not only a crash.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")


def _migrate(conn: sqlite3.Connection) -> int:
    with _transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in _migrations():
            if number <= version:
                continue
            for statement in _split_statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number:d}")
            log.info("database migrated to version %d", number)
            version = number
    return int(version)


def _read_hooks(conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> list[Hook]:
    """Read hooks (`where` is a fixed clause of this module) with their rejection counts."""
    rows = conn.execute(f"SELECT * FROM hooks {where} ORDER BY seq", params).fetchall()  # noqa: S608 - fixed clauses
    counts: dict[str, dict[str, int]] = {}
    if rows:
        marks = ",".join("?" * len(rows))
        sql = f"SELECT hook_id, reason, count FROM hook_rejections WHERE hook_id IN ({marks})"  # noqa: S608
        for r in conn.execute(sql, [row["id"] for row in rows]):
            counts.setdefault(r["hook_id"], {})[r["reason"]] = r["count"]
    return [_hook_from_row(row, counts.get(row["id"], {})) for row in rows]


class HookRepo:
    """Hooks: creation, lookup by id and token, edits and counters."""

    def __init__(self, store: Store) -> None:
        self._store = store

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
    ) -> Hook:
        """Insert a hook with the next id of the installation-wide sequence."""

        def insert(conn: sqlite3.Connection) -> str:
            with _transaction(conn):
                row = conn.execute(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'hooks'"
                ).fetchone()
                seq = (row[0] if row else 0) + 1
                hook_id = f"hook_{seq:03d}"
                conn.execute(
                    "INSERT INTO hooks (seq, id, service, guild_id, channel_id, destination,"
                    " target, creator, token, secret, events, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        marks = ",".join("?" * len(hook_ids))
        hooks = await self._select(f"WHERE id IN ({marks})", tuple(hook_ids))
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
            hooks = _read_hooks(conn, "WHERE token = ?", (token,))
            if hooks:
                return hooks[0], hooks[0].secret
            previous = conn.execute(
                "SELECT hook_id, secret FROM previous_tokens WHERE token = ? AND grace_until > ?",
                (token, now),
            ).fetchone()
            if previous is None:
                return None
            hooks = _read_hooks(conn, "WHERE id = ?", (previous["hook_id"],))
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
            with _transaction(conn):
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
        return await self._store.run(_read_hooks, where, params)

    async def update(self, hook_id: str, now: float, **changes: Any) -> bool:
        """Change stored columns of a hook; JSON columns take Python values."""
        allowed = {
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
        }
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        values = {
            k: json.dumps(v if not isinstance(v, tuple) else list(v))
            if k in {"events", "filters", "templates", "alerts"}
            else v
            for k, v in changes.items()
        }
        assignments = ", ".join(f"{k} = ?" for k in values)

        def update(conn: sqlite3.Connection) -> bool:
            with _transaction(conn):
                cursor = conn.execute(
                    f"UPDATE hooks SET {assignments}, updated_at = ? WHERE id = ?",  # noqa: S608 - names from `allowed`
                    (*values.values(), now, hook_id),
                )
                return cursor.rowcount == 1

        return await self._store.run(update)

    async def delete(self, hook_id: str) -> bool:
        """Delete a hook (its queued rows stay in the ledger); True when it existed."""

        def delete(conn: sqlite3.Connection) -> bool:
            with _transaction(conn):
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
            with _transaction(conn):
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
            with _transaction(conn):
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
        """Mark every hook posting to `destination` failing; its ready rows go dead."""

        def fail(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                conn.execute(
                    "UPDATE hooks SET failing = ?, last_error = ?, updated_at = ?"
                    " WHERE destination = ?",
                    (reason, reason, now, destination),
                )
                return conn.execute(
                    "UPDATE outbox SET status = 3, last_error = ? WHERE destination = ?"
                    " AND status = 0",
                    (reason, destination),
                ).rowcount

        return await self._store.run(fail)

    async def restore(self, hook_id: str, now: float) -> int:
        """Enable a hook, clear its failing state and re-queue its rows kept dead meanwhile."""

        def restore(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                row = conn.execute("SELECT destination FROM hooks WHERE id = ?", (hook_id,))
                found = row.fetchone()
                if found is None:
                    return 0
                conn.execute(
                    "UPDATE hooks SET enabled = 1, failing = NULL, updated_at = ?"
                    " WHERE destination = ?",
                    (now, found["destination"]),
                )
                return conn.execute(
                    "UPDATE outbox SET status = 0, attempts = 0, not_before = ?"
                    " WHERE destination = ? AND status = 3",
                    (now, found["destination"]),
                ).rowcount

        return await self._store.run(restore)


class InboxRepo:
    """Deliveries: group-committed writes, claims by the pipeline, completion."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def write_batch(
        self, deliveries: Sequence[NewDelivery], rejections: Sequence[Rejection]
    ) -> list[bool]:
        """Commit deliveries and rejection counts in one transaction.

        Returns, per delivery, True when it was new and False for a redelivery.
        """

        def write(conn: sqlite3.Connection) -> list[bool]:
            inserted = []
            with _transaction(conn):
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
                conn.executemany(
                    "UPDATE hooks SET accepted = accepted + ?, last_delivery_at = ? WHERE id = ?",
                    [(n, at, hook_id) for hook_id, (n, at) in accepted.items()],
                )
                for r in rejections:
                    conn.execute(
                        "INSERT INTO hook_rejections (hook_id, reason, count) VALUES (?, ?, 1)"
                        " ON CONFLICT (hook_id, reason) DO UPDATE SET count = count + 1",
                        (r.hook_id, r.reason),
                    )
                    conn.execute(
                        "UPDATE hooks SET rejected = rejected + 1, last_rejection = ? WHERE id = ?",
                        (r.reason, r.hook_id),
                    )
                _insert_log(
                    conn,
                    [
                        LogEntry(r.at, "rejected", r.hook_id, None, None, r.reason)
                        for r in rejections
                    ],
                )
            return inserted

        return await self._store.run(write)

    async def pending(self, limit: int) -> list[InboxRow]:
        """Return up to `limit` deliveries the pipeline has not finished, oldest first."""

        def select(conn: sqlite3.Connection) -> list[InboxRow]:
            rows = conn.execute(
                "SELECT * FROM inbox WHERE status = 0 ORDER BY id LIMIT ?", (limit,)
            ).fetchall()
            return [_inbox_from_row(r) for r in rows]

        return await self._store.run(select)

    async def count_attempt(self, inbox_ids: Sequence[int]) -> None:
        """Record that the pipeline starts on these deliveries (before it does)."""

        def count(conn: sqlite3.Connection) -> None:
            with _transaction(conn, durable=False):
                conn.executemany(
                    "UPDATE inbox SET attempts = attempts + 1 WHERE id = ?",
                    [(inbox_id,) for inbox_id in inbox_ids],
                )

        await self._store.run(count)

    async def set_aside(self, row: InboxRow, reason: str, at: float) -> None:
        """Mark a delivery failed for good, with the reason in the log and on its hook."""

        def fail(conn: sqlite3.Connection) -> None:
            with _transaction(conn, durable=False):
                conn.execute("UPDATE inbox SET status = ? WHERE id = ?", (INBOX_FAILED, row.id))
                _insert_log(
                    conn,
                    [LogEntry(at, "failed", row.hook_id, row.delivery_id, row.event_name, reason)],
                )
                conn.execute(
                    "UPDATE hooks SET last_delivery_status = 'failed', last_error = ? WHERE id = ?",
                    (reason, row.hook_id),
                )

        await self._store.run(fail)

    async def complete(self, completions: Sequence[Completion]) -> None:
        """Queue rendered messages and mark deliveries done, all in one transaction."""

        def complete(conn: sqlite3.Connection) -> None:
            with _transaction(conn, durable=False):
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
                        for c in completions
                        for o in c.outbox
                    ],
                )
                conn.executemany(
                    "UPDATE inbox SET status = 1 WHERE id = ?", [(c.inbox_id,) for c in completions]
                )
                _insert_log(conn, [e for c in completions for e in c.entries])
                conn.executemany(
                    "UPDATE hooks SET last_delivery_status = ?,"
                    " last_error = COALESCE(?, last_error) WHERE id = ?",
                    [
                        (c.hook_status[1], c.hook_status[2], c.hook_status[0])
                        for c in completions
                        if c.hook_status is not None
                    ],
                )
                conn.executemany(
                    "INSERT INTO filter_stats (hook_id, filter, kept, dropped)"
                    " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM hooks WHERE id = ?)"
                    " ON CONFLICT (hook_id, filter) DO UPDATE"
                    " SET kept = kept + excluded.kept, dropped = dropped + excluded.dropped",
                    [(h, f, k, d, h) for c in completions for h, f, k, d in c.filter_counts],
                )
                conn.executemany(
                    "INSERT INTO held_events (hook_id, window_end, event, delivery_id, created_at)"
                    " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM hooks WHERE id = ?)",
                    [(h, end, e, d, c.at, h) for c in completions for h, end, e, d in c.held],
                )
                conn.executemany(
                    "INSERT INTO pr_state (hook_id, subject, state, updated_at)"
                    " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM hooks WHERE id = ?)"
                    " ON CONFLICT (hook_id, subject) DO UPDATE"
                    " SET state = excluded.state, updated_at = excluded.updated_at",
                    [(h, sub, st, c.at, h) for c in completions for h, sub, st in c.pr_states],
                )
                conn.executemany(
                    "INSERT INTO alert_state (hook_id, rule, subject, active)"
                    " SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM hooks WHERE id = ?)"
                    " ON CONFLICT (hook_id, rule, subject) DO UPDATE SET active = excluded.active",
                    [
                        (h, r, sub, int(a), h)
                        for c in completions
                        for h, r, sub, a in c.alert_states
                    ],
                )
                conn.executemany(
                    "UPDATE hooks SET alert_misses = alert_misses + ? WHERE id = ?",
                    [(n, h) for c in completions for h, n in c.alert_misses if n],
                )

        await self._store.run(complete)

    async def last_delivery(self, hook_id: str) -> InboxRow | None:
        """Return the hook's most recent stored delivery, if any."""

        def select(conn: sqlite3.Connection) -> InboxRow | None:
            r = conn.execute(
                "SELECT * FROM inbox WHERE hook_id = ? ORDER BY id DESC LIMIT 1", (hook_id,)
            ).fetchone()
            return None if r is None else _inbox_from_row(r)

        return await self._store.run(select)

    async def by_delivery_id(self, delivery_id: str) -> list[InboxRow]:
        """Return the stored deliveries with this provider delivery id (one per hook)."""

        def select(conn: sqlite3.Connection) -> list[InboxRow]:
            rows = conn.execute(
                "SELECT * FROM inbox WHERE delivery_id = ? ORDER BY id", (delivery_id,)
            )
            return [_inbox_from_row(r) for r in rows]

        return await self._store.run(select)

    async def count(self) -> int:
        """Return how many deliveries are stored."""
        return await self._store.run(
            lambda conn: int(conn.execute("SELECT COUNT(*) FROM inbox").fetchone()[0])
        )


class OutboxRepo:
    """Queued messages: claims per destination, done / retry / dead, recovery."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def destinations_ready(self) -> list[str]:
        """Return the destinations that have ready rows."""
        return await self._store.run(
            lambda conn: [
                r[0]
                for r in conn.execute("SELECT DISTINCT destination FROM outbox WHERE status = 0")
            ]
        )

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
            with _transaction(conn, durable=False):
                head = conn.execute(
                    "SELECT * FROM outbox WHERE destination = ? AND status = 0 ORDER BY id LIMIT 1",
                    (destination,),
                ).fetchone()
                if head is None:
                    return None
                if head["not_before"] > now:
                    return float(head["not_before"])
                if head["group_id"] is not None:
                    ids = [
                        r[0]
                        for r in conn.execute(
                            "SELECT id FROM outbox WHERE group_id = ? AND status = 0 ORDER BY id",
                            (head["group_id"],),
                        )
                    ]
                else:
                    candidates = [
                        _outbox_from_row(r)
                        for r in conn.execute(
                            "SELECT * FROM outbox WHERE destination = ? AND status = 0"
                            " AND group_id IS NULL AND not_before <= ? ORDER BY id LIMIT ?",
                            (destination, now, limit),
                        )
                    ]
                    taken = max(1, min(len(candidates), choose(candidates)))
                    ids = [row.id for row in candidates[:taken]]
                marks = ",".join("?" * len(ids))
                sql = (
                    "UPDATE outbox SET status = 1, claimed_at = ?, attempts = attempts + 1,"  # noqa: S608 - only placeholders are interpolated
                    f" group_id = ? WHERE id IN ({marks}) RETURNING *"
                )
                group_id = head["group_id"] or head["id"]
                claimed = conn.execute(sql, (now, group_id, *ids)).fetchall()
                return sorted((_outbox_from_row(r) for r in claimed), key=lambda row: row.id)

        return await self._store.run(claim)

    async def mark_done(
        self, rows: Sequence[OutboxRow], now: float, detail: str | None = None
    ) -> None:
        """Mark a group sent (only ever after the sink returned)."""
        await self._finish(rows, DONE, now, None, "sent", detail)

    async def reschedule(
        self, rows: Sequence[OutboxRow], not_before: float, error: str, now: float
    ) -> None:
        """Put a group back to ready, to be tried again (whole) at `not_before`."""
        await self._finish(rows, READY, now, error, "retry", error, not_before)

    async def mark_dead(self, rows: Sequence[OutboxRow], error: str, now: float) -> None:
        """Give up on a group; the reason goes to the ledger."""
        await self._finish(rows, DEAD, now, error, "dead", error)

    async def _finish(
        self,
        rows: Sequence[OutboxRow],
        status: int,
        now: float,
        error: str | None,
        outcome: str,
        detail: str | None,
        not_before: float | None = None,
    ) -> None:
        def finish(conn: sqlite3.Connection) -> None:
            with _transaction(conn, durable=False):
                conn.executemany(
                    "UPDATE outbox SET status = ?, last_error = ?, done_at = ?,"
                    " not_before = COALESCE(?, not_before) WHERE id = ?",
                    [
                        (status, error, now if status == DONE else None, not_before, row.id)
                        for row in rows
                    ],
                )
                _insert_log(
                    conn,
                    [
                        LogEntry(now, outcome, row.hook_id, row.delivery_id, None, detail)
                        for row in rows
                    ],
                )
                if status in (DONE, DEAD):
                    conn.executemany(
                        "UPDATE hooks SET last_delivery_status = ?,"
                        " last_error = COALESCE(?, last_error) WHERE id = ?",
                        [
                            (outcome, error, hook_id)
                            for hook_id in {r.hook_id for r in rows if r.hook_id}
                        ],
                    )

        await self._store.run(finish)

    async def recover_in_flight(self) -> int:
        """Put rows left in flight by a crash back to ready; returns how many."""

        def recover(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                return conn.execute("UPDATE outbox SET status = 0 WHERE status = 1").rowcount

        return await self._store.run(recover)

    async def counts(self) -> dict[str, int]:
        """Return how many rows are in each state."""

        def count(conn: sqlite3.Connection) -> dict[str, int]:
            totals = dict.fromkeys(OUTBOX_STATES.values(), 0)
            for r in conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status"):
                totals[OUTBOX_STATES[r[0]]] = r[1]
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
            return [_outbox_from_row(r) for r in cursor]

        return await self._store.run(select)


@dataclass(frozen=True, slots=True)
class HeldRow:
    """An event held in an aggregation window."""

    id: int
    hook_id: str
    window_end: float
    event: str


class WindowRepo:
    """Aggregation windows: held events, due windows, flushes; PR and alert state."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def next_due(self) -> float | None:
        """Return the earliest window end among held events, or None."""
        return await self._store.run(
            lambda conn: conn.execute("SELECT MIN(window_end) FROM held_events").fetchone()[0]
        )

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
            with _transaction(conn):
                if digest is not None:
                    conn.execute(
                        "INSERT INTO outbox (destination, payload, nonce, status, not_before,"
                        " last_error, delivery_id, hook_id, created_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (nonce) DO NOTHING",
                        (
                            digest.destination,
                            digest.payload,
                            digest.nonce,
                            DEAD if digest.dead_reason else READY,
                            digest.not_before,
                            digest.dead_reason,
                            digest.delivery_id,
                            digest.hook_id,
                            digest.not_before,
                        ),
                    )
                conn.executemany("DELETE FROM held_events WHERE id = ?", [(i,) for i in ids])

        await self._store.run(flush)

    async def end_now(self, hook_id: str, now: float) -> int:
        """Make a hook's held events due now (`aggregate off` flushes what is held)."""

        def update(conn: sqlite3.Connection) -> int:
            with _transaction(conn):
                return conn.execute(
                    "UPDATE held_events SET window_end = ? WHERE hook_id = ?", (now, hook_id)
                ).rowcount

        return await self._store.run(update)

    async def held_count(self, hook_id: str) -> int:
        """Return how many events a hook holds."""
        return await self._store.run(
            lambda conn: int(
                conn.execute(
                    "SELECT COUNT(*) FROM held_events WHERE hook_id = ?", (hook_id,)
                ).fetchone()[0]
            )
        )

    async def pr_state(self, hook_id: str, subject: str) -> str | None:
        """Return a subject's stored PR state JSON for a hook."""
        return await self._store.run(
            lambda conn: (
                row[0]
                if (
                    row := conn.execute(
                        "SELECT state FROM pr_state WHERE hook_id = ? AND subject = ?",
                        (hook_id, subject),
                    ).fetchone()
                )
                else None
            )
        )

    async def alert_active(self, hook_id: str, rule: str, subject: str) -> bool:
        """Return whether a rule is currently true (already fired) for a subject."""
        return await self._store.run(
            lambda conn: bool(
                (
                    row := conn.execute(
                        "SELECT active FROM alert_state WHERE hook_id = ? AND rule = ?"
                        " AND subject = ?",
                        (hook_id, rule, subject),
                    ).fetchone()
                )
                and row[0]
            )
        )


class DeliveryLogRepo:
    """The delivery ledger: what happened to each delivery, newest last."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def add(self, entries: Sequence[LogEntry]) -> None:
        """Append ledger lines."""

        def add(conn: sqlite3.Connection) -> None:
            with _transaction(conn):
                _insert_log(conn, entries)

        await self._store.run(add)

    async def recent(self, hook_id: str | None = None, limit: int = 20) -> list[LogEntry]:
        """Return the newest ledger lines (all, or one hook's), oldest first."""

        def select(conn: sqlite3.Connection) -> list[LogEntry]:
            if hook_id is None:
                cursor = conn.execute(
                    "SELECT * FROM delivery_log ORDER BY id DESC LIMIT ?", (limit,)
                )
            else:
                cursor = conn.execute(
                    "SELECT * FROM delivery_log WHERE hook_id = ? ORDER BY id DESC LIMIT ?",
                    (hook_id, limit),
                )
            entries = [
                LogEntry(
                    r["at"], r["outcome"], r["hook_id"], r["delivery_id"], r["kind"], r["detail"]
                )
                for r in cursor
            ]
            return entries[::-1]

        return await self._store.run(select)
