"""Turn GitHub webhook deliveries into Events.

Pure: no I/O, no clock. `decode` and `verify` are the cheap steps the receiver runs before
storing a delivery; `parse` (or `parse_payload` on an already-decoded body) dispatches on
the `X-GitHub-Event` header through one table, `_EVENTS`, of small per-event functions.

Kinds are `<event>` or `<event>.<action>` in GitHub's own words, plus derived ones:

* `push` covers branch and tag pushes, force pushes, deletions and zero-commit pushes
  (the fields `tag`, `forced`, `created`, `deleted` tell them apart).
* `create.branch|tag`, `delete.branch|tag` come from `ref_type`.
* `pull_request.merged` is action `closed` with `merged: true`; `pull_request.closed` is
  one closed without merging.
* `pull_request_review.approved|changes_requested|commented` come from action
  `submitted` and `review.state`; action `dismissed` gives `pull_request_review.dismissed`.
* `deployment` and `deployment_status` payloads from before GitHub added `action` are
  read as action `created`.

Actions GitHub adds later: for an event name in `_EVENTS`, an action (or review state,
or ref type) missing from `KINDS` still yields the generic kind `<event>.<action>`, as
long as it is a lower_snake word, so new actions reach users without a release. An
action that is not such a word raises UnsupportedEventError naming the kind, and so does
an event name that is not in the table. `KINDS` lists every kind the parser knows by
name; `FIELD_DOCS` documents the fields each event's kinds carry.

A delivery without `X-GitHub-Event` is unsupported too; one without `X-GitHub-Delivery`
gets `delivery_id` "". `watch.started` (GitHub's older name for starring) is handled
beside `star.*`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from parsers._body import form_payload, loads_object
from parsers._ci import between
from parsers._headers import header, media_type, nonblank_header
from parsers._json import (
    as_dict,
    as_str,
    get_dict,
    get_int,
    get_opt_bool,
    get_opt_int,
    get_opt_list,
    get_opt_names,
    get_opt_str,
    get_opt_str_list,
    get_opt_value,
    get_str,
    join,
)
from parsers._push import ChangedPaths
from parsers._text import first_line, one_line, plural
from parsers.errors import PayloadError, UnsupportedContentTypeError, UnsupportedEventError
from parsers.event import JSON, Event
from parsers.signatures import sign_hmac_sha256, verify_hmac_sha256

SERVICE = "github"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
SIGNATURE_HEADER = "X-Hub-Signature-256"
CONTENT_TYPES: tuple[str, ...] = ("application/json", "application/x-www-form-urlencoded")
IDENTIFY_HINT = f"missing or empty header(s): {EVENT_HEADER}"

# `<event>` or `<event>.<action>`, one lower_snake word each.
_KIND_GRAMMAR = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?")
_NULL_SHA = "0" * 40
# GitHub sends at most 2,048 commits in a push; a bigger (forged or future) one is cut.
MAX_PUSH_COMMITS = 2048
# Paths a push keeps for filters and messages; the rest are counted in `files_omitted`.
MAX_PUSH_FILES = 1000
# Paths kept in the commits' added/removed/modified lists, all commits together (first
# come, first kept): every changed path is in `files` once, so these are for display.
MAX_COMMIT_PATHS = 2000


# --------------------------------------------------------------------------- edges


def delivery_id(headers: Mapping[str, str]) -> str | None:
    """Return the delivery's GUID from `X-GitHub-Delivery`.

    Args:
        headers: The request headers; names match case-insensitively.

    Returns:
        The GUID, or None when the header is absent or blank.
    """
    return nonblank_header(headers, DELIVERY_HEADER)


def event_name(headers: Mapping[str, str]) -> str | None:
    """Return the event name from `X-GitHub-Event`.

    Args:
        headers: The request headers; names match case-insensitively.

    Returns:
        The event name (`push`, `pull_request`, …), or None when absent or blank.
    """
    return nonblank_header(headers, EVENT_HEADER)


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Check the delivery's `X-Hub-Signature-256` against the hook's secret.

    Args:
        headers: The request headers; names match case-insensitively.
        body: The raw body bytes as received (the form-encoded text for form deliveries).
        secret: The hook's signing secret.

    Raises:
        SignatureError: The signature is missing, malformed or does not match.
    """
    verify_hmac_sha256(body, header(headers, SIGNATURE_HEADER), secret)


def decode(content_type: str | None, body: bytes) -> dict[str, JSON]:
    """Decode a GitHub delivery body into its JSON object.

    GitHub sends either `application/json` or `application/x-www-form-urlencoded` with
    the JSON in the `payload` field (docs: data/reusables/webhooks/content_type.md).

    Args:
        content_type: The Content-Type header; parameters such as charset are ignored.
        body: The raw body bytes.

    Returns:
        The decoded top-level JSON object.

    Raises:
        UnsupportedContentTypeError: The content type is missing or not one of the two.
        PayloadError: The body is not UTF-8, not JSON, not an object, or the form has no
            single `payload` field.
    """
    media = media_type(content_type)
    if media not in ("application/json", "application/x-www-form-urlencoded"):
        raise UnsupportedContentTypeError(
            f"unsupported content type {content_type!r}; GitHub sends application/json "
            "or application/x-www-form-urlencoded"
        )
    if media == "application/json":
        return loads_object(body)  # orjson refuses invalid UTF-8, NaN/Infinity and deep nesting
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError("body is not valid UTF-8") from exc
    return loads_object(form_payload(text))


def identify(headers: Mapping[str, str], body: bytes) -> tuple[str | None, str | None]:
    """Return the delivery's event name and GUID, both from headers (the body is not read).

    Args:
        headers: The request headers; names match case-insensitively.
        body: The raw body bytes (unused).

    Returns:
        (`X-GitHub-Event`, `X-GitHub-Delivery`), each None when absent or blank.
    """
    del body
    return event_name(headers), delivery_id(headers)


def sign(body: bytes, secret: str) -> dict[str, str]:
    """Return the signature header GitHub sends with this body and secret."""
    return {SIGNATURE_HEADER: sign_hmac_sha256(body, secret)}


def parse(
    headers: Mapping[str, str], body: bytes, options: Mapping[str, JSON] | None = None
) -> list[Event]:
    """Decode a delivery and turn it into Events.

    Args:
        headers: The request headers; names match case-insensitively.
        body: The raw body bytes.
        options: The hook's options (GitHub reads none).

    Returns:
        The delivery's Events (one per delivery today).

    Raises:
        UnsupportedContentTypeError: The Content-Type is not one GitHub sends.
        PayloadError: The body cannot be decoded or misses a required value.
        UnsupportedEventError: `X-GitHub-Event` is missing or names an event hookbot
            does not handle, or the action is not a lower_snake word.
    """
    payload = decode(header(headers, "Content-Type"), body)
    name = event_name(headers)
    if name is None:
        raise UnsupportedEventError(f"missing {EVENT_HEADER} header")
    return parse_payload(name, delivery_id(headers) or "", payload)


def parse_payload(event_name: str, delivery_id: str, payload: dict[str, JSON]) -> list[Event]:
    """Turn an already-decoded GitHub payload into Events.

    Args:
        event_name: The `X-GitHub-Event` value.
        delivery_id: The `X-GitHub-Delivery` value, or "" when the delivery had none.
        payload: The decoded top-level JSON object.

    Returns:
        The delivery's Events (one per delivery today).

    Raises:
        PayloadError: A required value is missing or has the wrong type; `path` names it.
        UnsupportedEventError: The event name is not handled, or the action is not a
            lower_snake word.
    """
    spec = _EVENTS.get(event_name)
    if spec is None:
        raise UnsupportedEventError(f"GitHub event {event_name!r} is not supported")
    action: str | None = None
    if spec.has_action:
        action = get_opt_str(payload, "action") or spec.default_action
        if action is None:
            raise PayloadError("missing required value", "action")
    return [spec.parse(_Delivery(event_name, delivery_id, payload, action))]


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True, slots=True)
class _Delivery:
    """What every per-event function reads: the event name, its id, payload and action."""

    event: str
    delivery_id: str
    payload: dict[str, JSON]
    action: str | None

    @property
    def verb(self) -> str:
        """The action in words (`ready_for_review` → `ready for review`)."""
        return (self.action or "").replace("_", " ")


