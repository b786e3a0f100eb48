"""The one SQLite database: its thread, PRAGMAs, migrations, `run` and pruning.

Every repository method is one transaction: one function `fn(conn, …)` run by
`Store.run` on the store's own database thread, which owns the `sqlite3.Connection`.
One thread hop per transaction, and no other coroutine's statements can interleave
with it: the thread runs one function at a time, in the order they were asked for.

This is what aiosqlite did for us, through its private `_execute` and `_conn`; it
has no public way to run one function on its thread, and its public
`execute`/`executemany` cost a hop per statement (a dozen per pipeline batch). So
the store runs its own thread with the standard library's public API:
`queue.SimpleQueue` in, `loop.call_soon_threadsafe` out. (`loop.run_in_executor` on
a one-thread executor does the same job at 2-4x the cost per hop, measured.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any, TypeVar

from bot.store import inbox, ledger, outbox
from bot.store.base import transaction
from bot.store.forwards import ForwardRepo
from bot.store.hooks import HookRepo
from bot.store.inbox import InboxRepo
from bot.store.ledger import LedgerRepo
from bot.store.outbox import OutboxRepo
from bot.store.sources import SourceRepo
from bot.store.subjects import SubjectRepo
from bot.store.windows import WindowRepo

log = logging.getLogger(__name__)

T = TypeVar("T")

PRUNE_BATCH = 500


class StoreError(Exception):
    """The database cannot do what was asked (closed, corrupt, full disk…)."""


_Job = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]", asyncio.AbstractEventLoop]


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    """Hand a result (or an exception) to a waiting coroutine, on its loop."""
    if future.cancelled():
        return  # the caller gave up; the transaction ran (or failed) all the same
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class DatabaseThread:
    """A thread of its own that runs functions one at a time, in order, for event loops."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        # A daemon: a store never closed must not keep the process alive (SQLite's
        # own journal makes an interrupted transaction roll back at the next open).
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def call(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Queue `fn(*args)`; the returned future (of the running loop) gets its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, args, future, loop))
        return future

    def stop(self) -> None:
        """End the thread once the functions already queued have run."""
        self._jobs.put(None)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, args, future, loop = job
            try:
                ok, value = True, fn(*args)
            except BaseException as exc:  # the caller's to handle, never this thread's
                ok, value = False, exc
            with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
                loop.call_soon_threadsafe(_settle, future, ok, value)
            del job, fn, args, future, value  # hold nothing (the connection) while idle


def split_statements(script: str) -> Iterator[str]:
    """Yield the complete SQL statements of a migration script, in order."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""
    if statement.strip():
        yield statement


def migrations() -> list[tuple[int, str]]:
    """Return (number, script) of every migration beside this module, in order."""
    folder = resources.files("bot.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text("utf-8")))
    return sorted(found)


def connect(path: str) -> sqlite3.Connection:
    """Open the database (on the thread that will own the connection)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def configure(conn: sqlite3.Connection) -> None:
    """Set the connection's PRAGMAs: WAL, FULL sync, foreign keys, a busy timeout."""
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: a 2xx promises the delivery survives power loss, not only a crash.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations the database has not seen, in one transaction; return the version."""
    with transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in migrations():
            if number <= version:
                continue
            for statement in split_statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number:d}")
            log.info("database migrated to version %d", number)
            version = number
    return int(version)


class Store:
    """The one SQLite database: connection, PRAGMAs, migrations, repositories."""

    def __init__(self, conn: sqlite3.Connection, thread: DatabaseThread) -> None:
        self._sqlite = conn  # touched only on `thread`
        self._thread = thread
        self._closed = False
        weakref.finalize(self, thread.stop)  # a store dropped unclosed ends its thread
        self.hooks = HookRepo(self)
        self.inbox = InboxRepo(self)
        self.outbox = OutboxRepo(self)
        self.ledger = LedgerRepo(self)
        self.log = self.ledger  # the ledger's first name, kept for callers
        self.windows = WindowRepo(self)
        self.subjects = SubjectRepo(self)
        self.sources = SourceRepo(self)
        self.forwards = ForwardRepo(self)

    @classmethod
    async def open(cls, path: str) -> Store:
        """Open (creating if needed) and migrate the database at `path`.

        A file that cannot be opened at all raises sqlite3.Error; a database that
        opens but cannot be configured or migrated raises StoreError.
        """
        thread = DatabaseThread("hookbot-sqlite")
        try:
            conn = await thread.call(connect, path)
        except BaseException:
            thread.stop()
            raise
        store = cls(conn, thread)
        try:
            await store.run(configure)
            await store.run(migrate)
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        """Close the connection (checkpointing the WAL) once what was asked before is done."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._thread.call(self._sqlite.close)
        finally:
            self._thread.stop()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(conn, *args)` on the database thread: one hop, one transaction."""
        if self._closed:
            raise StoreError("the database is closed")
        try:
            return await self._thread.call(fn, self._sqlite, *args)
        except sqlite3.Error as exc:
            raise StoreError(f"database error: {exc}") from exc

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
        steps: tuple[tuple[Callable[[sqlite3.Connection, float, int], int], float], ...] = (
            (inbox.prune, min(older_than, keep_dedupe_after)),
            (outbox.prune, older_than),
            (ledger.prune, older_than),
        )
        total = 0
        for prune, cutoff in steps:
            while True:

                def batch(
                    conn: sqlite3.Connection,
                    prune: Callable[[sqlite3.Connection, float, int], int] = prune,
                    cutoff: float = cutoff,
                ) -> int:
                    with transaction(conn):
                        return prune(conn, cutoff, PRUNE_BATCH)

                deleted = await self.run(batch)
                total += deleted
                if deleted < PRUNE_BATCH:
                    break
                await asyncio.sleep(0)  # let requests in between batches
        return total
