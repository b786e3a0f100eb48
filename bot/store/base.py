"""What every repository shares: the store it runs on and the transaction wrapper.

A repository method is one transaction: one function `fn(conn, …)` run by
`Store.run` on the database thread. The module-level functions of each repository
module (taking `conn`) are statements on that module's own tables, for the
transactions that span several tables (`InboxRepo.complete`) to call.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.store.connection import Store


@contextmanager
def transaction(conn: sqlite3.Connection, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
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


def placeholders(count: int) -> str:
    """Return `?,?,…` for an `IN (…)` list of `count` values."""
    return ",".join("?" * count)


class Repository:
    """A repository runs its transactions through the store it belongs to (`Store.run`).

    A transaction that spans repositories (marking a destination failing) is one
    repository's method; the others reach it through the store, not by importing.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
