"""Small text helpers the parsers share (pure): one-line text, first lines, plurals."""

from __future__ import annotations

__all__ = ["first_line", "one_line", "plural"]


def one_line(text: str) -> str:
    """Collapse any whitespace, newlines included, into single spaces."""
    return " ".join(text.split())


def first_line(text: str | None) -> str:
    """Return the first non-blank line of a (commit) message, stripped; "" when there is none."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def plural(count: int, noun: str) -> str:
    """Write `1 commit` / `3 commits`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