def _time(obj: Mapping[str, JSON], path: str, *, at: str = "") -> datetime | None:
    """Read an ISO 8601 string or Unix seconds as a tz-aware UTC datetime, or None."""
    value = get_opt_value(obj, path, at=at)
    if value is None or value == "":
        return None
    where = join(at, path)
    try:
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise PayloadError(f"invalid timestamp {value!r}", where) from exc
    raise PayloadError("expected a timestamp", where)


def _numbers(obj: Mapping[str, JSON], path: str, *, at: str = "") -> list[JSON]:
    """Read `number` from each object of an optional array (linked pull requests)."""
    where = join(at, path)
    numbers: list[JSON] = []
    for i, item in enumerate(get_opt_list(obj, path, at=at)):
        number = get_opt_int(as_dict(item, f"{where}.{i}"), "number", at=f"{where}.{i}")
        if number is not None:
            numbers.append(number)
    return numbers


def _repo(d: _Delivery) -> str:
    """Return the repository's full name, which repository events must carry."""
    return get_str(d.payload, "repository.full_name")


def _repo_url(d: _Delivery) -> str | None:
    """Return the repository's web address, when the payload has a repository."""
    return get_opt_str(d.payload, "repository.html_url")


def _ci_status(status: str | None, conclusion: str | None) -> str | None:
    """Fold GitHub's status and conclusion into one word (`running` while in progress)."""
    if conclusion:
        return conclusion
    if status == "in_progress":
        return "running"
    return status


_OUTCOMES = {
    "success": "succeeded",
    "failure": "failed",
    "startup_failure": "failed to start",
    "timed_out": "timed out",
    "action_required": "needs action",
    "running": "in progress",
    "neutral": "finished",
}


def _outcome(status: str | None) -> str:
    """Say a CI status in words for titles (`failure` → `failed`)."""
    if status is None:
        return "updated"
    return _OUTCOMES.get(status, status.replace("_", " "))


def _on_branch(branch: str | None) -> str:
    """Return ` on <branch>` for titles, or nothing when the branch is unknown."""
    return f" on {branch}" if branch else ""


def _event(
    d: _Delivery,
    kind: str,
    title: str,
    *,
    fields: dict[str, JSON],
    source: str | None = None,
    occurred_at: datetime | None = None,
    url: str | None = None,
    status: str | None = None,
    branch: str | None = None,
    subject: str | None = None,
    actor: str | None = None,
) -> Event:
    """Build the Event, adding the fields every GitHub kind carries."""
    if not _KIND_GRAMMAR.fullmatch(kind):
        raise UnsupportedEventError(f"GitHub event kind {kind!r} is not supported")
    common: dict[str, JSON] = {
        "repo": get_opt_str(d.payload, "repository.full_name"),
        "repo_url": _repo_url(d),
        "actor_avatar_url": get_opt_str(d.payload, "sender.avatar_url"),
        "action": d.action,
    }
    return Event(
        service=SERVICE,
        kind=kind,
        source=source if source is not None else _repo(d),
        delivery_id=d.delivery_id,
        occurred_at=occurred_at,
        title=one_line(title) or kind,
        actor=actor if actor is not None else get_opt_str(d.payload, "sender.login"),
        url=url or None,
        status=status,
        branch=branch,
        subject=subject,
        fields=MappingProxyType(common | fields),
    )


def _issue_subject(repo: str, number: int) -> str:
    """Name a PR, issue or discussion for alert state: `github:owner/repo#45`."""
    return f"github:{repo}#{number}"


def _sha_subject(repo: str, sha: str | None) -> str | None:
    """Name a commit for alert state: `github:owner/repo@<sha>`, or None without one."""
    if not sha or sha == _NULL_SHA:
        return None
    return f"github:{repo}@{sha}"


# --------------------------------------------------------------------------- push, refs


def _commits(p: Mapping[str, JSON]) -> tuple[list[JSON], list[JSON], int, int]:
    """Shape the pushed commits; return them, the changed paths (each once), and what was cut.

    Linear in the size of the push, and bounded: at most MAX_PUSH_COMMITS commits (GitHub
    never sends more), MAX_COMMIT_PATHS paths per list of a commit, MAX_PUSH_FILES distinct
    paths in all, and MAX_COMMIT_PATHS in the commits' own path lists together.
    Returns (commits, files, commits omitted, distinct paths omitted).
    """
    items = get_opt_list(p, "commits")
    commits: list[JSON] = []
    files = ChangedPaths(MAX_PUSH_FILES)
    path_budget = MAX_COMMIT_PATHS
    for i, item in enumerate(items[:MAX_PUSH_COMMITS]):
        at = f"commits.{i}"
        commit = as_dict(item, at)
        commit_id = get_str(commit, "id", at=at)
        message = get_opt_str(commit, "message", at=at) or ""
        author = get_opt_str(commit, "author.username", at=at) or get_opt_str(
            commit, "author.name", at=at
        )
        changed = {
            key: get_opt_str_list(commit, key, at=at) for key in ("added", "removed", "modified")
        }
        for paths in changed.values():
            files.add(map(str, paths))  # get_opt_str_list checked that each is a string
        kept: dict[str, JSON] = {}
        for key, paths in changed.items():
            shown = paths[:path_budget]
            path_budget -= len(shown)
            kept[key] = shown
        commits.append(
            {
                "id": commit_id,
                "short_id": commit_id[:7],
                "message": first_line(message),
                "full_message": message,
                "author": author,
                "url": get_opt_str(commit, "url", at=at),
                **kept,
            }
        )
    return commits, files.kept, max(0, len(items) - MAX_PUSH_COMMITS), files.omitted


def _parse_push(d: _Delivery) -> Event:
    """Shape a push: branch or tag, forced, created, deleted, or with no new commits."""
    p = d.payload
    repo = _repo(d)
    ref = get_str(p, "ref")
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    tag = ref.removeprefix("refs/tags/") if ref.startswith("refs/tags/") else None
    name = branch or tag or ref
    created = bool(get_opt_bool(p, "created"))
    deleted = bool(get_opt_bool(p, "deleted"))
    forced = bool(get_opt_bool(p, "forced"))
    after = get_opt_str(p, "after")
    commits, files, commits_omitted, files_omitted = _commits(p)
    head_message = get_opt_str(p, "head_commit.message")
    if head_message is None and commits:
        head_message = get_opt_str(as_dict(commits[-1], "commits"), "full_message")
    latest = None if head_message is None else first_line(head_message)
    compare_url = get_opt_str(p, "compare")
    count = len(commits) + commits_omitted
    ref_word = "Tag" if tag is not None else "Branch"
    if deleted:
        title = f"{ref_word} {name} deleted"
    elif tag is not None:
        title = f"Tag {tag} {'pushed' if created else 'updated'}"
    elif created and not count:
        title = f"Branch {name} created"
    else:
        pushed = "Force push" if forced else "Push"
        target = f"new branch {name}" if created else name
        amount = plural(count, "commit") if count else "no new commits"
        title = f"{pushed} to {target}: {amount}"
    head_sha = None if deleted or after == _NULL_SHA else after
    occurred_at = _time(p, "head_commit.timestamp") or _time(p, "repository.pushed_at")
    return _event(
        d,
        "push",
        title,
        occurred_at=occurred_at,
        url=compare_url or get_opt_str(p, "head_commit.url") or _repo_url(d),
        branch=branch,
        subject=_sha_subject(repo, head_sha),
        actor=get_opt_str(p, "sender.login") or get_opt_str(p, "pusher.name"),
        fields={
            "ref": ref,
            "branch": branch,
            "tag": tag,
            "before": get_opt_str(p, "before"),
            "head_sha": head_sha,
            "commit_count": count,
            "commits": commits,
            "latest_commit_message": latest,
            "compare_url": compare_url,
            "forced": forced,
            "created": created,
            "deleted": deleted,
            "files": files,
            "files_omitted": files_omitted,
            "commits_omitted": commits_omitted,
            "pusher": get_opt_str(p, "pusher.name"),
        },
    )


