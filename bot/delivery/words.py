"""How forwards and attempts out read in `forward list`, `info` and `logs` (shell and chat)."""

from __future__ import annotations

from bot.store import Direction, LogEntry
from bot.store.forwards import Forward


def attempt_words(entry: LogEntry) -> str:
    """Say what an `out` line of the ledger records, in one line (`logs` in chat and shell).

    `→ forward:3 HTTP 500 in 12 ms, try 2: <error>`; an `in` line reads as its detail.
    """
    if entry.direction != Direction.OUT:
        return entry.detail or ""
    parts = [f"→ {entry.destination or '?'}"]
    if entry.status_code is not None:
        parts.append(f"HTTP {entry.status_code}")
    if entry.response_ms is not None:
        parts.append(f"in {entry.response_ms:.0f} ms")
    words = " ".join(parts)
    if entry.attempt is not None:
        words += f", try {entry.attempt}"
    problem = entry.error or (entry.detail if entry.outcome != "sent" else None)
    return f"{words}: {problem}" if problem else words


def forward_words(forward: Forward) -> str:
    """Describe a forward in one line: URL, events, headers (names only), tries, timeout, body."""
    parts = [forward.url]
    parts.append(f"events {', '.join(forward.events)}" if forward.events else "every event")
    if forward.headers:
        parts.append("headers " + ", ".join(name for name, _ in forward.headers))
    parts.append(f"{forward.retries} retries, timeout {forward.timeout}s")
    parts.append("body: your template" if forward.body else "body: default JSON")
    return " · ".join(parts)
