"""PR review and check state folded from real parsed GitHub samples (bot.core.prstate)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from bot.core.prstate import PRState, apply, subjects_for
from parsers import github
from parsers.event import Event

SAMPLES = Path(__file__).resolve().parents[2] / "parsers" / "samples" / "github"
REPO = "octo-org/Hello-World"
SUBJECT = f"github:{REPO}#45"
HEAD = "a" * 40
NEW_HEAD = "b" * 40


# --------------------------------------------------------------------------- helpers


def github_event(name: str, edit: Callable[[dict[str, Any]], None]) -> Event:
    """Parse the bundled sample `name` after `edit` changed its JSON."""
    payload = json.loads((SAMPLES / f"{name}.json").read_text())
    edit(payload)
    body = json.dumps(payload).encode()
    [event] = github.parse({"X-GitHub-Event": name, "Content-Type": "application/json"}, body)
    return event


def _set_pr(payload: dict[str, Any], number: int, head: str) -> None:
    payload["pull_request"]["number"] = number
    payload["pull_request"]["html_url"] = f"https://github.com/{REPO}/pull/{number}"
    payload["pull_request"]["head"]["sha"] = head


def pr_event(
    action: str = "opened",
    *,
    head: str = HEAD,
    number: int = 45,
    draft: bool = False,
    state: str = "open",
    merged: bool = False,
) -> Event:
    """A `pull_request` delivery with the given action and pull-request state."""

    def edit(payload: dict[str, Any]) -> None:
        payload["action"] = action
        payload["number"] = number
        _set_pr(payload, number, head)
        payload["pull_request"].update(draft=draft, state=state, merged=merged)
        if merged:
            payload["pull_request"]["merged_at"] = "2026-11-21T10:00:00Z"

    return github_event("pull_request", edit)


def review(reviewer: str, state: str, *, head: str = HEAD, number: int = 45) -> Event:
    """A `pull_request_review` delivery: submitted with `state`, or dismissed."""

    def edit(payload: dict[str, Any]) -> None:
        payload["action"] = "dismissed" if state == "dismissed" else "submitted"
        payload["review"]["state"] = state.upper()  # GitHub spells some states in capitals
        payload["review"]["user"]["login"] = reviewer
        _set_pr(payload, number, head)

    return github_event("pull_request_review", edit)


def _ci_edit(
    section: str, head: str, status: str, conclusion: str | None, prs: Iterable[int]
) -> Callable[[dict[str, Any]], None]:
    def edit(payload: dict[str, Any]) -> None:
        payload["action"] = "completed" if status == "completed" else "requested"
        if section == "workflow_run" and status != "completed":
            payload["action"] = "in_progress"
        raw = payload[section]
        raw.update(head_sha=head, status=status, conclusion=conclusion)
        raw["pull_requests"] = [{"number": n, "head": {"sha": head}} for n in prs]

    return edit


def check_suite(
    conclusion: str | None,
    *,
    app: str = "GitHub Actions",
    head: str = HEAD,
    prs: Iterable[int] = (45,),
) -> Event:
    """A `check_suite` delivery; no conclusion means still running."""
    status = "completed" if conclusion else "in_progress"
    edit = _ci_edit("check_suite", head, status, conclusion, prs)

    def named(payload: dict[str, Any]) -> None:
        edit(payload)
        payload["check_suite"]["app"]["name"] = app

    return github_event("check_suite", named)


def workflow_run(
    conclusion: str | None, *, name: str = "CI", head: str = HEAD, prs: Iterable[int] = (45,)
) -> Event:
    """A `workflow_run` delivery; no conclusion means still running."""
    status = "completed" if conclusion else "in_progress"
    edit = _ci_edit("workflow_run", head, status, conclusion, prs)

    def named(payload: dict[str, Any]) -> None:
        edit(payload)
        payload["workflow_run"]["name"] = name

    return github_event("workflow_run", named)


def fold(events: Iterable[Event], state: PRState | None = None, subject: str = SUBJECT) -> PRState:
    """Fold events into a subject's state the way the caller does."""
    for event in events:
        new = apply(state, event, subject)
        if new is not None:
            state = new
    assert state is not None
    return state


# --------------------------------------------------------------------------- subjects


def test_subjects_for_pr_event_its_subject() -> None:
    """A pull-request event updates its own subject."""
    assert subjects_for(pr_event()) == [SUBJECT]


def test_subjects_for_review_event_its_subject() -> None:
    """A review event updates its pull request's subject."""
    assert subjects_for(review("octocat", "approved", number=7)) == [f"github:{REPO}#7"]


def test_subjects_for_check_suite_every_pr_named() -> None:
    """A check suite updates each pull request its payload names, once each."""
    event = check_suite("success", prs=(45, 46, 45))
    assert subjects_for(event) == [SUBJECT, f"github:{REPO}#46"]