def _parse_ref(d: _Delivery) -> Event:
    """Shape a `create` or `delete` event of a branch or tag."""
    p = d.payload
    ref = get_str(p, "ref")
    ref_type = get_str(p, "ref_type")
    is_branch = ref_type == "branch"
    is_tag = ref_type == "tag"
    past = "created" if d.event == "create" else "deleted"
    repo_url = _repo_url(d)
    url = f"{repo_url}/tree/{ref}" if repo_url and d.event == "create" else repo_url
    return _event(
        d,
        f"{d.event}.{ref_type}",
        f"{ref_type.capitalize()} {ref} {past}",
        url=url,
        branch=ref if is_branch else None,
        fields={
            "ref": ref,
            "ref_type": ref_type,
            "branch": ref if is_branch else None,
            "tag": ref if is_tag else None,
            "description": get_opt_str(p, "description"),
            "default_branch": get_opt_str(p, "master_branch")
            or get_opt_str(p, "repository.default_branch"),
        },
    )


# --------------------------------------------------------------------------- pull requests


def _pull_request(p: Mapping[str, JSON]) -> dict[str, JSON]:
    """Shape `pull_request`, from the full object or the shorter one reviews carry."""
    at = "pull_request"
    pr = get_dict(p, at)
    merged = get_opt_bool(pr, "merged", at=at)
    if merged is None:
        merged = get_opt_str(pr, "merged_at", at=at) is not None
    return {
        "number": get_int(pr, "number", at=at),
        "title": get_str(pr, "title", at=at),
        "body": get_opt_str(pr, "body", at=at) or "",
        "state": get_opt_str(pr, "state", at=at),
        "draft": bool(get_opt_bool(pr, "draft", at=at)),
        "merged": merged,
        "additions": get_opt_int(pr, "additions", at=at),
        "deletions": get_opt_int(pr, "deletions", at=at),
        "changed_files": get_opt_int(pr, "changed_files", at=at),
        "commits": get_opt_int(pr, "commits", at=at),
        "labels": get_opt_names(pr, "labels", "name", at=at),
        "base": get_str(pr, "base.ref", at=at),
        "head": get_str(pr, "head.ref", at=at),
        "head_sha": get_opt_str(pr, "head.sha", at=at),
        "url": get_str(pr, "html_url", at=at),
        "author": get_opt_str(pr, "user.login", at=at),
        "merged_by": get_opt_str(pr, "merged_by.login", at=at),
    }


def _pr_status(pr: Mapping[str, JSON]) -> str:
    """Return `merged`, `closed` or `open` for a shaped pull request."""
    if pr["merged"]:
        return "merged"
    return "closed" if pr["state"] == "closed" else "open"


def _pr_event(
    d: _Delivery,
    kind: str,
    verb: str,
    *,
    url: str | None = None,
    occurred_at: datetime | None = None,
    extra: dict[str, JSON] | None = None,
) -> Event:
    """Build any pull-request-shaped Event: `PR #45 <verb>: <title>`."""
    pr = _pull_request(d.payload)
    number = get_int(d.payload, "pull_request.number")
    title = as_str(pr["title"], "pull_request.title")
    base = as_str(pr["base"], "pull_request.base.ref")
    return _event(
        d,
        kind,
        f"PR #{number} {verb}: {title}",
        occurred_at=occurred_at or _time(d.payload, "pull_request.updated_at"),
        url=url or as_str(pr["url"], "pull_request.html_url"),
        status=_pr_status(pr),
        branch=base,
        subject=_issue_subject(_repo(d), number),
        fields={"pr": pr, "labels": pr["labels"], "head": pr["head"]} | (extra or {}),
    )


_PR_VERBS = {
    "synchronize": "updated",
    "auto_merge_enabled": "auto-merge enabled",
    "auto_merge_disabled": "auto-merge disabled",
}


def _parse_pull_request(d: _Delivery) -> Event:
    """Shape `pull_request.*`; a closed PR becomes `merged` or `closed`."""
    p = d.payload
    action = d.action or ""
    if action == "closed":
        merged = bool(get_opt_bool(p, "pull_request.merged")) or (
            get_opt_str(p, "pull_request.merged_at") is not None
        )
        action = "merged" if merged else "closed"
    reviewer = get_opt_str(p, "requested_reviewer.login") or get_opt_str(p, "requested_team.name")
    return _pr_event(
        d,
        f"pull_request.{action}",
        _PR_VERBS.get(action, action.replace("_", " ")),
        extra={
            "label": get_opt_str(p, "label.name"),
            "assignee": get_opt_str(p, "assignee.login"),
            "requested_reviewer": reviewer,
        },
    )


_REVIEW_VERBS = {
    "approved": "approved",
    "changes_requested": "changes requested",
    "commented": "reviewed",
    "dismissed": "review dismissed",
}


def _parse_pull_request_review(d: _Delivery) -> Event:
    """Shape `pull_request_review.*`; a submitted review is named by its state."""
    p = d.payload
    state = get_str(p, "review.state").lower()
    outcome = state if d.action == "submitted" else d.action or ""
    review: dict[str, JSON] = {
        "state": state,
        "body": get_opt_str(p, "review.body") or "",
        "url": get_opt_str(p, "review.html_url"),
        "reviewer": get_opt_str(p, "review.user.login"),
    }
    return _pr_event(
        d,
        f"pull_request_review.{outcome}",
        _REVIEW_VERBS.get(outcome, f"review {outcome.replace('_', ' ')}"),
        url=get_opt_str(p, "review.html_url"),
        occurred_at=_time(p, "review.submitted_at"),
        extra={"review": review},
    )


def _comment(p: Mapping[str, JSON]) -> dict[str, JSON]:
    """Shape the `comment` of an issue, review or discussion comment."""
    at = "comment"
    comment = get_dict(p, at)
    return {
        "id": get_opt_int(comment, "id", at=at),
        "body": get_opt_str(comment, "body", at=at) or "",
        "url": get_opt_str(comment, "html_url", at=at),
        "author": get_opt_str(comment, "user.login", at=at),
    }


def _comment_verb(d: _Delivery, thing: str) -> str:
    """Say `Comment on PR` / `Comment edited on PR` for titles."""
    return f"Comment on {thing}" if d.action == "created" else f"Comment {d.verb} on {thing}"


def _parse_pull_request_review_comment(d: _Delivery) -> Event:
    """Shape `pull_request_review_comment.*`: a comment on a line of a PR's diff."""
    p = d.payload
    comment = _comment(p) | {
        "path": get_opt_str(p, "comment.path"),
        "line": get_opt_int(p, "comment.line"),
    }
    pr = _pull_request(p)
    number = get_int(p, "pull_request.number")
    return _event(
        d,
        f"pull_request_review_comment.{d.action}",
        f"{_comment_verb(d, f'PR #{number}')}: {pr['title']}",
        occurred_at=_time(p, "comment.updated_at"),
        url=get_opt_str(p, "comment.html_url") or get_str(p, "pull_request.html_url"),
        status=_pr_status(pr),
        branch=as_str(pr["base"], "pull_request.base.ref"),
        subject=_issue_subject(_repo(d), number),
        fields={"pr": pr, "comment": comment, "labels": pr["labels"], "head": pr["head"]},
    )


# --------------------------------------------------------------------------- issues


def _issue(p: Mapping[str, JSON]) -> dict[str, JSON]:
    """Shape `issue` (issues and issue comments)."""
    at = "issue"
    issue = get_dict(p, at)
    return {
        "number": get_int(issue, "number", at=at),
        "title": get_str(issue, "title", at=at),
        "body": get_opt_str(issue, "body", at=at) or "",
        "state": get_opt_str(issue, "state", at=at),
        "labels": get_opt_names(issue, "labels", "name", at=at),
        "assignees": get_opt_names(issue, "assignees", "login", at=at),
        "url": get_str(issue, "html_url", at=at),
        "author": get_opt_str(issue, "user.login", at=at),
    }


