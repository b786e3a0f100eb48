"""Pull-request review and check state, folded from events.

Pure: no I/O, no clock. The caller keeps one `PRState` per subject
(`<service>:owner/repo#45`), stores it with `to_json`, reads it back with
`from_json`, and folds each event in with `apply` for every subject
`subjects_for` names.

Which events feed the state is read from what a service's events carry, as its
field docs say (`sources`), never from the service's name: an event carrying the
pull request (`pr.head_sha`) updates it, one carrying a review (`review.reviewer`)
updates the reviews, and one whose section lists the pull requests it ran for
(`<section>.pull_requests` beside `<section>.conclusion`) updates their checks.

The rules are those of the pull-request providers' own pages:

* the latest review per reviewer counts, except that a `commented` review does
  not replace an earlier approval or change request by the same reviewer;
* a dismissed review removes that reviewer's approval or change request;
* new commits (a new head SHA) reset the checks but keep the reviews (a repository
  that dismisses stale reviews sends a `dismissed` review for them);
* check results count only for the PR's head SHA (a state without one takes the
  check's); the latest result per check name wins, so a passing re-run replaces a
  failure;
* closed, merged, reopened, ready-for-review and converted-to-draft events update
  `open`, `draft` and `merged` from the pull request the event carries.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from parsers import SERVICES
from parsers.event import JSON, Event

__all__ = [
    "CHECK_RESULTS",
    "REVIEW_STATES",
    "STATE_NAMES",
    "PRState",
    "Sources",
    "apply",
    "sources",
    "subjects_for",
]

REVIEW_STATES: frozenset[str] = frozenset(
    {"approved", "changes_requested", "commented", "dismissed"}
)
"""What `PRState.reviews` may hold per reviewer."""

CHECK_RESULTS: frozenset[str] = frozenset({"passed", "failed", "pending"})
"""What `PRState.checks` may hold per check name."""

STATE_NAMES: tuple[str, ...] = ("approvals", "reviews", "changes_requested", "status", "checks")
"""The names `PRState.names` returns: what rules read as `pr.<name>`."""

# Conclusions that count as passing; any other conclusion fails.
_PASSING = frozenset({"success", "neutral", "skipped"})

_FOLDED_REVIEWS = frozenset({"approved", "changes_requested"})


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class PRState:
    """What hookbot knows about one pull request's reviews and checks.

    `reviews` maps each reviewer's login to their latest state (`approved`,
    `changes_requested`, `commented` or `dismissed`); `checks` maps each check name
    (a suite's app, a check run's name, a workflow's name) to `passed`, `failed` or
    `pending`, for the current head SHA only. `title` and `url` are the PR's, when an
    event carrying the pull request was seen; alerts link to them.
    """

    subject: str
    head_sha: str | None = None
    open: bool = True
    draft: bool = False
    merged: bool = False
    reviews: Mapping[str, str] = field(default_factory=dict, hash=False)
    checks: Mapping[str, str] = field(default_factory=dict, hash=False)
    title: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        # Read-only copies, so a state can never change under the caller.
        object.__setattr__(self, "reviews", _frozen(self.reviews))
        object.__setattr__(self, "checks", _frozen(self.checks))

    # -- derived values

    @property
    def approvals(self) -> int:
        """Reviewers whose latest counting review approves."""
        return sum(1 for state in self.reviews.values() if state == "approved")

    @property
    def changes_requested(self) -> int:
        """Reviewers whose latest counting review requests changes."""
        return sum(1 for state in self.reviews.values() if state == "changes_requested")

    @property
    def status(self) -> str:
        """`merged`, `closed`, `draft`, `changes_requested`, `approved` or `open`.

        `approved` means at least one approval and no outstanding change request.
        """
        if self.merged:
            return "merged"
        if not self.open:
            return "closed"
        if self.draft:
            return "draft"
        if self.changes_requested:
            return "changes_requested"
        if self.approvals:
            return "approved"
        return "open"

    @property
    def checks_status(self) -> str:
        """`failed` (any failed), `pending` (any pending), `passed` (all, ≥ 1) or `none`."""
        results = set(self.checks.values())
        if not results:
            return "none"
        if "failed" in results:
            return "failed"
        if "pending" in results:
            return "pending"
        return "passed"

    def names(self) -> dict[str, object]:
        """Return what rules read as `pr.<name>` (`reviews` is an alias of `approvals`)."""
        return {
            "approvals": self.approvals,
            "reviews": self.approvals,
            "changes_requested": self.changes_requested,
            "status": self.status,
            "checks": self.checks_status,
        }

    # -- storage

    def to_json(self) -> dict[str, JSON]:
        """Return the state as a JSON-ready dict; `from_json` reads it back."""
        return {
            "subject": self.subject,
            "head_sha": self.head_sha,
            "open": self.open,
            "draft": self.draft,
            "merged": self.merged,
            "reviews": dict(self.reviews),
            "checks": dict(self.checks),
            "title": self.title,
            "url": self.url,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PRState:
        """Read a state `to_json` wrote.

        Raises:
            ValueError: A value is missing or has the wrong type.
        """
        subject = d.get("subject")
        if not isinstance(subject, str) or not subject:
            raise ValueError("PR state: 'subject' must be a non-empty string")
        return cls(
            subject=subject,
            head_sha=_opt_str(d, "head_sha"),
            open=_bool(d, "open", default=True),
            draft=_bool(d, "draft", default=False),
            merged=_bool(d, "merged", default=False),
            reviews=_str_map(d, "reviews", REVIEW_STATES),
            checks=_str_map(d, "checks", CHECK_RESULTS),
            title=_opt_str(d, "title"),
            url=_opt_str(d, "url"),
        )


def _opt_str(d: Mapping[str, Any], key: str) -> str | None:
    value = d.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"PR state: {key!r} must be a string or null")
    return value


def _bool(d: Mapping[str, Any], key: str, *, default: bool) -> bool:
    value = d.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"PR state: {key!r} must be true or false")
    return value


def _str_map(d: Mapping[str, Any], key: str, allowed: frozenset[str]) -> dict[str, str]:
    value = d.get(key, {})
    if not isinstance(value, Mapping):
        raise ValueError(f"PR state: {key!r} must be an object")
    result: dict[str, str] = {}
    for name, state in value.items():
        if not isinstance(name, str) or state not in allowed:
            raise ValueError(f"PR state: {key!r} has an invalid entry {name!r}: {state!r}")
        result[name] = state
    return result


# --------------------------------------------------------------------------- which events feed it

# Documented paths that say what an event carries (see the module docstring).
_PR_MARK = "pr.head_sha"
_REVIEW_MARK = "review.reviewer"
_CHECKS_LIST = "pull_requests"
_CHECKS_RESULT = "conclusion"
_CHECK_NAMES = ("name", "app")  # what names a check inside its section, in order
_CLOSING = frozenset({"closed", "merged"})


@dataclass(frozen=True, slots=True)
class Sources:
    """The events of one service that feed PR state, by event name (`<event>` of a kind).

    `pull_requests` carry the pull request; `lifecycle` are those of them that report it
    closing (their kinds include `.closed` or `.merged`), the ones a hook needs for
    `pr.status`; `reviews` carry a review; `checks` maps an event to the field holding its
    check result and the key naming the check inside it (None: the event name names it).
    """

    pull_requests: tuple[str, ...] = ()
    lifecycle: tuple[str, ...] = ()
    reviews: tuple[str, ...] = ()
    checks: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)

    @property
    def feeds(self) -> bool:
        """True when some event carries a pull request: rules may read `pr.<state name>`."""
        return bool(self.pull_requests)


def sources_from(
    field_docs: Mapping[str, Mapping[str, str]], kinds: tuple[str, ...] = ()
) -> Sources:
    """Read which events feed PR state from a service's field docs.

    Args:
        field_docs: Event name → documented field path → description.
        kinds: The service's kinds, to tell which pull-request events report closing.

    Returns:
        The Sources; empty when no event carries a pull request or a check result.
    """
    pull_requests: list[str] = []
    reviews: list[str] = []
    checks: dict[str, tuple[str, str | None]] = {}
    for event, docs in field_docs.items():
        if event == "*":
            continue
        if _PR_MARK in docs:
            pull_requests.append(event)
        if _REVIEW_MARK in docs:
            reviews.append(event)
        for path in docs:
            section, dot, leaf = path.rpartition(".")
            if dot and leaf == _CHECKS_LIST and f"{section}.{_CHECKS_RESULT}" in docs:
                named = next((k for k in _CHECK_NAMES if f"{section}.{k}" in docs), None)
                checks.setdefault(event, (section, named))
    closing = [
        event
        for event in pull_requests
        if any(
            kind.partition(".")[0] == event and kind.rpartition(".")[2] in _CLOSING
            for kind in kinds
        )
    ]
    return Sources(
        pull_requests=tuple(pull_requests),
        lifecycle=tuple(closing or pull_requests),
        reviews=tuple(reviews),
        checks=MappingProxyType(checks),
    )


@functools.cache
def sources(service: str) -> Sources:
    """Return the events of a registered service that feed PR state (empty if none)."""
    spec = SERVICES.get(service)
    if spec is None:
        return Sources()
    return sources_from(spec.field_docs, spec.kinds)


# --------------------------------------------------------------------------- reading events


def _event_name(event: Event) -> str:
    return event.kind.partition(".")[0]


def _section(event: Event, key: str) -> Mapping[str, JSON]:
    value = event.fields.get(key)
    return value if isinstance(value, Mapping) else {}


def _str(mapping: Mapping[str, JSON], key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) and value else None


def subjects_for(event: Event) -> list[str]:
    """Return the PR subjects an event updates.

    An event carrying the pull request (a PR, a review of it, a comment on its diff)
    updates its own subject; an event carrying a check result updates the PRs its
    section names (its `pull_requests` numbers → `<service>:<repo>#<number>`).
    Anything else, and a check result naming no PR (pushes to branches without one,
    forks), gives [].
    """
    name = _event_name(event)
    fed = sources(event.service)
    if name in fed.pull_requests:
        has_pr = isinstance(event.fields.get("pr"), Mapping)
        return [event.subject] if has_pr and event.subject else []
    check = fed.checks.get(name)
    if check is None:
        return []
    numbers = _section(event, check[0]).get(_CHECKS_LIST)
    if not isinstance(numbers, list):
        return []
    subjects: list[str] = []
    for number in numbers:
        if isinstance(number, int) and not isinstance(number, bool):
            subject = f"{event.service}:{event.source}#{number}"
            if subject not in subjects:
                subjects.append(subject)
    return subjects


def _check_result(conclusion: str | None) -> str:
    """Fold a CI conclusion into `passed`, `failed` or `pending` (none yet)."""
    if conclusion:
        return "passed" if conclusion in _PASSING else "failed"
    return "pending"


def _with_review(reviews: Mapping[str, str], reviewer: str, state: str) -> dict[str, str]:
    updated = dict(reviews)
    if state == "commented" and updated.get(reviewer) in _FOLDED_REVIEWS:
        return updated  # a comment does not replace an approval or change request
    updated[reviewer] = state
    return updated


def _apply_pr_event(base: PRState, event: Event) -> PRState:
    pr = _section(event, "pr")
    head_sha = _str(pr, "head_sha") or base.head_sha
    checks = base.checks if head_sha == base.head_sha else {}
    state = _str(pr, "state")
    merged = bool(pr.get("merged")) or event.kind.rpartition(".")[2] == "merged"
    is_open = base.open if state is None else state == "open"
    reviews: Mapping[str, str] = base.reviews
    if _event_name(event) in sources(event.service).reviews:
        review = _section(event, "review")
        reviewer = _str(review, "reviewer")
        outcome = event.kind.partition(".")[2]
        if reviewer and outcome in REVIEW_STATES:
            reviews = _with_review(reviews, reviewer, outcome)
    return PRState(
        subject=base.subject,
        head_sha=head_sha,
        open=is_open and not merged,
        draft=bool(pr.get("draft")) if "draft" in pr else base.draft,
        merged=merged,
        reviews=reviews,
        checks=checks,
        title=_str(pr, "title") or base.title,
        url=_str(pr, "url") or base.url,
    )


def _apply_check(base: PRState, event: Event, where: tuple[str, str | None]) -> PRState:
    section_key, name_key = where
    section = _section(event, section_key)
    sha = _str(section, "head_sha")
    if base.head_sha is not None and sha != base.head_sha:
        return base  # a result for an older (or another) commit
    check = (_str(section, name_key) if name_key else None) or _event_name(event)
    result = _check_result(_str(section, _CHECKS_RESULT))
    return PRState(
        subject=base.subject,
        head_sha=base.head_sha or sha,
        open=base.open,
        draft=base.draft,
        merged=base.merged,
        reviews=base.reviews,
        checks={**base.checks, check: result},
        title=base.title,
        url=base.url,
    )


def apply(state: PRState | None, event: Event, subject: str) -> PRState | None:
    """Fold one event into a subject's state.

    Args:
        state: The subject's state so far, or None when none is stored yet.
        event: Any event the hook received.
        subject: One of `subjects_for(event)`.

    Returns:
        The new state (equal to `state` when the event changes nothing, such as a
        check result for an older head SHA), or None when the event tells nothing
        about this subject (keep what is stored).
    """
    if subject not in subjects_for(event):
        return None
    base = state if state is not None else PRState(subject=subject)
    fed = sources(event.service)
    name = _event_name(event)
    if name in fed.pull_requests:
        return _apply_pr_event(base, event)
    return _apply_check(base, event, fed.checks[name])
