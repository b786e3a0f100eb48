"""What every destination shares: the errors a send raises and the two shapes of sink.

A `Sink` takes one Discord `Message` (console, channel webhook, channel); a
`Destination` takes outbox rows whatever their payload, and says how many rows go in
one send, when to try again and when to give up. The outbox worker only knows
`Destination`; bot/delivery/messages.py turns a message Sink into one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.store import AttemptResult, OutboxRow
from formatters.message import Message


class TransientSinkError(Exception):
    """The send failed but may work later (429, 5xx, timeouts); retry after a delay."""

    def __init__(
        self, message: str, retry_after: float | None = None, result: AttemptResult | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.result = result


class PermanentSinkError(Exception):
    """The destination refuses for good (gone, forbidden); stop sending there."""

    def __init__(self, message: str, result: AttemptResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class RejectedMessageError(Exception):
    """The destination refused this one message (a 400, a 4xx to a forward): it goes dead."""

    def __init__(self, message: str, result: AttemptResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True, slots=True)
class Sent:
    """A send that worked: the receipt (a message id, a status line) and what came back."""

    receipt: str | None = None
    result: AttemptResult | None = None


class Sink(Protocol):
    """A destination the outbox worker can deliver one Message to."""

    key: str
    coalesces: bool  # may several queued messages share one post (under backlog)?

    async def send(self, message: Message, *, nonce: str) -> str | None:
        """Deliver `message`; return a receipt (e.g. a message id) or None.

        Raises:
            TransientSinkError: try again later.
            PermanentSinkError: the destination will never accept it.
            RejectedMessageError: this message will never be accepted.
        """
        ...


@runtime_checkable
class Destination(Protocol):
    """Where outbox rows of one destination key go, with its own retry policy."""

    key: str
    send_timeout: float  # seconds the worker waits for `send` before counting a failure
    coalescing: bool  # may rows be held a moment during a burst to leave together?

    def group_size(self, candidates: Sequence[OutboxRow]) -> int:
        """Return how many of the oldest ready rows go in one send (at least 1)."""
        ...

    def wait_seconds(self) -> float:
        """Return how long to wait before the next send may start (a quota); 0 if none."""
        ...

    def retry_delay(self, row: OutboxRow, retry_after: float | None) -> float | None:
        """Return the delay before the row's next try, or None when its tries are used up."""
        ...

    async def send(self, rows: Sequence[OutboxRow]) -> Sent:
        """Send the rows (one group); raise a *SinkError or *MessageError on failure.

        ValueError, KeyError or TypeError mean the payload cannot be read: the rows die.
        """
        ...


SinkFactory = Callable[[str], Sink | Destination]