def _parse_issues(d: _Delivery) -> Event:
    """Shape `issues.*`."""
    p = d.payload
    issue = _issue(p)
    number = get_int(p, "issue.number")
    return _event(
        d,
        f"issues.{d.action}",
        f"Issue #{number} {d.verb}: {issue['title']}",
        occurred_at=_time(p, "issue.updated_at"),
        url=as_str(issue["url"], "issue.html_url"),
        status=get_opt_str(p, "issue.state"),
        subject=_issue_subject(_repo(d), number),
        fields={
            "issue": issue,
            "labels": issue["labels"],
            "label": get_opt_str(p, "label.name"),
            "assignee": get_opt_str(p, "assignee.login"),
        },
    )


def _parse_issue_comment(d: _Delivery) -> Event:
    """Shape `issue_comment.*`, on an issue or on a pull request's conversation."""
    p = d.payload
    issue = _issue(p)
    number = get_int(p, "issue.number")
    on_pull_request = get_opt_value(p, "issue.pull_request") is not None
    thing = f"PR #{number}" if on_pull_request else f"issue #{number}"
    comment = _comment(p)
    return _event(
        d,
        f"issue_comment.{d.action}",
        f"{_comment_verb(d, thing)}: {issue['title']}",
        occurred_at=_time(p, "comment.updated_at"),
        url=get_opt_str(p, "comment.html_url") or get_str(p, "issue.html_url"),
        status=get_opt_str(p, "issue.state"),
        subject=_issue_subject(_repo(d), number),
        fields={
            "issue": issue,
            "comment": comment,
            "on_pull_request": on_pull_request,
            "labels": issue["labels"],
        },
    )


# --------------------------------------------------------------------------- releases


def _parse_release(d: _Delivery) -> Event:
    """Shape `release.*`."""
    p = d.payload
    at = "release"
    rel = get_dict(p, at)
    tag = get_str(rel, "tag_name", at=at)
    name = get_opt_str(rel, "name", at=at) or ""
    release: dict[str, JSON] = {
        "tag": tag,
        "name": name,
        "prerelease": bool(get_opt_bool(rel, "prerelease", at=at)),
        "draft": bool(get_opt_bool(rel, "draft", at=at)),
        "url": get_opt_str(rel, "html_url", at=at),
        "body": get_opt_str(rel, "body", at=at) or "",
        "author": get_opt_str(rel, "author.login", at=at),
        "target": get_opt_str(rel, "target_commitish", at=at),
    }
    named = f": {name}" if name and name != tag else ""
    return _event(
        d,
        f"release.{d.action}",
        f"Release {tag} {d.verb}{named}",
        occurred_at=_time(rel, "published_at", at=at) or _time(rel, "created_at", at=at),
        url=get_opt_str(rel, "html_url", at=at),
        fields={"release": release, "tag": tag},
    )


# --------------------------------------------------------------------------- CI


def _parse_workflow_run(d: _Delivery) -> Event:
    """Shape `workflow_run.*`: one run of a GitHub Actions workflow."""
    p = d.payload
    at = "workflow_run"
    run = get_dict(p, at)
    name = get_opt_str(run, "name", at=at) or get_opt_str(p, "workflow.name") or "workflow"
    number = get_opt_int(run, "run_number", at=at)
    run_status = get_opt_str(run, "status", at=at)
    conclusion = get_opt_str(run, "conclusion", at=at)
    status = _ci_status(run_status, conclusion)
    branch = get_opt_str(run, "head_branch", at=at)
    head_sha = get_opt_str(run, "head_sha", at=at)
    started = _time(run, "run_started_at", at=at) or _time(run, "created_at", at=at)
    updated = _time(run, "updated_at", at=at)
    duration = between(started, updated) if run_status == "completed" else None
    workflow: dict[str, JSON] = {
        "name": name,
        "run_id": get_opt_int(run, "id", at=at),
        "run_number": number,
        "run_attempt": get_opt_int(run, "run_attempt", at=at),
        "status": run_status,
        "conclusion": conclusion,
        "duration_seconds": duration,
        "event": get_opt_str(run, "event", at=at),
        "display_title": get_opt_str(run, "display_title", at=at),
        "head_sha": head_sha,
        "head_branch": branch,
        "url": get_opt_str(run, "html_url", at=at),
        "pull_requests": _numbers(run, "pull_requests", at=at),
    }
    numbered = f" #{number}" if number is not None else ""
    return _event(
        d,
        f"workflow_run.{d.action}",
        f"Workflow {name}{numbered} {_outcome(status)}{_on_branch(branch)}",
        occurred_at=updated,
        url=get_opt_str(run, "html_url", at=at),
        status=status,
        branch=branch,
        subject=_sha_subject(_repo(d), head_sha),
        fields={"workflow": workflow},
    )


def _parse_workflow_job(d: _Delivery) -> Event:
    """Shape `workflow_job.*`: one job of a workflow run."""
    p = d.payload
    at = "workflow_job"
    raw = get_dict(p, at)
    name = get_opt_str(raw, "name", at=at) or "job"
    job_status = get_opt_str(raw, "status", at=at)
    conclusion = get_opt_str(raw, "conclusion", at=at)
    status = _ci_status(job_status, conclusion)
    branch = get_opt_str(raw, "head_branch", at=at)
    head_sha = get_opt_str(raw, "head_sha", at=at)
    started = _time(raw, "started_at", at=at)
    completed = _time(raw, "completed_at", at=at)
    workflow_name = get_opt_str(raw, "workflow_name", at=at)
    failed_steps: list[JSON] = []
    for i, item in enumerate(get_opt_list(raw, "steps", at=at)):
        step_at = f"{at}.steps.{i}"
        step = as_dict(item, step_at)
        if get_opt_str(step, "conclusion", at=step_at) == "failure":
            failed_steps.append(get_opt_str(step, "name", at=step_at))
    job: dict[str, JSON] = {
        "name": name,
        "workflow_name": workflow_name,
        "run_id": get_opt_int(raw, "run_id", at=at),
        "run_attempt": get_opt_int(raw, "run_attempt", at=at),
        "status": job_status,
        "conclusion": conclusion,
        "duration_seconds": between(started, completed),
        "head_sha": head_sha,
        "head_branch": branch,
        "url": get_opt_str(raw, "html_url", at=at),
        "runner_name": get_opt_str(raw, "runner_name", at=at),
        "runner_labels": get_opt_str_list(raw, "labels", at=at),
        "failed_steps": failed_steps,
    }
    of_workflow = f" ({workflow_name})" if workflow_name else ""
    return _event(
        d,
        f"workflow_job.{d.action}",
        f"Job {name} {_outcome(status)}{_on_branch(branch)}{of_workflow}",
        occurred_at=completed or started or _time(raw, "created_at", at=at),
        url=get_opt_str(raw, "html_url", at=at),
        status=status,
        branch=branch,
        subject=_sha_subject(_repo(d), head_sha),
        fields={"job": job},
    )


def _parse_check_suite(d: _Delivery) -> Event:
    """Shape `check_suite.*`: all checks one app ran on a commit."""
    p = d.payload
    at = "check_suite"
    raw = get_dict(p, at)
    suite_status = get_opt_str(raw, "status", at=at)
    conclusion = get_opt_str(raw, "conclusion", at=at)
    status = _ci_status(suite_status, conclusion)
    branch = get_opt_str(raw, "head_branch", at=at)
    head_sha = get_opt_str(raw, "head_sha", at=at)
    app = get_opt_str(raw, "app.name", at=at) or "checks"
    repo_url = _repo_url(d)
    url = f"{repo_url}/commit/{head_sha}/checks" if repo_url and head_sha else repo_url
    suite: dict[str, JSON] = {
        "id": get_opt_int(raw, "id", at=at),
        "app": app,
        "status": suite_status,
        "conclusion": conclusion,
        "head_sha": head_sha,
        "head_branch": branch,
        "url": url,
        "pull_requests": _numbers(raw, "pull_requests", at=at),
    }
    return _event(
        d,
        f"check_suite.{d.action}",
        f"Check suite {app} {_outcome(status)}{_on_branch(branch)}",
        occurred_at=_time(raw, "updated_at", at=at),
        url=url,
        status=status,
        branch=branch,
        subject=_sha_subject(_repo(d), head_sha),
        fields={"check_suite": suite},
    )


