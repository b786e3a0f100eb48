"""Event: one normalised thing that happened; the only type formatters and filters read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TypeAlias

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
