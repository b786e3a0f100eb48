"""What hookbot knows of its Docker hosts' streams, without loading docker-py.

The watcher (bot/intake/docker_watch.py) keeps one HostStatus per host; HookService reads
them through a DockerView (live in the running process; from the stored cursors in the
shell) for `docker hosts`, and /healthz shows them as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.config import DockerHost
from parsers.event import JSON


@dataclass
class HostStatus:
    """One host's stream as `docker hosts` and /healthz show it."""

    name: str
    url: str
    state: str = "connecting"  # connecting, connected, reconnecting, stopped, not watched here
    connected_since: float | None = None
    last_event_at: float | None = None  # Engine time of the newest event read
    last_event: str | None = None  # "die api"
    reconnects: int = 0
    last_error: str | None = None
    engine: str | None = None  # the Engine's version
    loops: dict[str, int] = field(default_factory=dict)  # container → deaths, while looping

    def as_json(self) -> dict[str, JSON]:
        """Return the status as JSON (for /healthz)."""
        return {
            "name": self.name,
            "state": self.state,
            "connected_since": self.connected_since,
            "last_event_at": self.last_event_at,
            "last_event": self.last_event,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
            "engine": self.engine,
            "restart_loops": dict(self.loops),
        }

    def describe(self, now: float) -> str:
        """One line for `docker hosts`: state, last event, reconnects, restart loops."""
        parts = [f"`{self.name}` {self.url}", self.state]
        if self.state == "connected" and self.connected_since is not None:
            parts[-1] += f" for {_ago(now - self.connected_since)}"
        if self.last_event_at is not None:
            what = f"{self.last_event} " if self.last_event else ""
            parts.append(f"last event {what}{_ago(now - self.last_event_at)} ago")
        else:
            parts.append("no event yet")
        parts.append(f"{self.reconnects} reconnect{'s' if self.reconnects != 1 else ''}")
        if self.loops:
            looping = ", ".join(f"{name} ({deaths} deaths)" for name, deaths in self.loops.items())
            parts.append(f"🔁 restart loop: {looping}")
        if self.last_error and self.state != "connected":
            parts.append(f"last error: {self.last_error}")
        return " · ".join(parts)


def _ago(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@dataclass(frozen=True, slots=True)
class DockerView:
    """The Docker hosts hookbot watches, and their live statuses when this process does."""

    hosts: tuple[DockerHost, ...] = ()
    live: Callable[[], list[HostStatus]] | None = None

    def names(self) -> list[str]:
        """The host names, in DOCKER_HOSTS order."""
        return [host.name for host in self.hosts]
