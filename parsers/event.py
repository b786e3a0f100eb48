"""Event: one normalised thing that happened; the only type formatters and filters read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeAlias

JSON: TypeAlias = "dict[str, JSON] | list[JSON] | str | int | float | bool | None"


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One normalised thing that happened; the only type formatters and filters read.

    `fields` is the nested mapping templates, filters and conditions read
    (`pr.number`, `commits`, `commit_count`, …); parsers wrap it read-only.
    """

    service: str
    kind: str
    source: str
    delivery_id: str
    occurred_at: datetime | None
    title: str
    actor: str | None = None
    url: str | None = None
    status: str | None = None
    branch: str | None = None
    subject: str | None = None
    provider: str | None = None  # who sent it when a service has several senders (ci: jenkins, …)
    fields: Mapping[str, JSON] = field(default_factory=lambda: MappingProxyType({}))

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        """Pickle support (events come back from the parse worker process).

        `fields` is a read-only mappingproxy, which pickle cannot copy: send a dict.
        """
        state = {f.name: getattr(self, f.name) for f in fields(self)}
        state["fields"] = dict(self.fields)
        return (_event_from_state, (state,))


def _event_from_state(state: dict[str, Any]) -> Event:
    """Rebuild a pickled Event, its fields read-only again."""
    return Event(**{**state, "fields": MappingProxyType(state["fields"])})
