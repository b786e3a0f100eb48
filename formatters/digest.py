"""Many events → one digest Message for an aggregation window.

The store keeps a small HeldEvent per event held in a window; at the end of the window
render_digest turns the list (oldest first, newest last) into one embed:

    title        📊 GitHub Activity (last 5m)
    description  **Pushes:** 3 (main, feature-oauth, dev)
                 **PRs:** 1 opened, 2 updated
                 **Issues:** 2 closed

                 **Latest**
                 • [newest title](url)
                 • [older title](url)
                 …and N more
    footer       6 events · window ending 12:35 UTC

Summary lines count each event name (the kind up to its first dot) by action, status
or branch; user text is escaped with the `md` filter. The description is built to fit
Discord's limits item by item, so a link is never cut in half. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from urllib.parse import quote

from formatters.message import LIMITS, Embed, Message, clamp, truncate_text
from formatters.render import COLORS, md
from parsers.event import Event

__all__ = [
    "MAX_LATEST",
    "HeldEvent",
    "format_window",
    "render_digest",
]

MAX_LATEST = 20  # newest items listed under "Latest", at most
MAX_GROUPS = 10  # summary lines, at most; the rest fold into "Other events"
MAX_PARTS = 6  # counts on one summary line ("1 opened, 2 updated, …")
MAX_BRANCHES = 5  # branch names on the "Pushes" line
SUMMARY_BUDGET = 1_500  # characters of summary lines, so "Latest" always has room
HELD_TITLE = 256  # characters of title a HeldEvent keeps
ITEM_TITLE = 120  # characters of title per "Latest" item, before escaping
MAX_URL = 512  # a longer URL is not linked
WORD = 24  # characters of an action, status or branch word, before escaping
NAME = 40  # characters of an unknown event or service name, before escaping

UPDATED = "updated"
OTHER = "other"


class _Mode(Enum):
    """How a summary line counts its events."""

    BRANCHES = "branches"  # "3 (main, dev)"
    ACTIONS = "actions"  # "1 opened, 2 updated"
    NOUNS = "nouns"  # "1 branch, 2 tags" (create/delete)
    STATUS = "status"  # "4 passed, 1 failed"
    COUNT = "count"  # "3"


# Event name → (label, mode). The order is the order of summary lines.
_GROUPS: Mapping[str, tuple[str, _Mode]] = {
    "push": ("Pushes", _Mode.BRANCHES),
    "tag_push": ("Tag pushes", _Mode.COUNT),
    "pull_request": ("PRs", _Mode.ACTIONS),
    "merge_request": ("MRs", _Mode.ACTIONS),
    "pull_request_review": ("Reviews", _Mode.ACTIONS),
    "pull_request_review_comment": ("Review comments", _Mode.COUNT),
    "issues": ("Issues", _Mode.ACTIONS),
    "issue": ("Issues", _Mode.ACTIONS),
    "issue_comment": ("Comments", _Mode.COUNT),
    "note": ("Comments", _Mode.COUNT),
    "discussion": ("Discussions", _Mode.ACTIONS),
    "discussion_comment": ("Discussion comments", _Mode.COUNT),
    "release": ("Releases", _Mode.ACTIONS),
    "create": ("Created", _Mode.NOUNS),
    "delete": ("Deleted", _Mode.NOUNS),
    "workflow_run": ("Workflow runs", _Mode.STATUS),
    "workflow_job": ("Workflow jobs", _Mode.STATUS),
    "check_suite": ("Check suites", _Mode.STATUS),
    "check_run": ("Checks", _Mode.STATUS),
    "status": ("Commit statuses", _Mode.STATUS),
    "pipeline": ("Pipelines", _Mode.STATUS),
    "build": ("Builds", _Mode.STATUS),
    "job": ("Jobs", _Mode.STATUS),
    "deployment": ("Deployments", _Mode.ACTIONS),
    "deployment_status": ("Deployment statuses", _Mode.STATUS),
    "container": ("Containers", _Mode.ACTIONS),
    "image": ("Images", _Mode.ACTIONS),
    "service": ("Services", _Mode.ACTIONS),
    "star": ("Stars", _Mode.COUNT),
    "watch": ("Watchers", _Mode.COUNT),
    "fork": ("Forks", _Mode.COUNT),
    "member": ("Members", _Mode.ACTIONS),
    "repository": ("Repository", _Mode.ACTIONS),
    "wiki_page": ("Wiki pages", _Mode.COUNT),
    "ping": ("Pings", _Mode.COUNT),
}
_GROUP_ORDER = {name: rank for rank, name in enumerate(_GROUPS)}

# Actions that only change a subject (new commits, edits, labels, …) count as "updated".
_UPDATED_ACTIONS = frozenset(
    {
        "synchronize",
        "edited",
        "labeled",
        "unlabeled",
        "assigned",
        "unassigned",
        "locked",
        "unlocked",
        "milestoned",
        "demilestoned",
        "review_requested",
        "review_request_removed",
        "auto_merge_enabled",
        "auto_merge_disabled",
        "enqueued",
        "dequeued",
        "pinned",
        "unpinned",
        "category_changed",
        "update",
        "updated",
    }
)

# Statuses (GitHub's conclusions, GitLab's and other CIs') in the words a digest uses.
_STATUS_WORDS: Mapping[str, str] = {
    "success": "passed",
    "succeeded": "passed",
    "passed": "passed",
    "failure": "failed",
    "failed": "failed",
    "error": "failed",
    "errored": "failed",
    "startup_failure": "failed",
    "timed_out": "timed out",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "running": "running",
    "in_progress": "running",
    "queued": "pending",
    "pending": "pending",
    "requested": "pending",
    "waiting": "pending",
    "created": "pending",
    "skipped": "skipped",
    "neutral": "neutral",
    "action_required": "needs action",
    "stale": "stale",
}
_FAILURES = frozenset({"failure", "failed", "error", "errored", "startup_failure", "timed_out"})

# Words in this order first, then others as first seen, then "updated" and "other".
_WORD_ORDER = {
    word: rank
    for rank, word in enumerate(
        (
            "opened",
            "reopened",
            "ready for review",
            "converted to draft",
            "approved",
            "changes requested",
            "commented",
            "dismissed",
            "merged",
            "closed",
            "published",
            "prereleased",
            "released",
            "created",
            "deleted",
            "branch",
            "tag",
            "passed",
            "failed",
            "timed out",
            "cancelled",
            "running",
            "pending",
            "skipped",
        )
    )
}
_LAST = {UPDATED: 1, OTHER: 2}

# Well-known spellings; other services are title-cased word by word.
_SERVICE_NAMES: Mapping[str, str] = {
    "github": "GitHub",
    "gitlab": "GitLab",
    "gitea": "Gitea",
    "forgejo": "Forgejo",
    "bitbucket": "Bitbucket",
    "docker": "Docker",
    "ci": "CI",
    "circleci": "CircleCI",
    "jenkins": "Jenkins",
    "sentry": "Sentry",
    "custom": "Custom",
}

# Characters a Discord masked-link target may not hold raw; quote() encodes them.
_URL_SAFE = "!#$%&'*+,/:;=?@~"
_HTTP_URL = re.compile(r"https?://[^/?#\s]+(?:[/?#]\S*)?", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s_\-/.]+")


# --- held events ----------------------------------------------------------------------


def _required(data: Mapping[str, object], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"held event {key} must be a string, got {type(value).__name__}")
    return value


def _optional(data: Mapping[str, object], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"held event {key} must be a string or null, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class HeldEvent:
    """What the store keeps per event held in an aggregation window (small, JSON-able)."""

    service: str
    kind: str
    title: str
    url: str | None
    status: str | None
    branch: str | None
    actor: str | None
    source: str

    @classmethod
    def from_event(cls, event: Event) -> HeldEvent:
        """Return the parts of an Event a digest reads (the title cut to HELD_TITLE)."""
        return cls(
            service=event.service,
            kind=event.kind,
            title=truncate_text(event.title, HELD_TITLE),
            url=event.url,
            status=event.status,
            branch=event.branch,
            actor=event.actor,
            source=event.source,
        )

    def to_json(self) -> dict[str, str | None]:
        """Return the held event as a flat JSON object (see from_json)."""
        return {
            "service": self.service,
            "kind": self.kind,
            "title": self.title,
            "url": self.url,
            "status": self.status,
            "branch": self.branch,
            "actor": self.actor,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, object]) -> HeldEvent:
        """Rebuild a held event stored by to_json; raises ValueError on malformed data.

        `service`, `kind`, `title` and `source` are required strings; the other keys
        may be missing or null.
        """
        return cls(
            service=_required(d, "service"),
            kind=_required(d, "kind"),
            title=_required(d, "title"),
            url=_optional(d, "url"),
            status=_optional(d, "status"),
            branch=_optional(d, "branch"),
            actor=_optional(d, "actor"),
            source=_required(d, "source"),
        )

    @property
    def name(self) -> str:
        """The event name: the kind up to its first dot (`pull_request`)."""
        return self.kind.split(".", 1)[0]

    @property
    def action(self) -> str | None:
        """The kind after its first dot (`opened`), or None for kinds without one."""
        parts = self.kind.split(".", 1)
        return parts[1] if len(parts) == 2 and parts[1] else None

    @property
    def failed(self) -> bool:
        """Say whether the event reports a failure (by its status or its action)."""
        return (self.status or "").lower() in _FAILURES or (self.action or "") in _FAILURES


# --- words ----------------------------------------------------------------------------


def _plain(text: str, limit: int) -> str:
    """Return user text on one line (whitespace runs become one space), cut to `limit`."""
    return truncate_text(" ".join(text.split()), limit)


def _safe(text: str, limit: int) -> str:
    """Return user text on one line, cut to `limit` characters, then escaped."""
    return md(_plain(text, limit))


def format_window(seconds: int) -> str:
    """Return a window length as hours, minutes and seconds: "5m", "24h", "1h 30m"."""
    if seconds <= 0:
        raise ValueError(f"a window lasts at least one second, got {seconds}")
    parts: list[str] = []
    rest = seconds
    for suffix, size in (("h", 3_600), ("m", 60), ("s", 1)):
        amount, rest = divmod(rest, size)
        if amount:
            parts.append(f"{amount}{suffix}")
    return " ".join(parts)


def _service_name(service: str) -> str:
    known = _SERVICE_NAMES.get(service.lower())
    if known is not None:
        return known
    words = _SEPARATORS.split(_plain(service, NAME))
    return md(" ".join(word[:1].upper() + word[1:] for word in words if word)) or "Service"


def _plural(noun: str, count: int) -> str:
    if count == 1:
        return noun
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


def _action_word(event: HeldEvent) -> str:
    action = event.action
    if action is None:
        return OTHER
    if action in _UPDATED_ACTIONS:
        return UPDATED
    return action.replace("_", " ")


def _status_word(event: HeldEvent) -> str:
    if event.status is None:
        return _action_word(event)
    status = event.status.lower()
    return _STATUS_WORDS.get(status, status.replace("_", " "))


def _noun_word(event: HeldEvent) -> str:
    return (event.action or OTHER).replace("_", " ")


# --- summary --------------------------------------------------------------------------


@dataclass(slots=True)
class _Group:
    """The events of one name in a window, in arrival order."""

    name: str
    first_seen: int
    events: list[HeldEvent]


def _groups(events: Sequence[HeldEvent]) -> list[_Group]:
    by_name: dict[str, _Group] = {}
    for index, event in enumerate(events):
        group = by_name.setdefault(event.name, _Group(event.name, index, []))
        group.events.append(event)
    unknown = len(_GROUP_ORDER)
    return sorted(by_name.values(), key=lambda g: (_GROUP_ORDER.get(g.name, unknown), g.first_seen))


def _counted(events: Sequence[HeldEvent], word: Callable[[HeldEvent], str], nouns: bool) -> str:
    """Return "1 opened, 2 updated": counts per word, known words first."""
    counts: dict[str, int] = {}
    for event in events:
        key = word(event)
        counts[key] = counts.get(key, 0) + 1
    first_seen = {key: index for index, key in enumerate(counts)}
    unknown = len(_WORD_ORDER)

    def rank(key: str) -> tuple[int, int]:
        return (_WORD_ORDER.get(key, unknown + _LAST.get(key, 0)), first_seen[key])

    ordered = sorted(counts, key=rank)
    shown = ordered if len(ordered) <= MAX_PARTS else ordered[: MAX_PARTS - 1]
    parts = [
        f"{counts[key]} {md(_plain(_plural(key, counts[key]) if nouns else key, WORD))}"
        for key in shown
    ]
    rest = sum(counts[key] for key in ordered[len(shown) :])
    if rest:
        parts.append(f"{rest} {OTHER}")
    return ", ".join(parts)


def _branches(events: Sequence[HeldEvent]) -> str:
    """Return " (main, dev)": distinct branches in first-seen order, then "…"."""
    seen: dict[str, None] = {}
    for event in events:
        if event.branch:
            seen.setdefault(event.branch, None)
    if not seen:
        return ""
    names = [_safe(branch, WORD) for branch in list(seen)[:MAX_BRANCHES]]
    if len(seen) > MAX_BRANCHES:
        names.append("…")
    return f" ({', '.join(names)})"


def _fallback_label(name: str) -> str:
    label = _plain(name.replace("_", " "), NAME)
    return md(label[:1].upper() + label[1:]) if label else "Other events"


def _summary_line(group: _Group) -> str:
    events = group.events
    known = _GROUPS.get(group.name)
    if known is None:
        label = _fallback_label(group.name)
        has_status = any(event.status is not None for event in events)
        mode = _Mode.STATUS if has_status else _Mode.COUNT
    else:
        label, mode = known
    if mode is _Mode.BRANCHES:
        text = f"{len(events)}{_branches(events)}"
    elif mode is _Mode.ACTIONS:
        text = _counted(events, _action_word, nouns=False)
    elif mode is _Mode.NOUNS:
        text = _counted(events, _noun_word, nouns=True)
    elif mode is _Mode.STATUS:
        text = _counted(events, _status_word, nouns=False)
    else:
        text = str(len(events))
    return f"**{label}:** {text}"


def _summary(events: Sequence[HeldEvent]) -> list[str]:
    """Return one line per event name, within MAX_GROUPS lines and SUMMARY_BUDGET."""
    groups = _groups(events)
    lines: list[str] = []
    used = 0
    for index, group in enumerate(groups):
        line = _summary_line(group)
        # Leave room for the "Other events" line that folds what does not fit.
        reserve = 0 if index == len(groups) - 1 else 40
        if len(lines) >= MAX_GROUPS or used + len(line) + 1 + reserve > SUMMARY_BUDGET:
            rest = sum(len(g.events) for g in groups[index:])
            lines.append(f"**Other events:** {rest}")
            break
        lines.append(line)
        used += len(line) + 1
    return lines


# --- latest items ---------------------------------------------------------------------


def _link_target(url: str | None) -> str | None:
    """Return an http(s) URL safe inside `[…](…)`, or None when it cannot be linked."""
    if not url:
        return None
    quoted = quote(url, safe=_URL_SAFE, errors="replace")
    if len(quoted) > MAX_URL or not _HTTP_URL.fullmatch(quoted):
        return None
    return quoted


def _item(event: HeldEvent, with_source: bool) -> str:
    text = _safe(event.title, ITEM_TITLE) or _safe(event.kind, NAME) or "event"
    target = _link_target(event.url)
    line = f"• [{text}]({target})" if target else f"• {text}"
    if with_source and event.source.strip():
        line += f" · {_safe(event.source, NAME)}"
    return line


def _description(events: Sequence[HeldEvent], budget: int) -> str:
    """Return the summary, then the newest items that fit, then "…and N more"."""
    text = "\n".join(_summary(events))
    total = len(events)
    worst_more = len(f"\n…and {total} more")
    header = "\n\n**Latest**"
    with_source = len({event.source for event in events}) > 1
    items: list[str] = []
    used = len(text) + len(header)
    for event in reversed(events):
        if len(items) >= MAX_LATEST:
            break
        line = "\n" + _item(event, with_source)
        if used + len(line) + worst_more > budget:
            break  # newest first and whole: never skip ahead, never cut a link
        items.append(line)
        used += len(line)
    if items:
        text += header + "".join(items)
    hidden = total - len(items)
    if hidden:
        text += f"\n…and {hidden} more"
    return text


# --- the digest -----------------------------------------------------------------------


def _title(events: Sequence[HeldEvent], window_seconds: int) -> str:
    window = format_window(window_seconds)
    services = {event.service for event in events}
    if len(services) == 1:
        return f"📊 {_service_name(next(iter(services)))} Activity (last {window})"
    return f"📊 Activity (last {window})"


def _footer(count: int, window_end: datetime) -> str:
    noun = "event" if count == 1 else "events"
    return f"{count} {noun} · window ending {window_end:%H:%M} UTC"


def render_digest(
    events: Sequence[HeldEvent], window_seconds: int, window_end: datetime
) -> Message:
    """Render the events held in one window (oldest first) as one digest embed.

    `window_end` is the end of the window; a naive datetime is taken as UTC. The
    message fits every Discord limit. Raises ValueError for an empty list or a window
    shorter than one second (the caller never renders empty windows).
    """
    if not events:
        raise ValueError("a digest needs at least one event")
    end = window_end.replace(tzinfo=UTC) if window_end.tzinfo is None else window_end
    end = end.astimezone(UTC)
    title = _title(events, window_seconds)
    footer = _footer(len(events), end)
    budget = min(LIMITS.description, LIMITS.total - len(title) - len(footer))
    embed = Embed(
        title=title,
        description=_description(events, budget),
        color=COLORS["red"] if any(event.failed for event in events) else COLORS["blue"],
        footer=footer,
        timestamp=end,
    )
    return clamp(Message(embeds=(embed,)))