def _parse_check_run(d: _Delivery) -> Event:
    """Shape `check_run.*`: one check on a commit."""
    p = d.payload
    at = "check_run"
    raw = get_dict(p, at)
    name = get_opt_str(raw, "name", at=at) or "check"
    run_status = get_opt_str(raw, "status", at=at)
    conclusion = get_opt_str(raw, "conclusion", at=at)
    status = _ci_status(run_status, conclusion)
    branch = get_opt_str(raw, "check_suite.head_branch", at=at)
    head_sha = get_opt_str(raw, "head_sha", at=at)
    started = _time(raw, "started_at", at=at)
    completed = _time(raw, "completed_at", at=at)
    check: dict[str, JSON] = {
        "id": get_opt_int(raw, "id", at=at),
        "name": name,
        "app": get_opt_str(raw, "app.name", at=at),
        "status": run_status,
        "conclusion": conclusion,
        "duration_seconds": between(started, completed),
        "head_sha": head_sha,
        "head_branch": branch,
        "url": get_opt_str(raw, "html_url", at=at),
        "details_url": get_opt_str(raw, "details_url", at=at) or None,
        "output_title": get_opt_str(raw, "output.title", at=at),
        "output_summary": get_opt_str(raw, "output.summary", at=at),
        "requested_action": get_opt_str(p, "requested_action.identifier"),
    }
    return _event(
        d,
        f"check_run.{d.action}",
        f"Check {name} {_outcome(status)}{_on_branch(branch)}",
        occurred_at=completed or started,
        url=get_opt_str(raw, "html_url", at=at),
        status=status,
        branch=branch,
        subject=_sha_subject(_repo(d), head_sha),
        fields={"check_run": check},
    )


def _parse_status(d: _Delivery) -> Event:
    """Shape `status`: a commit status set by an external CI."""
    p = d.payload
    sha = get_str(p, "sha")
    state = get_str(p, "state")
    context = get_opt_str(p, "context") or "status"
    description = get_opt_str(p, "description") or ""
    branches: list[JSON] = []
    branch: str | None = None
    for i, item in enumerate(get_opt_list(p, "branches")):
        entry = as_dict(item, f"branches.{i}")
        name = get_str(entry, "name", at=f"branches.{i}")
        branches.append(name)
        if branch is None and get_opt_str(entry, "commit.sha", at=f"branches.{i}") == sha:
            branch = name
    repo = get_opt_str(p, "repository.full_name") or get_str(p, "name")
    target_url = get_opt_str(p, "target_url") or None
    commit_url = get_opt_str(p, "commit.html_url")
    said = f" ({description})" if description else ""
    return _event(
        d,
        "status",
        f"Status {context} {_outcome(state)}{said}",
        source=repo,
        occurred_at=_time(p, "updated_at") or _time(p, "created_at"),
        url=target_url or commit_url,
        status=state,
        branch=branch,
        subject=_sha_subject(repo, sha),
        fields={
            "commit_status": {
                "state": state,
                "context": context,
                "description": description,
                "target_url": target_url,
                "sha": sha,
                "branches": branches,
                "commit_url": commit_url,
            },
            "repo": repo,
        },
    )


def _deployment(p: Mapping[str, JSON]) -> dict[str, JSON]:
    """Shape `deployment` (deployments and their statuses)."""
    at = "deployment"
    raw = get_dict(p, at)
    return {
        "id": get_opt_int(raw, "id", at=at),
        "environment": get_opt_str(raw, "environment", at=at),
        "ref": get_opt_str(raw, "ref", at=at),
        "sha": get_opt_str(raw, "sha", at=at),
        "task": get_opt_str(raw, "task", at=at),
        "description": get_opt_str(raw, "description", at=at) or "",
        "creator": get_opt_str(raw, "creator.login", at=at),
    }


def _deployments_url(d: _Delivery) -> str | None:
    """Return the run that deployed, else the repository's deployments page."""
    run_url = get_opt_str(d.payload, "workflow_run.html_url")
    repo_url = _repo_url(d)
    return run_url or (f"{repo_url}/deployments" if repo_url else None)


def _parse_deployment(d: _Delivery) -> Event:
    """Shape `deployment.*`: a request to deploy a ref to an environment."""
    p = d.payload
    deployment = _deployment(p)
    ref = get_opt_str(p, "deployment.ref")
    environment = deployment["environment"] or "an environment"
    of_ref = f": {ref}" if ref else ""
    return _event(
        d,
        f"deployment.{d.action}",
        f"Deployment to {environment} {d.verb}{of_ref}",
        occurred_at=_time(p, "deployment.created_at"),
        url=_deployments_url(d),
        branch=ref,
        subject=_sha_subject(_repo(d), get_opt_str(p, "deployment.sha")),
        fields={"deployment": deployment},
    )


def _parse_deployment_status(d: _Delivery) -> Event:
    """Shape `deployment_status.*`: a deployment moved to a new state."""
    p = d.payload
    at = "deployment_status"
    raw = get_dict(p, at)
    state = get_str(raw, "state", at=at)
    deployment = _deployment(p)
    environment = (
        get_opt_str(raw, "environment", at=at) or deployment["environment"] or "an environment"
    )
    target_url = get_opt_str(raw, "target_url", at=at) or None
    log_url = get_opt_str(raw, "log_url", at=at) or None
    environment_url = get_opt_str(raw, "environment_url", at=at) or None
    deployment_status: dict[str, JSON] = {
        "state": state,
        "environment": environment,
        "description": get_opt_str(raw, "description", at=at) or "",
        "target_url": target_url,
        "log_url": log_url,
        "environment_url": environment_url,
    }
    return _event(
        d,
        f"deployment_status.{d.action}",
        f"Deployment to {environment}: {_outcome(_ci_status(state, None))}",
        occurred_at=_time(raw, "updated_at", at=at) or _time(raw, "created_at", at=at),
        url=target_url or log_url or environment_url or _deployments_url(d),
        status=_ci_status(state, None),
        branch=get_opt_str(p, "deployment.ref"),
        subject=_sha_subject(_repo(d), get_opt_str(p, "deployment.sha")),
        fields={"deployment_status": deployment_status, "deployment": deployment},
    )


# --------------------------------------------------------------------------- repository


def _parse_star(d: _Delivery) -> Event:
    """Shape `star.*` and `watch.started` (GitHub's older name for starring)."""
    p = d.payload
    actor = get_opt_str(p, "sender.login") or "someone"
    did = "unstarred" if d.action == "deleted" else "starred"
    return _event(
        d,
        f"{d.event}.{d.action}",
        f"{actor} {did} {_repo(d)}",
        occurred_at=_time(p, "starred_at"),
        url=_repo_url(d),
        fields={"stars": get_opt_int(p, "repository.stargazers_count")},
    )


def _parse_fork(d: _Delivery) -> Event:
    """Shape `fork`: someone forked the repository."""
    p = d.payload
    full_name = get_str(p, "forkee.full_name")
    url = get_opt_str(p, "forkee.html_url")
    return _event(
        d,
        "fork",
        f"{_repo(d)} forked to {full_name}",
        occurred_at=_time(p, "forkee.created_at"),
        url=url,
        fields={
            "fork": {
                "full_name": full_name,
                "url": url,
                "owner": get_opt_str(p, "forkee.owner.login"),
            },
            "forks": get_opt_int(p, "repository.forks_count"),
        },
    )


