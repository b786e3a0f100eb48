"""What GitHub and GitLab pushes share (pure): the distinct changed paths, capped."""

from __future__ import annotations

from collections.abc import Iterable

from parsers.event import JSON

__all__ = ["ChangedPaths"]


class ChangedPaths:
    """The distinct paths a push changed, in first-seen order, kept up to `limit`.

    Linear in the paths added: membership is a dict lookup. Paths past the limit are
    only counted (each once), for the push's `files_omitted`.
    """

    __slots__ = ("_kept", "_limit", "_overflow")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._kept: dict[str, None] = {}  # an ordered set: first-seen order, O(1) membership
        self._overflow: set[str] = set()

    def add(self, paths: Iterable[str]) -> None:
        """Note paths a commit changed; ones already seen are skipped."""
        for path in paths:
            if path in self._kept:
                continue
            if len(self._kept) < self._limit:
                self._kept[path] = None
            else:
                self._overflow.add(path)

    @property
    def kept(self) -> list[JSON]:
        """The paths kept, in first-seen order."""
        return list(self._kept)

    @property
    def omitted(self) -> int:
        """How many distinct paths came past the limit."""
        return len(self._overflow)
