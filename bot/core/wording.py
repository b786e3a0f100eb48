"""Durations and a hook's state in words: one spelling for every adapter (pure).

`24h`, `5m`, `30s`, `7d` are read and written the same way by the CLI, the Cog and the
service, so an answer never echoes what was typed (`1440m`) instead of what is meant.
"""

from __future__ import annotations

import re

__all__ = [
    "DurationError",
    "format_duration",
    "parse_duration",
    "state_word",
    "window_words",
]

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d{1,7})\s*([smhd])")


class DurationError(ValueError):
    """A duration cannot be read; the message gives examples of what to type."""


def parse_duration(text: str) -> int:
    """Read `30s`, `15m`, `24h` or `7d` as seconds.

    Raises:
        DurationError: not a number followed by one of s, m, h, d.
    """
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise DurationError(f"{text.strip()!r} is not a duration; write e.g. 30m, 24h or 7d")
    return int(match[1]) * UNIT_SECONDS[match[2]]


def format_duration(seconds: float) -> str:
    """Write seconds in the largest unit that divides them: 300 → 5m, 86400 → 24h.

    Whole days are written in days from two days up (`7d`); one day reads `24h`, as the
    window limits are written.
    """
    whole = round(seconds)
    if whole >= 2 * 86400 and whole % 86400 == 0:
        return f"{whole // 86400}d"
    for unit in ("h", "m"):
        size = UNIT_SECONDS[unit]
        if whole >= size and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def state_word(enabled: bool, failing: str | None) -> str:
    """Say a hook's state in one word: failing (its destination refused), on or off."""
    if failing:
        return "failing"
    return "on" if enabled else "off"


def window_words(seconds: int | None) -> str:
    """Say a hook's aggregation window: `every 5m`, or `off`."""
    return f"every {format_duration(seconds)}" if seconds else "off"