def _parse_member(d: _Delivery) -> Event:
    """Shape `member.*`: a collaborator added, removed or given another permission."""
    p = d.payload
    login = get_str(p, "member.login")
    url = get_opt_str(p, "member.html_url")
    permission = get_opt_str(p, "changes.permission.to") or get_opt_str(p, "changes.role_name.to")
    return _event(
        d,
        f"member.{d.action}",
        f"Collaborator {login} {d.verb}",
        url=url or _repo_url(d),
        fields={"member": {"login": login, "url": url}, "permission": permission},
    )


def _parse_repository(d: _Delivery) -> Event:
    """Shape `repository.*`: the repository itself was created, renamed, archived and so on."""
    p = d.payload
    old_name = get_opt_str(p, "changes.repository.name.from")
    renamed = f" (was {old_name})" if old_name else ""
    return _event(
        d,
        f"repository.{d.action}",
        f"Repository {_repo(d)} {d.verb}{renamed}",
        url=_repo_url(d),
        fields={
            "repository": {
                "private": get_opt_bool(p, "repository.private"),
                "archived": get_opt_bool(p, "repository.archived"),
                "description": get_opt_str(p, "repository.description") or "",
                "default_branch": get_opt_str(p, "repository.default_branch"),
                "visibility": get_opt_str(p, "repository.visibility"),
                "old_name": old_name,
            },
        },
    )


# --------------------------------------------------------------------------- discussions


def _discussion(p: Mapping[str, JSON]) -> dict[str, JSON]:
    """Shape `discussion`."""
    at = "discussion"
    raw = get_dict(p, at)
    return {
        "number": get_int(raw, "number", at=at),
        "title": get_str(raw, "title", at=at),
        "body": get_opt_str(raw, "body", at=at) or "",
        "state": get_opt_str(raw, "state", at=at),
        "category": get_opt_str(raw, "category.name", at=at),
        "url": get_str(raw, "html_url", at=at),
        "author": get_opt_str(raw, "user.login", at=at),
        "answer_url": get_opt_str(raw, "answer_html_url", at=at),
        "labels": get_opt_names(raw, "labels", "name", at=at),
    }


def _parse_discussion(d: _Delivery) -> Event:
    """Shape `discussion.*`."""
    p = d.payload
    discussion = _discussion(p)
    number = get_int(p, "discussion.number")
    answer_url = get_opt_str(p, "answer.html_url") if d.action == "answered" else None
    return _event(
        d,
        f"discussion.{d.action}",
        f"Discussion #{number} {d.verb}: {discussion['title']}",
        occurred_at=_time(p, "discussion.updated_at"),
        url=answer_url or get_str(p, "discussion.html_url"),
        subject=_issue_subject(_repo(d), number),
        fields={
            "discussion": discussion,
            "labels": discussion["labels"],
            "label": get_opt_str(p, "label.name"),
        },
    )


def _parse_discussion_comment(d: _Delivery) -> Event:
    """Shape `discussion_comment.*`."""
    p = d.payload
    discussion = _discussion(p)
    number = get_int(p, "discussion.number")
    comment = _comment(p)
    return _event(
        d,
        f"discussion_comment.{d.action}",
        f"{_comment_verb(d, f'discussion #{number}')}: {discussion['title']}",
        occurred_at=_time(p, "comment.updated_at"),
        url=get_opt_str(p, "comment.html_url") or get_str(p, "discussion.html_url"),
        subject=_issue_subject(_repo(d), number),
        fields={"discussion": discussion, "comment": comment, "labels": discussion["labels"]},
    )


# --------------------------------------------------------------------------- ping


def _parse_ping(d: _Delivery) -> Event:
    """Shape `ping`, sent once when a webhook is created."""
    p = d.payload
    source = (
        get_opt_str(p, "repository.full_name") or get_opt_str(p, "organization.login") or SERVICE
    )
    return _event(
        d,
        "ping",
        f"Connected: {source}",
        source=source,
        url=_repo_url(d),
        fields={
            "zen": get_opt_str(p, "zen"),
            "hook_id": get_opt_int(p, "hook_id") or get_opt_int(p, "hook.id"),
            "hook_type": get_opt_str(p, "hook.type"),
            "hook_events": get_opt_str_list(p, "hook.events"),
            "org": get_opt_str(p, "organization.login"),
        },
    )


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True, slots=True)
class _Spec:
    """How to read one GitHub event name, and the kinds it yields by name."""

    parse: Callable[[_Delivery], Event]
    kinds: tuple[str, ...]
    has_action: bool = True
    default_action: str | None = None


def _kinds(event: str, actions: str) -> tuple[str, ...]:
    """Spell `event.action` for each space-separated action."""
    return tuple(f"{event}.{action}" for action in actions.split())


_EVENTS: dict[str, _Spec] = {
    "push": _Spec(_parse_push, ("push",), has_action=False),
    "create": _Spec(_parse_ref, _kinds("create", "branch tag"), has_action=False),
    "delete": _Spec(_parse_ref, _kinds("delete", "branch tag"), has_action=False),
    "pull_request": _Spec(
        _parse_pull_request,
        _kinds(
            "pull_request",
            "opened closed merged reopened synchronize ready_for_review converted_to_draft"
            " review_requested review_request_removed edited labeled unlabeled assigned"
            " unassigned locked unlocked milestoned demilestoned auto_merge_enabled"
            " auto_merge_disabled enqueued dequeued",
        ),
    ),
    "pull_request_review": _Spec(
        _parse_pull_request_review,
        _kinds("pull_request_review", "approved changes_requested commented dismissed edited"),
    ),
    "pull_request_review_comment": _Spec(
        _parse_pull_request_review_comment,
        _kinds("pull_request_review_comment", "created edited deleted"),
    ),
    "issues": _Spec(
        _parse_issues,
        _kinds(
            "issues",
            "opened closed reopened edited deleted labeled unlabeled assigned unassigned"
            " locked unlocked milestoned demilestoned pinned unpinned transferred",
        ),
    ),
    "issue_comment": _Spec(_parse_issue_comment, _kinds("issue_comment", "created edited deleted")),
    "release": _Spec(
        _parse_release,
        _kinds("release", "published prereleased released created edited deleted unpublished"),
    ),
    "workflow_run": _Spec(
        _parse_workflow_run, _kinds("workflow_run", "requested in_progress completed")
    ),
    "workflow_job": _Spec(
        _parse_workflow_job,
        _kinds("workflow_job", "queued waiting in_progress completed"),
    ),
    "check_suite": _Spec(
        _parse_check_suite, _kinds("check_suite", "completed requested rerequested")
    ),
    "check_run": _Spec(
        _parse_check_run,
        _kinds("check_run", "created completed rerequested requested_action"),
    ),
    "status": _Spec(_parse_status, ("status",), has_action=False),
    "deployment": _Spec(
        _parse_deployment, _kinds("deployment", "created"), default_action="created"
    ),
    "deployment_status": _Spec(
        _parse_deployment_status,
        _kinds("deployment_status", "created"),
        default_action="created",
    ),
    "star": _Spec(_parse_star, _kinds("star", "created deleted")),
    "watch": _Spec(_parse_star, _kinds("watch", "started")),
    "fork": _Spec(_parse_fork, ("fork",), has_action=False),
    "member": _Spec(_parse_member, _kinds("member", "added removed edited")),
    "repository": _Spec(
        _parse_repository,
        _kinds(
            "repository",
            "created deleted archived unarchived edited renamed transferred publicized privatized",
        ),
    ),
    "discussion": _Spec(
        _parse_discussion,
        _kinds(
            "discussion",
            "created edited deleted answered unanswered labeled unlabeled locked unlocked"
            " pinned unpinned transferred category_changed closed reopened",
        ),
    ),
    "discussion_comment": _Spec(
        _parse_discussion_comment, _kinds("discussion_comment", "created edited deleted")
    ),
    "ping": _Spec(_parse_ping, ("ping",), has_action=False),
}

KINDS: tuple[str, ...] = tuple(kind for spec in _EVENTS.values() for kind in spec.kinds)
"""Every kind the parser produces by name; new GitHub actions may add `<event>.<action>`."""

EVENT_NAMES: frozenset[str] = frozenset(_EVENTS)
"""Every `X-GitHub-Event` value the parser handles."""

