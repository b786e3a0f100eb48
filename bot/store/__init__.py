"""The store: all SQL of hookbot, one module per repository, migrations beside them.

    connection.py  Store: the database thread, PRAGMAs, migrations, `run`, pruning
    types.py       row and value types (Hook, NewDelivery, Completion, …), queue states
    hooks.py       hooks, rejection and filter counts, old tokens, channel templates
    inbox.py       deliveries in; `complete`, the pipeline's one transaction per batch
    outbox.py      messages out: claims, sent / retry / dead, failing destinations
    ledger.py      one ledger for both directions (`store.ledger`, also `store.log`)
    windows.py     events held in aggregation windows
    subjects.py    PR state and alert-if state per subject
    sources.py     where each Docker host's event stream resumes
    integrations.py  GitHub repository webhooks, commit files, the tunnel's URL
    stats.py       read-only figures for /metrics
    base.py        Repository and `transaction`, shared by the modules above
    migrations/    numbered SQL scripts, applied in order at open

Callers import from here: `from bot.store import Store, Hook, NewDelivery, …`.
"""

from __future__ import annotations

from bot.store.connection import PRUNE_BATCH, Store, StoreError
from bot.store.hooks import HookRepo
from bot.store.inbox import InboxRepo
from bot.store.ledger import LedgerRepo
from bot.store.outbox import OutboxRepo
from bot.store.subjects import SubjectRepo
from bot.store.types import (
    FAILED_OUTCOMES,
    AlertMisses,
    AlertStateChange,
    AttemptResult,
    Completion,
    Direction,
    FilterCount,
    HeldRow,
    Hook,
    HookStatus,
    InboxRow,
    InboxState,
    LogEntry,
    NewDelivery,
    NewHeldEvent,
    NewOutbox,
    OutboxRow,
    OutboxState,
    PRStateChange,
    Rejection,
)
from bot.store.windows import WindowRepo

# The outbox states by their first names (tests and workers use them).
READY, IN_FLIGHT, DONE, DEAD = (
    OutboxState.READY,
    OutboxState.IN_FLIGHT,
    OutboxState.DONE,
    OutboxState.DEAD,
)
DeliveryLogRepo = LedgerRepo  # the ledger's first name

__all__ = [
    "DEAD",
    "DONE",
    "FAILED_OUTCOMES",
    "IN_FLIGHT",
    "PRUNE_BATCH",
    "READY",
    "AlertMisses",
    "AlertStateChange",
    "AttemptResult",
    "Completion",
    "DeliveryLogRepo",
    "Direction",
    "FilterCount",
    "HeldRow",
    "Hook",
    "HookRepo",
    "HookStatus",
    "InboxRepo",
    "InboxRow",
    "InboxState",
    "LedgerRepo",
    "LogEntry",
    "NewDelivery",
    "NewHeldEvent",
    "NewOutbox",
    "OutboxRepo",
    "OutboxRow",
    "OutboxState",
    "PRStateChange",
    "Rejection",
    "Store",
    "StoreError",
    "SubjectRepo",
    "WindowRepo",
]