def test_subjects_for_workflow_run_without_prs_none() -> None:
    """A workflow run naming no pull request (a push to main, a fork) updates nothing."""
    assert subjects_for(workflow_run("success", prs=())) == []


def test_subjects_for_unrelated_event_none() -> None:
    """A push or a check run (whose fields name no PR) updates no PR subject."""
    push = github_event("push", lambda payload: None)
    run = github_event("check_run", lambda payload: None)
    assert subjects_for(push) == []
    assert subjects_for(run) == []


def test_apply_other_subject_none() -> None:
    """An event about another pull request tells nothing about this one."""
    assert apply(None, review("octocat", "approved", number=46), SUBJECT) is None
    assert apply(None, workflow_run("success", prs=(46,)), SUBJECT) is None


# --------------------------------------------------------------------------- reviews


def test_apply_first_event_builds_state() -> None:
    """The first PR event creates the state with its head, title and link."""
    state = fold([pr_event()])
    assert state.subject == SUBJECT
    assert state.head_sha == HEAD
    assert (state.open, state.draft, state.merged) == (True, False, False)
    assert state.title == "Add OAuth login"
    assert state.url == f"https://github.com/{REPO}/pull/45"
    assert state.status == "open"
    assert state.checks_status == "none"


def test_reviews_two_approvals_counted() -> None:
    """Two reviewers approving make two approvals and status approved."""
    state = fold([pr_event(), review("ann", "approved"), review("bob", "approved")])
    assert state.approvals == 2
    assert state.status == "approved"
    assert state.names()["reviews"] == state.names()["approvals"] == 2


def test_reviews_same_reviewer_twice_counted_once() -> None:
    """The latest review per reviewer counts: approving twice is one approval."""
    state = fold([review("ann", "approved"), review("ann", "approved")])
    assert state.approvals == 1


def test_reviews_changes_requested_blocks_approved() -> None:
    """An outstanding change request keeps status changes_requested despite approvals."""
    state = fold(
        [review("ann", "changes_requested"), review("bob", "approved"), review("cy", "approved")]
    )
    assert (state.approvals, state.changes_requested) == (2, 1)
    assert state.status == "changes_requested"


def test_reviews_approval_after_change_request_replaces_it() -> None:
    """A reviewer who approves after requesting changes no longer blocks."""
    state = fold([review("ann", "changes_requested"), review("ann", "approved")])
    assert (state.approvals, state.changes_requested, state.status) == (1, 0, "approved")


def test_reviews_comment_after_approval_keeps_approval() -> None:
    """A commented review does not replace an earlier approval (GitHub's rule)."""
    state = fold([review("ann", "approved"), review("ann", "commented")])
    assert state.reviews == {"ann": "approved"}


def test_reviews_comment_alone_counts_nothing() -> None:
    """A reviewer who only commented neither approves nor blocks."""
    state = fold([review("ann", "commented")])
    assert state.reviews == {"ann": "commented"}
    assert state.status == "open"


def test_reviews_dismissal_removes_approval() -> None:
    """A dismissed review removes that reviewer's approval."""
    state = fold([review("ann", "approved"), review("bob", "approved"), review("ann", "dismissed")])
    assert state.approvals == 1
    assert state.reviews["ann"] == "dismissed"


def test_reviews_dismissal_removes_change_request() -> None:
    """A dismissed change request no longer blocks approval."""
    state = fold(
        [review("ann", "changes_requested"), review("bob", "approved"), review("ann", "dismissed")]
    )
    assert state.status == "approved"


def test_reviews_new_commits_kept() -> None:
    """New commits keep reviews; stale ones arrive as dismissed events if the repo says so."""
    state = fold([review("ann", "approved"), pr_event("synchronize", head=NEW_HEAD)])
    assert state.head_sha == NEW_HEAD
    assert state.approvals == 1


# --------------------------------------------------------------------------- open / draft / merged


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (pr_event("closed", state="closed"), "closed"),
        (pr_event("closed", state="closed", merged=True), "merged"),
        (pr_event("converted_to_draft", draft=True), "draft"),
        (pr_event("ready_for_review"), "approved"),
        (pr_event("reopened"), "approved"),
    ],
)
def test_status_lifecycle_event_updates(event: Event, expected: str) -> None:
    """Close, merge, draft, ready and reopen events set the status (approvals kept)."""
    state = fold([pr_event("opened", draft=True), review("ann", "approved"), event])
    assert state.status == expected


def test_status_merged_not_open() -> None:
    """A merged pull request is no longer open."""
    state = fold([pr_event("closed", state="closed", merged=True)])
    assert (state.open, state.merged) == (False, True)


def test_status_reopened_after_close_open() -> None:
    """Reopening a closed pull request makes it open again."""
    state = fold([pr_event("closed", state="closed"), pr_event("reopened")])
    assert state.open
    assert state.status == "open"


