"""Helpers for formatter tests: hand-built Events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest

from parsers.event import Event

WHEN = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)

MakeEvent = Callable[..., Event]


def build_event(kind: str = "push", service: str = "github", **overrides: Any) -> Event:
    """Return an Event with sensible defaults; `fields` may be a plain dict."""
    values: dict[str, Any] = {
        "service": service,
        "kind": kind,
        "source": "octo/hello-world",
        "delivery_id": "delivery-1",
        "occurred_at": WHEN,
        "title": f"{kind} on octo/hello-world",
        "actor": "alice",
        "url": "https://github.com/octo/hello-world",
        "fields": {},
    }
    values.update(overrides)
    values["fields"] = MappingProxyType(dict(values["fields"]))
    return Event(**values)


def build_commits(count: int, message: str = "Fix encryption bug") -> list[dict[str, Any]]:
    """Return `count` GitHub-like commit entries, newest last."""
    return [
        {
            "id": f"{n:040x}",
            "short_id": f"{n:07x}",
            "message": f"{message} {n}",
            "full_message": f"{message} {n}\n\nLonger body.",
            "author": "alice",
            "url": f"https://github.com/octo/hello-world/commit/{n:040x}",
            "added": [],
            "removed": [],
            "modified": ["README.md"],
        }
        for n in range(1, count + 1)
    ]


@pytest.fixture
def make_event() -> MakeEvent:
    """Return the Event factory (see build_event)."""
    return build_event