# --------------------------------------------------------------------------- field docs

_PR_DOCS = {
    "pr.number": "Pull request number.",
    "pr.title": "Pull request title.",
    "pr.body": "Pull request description (Markdown, may be empty).",
    "pr.state": "`open` or `closed` as GitHub reports it.",
    "pr.draft": "True while the pull request is a draft.",
    "pr.merged": "True once merged.",
    "pr.additions": "Lines added (null in review payloads).",
    "pr.deletions": "Lines deleted (null in review payloads).",
    "pr.changed_files": "Files changed (null in review payloads).",
    "pr.commits": "Commits in the pull request (null in review payloads).",
    "pr.labels": "Label names.",
    "pr.base": "Base branch (the one merged into).",
    "pr.head": "Head branch (the one with the changes).",
    "pr.head_sha": "Head commit SHA.",
    "pr.url": "Pull request web page.",
    "pr.author": "Login of who opened it.",
    "pr.merged_by": "Login of who merged it, when merged.",
    "labels": "Label names (same as `pr.labels`).",
    "head": "Head branch (same as `pr.head`).",
}

_ISSUE_DOCS = {
    "issue.number": "Issue (or pull request) number.",
    "issue.title": "Title.",
    "issue.body": "Description (Markdown, may be empty).",
    "issue.state": "`open` or `closed`.",
    "issue.labels": "Label names.",
    "issue.assignees": "Logins of the assignees.",
    "issue.url": "Web page.",
    "issue.author": "Login of who opened it.",
    "labels": "Label names (same as `issue.labels`).",
}

_COMMENT_DOCS = {
    "comment.id": "Comment id.",
    "comment.body": "Comment text (Markdown).",
    "comment.url": "Comment web address.",
    "comment.author": "Login of the commenter.",
}

_DISCUSSION_DOCS = {
    "discussion.number": "Discussion number.",
    "discussion.title": "Title.",
    "discussion.body": "Text (Markdown).",
    "discussion.state": "`open`, `closed` or `locked`.",
    "discussion.category": "Category name.",
    "discussion.url": "Web page.",
    "discussion.author": "Login of who started it.",
    "discussion.answer_url": "Address of the chosen answer, when answered.",
    "discussion.labels": "Label names.",
    "labels": "Label names (same as `discussion.labels`).",
}

_DEPLOYMENT_DOCS = {
    "deployment.id": "Deployment id.",
    "deployment.environment": "Target environment (`production`…).",
    "deployment.ref": "Ref deployed (branch, tag or SHA).",
    "deployment.sha": "Commit SHA deployed.",
    "deployment.task": "Task name (`deploy`…).",
    "deployment.description": "Description (may be empty).",
    "deployment.creator": "Login of who created the deployment.",
}

FIELD_DOCS: dict[str, dict[str, str]] = {
    "*": {
        "repo": "Repository full name (`owner/repo`); null for organization-level pings.",
        "repo_url": "Repository web page.",
        "actor_avatar_url": "Avatar image of the sender.",
        "action": "GitHub's raw `action` (null for events without one, such as push).",
    },
    "push": {
        "ref": "Full ref pushed (`refs/heads/main`, `refs/tags/v1.0`).",
        "branch": "Branch name; null for tag pushes.",
        "tag": "Tag name; null for branch pushes.",
        "before": "SHA the ref pointed at before the push.",
        "head_sha": "SHA the ref points at now; null when deleted.",
        "commit_count": "Number of commits pushed (counting any beyond the 2,048 kept).",
        "commits": "Commits, oldest first (at most 2,048, GitHub's own limit).",
        "commits[].id": "Full SHA.",
        "commits[].short_id": "First 7 characters of the SHA.",
        "commits[].message": "First line of the message.",
        "commits[].full_message": "Whole message.",
        "commits[].author": "Author's GitHub login, else their git name.",
        "commits[].url": "Commit web page.",
        "commits[].added": f"Paths added (all commits' lists keep {MAX_COMMIT_PATHS}).",
        "commits[].removed": f"Paths removed (all commits' lists keep {MAX_COMMIT_PATHS}).",
        "commits[].modified": f"Paths modified (all commits' lists keep {MAX_COMMIT_PATHS}).",
        "latest_commit_message": "First line of the head commit's message.",
        "compare_url": "Web page comparing before and after.",
        "forced": "True for a force push.",
        "created": "True when the push created the ref.",
        "deleted": "True when the push deleted the ref.",
        "files": f"Every path changed across the commits, each once (at most {MAX_PUSH_FILES}).",
        "files_omitted": "How many more distinct paths changed than `files` keeps.",
        "commits_omitted": f"Commits beyond the first {MAX_PUSH_COMMITS}, not in `commits`.",
        "pusher": "Git name of the pusher.",
    },
    "create": {
        "ref": "Branch or tag name.",
        "ref_type": "`branch` or `tag`.",
        "branch": "Branch name; null for tags.",
        "tag": "Tag name; null for branches.",
        "description": "Repository description.",
        "default_branch": "Repository default branch.",
    },
    "delete": {
        "ref": "Branch or tag name.",
        "ref_type": "`branch` or `tag`.",
        "branch": "Branch name; null for tags.",
        "tag": "Tag name; null for branches.",
        "description": "Always null for deletions.",
        "default_branch": "Repository default branch.",
    },
    "pull_request": _PR_DOCS
    | {
        "label": "Label added or removed (labeled / unlabeled).",
        "assignee": "Login assigned or unassigned.",
        "requested_reviewer": "Login (or team name) asked to review.",
    },
    "pull_request_review": _PR_DOCS
    | {
        "review.state": "`approved`, `changes_requested`, `commented` or `dismissed`.",
        "review.body": "Review text (may be empty).",
        "review.url": "Review web address.",
        "review.reviewer": "Login of the reviewer.",
    },
    "pull_request_review_comment": _PR_DOCS
    | _COMMENT_DOCS
    | {
        "comment.path": "File the comment is on.",
        "comment.line": "Line the comment is on, when known.",
    },
    "issues": _ISSUE_DOCS
    | {
        "label": "Label added or removed (labeled / unlabeled).",
        "assignee": "Login assigned or unassigned.",
    },
    "issue_comment": _ISSUE_DOCS
    | _COMMENT_DOCS
    | {"on_pull_request": "True when the comment is on a pull request's conversation."},
    "release": {
        "release.tag": "Tag name.",
        "release.name": "Release title (may be empty).",
        "release.prerelease": "True for a pre-release.",
        "release.draft": "True for a draft.",
        "release.url": "Release web page.",
        "release.body": "Release notes (Markdown).",
        "release.author": "Login of who created it.",
        "release.target": "Branch or SHA the tag is created from.",
        "tag": "Tag name (same as `release.tag`).",
    },
    "workflow_run": {
        "workflow.name": "Workflow name.",
        "workflow.run_id": "Run id.",
        "workflow.run_number": "Run number shown in the Actions tab.",
        "workflow.run_attempt": "Attempt number (re-runs count up).",
        "workflow.status": "`requested`, `in_progress`, `completed`…",
        "workflow.conclusion": "`success`, `failure`, `cancelled`… once completed.",
        "workflow.duration_seconds": "Seconds from start to last update, once completed.",
        "workflow.event": "What triggered the run (`push`, `pull_request`…).",
        "workflow.display_title": "Run title (often the head commit message).",
        "workflow.head_sha": "Commit SHA the run is for.",
        "workflow.head_branch": "Branch the run is for.",
        "workflow.url": "Run web page.",
        "workflow.pull_requests": "Numbers of the pull requests the run is for.",
    },
    "workflow_job": {
        "job.name": "Job name.",
        "job.workflow_name": "Name of the job's workflow.",
        "job.run_id": "Id of the job's workflow run.",
        "job.run_attempt": "Attempt number.",
        "job.status": "`queued`, `waiting`, `in_progress`, `completed`.",
        "job.conclusion": "`success`, `failure`, `cancelled`… once completed.",
        "job.duration_seconds": "Seconds from start to completion, when both are known.",
        "job.head_sha": "Commit SHA.",
        "job.head_branch": "Branch.",
        "job.url": "Job web page.",
        "job.runner_name": "Runner that ran it.",
        "job.runner_labels": "Runner labels the job asked for.",
        "job.failed_steps": "Names of the steps that failed.",
    },
    "check_suite": {
        "check_suite.id": "Suite id.",
        "check_suite.app": "App that ran the checks.",
        "check_suite.status": "`requested`, `in_progress`, `completed`.",
        "check_suite.conclusion": "`success`, `failure`… once completed.",
        "check_suite.head_sha": "Commit SHA.",
        "check_suite.head_branch": "Branch.",
        "check_suite.url": "Checks page of the commit.",
        "check_suite.pull_requests": "Numbers of the pull requests the suite is for.",
    },
    "check_run": {
        "check_run.id": "Check id.",
        "check_run.name": "Check name.",
        "check_run.app": "App that ran it.",
        "check_run.status": "`queued`, `in_progress`, `completed`.",
        "check_run.conclusion": "`success`, `failure`… once completed.",
        "check_run.duration_seconds": "Seconds from start to completion, when both are known.",
        "check_run.head_sha": "Commit SHA.",
        "check_run.head_branch": "Branch of the check's suite.",
        "check_run.url": "Check web page.",
        "check_run.details_url": "The app's own page for the check.",
        "check_run.output_title": "Output title.",
        "check_run.output_summary": "Output summary (Markdown).",
        "check_run.requested_action": "Identifier of the requested action (requested_action).",
    },
    "status": {
        "commit_status.state": "`pending`, `success`, `failure` or `error`.",
        "commit_status.context": "Status name (`ci/jenkins`…).",
        "commit_status.description": "Short description (may be empty).",
        "commit_status.target_url": "Address the status links to.",
        "commit_status.sha": "Commit SHA.",
        "commit_status.branches": "Branches whose head is near the commit.",
        "commit_status.commit_url": "Commit web page.",
    },
    "deployment": _DEPLOYMENT_DOCS,
    "deployment_status": _DEPLOYMENT_DOCS
    | {
        "deployment_status.state": "`success`, `failure`, `error`, `in_progress`…",
        "deployment_status.environment": "Environment.",
        "deployment_status.description": "Description (may be empty).",
        "deployment_status.target_url": "Address the status links to.",
        "deployment_status.log_url": "Deployment log address.",
        "deployment_status.environment_url": "Address of the deployed environment.",
    },
    "star": {"stars": "Stargazer count after the change."},
    "watch": {"stars": "Stargazer count after the change."},
    "fork": {
        "fork.full_name": "Full name of the new fork.",
        "fork.url": "Fork web page.",
        "fork.owner": "Login owning the fork.",
        "forks": "Fork count after the change.",
    },
    "member": {
        "member.login": "Collaborator's login.",
        "member.url": "Collaborator's profile page.",
        "permission": "New permission, for edited.",
    },
    "repository": {
        "repository.private": "True for a private repository.",
        "repository.archived": "True when archived.",
        "repository.description": "Description (may be empty).",
        "repository.default_branch": "Default branch.",
        "repository.visibility": "`public`, `private` or `internal`.",
        "repository.old_name": "Previous name, for renamed.",
    },
    "discussion": _DISCUSSION_DOCS | {"label": "Label added or removed."},
    "discussion_comment": _DISCUSSION_DOCS | _COMMENT_DOCS,
    "ping": {
        "zen": "A GitHub zen saying.",
        "hook_id": "Id of the webhook.",
        "hook_type": "`Repository`, `Organization` or `App`.",
        "hook_events": "Events the webhook is subscribed to.",
        "org": "Organization login, for organization webhooks.",
    },
}
"""Field path → one-line description, per event name (`*`: fields every kind carries)."""