# --------------------------------------------------------------------------- checks


def test_checks_failure_then_passing_rerun_passed() -> None:
    """A failing check stays failed until a later passing run of the same check."""
    state = fold([pr_event(), workflow_run("failure")])
    assert state.checks_status == "failed"
    state = fold([review("ann", "approved"), workflow_run(None)], state)
    assert state.checks_status == "pending"
    state = fold([workflow_run("success")], state)
    assert state.checks_status == "passed"


def test_checks_other_check_passing_still_failed() -> None:
    """A different check passing does not clear a failure."""
    state = fold(
        [pr_event(), workflow_run("failure", name="CI"), check_suite("success", app="Codecov")]
    )
    assert state.checks == {"CI": "failed", "Codecov": "passed"}
    assert state.checks_status == "failed"


def test_checks_all_passed_passed() -> None:
    """Every check passing (neutral and skipped count) makes checks passed."""
    state = fold(
        [
            pr_event(),
            check_suite("success"),
            workflow_run("skipped", name="Docs"),
            workflow_run("neutral", name="Lint"),
        ]
    )
    assert state.checks_status == "passed"


@pytest.mark.parametrize("conclusion", ["failure", "cancelled", "timed_out", "action_required"])
def test_checks_bad_conclusion_failed(conclusion: str) -> None:
    """Conclusions other than success, neutral and skipped count as failed."""
    assert fold([pr_event(), check_suite(conclusion)]).checks_status == "failed"


def test_checks_pending_and_passed_pending() -> None:
    """One check still running keeps checks pending."""
    state = fold([pr_event(), check_suite("success"), workflow_run(None)])
    assert state.checks_status == "pending"


def test_checks_new_commits_reset() -> None:
    """New commits reset the checks: they are per head SHA."""
    state = fold([pr_event(), workflow_run("failure"), pr_event("synchronize", head=NEW_HEAD)])
    assert state.checks == {}
    assert state.checks_status == "none"


def test_checks_old_head_ignored_after_synchronize() -> None:
    """Results for the previous head SHA are ignored once new commits arrived."""
    state = fold([pr_event(), pr_event("synchronize", head=NEW_HEAD)])
    assert apply(state, workflow_run("success", head=HEAD), SUBJECT) == state
    state = fold(
        [workflow_run("failure", head=HEAD), workflow_run("success", head=NEW_HEAD)], state
    )
    assert state.checks == {"CI": "passed"}


def test_checks_without_head_take_checks_head() -> None:
    """A state with no head SHA yet accepts a check's result and its SHA."""
    state = fold([check_suite("success", head=NEW_HEAD)])
    assert state.head_sha == NEW_HEAD
    assert state.checks_status == "passed"
    assert state.open
    assert fold([check_suite("failure", head=HEAD)], state).checks_status == "passed"


def test_checks_review_with_same_head_kept() -> None:
    """A review carrying the same head SHA keeps the checks."""
    state = fold([pr_event(), check_suite("success"), review("ann", "approved")])
    assert state.checks_status == "passed"


# --------------------------------------------------------------------------- storage


def test_json_round_trip_equal() -> None:
    """to_json survives json.dumps/loads and from_json rebuilds an equal state."""
    state = fold(
        [
            pr_event(),
            review("ann", "approved"),
            review("bob", "changes_requested"),
            check_suite(None),
        ]
    )
    again = PRState.from_json(json.loads(json.dumps(state.to_json())))
    assert again == state
    assert again.names() == state.names()


def test_json_restart_between_approvals_same_result() -> None:
    """Storing and reloading between two approvals gives the same state as no restart."""
    first = fold([pr_event(), review("ann", "approved")])
    reloaded = PRState.from_json(json.loads(json.dumps(first.to_json())))
    assert fold([review("bob", "approved")], reloaded) == fold([review("bob", "approved")], first)
    assert fold([review("bob", "approved")], reloaded).approvals == 2


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"subject": SUBJECT, "open": "yes"},
        {"subject": SUBJECT, "reviews": {"ann": "lgtm"}},
        {"subject": SUBJECT, "checks": ["CI"]},
        {"subject": SUBJECT, "head_sha": 5},
    ],
)
def test_json_invalid_raises(bad: dict[str, Any]) -> None:
    """from_json refuses a stored value with a missing or wrongly typed field."""
    with pytest.raises(ValueError, match="PR state"):
        PRState.from_json(bad)


def test_state_mappings_read_only() -> None:
    """A state's reviews and checks cannot be changed in place."""
    reviews = {"ann": "approved"}
    state = PRState(subject=SUBJECT, reviews=reviews)
    reviews["bob"] = "approved"
    assert state.approvals == 1
    with pytest.raises(TypeError):
        state.reviews["bob"] = "approved"  # type: ignore[index]
