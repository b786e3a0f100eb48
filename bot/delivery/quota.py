"""A per-forward quota: at most N sends in any hour; the next one waits, never dropped."""

from __future__ import annotations

import collections
from collections.abc import Callable

HOUR = 3600.0
FORWARD_QUOTA = 1000  # sends per hour per forward (DESIGN "Forwarding", seed 002)


class HourlyQuota:
    """A sliding window of send times; `wait_seconds` says how long until the next may go."""

    def __init__(
        self, clock: Callable[[], float], limit: int = FORWARD_QUOTA, window: float = HOUR
    ) -> None:
        self._clock = clock
        self._limit = limit
        self._window = window
        self._sent: collections.deque[float] = collections.deque()

    def wait_seconds(self) -> float:
        """Return 0 when a send may start now, else the seconds until one may."""
        now = self._clock()
        while self._sent and self._sent[0] <= now - self._window:
            self._sent.popleft()
        if len(self._sent) < self._limit:
            return 0.0
        return self._sent[0] + self._window - now

    def record(self) -> None:
        """Count one send, now."""
        self._sent.append(self._clock())