# --------------------------------------------------------------------------- registry data

DEFAULT_SELECTION: tuple[str, ...] = (
    "push",
    "create.tag",
    "delete.tag",
    "pull_request.opened",
    "pull_request.closed",
    "pull_request.merged",
    "pull_request.reopened",
    "pull_request.ready_for_review",
    "issues.opened",
    "issues.closed",
    "issues.reopened",
    "release.published",
    "workflow_run.completed",
)
"""What a GitHub hook selects when given no patterns: the seed's list minus the noise."""

ALIASES: dict[str, tuple[str, ...]] = {
    "pr": ("pull_request",),
    "review": ("pull_request_review",),
    "issue": ("issues",),
    "ci": ("workflow_run", "workflow_job", "check_suite"),
}
"""Short event words users may type, and the patterns they stand for."""

EVENT_LABELS: dict[str, str] = {
    "push": "Pushes",
    "create": "Branch or tag creation",
    "delete": "Branch or tag deletion",
    "pull_request": "Pull requests",
    "pull_request_review": "Pull request reviews",
    "pull_request_review_comment": "Pull request review comments",
    "issues": "Issues",
    "issue_comment": "Issue comments",
    "release": "Releases",
    "workflow_run": "Workflow runs",
    "workflow_job": "Workflow jobs",
    "check_suite": "Check suites",
    "check_run": "Check runs",
    "status": "Statuses",
    "deployment": "Deployments",
    "deployment_status": "Deployment statuses",
    "star": "Stars",
    "watch": "Watches",
    "fork": "Forks",
    "member": "Collaborator add, remove, or changed",
    "repository": "Repositories",
    "discussion": "Discussions",
    "discussion_comment": "Discussion comments",
}
"""How GitHub's webhook form names its events ("Let me select individual events")."""

SETUP_HINT = (
    "In GitHub: Settings → Webhooks → Add webhook, with\n"
    "  Payload URL: {url} · Content type: application/json · Secret: the hook's secret\n"
    "  Events: {events}"
)
"""What the `on` answer tells the user to do in GitHub (`{events}`: the events to tick)."""

CONNECTION_KIND = "ping"
"""GitHub's connection check: sent when a webhook is made, it lists the events it will send."""

ATTRIBUTE_EVENTS: dict[str, tuple[str, ...]] = {
    "branch": (
        "push",
        "create",
        "delete",
        "pull_request",
        "pull_request_review",
        "pull_request_review_comment",
        "workflow_run",
        "workflow_job",
        "check_suite",
        "check_run",
        "status",
        "deployment",
        "deployment_status",
    ),
    "status": (
        "pull_request",
        "pull_request_review",
        "pull_request_review_comment",
        "issues",
        "issue_comment",
        "workflow_run",
        "workflow_job",
        "check_suite",
        "check_run",
        "status",
        "deployment_status",
    ),
}
"""Which events set Event.branch and Event.status (the `branch` and `status` filter keys)."""

SAMPLES: dict[str, str] = {
    "check_run": "check_run.completed",
    "check_suite": "check_suite.completed",
    "create": "create.branch",
    "delete": "delete.branch",
    "deployment": "deployment.created",
    "deployment_status": "deployment_status.created",
    "discussion": "discussion.created",
    "discussion_comment": "discussion_comment.created",
    "fork": "fork",
    "issue_comment": "issue_comment.created",
    "issues": "issues.opened",
    "member": "member.added",
    "ping": "ping",
    "pull_request": "pull_request.opened",
    "pull_request_review": "pull_request_review.approved",
    "pull_request_review_comment": "pull_request_review_comment.created",
    "push": "push",
    "release": "release.published",
    "repository": "repository.created",
    "star": "star.created",
    "status": "status",
    "watch": "watch.started",
    "workflow_job": "workflow_job.completed",
    "workflow_run": "workflow_run.completed",
}
"""Bundled samples (`parsers/samples/github/<name>.json`, named by event) and their kinds."""


def sample_headers(name: str) -> dict[str, str]:
    """Return the unsigned headers GitHub sends with sample `name` (an event name)."""
    if name not in SAMPLES:
        raise KeyError(name)
    return {
        EVENT_HEADER: name,
        DELIVERY_HEADER: f"sample-{name}",
        "Content-Type": "application/json",
    }
