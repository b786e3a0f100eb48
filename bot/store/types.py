"""Row and value types of the store: what callers hand in and what they get back.

Plain frozen dataclasses and enums, no SQL: the pipeline, the service and the workers
build and read these; the repository modules turn them into statements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from parsers.event import JSON


class OutboxState(IntEnum):
    """Where a queued message is (the `outbox.status` column)."""

    READY = 0
    IN_FLIGHT = 1
    DONE = 2
    DEAD = 3

    @property
    def label(self) -> str:
        """Return the state as people read it: ready, in-flight, done, dead."""
        return self.name.lower().replace("_", "-")


class InboxState(IntEnum):
    """Where a stored delivery is (the `inbox.status` column)."""

    PENDING = 0
    DONE = 1
    FAILED = 2  # set aside after too many attempts; the reason is in the ledger


class Direction(StrEnum):
    """Which way a ledger line went: a delivery in, or an attempt to send out."""

    IN = "in"
    OUT = "out"


# Ledger outcomes that mean something went wrong (`logs --failed`); an `out` line with an
# error is failed whatever its outcome.
FAILED_OUTCOMES = ("rejected", "error", "failed", "template-error", "retry", "dead")


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
    options: Mapping[str, JSON] = field(default_factory=dict)  # the service's, for parse/verify


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
    status: OutboxState = OutboxState.READY
    group_id: int | None = None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one try at sending got back, for the ledger's `out` line of each row sent.

    All optional: a worker records what it knows. `error`, when None on a retry or a
    dead row, is the reason given to `reschedule` / `mark_dead`.
    """

    status_code: int | None = None  # the HTTP status, when an answer came back
    response_ms: float | None = None  # from sending to the answer (or to the failure)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the ledger: a delivery coming in, or an attempt going out.

    `destination` (out lines) is stored redacted: it never holds a webhook token.
    `attempt` is the outbox row's try number (1 for the first).
    """

    at: float
    outcome: str
    hook_id: str | None = None
    delivery_id: str | None = None
    kind: str | None = None
    detail: str | None = None
    direction: Direction = Direction.IN
    destination: str | None = None
    status_code: int | None = None
    response_ms: float | None = None
    attempt: int | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        """Say whether this line reports a failure (what `logs --failed` shows)."""
        return self.outcome in FAILED_OUTCOMES or self.error is not None


@dataclass(frozen=True, slots=True)
class HeldRow:
    """An event held in an aggregation window."""

    id: int
    hook_id: str
    window_end: float
    event: str


# -- what the pipeline made of one delivery ------------------------------------------------


@dataclass(frozen=True, slots=True)
class HookStatus:
    """The last delivery status (and error, if any) to record on a hook."""

    hook_id: str
    status: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FilterCount:
    """How many events one filter of a hook kept and dropped in a delivery."""

    hook_id: str
    filter: str  # the filter's canonical text
    kept: int
    dropped: int


@dataclass(frozen=True, slots=True)
class NewHeldEvent:
    """An event to hold in a hook's aggregation window until `window_end`."""

    hook_id: str
    window_end: float
    event: str  # formatters.digest.HeldEvent as JSON
    delivery_id: str


@dataclass(frozen=True, slots=True)
class PRStateChange:
    """A subject's new PR state for a hook."""

    hook_id: str
    subject: str
    state: str  # bot.core.prstate.PRState as JSON


@dataclass(frozen=True, slots=True)
class AlertStateChange:
    """An alert-if rule that turned true (fired) or false again for a subject."""

    hook_id: str
    rule: str  # the rule's expression
    subject: str
    active: bool


@dataclass(frozen=True, slots=True)
class AlertMisses:
    """How many times a hook's rules were false because the event lacked a name."""

    hook_id: str
    count: int


@dataclass(frozen=True, slots=True)
class Completion:
    """What the pipeline made of one delivery: messages to queue, ledger lines, state.

    The store writes all of a batch's completions in one transaction, the same one
    that marks their inbox rows done.
    """

    inbox_id: int
    outbox: Sequence[NewOutbox] = ()
    entries: Sequence[LogEntry] = ()
    hook_status: HookStatus | None = None
    filter_counts: Sequence[FilterCount] = ()
    held: Sequence[NewHeldEvent] = ()
    pr_states: Sequence[PRStateChange] = ()
    alert_states: Sequence[AlertStateChange] = ()
    alert_misses: Sequence[AlertMisses] = ()
    at: float = 0.0  # when the pipeline processed it
