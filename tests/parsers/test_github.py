"""The GitHub parser: decoding, verification, kinds, fields and hostile input."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers import github
from parsers.errors import (
    ParseError,
    PayloadError,
    SignatureError,
    UnsupportedContentTypeError,
    UnsupportedEventError,
)
from parsers.event import Event
from parsers.signatures import sign_hmac_sha256

FIXTURES = Path(__file__).parents[1] / "fixtures" / "github"
FIXTURE_NAMES = sorted(
    path.name.removesuffix(".json")
    for path in FIXTURES.glob("*.json")
    if not path.name.endswith(".headers.json")
)
REPO = "octo-org/hookbot-demo"
REPO_URL = f"https://github.com/{REPO}"
SHA3 = "3" * 40
KIND_GRAMMAR = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?")


def load(name: str) -> tuple[dict[str, str], bytes]:
    """Return a fixture's headers and body bytes."""
    headers = json.loads((FIXTURES / f"{name}.headers.json").read_text())
    return headers, (FIXTURES / f"{name}.json").read_bytes()


def payload(name: str) -> dict[str, Any]:
    """Return a fixture's decoded payload, for tests that edit it."""
    return json.loads((FIXTURES / f"{name}.json").read_bytes())


def parse_one(name: str) -> Event:
    """Parse a fixture that must yield exactly one Event."""
    events = github.parse(*load(name))
    assert len(events) == 1
    return events[0]


def parse_edited(name: str, event: str | None = None, **changes: Any) -> list[Event]:
    """Parse a fixture's payload after replacing top-level keys (None deletes a key)."""
    body = payload(name)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    headers = load(name)[0]
    return github.parse_payload(event or headers["X-GitHub-Event"], "id-1", body)


# --------------------------------------------------------------------------- fixtures table

EXPECTED = {
    "push": (
        "push",
        "Push to main: 3 commits",
        None,
        "main",
        f"{REPO_URL}/compare/999999999999...333333333333",
        f"github:{REPO}@{SHA3}",
    ),
    "push.force": (
        "push",
        "Force push to main: 1 commit",
        None,
        "main",
        f"{REPO_URL}/compare/444444444444...111111111111",
        f"github:{REPO}@{'1' * 40}",
    ),
    "push.tag": (
        "push",
        "Tag v1.2.0 pushed",
        None,
        None,
        f"{REPO_URL}/compare/v1.2.0",
        f"github:{REPO}@{SHA3}",
    ),
    "push.branch-deleted": (
        "push",
        "Branch feature/old-ui deleted",
        None,
        "feature/old-ui",
        f"{REPO_URL}/compare/222222222222...000000000000",
        None,
    ),
    "push.zero-commits": (
        "push",
        "Branch release/1.2 created",
        None,
        "release/1.2",
        f"{REPO_URL}/compare/release/1.2",
        f"github:{REPO}@{SHA3}",
    ),
    "pull_request.opened": (
        "pull_request.opened",
        "PR #45 opened: Fix encryption bug",
        "open",
        "main",
        f"{REPO_URL}/pull/45",
        f"github:{REPO}#45",
    ),
    "pull_request.merged": (
        "pull_request.merged",
        "PR #45 merged: Fix encryption bug",
        "merged",
        "main",
        f"{REPO_URL}/pull/45",
        f"github:{REPO}#45",
    ),
    "pull_request.closed": (
        "pull_request.closed",
        "PR #46 closed: Try a faster cipher",
        "closed",
        "main",
        f"{REPO_URL}/pull/46",
        f"github:{REPO}#46",
    ),
    "pull_request_review.approved": (
        "pull_request_review.approved",
        "PR #45 approved: Fix encryption bug",
        "open",
        "main",
        f"{REPO_URL}/pull/45#pullrequestreview-5501",
        f"github:{REPO}#45",
    ),
    "issue_comment.on-pr": (
        "issue_comment.created",
        "Comment on PR #45: Fix encryption bug",
        "open",
        None,
        f"{REPO_URL}/pull/45#issuecomment-7001",
        f"github:{REPO}#45",
    ),
    "issue_comment.on-issue": (
        "issue_comment.created",
        "Comment on issue #44: Messages decrypt to garbage",
        "open",
        None,
        f"{REPO_URL}/issues/44#issuecomment-7002",
        f"github:{REPO}#44",
    ),
    "workflow_run.completed.failure": (
        "workflow_run.completed",
        "Workflow CI #128 failed on main",
        "failure",
        "main",
        f"{REPO_URL}/actions/runs/9100200",
        f"github:{REPO}@{SHA3}",
    ),
    "workflow_job.completed.failure": (
        "workflow_job.completed",
        "Job tests (3.11) failed on main (CI)",
        "failure",
        "main",
        f"{REPO_URL}/actions/runs/9100200/job/33001",
        f"github:{REPO}@{SHA3}",
    ),
    "ping": ("ping", f"Connected: {REPO}", None, None, REPO_URL, None),
}


def test_fixtures_table_covers_every_fixture_file() -> None:
    """Every hand-made fixture has a row in EXPECTED, and every row has a fixture."""
    assert sorted(EXPECTED) == FIXTURE_NAMES


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_github_parse_fixture_yields_expected_event(name: str) -> None:
    """Each fixture yields one Event with the expected kind, title, status, branch, url, subject."""
    kind, title, status, branch, url, subject = EXPECTED[name]
    event = parse_one(name)
    assert (event.kind, event.title, event.status, event.branch, event.url, event.subject) == (
        kind,
        title,
        status,
        branch,
        url,
        subject,
    )
    assert event.service == "github"
    assert event.source == REPO


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_github_parse_fixture_carries_common_fields(name: str) -> None:
    """Every Event carries the delivery id, sender, repo fields and a read-only mapping."""
    headers, _ = load(name)
    event = parse_one(name)
    assert event.delivery_id == headers["X-GitHub-Delivery"]
    assert event.kind in github.KINDS
    assert isinstance(event.fields, MappingProxyType)
    assert event.fields["repo"] == REPO
    assert event.fields["repo_url"] == REPO_URL
    assert str(event.fields["actor_avatar_url"]).startswith(
        "https://avatars.githubusercontent.com/"
    )
    assert event.actor in {"alice", "bob"}
    assert "\n" not in event.title


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_github_parse_fixture_fields_are_documented(name: str) -> None:
    """Every top-level field an Event carries is named in FIELD_DOCS for its event."""
    headers, _ = load(name)
    docs = github.FIELD_DOCS["*"] | github.FIELD_DOCS[headers["X-GitHub-Event"]]
    documented = {re.split(r"[.\[]", path, maxsplit=1)[0] for path in docs}
    assert set(parse_one(name).fields) <= documented


@pytest.mark.parametrize("name", [n for n in FIXTURE_NAMES if n != "ping"])
def test_github_parse_fixture_occurred_at_is_utc(name: str) -> None:
    """Events that carry a time carry it as a tz-aware UTC datetime from the payload."""
    event = parse_one(name)
    assert event.occurred_at is not None
    assert event.occurred_at.utcoffset() is not None
    assert event.occurred_at.tzinfo == UTC


def test_github_parse_ping_has_no_time() -> None:
    """A ping gives no time, so occurred_at stays None (never the clock)."""
    assert parse_one("ping").occurred_at is None


# --------------------------------------------------------------------------- push


def test_github_push_commits_are_shaped() -> None:
    """A push lists its commits with short ids, first-line messages, authors and paths."""
    fields = parse_one("push").fields
    assert fields["commit_count"] == 3
    commits = fields["commits"]
    assert isinstance(commits, list)
    assert [c["short_id"] for c in commits] == ["1111111", "2222222", "3333333"]
    last = commits[-1]
    assert isinstance(last, dict)
    assert last["message"] == "Fix encryption bug"
    assert last["full_message"] == "Fix encryption bug\n\nThe IV was reused across messages."
    assert last["author"] == "alice"
    assert last["removed"] == ["crypto/legacy.py"]
    assert last["url"] == f"{REPO_URL}/commit/{SHA3}"


def test_github_push_latest_message_and_head() -> None:
    """A push names its head commit's first line, head sha, ref and compare url."""
    fields = parse_one("push").fields
    assert fields["latest_commit_message"] == "Fix encryption bug"
    assert fields["head_sha"] == SHA3
    assert fields["ref"] == "refs/heads/main"
    assert fields["branch"] == "main"
    assert fields["tag"] is None
    assert fields["compare_url"] == f"{REPO_URL}/compare/999999999999...333333333333"
    assert (fields["forced"], fields["created"], fields["deleted"]) == (False, False, False)


def test_github_push_files_lists_each_changed_path_once() -> None:
    """`files` holds every added, removed and modified path across commits, each once."""
    assert parse_one("push").fields["files"] == [
        "crypto/rotate.py",
        "docs/crypto.md",
        "README.md",
        "crypto/legacy.py",
        "crypto/cipher.py",
    ]


def test_github_push_time_comes_from_head_commit() -> None:
    """A push's occurred_at is the head commit's timestamp converted to UTC."""
    assert parse_one("push").occurred_at == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


def test_github_push_force_sets_forced() -> None:
    """A force push is still kind push, with `forced` true."""
    assert parse_one("push.force").fields["forced"] is True


def test_github_push_tag_sets_tag_not_branch() -> None:
    """A tag push carries `tag` and no branch."""
    event = parse_one("push.tag")
    assert (event.fields["tag"], event.fields["branch"], event.branch) == ("v1.2.0", None, None)
    assert event.fields["created"] is True


def test_github_push_branch_deleted_has_no_head() -> None:
    """A deletion push is kind push with `deleted` true, no head sha and no commits."""
    event = parse_one("push.branch-deleted")
    assert event.fields["deleted"] is True
    assert event.fields["head_sha"] is None
    assert event.fields["commit_count"] == 0
    assert event.fields["latest_commit_message"] is None
    assert event.occurred_at == datetime.fromtimestamp(1717236000, tz=UTC)


def test_github_push_zero_commits_yields_one_event() -> None:
    """A push with no commits still yields one push Event with an empty commit list."""
    event = parse_one("push.zero-commits")
    assert event.kind == "push"
    assert (event.fields["commit_count"], event.fields["commits"], event.fields["files"]) == (
        0,
        [],
        [],
    )


def test_github_push_zero_commits_existing_branch_says_so() -> None:
    """A push to an existing branch with no commits says it has no new commits."""
    [event] = parse_edited("push.force", commits=[], head_commit=None)
    assert event.title == "Force push to main: no new commits"


def test_github_push_without_sender_uses_pusher() -> None:
    """When a push has no sender the actor is the pusher's name."""
    [event] = parse_edited("push", sender=None)
    assert event.actor == "alice"
    assert event.fields["actor_avatar_url"] is None


# --------------------------------------------------------------------------- create / delete


@pytest.mark.parametrize(
    ("event_name", "ref_type", "kind", "title"),
    [
        ("create", "branch", "create.branch", "Branch feature/x created"),
        ("create", "tag", "create.tag", "Tag feature/x created"),
        ("delete", "branch", "delete.branch", "Branch feature/x deleted"),
        ("delete", "tag", "delete.tag", "Tag feature/x deleted"),
    ],
)
def test_github_create_delete_kind_follows_ref_type(
    event_name: str, ref_type: str, kind: str, title: str
) -> None:
    """create/delete events become `<event>.<ref_type>` with branch or tag set."""
    body: dict[str, Any] = {
        "ref": "feature/x",
        "ref_type": ref_type,
        "repository": payload("ping")["repository"],
        "sender": payload("ping")["sender"],
    }
    [event] = github.parse_payload(event_name, "d", body)
    assert (event.kind, event.title) == (kind, title)
    assert event.fields[ref_type] == "feature/x"
    assert event.branch == ("feature/x" if ref_type == "branch" else None)


# --------------------------------------------------------------------------- pull requests


def test_github_pull_request_fields_are_shaped() -> None:
    """A PR Event carries the `pr` dict, labels and head branch."""
    fields = parse_one("pull_request.opened").fields
    pr = fields["pr"]
    assert isinstance(pr, dict)
    assert {k: pr[k] for k in ("number", "title", "draft", "merged", "base", "head")} == {
        "number": 45,
        "title": "Fix encryption bug",
        "draft": False,
        "merged": False,
        "base": "main",
        "head": "fix-iv",
    }
    assert (pr["additions"], pr["deletions"], pr["changed_files"]) == (42, 7, 4)
    assert pr["labels"] == fields["labels"] == ["bug", "security"]
    assert (pr["author"], pr["head_sha"], pr["url"]) == ("alice", SHA3, f"{REPO_URL}/pull/45")
    assert fields["head"] == "fix-iv"
    assert fields["action"] == "opened"


def test_github_pull_request_merged_names_merger() -> None:
    """A merged PR records who merged it and is merged in the `pr` dict."""
    event = parse_one("pull_request.merged")
    pr = event.fields["pr"]
    assert isinstance(pr, dict)
    assert (pr["merged"], pr["merged_by"]) == (True, "bob")
    assert event.actor == "bob"
    assert event.fields["action"] == "closed"


def test_github_pull_request_closed_with_merged_at_only_is_merged() -> None:
    """A closed PR without `merged` but with `merged_at` still counts as merged."""
    body = payload("pull_request.merged")
    del body["pull_request"]["merged"]
    [event] = github.parse_payload("pull_request", "d", body)
    assert event.kind == "pull_request.merged"


@pytest.mark.parametrize(
    ("action", "title"),
    [
        ("synchronize", "PR #45 updated: Fix encryption bug"),
        ("ready_for_review", "PR #45 ready for review: Fix encryption bug"),
        ("review_requested", "PR #45 review requested: Fix encryption bug"),
        ("converted_to_draft", "PR #45 converted to draft: Fix encryption bug"),
        ("labeled", "PR #45 labeled: Fix encryption bug"),
    ],
)
def test_github_pull_request_action_kind_and_title(action: str, title: str) -> None:
    """Other PR actions keep GitHub's word as the kind and say it plainly in the title."""
    [event] = parse_edited("pull_request.opened", action=action)
    assert (event.kind, event.title) == (f"pull_request.{action}", title)


def test_github_pull_request_title_newlines_collapse() -> None:
    """A PR title with line breaks becomes one plain line."""
    body = payload("pull_request.opened")
    body["pull_request"]["title"] = "Fix\nencryption\r\n  bug"
    [event] = github.parse_payload("pull_request", "d", body)
    assert event.title == "PR #45 opened: Fix encryption bug"


def test_github_review_fields_are_shaped() -> None:
    """An approved review carries the `review` dict and the shorter `pr` dict."""
    fields = parse_one("pull_request_review.approved").fields
    assert fields["review"] == {
        "state": "approved",
        "body": "Looks good, thanks!",
        "url": f"{REPO_URL}/pull/45#pullrequestreview-5501",
        "reviewer": "bob",
    }
    pr = fields["pr"]
    assert isinstance(pr, dict)
    assert (pr["number"], pr["merged"], pr["additions"]) == (45, False, None)


@pytest.mark.parametrize(
    ("action", "state", "kind"),
    [
        ("submitted", "changes_requested", "pull_request_review.changes_requested"),
        ("submitted", "commented", "pull_request_review.commented"),
        ("submitted", "APPROVED", "pull_request_review.approved"),
        ("dismissed", "dismissed", "pull_request_review.dismissed"),
        ("edited", "approved", "pull_request_review.edited"),
    ],
)
def test_github_review_kind_follows_action_and_state(action: str, state: str, kind: str) -> None:
    """A submitted review is named by its state; other actions by the action."""
    body = payload("pull_request_review.approved")
    body["action"] = action
    body["review"]["state"] = state
    [event] = github.parse_payload("pull_request_review", "d", body)
    assert event.kind == kind


# --------------------------------------------------------------------------- comments


@pytest.mark.parametrize(
    ("name", "on_pr"), [("issue_comment.on-pr", True), ("issue_comment.on-issue", False)]
)
def test_github_issue_comment_marks_pull_requests(name: str, on_pr: bool) -> None:
    """An issue comment says whether it is on a PR and carries the issue and comment."""
    fields = parse_one(name).fields
    assert fields["on_pull_request"] is on_pr
    comment = fields["comment"]
    assert isinstance(comment, dict)
    assert comment["author"] == "bob"
    issue = fields["issue"]
    assert isinstance(issue, dict)
    assert (issue["labels"], issue["assignees"], issue["state"]) == (["bug"], ["bob"], "open")


def test_github_issue_comment_edited_title_says_so() -> None:
    """An edited comment's title says it was edited."""
    [event] = parse_edited("issue_comment.on-issue", action="edited")
    assert event.kind == "issue_comment.edited"
    assert event.title == "Comment edited on issue #44: Messages decrypt to garbage"


def test_github_issues_opened_is_shaped() -> None:
    """An issues event carries the issue dict, its state as status and its subject."""
    body = payload("issue_comment.on-issue")
    del body["comment"]
    body["action"] = "closed"
    body["issue"]["state"] = "closed"
    [event] = github.parse_payload("issues", "d", body)
    assert (event.kind, event.status, event.subject) == (
        "issues.closed",
        "closed",
        f"github:{REPO}#44",
    )
    assert event.title == "Issue #44 closed: Messages decrypt to garbage"
    assert event.url == f"{REPO_URL}/issues/44"


# --------------------------------------------------------------------------- CI


def test_github_workflow_run_fields_are_shaped() -> None:
    """A workflow run carries name, number, conclusion, duration and linked PRs."""
    workflow = parse_one("workflow_run.completed.failure").fields["workflow"]
    assert isinstance(workflow, dict)
    assert {k: workflow[k] for k in ("name", "run_number", "conclusion", "status")} == {
        "name": "CI",
        "run_number": 128,
        "conclusion": "failure",
        "status": "completed",
    }
    assert workflow["duration_seconds"] == 210
    assert workflow["head_sha"] == SHA3
    assert workflow["pull_requests"] == [45]


def test_github_workflow_run_in_progress_is_running() -> None:
    """A run without a conclusion reports `running` and no duration."""
    body = payload("workflow_run.completed.failure")
    body["action"] = "in_progress"
    body["workflow_run"].update(status="in_progress", conclusion=None)
    [event] = github.parse_payload("workflow_run", "d", body)
    assert (event.kind, event.status) == ("workflow_run.in_progress", "running")
    assert event.title == "Workflow CI #128 in progress on main"
    workflow = event.fields["workflow"]
    assert isinstance(workflow, dict)
    assert workflow["duration_seconds"] is None


def test_github_workflow_job_duration_and_failed_steps() -> None:
    """A completed job has its duration from started_at/completed_at and its failed steps."""
    job = parse_one("workflow_job.completed.failure").fields["job"]
    assert isinstance(job, dict)
    assert (job["duration_seconds"], job["conclusion"], job["failed_steps"]) == (
        150,
        "failure",
        ["Run pytest"],
    )
    assert job["runner_labels"] == ["ubuntu-latest"]


def test_github_workflow_job_without_start_has_no_duration() -> None:
    """A queued job has no started_at, so its duration is None."""
    body = payload("workflow_job.completed.failure")
    body["action"] = "queued"
    body["workflow_job"].update(
        status="queued", conclusion=None, started_at=None, completed_at=None
    )
    [event] = github.parse_payload("workflow_job", "d", body)
    job = event.fields["job"]
    assert isinstance(job, dict)
    assert (event.status, job["duration_seconds"]) == ("queued", None)


def test_github_deployment_status_without_action_is_created() -> None:
    """Deployment statuses from before GitHub sent `action` are read as created."""
    body: dict[str, Any] = {
        "deployment_status": {"state": "in_progress", "environment": "prod", "target_url": ""},
        "deployment": {"id": 1, "ref": "main", "sha": SHA3, "environment": "prod"},
        "repository": payload("ping")["repository"],
        "sender": payload("ping")["sender"],
    }
    [event] = github.parse_payload("deployment_status", "d", body)
    assert (event.kind, event.status, event.title) == (
        "deployment_status.created",
        "running",
        "Deployment to prod: in progress",
    )
    assert event.url == f"{REPO_URL}/deployments"


def test_github_status_without_repository_uses_name() -> None:
    """A status payload without `repository` takes its source from `name`."""
    body: dict[str, Any] = {
        "sha": SHA3,
        "name": REPO,
        "state": "failure",
        "context": "ci/jenkins",
        "description": "2 tests failed",
        "target_url": "https://ci.example.com/1",
        "branches": [{"name": "main", "commit": {"sha": SHA3}}],
    }
    [event] = github.parse_payload("status", "d", body)
    assert (event.source, event.status, event.branch) == (REPO, "failure", "main")
    assert event.title == "Status ci/jenkins failed (2 tests failed)"
    assert event.fields["repo"] == REPO


# --------------------------------------------------------------------------- ping


def test_github_ping_fields_are_shaped() -> None:
    """A ping carries the zen, the hook id and the hook's events."""
    fields = parse_one("ping").fields
    assert fields["zen"] == "Keep it logically awesome."
    assert fields["hook_id"] == 480012
    assert fields["hook_events"] == ["push", "pull_request", "workflow_run"]


def test_github_ping_without_repository_names_the_org() -> None:
    """An organization ping has no repository, so the source is the organization."""
    [event] = parse_edited("ping", repository=None, organization={"login": "octo-org"})
    assert (event.source, event.title) == ("octo-org", "Connected: octo-org")


def test_github_ping_without_repository_or_org_is_github() -> None:
    """A ping with neither repository nor organization falls back to "github"."""
    [event] = parse_edited("ping", repository=None)
    assert (event.source, event.title, event.url) == ("github", "Connected: github", None)


# --------------------------------------------------------------------------- dispatch


def test_github_parse_unknown_event_raises() -> None:
    """An event name outside the table raises UnsupportedEventError naming it."""
    headers, body = load("ping")
    headers["X-GitHub-Event"] = "sponsorship"
    with pytest.raises(UnsupportedEventError, match="'sponsorship'"):
        github.parse(headers, body)


def test_github_parse_missing_event_header_raises() -> None:
    """A delivery without X-GitHub-Event raises UnsupportedEventError."""
    headers, body = load("ping")
    del headers["X-GitHub-Event"]
    with pytest.raises(UnsupportedEventError, match="X-GitHub-Event"):
        github.parse(headers, body)


def test_github_parse_new_action_yields_generic_kind() -> None:
    """A well-formed action GitHub adds later yields `<event>.<action>`."""
    [event] = parse_edited("pull_request.opened", action="shiny_new_thing")
    assert event.kind == "pull_request.shiny_new_thing"
    assert event.kind not in github.KINDS
    assert event.title == "PR #45 shiny new thing: Fix encryption bug"


@pytest.mark.parametrize("action", ["Opened", "drop table", "", "a.b", "1st"])
def test_github_parse_malformed_action_raises(action: str) -> None:
    """An action that is not a lower_snake word raises UnsupportedEventError naming the kind."""
    body = payload("issue_comment.on-issue")
    body["action"] = action
    expected = PayloadError if action == "" else UnsupportedEventError
    with pytest.raises(expected, match="action" if action == "" else "issue_comment"):
        github.parse_payload("issue_comment", "d", body)


def test_github_parse_headers_are_case_insensitive() -> None:
    """Lower-cased header names (as stored) parse the same as GitHub's spelling."""
    headers, body = load("push")
    lowered = {key.lower(): value for key, value in headers.items()}
    assert github.parse(lowered, body) == github.parse(headers, body)
    assert github.delivery_id(lowered) == headers["X-GitHub-Delivery"]
    assert github.event_name(lowered) == "push"


def test_github_parse_missing_delivery_header_gives_empty_id() -> None:
    """Without X-GitHub-Delivery the Event's delivery_id is ""."""
    headers, body = load("ping")
    del headers["X-GitHub-Delivery"]
    assert github.delivery_id(headers) is None
    assert github.parse(headers, body)[0].delivery_id == ""


def test_github_parse_payload_matches_parse() -> None:
    """parse_payload on the decoded body gives the same Events as parse."""
    headers, body = load("pull_request.merged")
    direct = github.parse_payload("pull_request", headers["X-GitHub-Delivery"], json.loads(body))
    assert direct == github.parse(headers, body)


def test_github_fields_are_read_only() -> None:
    """An Event's fields mapping cannot be changed."""
    fields = parse_one("push").fields
    with pytest.raises(TypeError):
        fields["commit_count"] = 99


# --------------------------------------------------------------------------- decode


def test_github_decode_json_with_charset_parameter() -> None:
    """`application/json; charset=utf-8` decodes like plain application/json."""
    _, body = load("ping")
    assert github.decode("Application/JSON; charset=utf-8", body) == json.loads(body)


def test_github_decode_form_reads_payload_field() -> None:
    """Form deliveries carry the JSON in the `payload` field."""
    headers, body = load("push")
    form = urlencode({"payload": body.decode()}).encode()
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    assert github.parse(headers, form) == github.parse(load("push")[0], body)


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/xml", "json"])
def test_github_decode_other_content_type_raises(content_type: str | None) -> None:
    """Anything but JSON or form encoding raises UnsupportedContentTypeError."""
    with pytest.raises(UnsupportedContentTypeError):
        github.decode(content_type, b"{}")


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        ("application/json", b"{not json", "not valid JSON"),
        ("application/json", b"", "not valid JSON"),
        ("application/json", b"[1, 2]", "JSON object"),
        ("application/json", b'"text"', "JSON object"),
        ("application/json", b"null", "JSON object"),
        ("application/json", b'{"a": NaN}', "not valid JSON"),
        ("application/json", b'{"a": "\xff"}', "UTF-8"),
        ("application/json", b"[" * 100_000, "not valid JSON"),
        ("application/x-www-form-urlencoded", b"other=1", "one 'payload' field, found 0"),
        ("application/x-www-form-urlencoded", b"payload=1&payload=2", "found 2"),
        ("application/x-www-form-urlencoded", b"payload=%7Bbad", "not valid JSON"),
        ("application/x-www-form-urlencoded", b"payload=%FF", "malformed"),
        ("application/x-www-form-urlencoded", b"a=1&" * 200, "malformed"),
    ],
    ids=[
        "invalid",
        "empty",
        "array",
        "string",
        "null",
        "nan",
        "bad-utf8",
        "deep",
        "form-no-payload",
        "form-two-payloads",
        "form-invalid-json",
        "form-bad-utf8",
        "form-too-many-fields",
    ],
)
def test_github_decode_hostile_body_raises(content_type: str, body: bytes, message: str) -> None:
    """Undecodable bodies raise PayloadError with an empty path and a reason."""
    with pytest.raises(PayloadError, match=message) as caught:
        github.decode(content_type, body)
    assert caught.value.path == ""


# --------------------------------------------------------------------------- missing keys


def _without(name: str, dotted: str) -> dict[str, Any]:
    """Return a fixture payload with the value at a dotted path removed."""
    body = payload(name)
    *parents, last = dotted.split(".")
    target = body
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    del target[last]
    return body


@pytest.mark.parametrize(
    ("name", "dotted"),
    [
        ("push", "ref"),
        ("push", "repository.full_name"),
        ("push", "commits.1.id"),
        ("pull_request.opened", "pull_request"),
        ("pull_request.opened", "pull_request.number"),
        ("pull_request.opened", "pull_request.base.ref"),
        ("pull_request.opened", "action"),
        ("pull_request_review.approved", "review.state"),
        ("issue_comment.on-issue", "issue.title"),
        ("workflow_run.completed.failure", "workflow_run"),
        ("workflow_job.completed.failure", "workflow_job"),
    ],
)
def test_github_parse_missing_key_names_its_path(name: str, dotted: str) -> None:
    """A missing required value raises PayloadError whose path names it."""
    event = load(name)[0]["X-GitHub-Event"]
    with pytest.raises(PayloadError) as caught:
        github.parse_payload(event, "d", _without(name, dotted))
    assert caught.value.path == dotted


@pytest.mark.parametrize(
    ("name", "dotted", "value", "path"),
    [
        ("pull_request.opened", "pull_request.user", {"login": 7}, "pull_request.user.login"),
        ("pull_request.opened", "pull_request.number", "45", "pull_request.number"),
        ("pull_request.opened", "pull_request.number", True, "pull_request.number"),
        ("pull_request.opened", "pull_request.labels", {"name": "x"}, "pull_request.labels"),
        ("pull_request.opened", "pull_request.labels", ["bug"], "pull_request.labels.0"),
        ("push", "commits", "many", "commits"),
        ("push", "repository", "octo-org/hookbot-demo", "repository"),
        ("push", "head_commit", {"timestamp": "yesterday"}, "head_commit.timestamp"),
        ("push", "head_commit", {"timestamp": True}, "head_commit.timestamp"),
        ("push", "forced", "yes", "forced"),
    ],
)
def test_github_parse_wrong_type_names_its_path(
    name: str, dotted: str, value: Any, path: str
) -> None:
    """A value of the wrong type raises PayloadError whose path names it."""
    body = payload(name)
    *parents, last = dotted.split(".")
    target = body
    for key in parents:
        target = target[key]
    target[last] = value
    event = load(name)[0]["X-GitHub-Event"]
    with pytest.raises(PayloadError) as caught:
        github.parse_payload(event, "d", body)
    assert caught.value.path == path


# --------------------------------------------------------------------------- verify


def test_github_verify_accepts_signed_body() -> None:
    """A body signed with the hook's secret verifies, whatever the header's case."""
    _, body = load("push")
    github.verify({"x-hub-signature-256": sign_hmac_sha256(body, "s3cret")}, body, "s3cret")


def test_github_verify_form_body_is_signed_raw() -> None:
    """Form deliveries are verified over the raw form bytes, not the decoded JSON."""
    _, body = load("ping")
    form = ("payload=" + quote(body.decode())).encode()
    github.verify({"X-Hub-Signature-256": sign_hmac_sha256(form, "k")}, form, "k")
    with pytest.raises(SignatureError):
        github.verify({"X-Hub-Signature-256": sign_hmac_sha256(body, "k")}, form, "k")


def test_github_verify_missing_header_raises() -> None:
    """A delivery without X-Hub-Signature-256 fails even if it has the SHA-1 header."""
    with pytest.raises(SignatureError, match="missing"):
        github.verify({"X-Hub-Signature": "sha1=" + "0" * 40}, b"{}", "s3cret")


def test_github_verify_wrong_secret_raises() -> None:
    """A body signed with another secret does not verify."""
    with pytest.raises(SignatureError, match="does not match"):
        github.verify({"X-Hub-Signature-256": sign_hmac_sha256(b"{}", "a")}, b"{}", "b")


# --------------------------------------------------------------------------- KINDS, docs


def test_github_kinds_follow_the_grammar_and_are_unique() -> None:
    """Every kind is lower_snake dotted and listed once."""
    assert all(KIND_GRAMMAR.fullmatch(kind) for kind in github.KINDS)
    assert len(set(github.KINDS)) == len(github.KINDS)


def test_github_kinds_include_the_design_list() -> None:
    """KINDS holds every kind DESIGN.md names for GitHub."""
    design = {
        "push",
        "create.tag",
        "create.branch",
        "delete.branch",
        "delete.tag",
        "pull_request.opened",
        "pull_request.closed",
        "pull_request.merged",
        "pull_request.reopened",
        "pull_request.synchronize",
        "pull_request.ready_for_review",
        "pull_request.review_requested",
        "pull_request.converted_to_draft",
        "pull_request.edited",
        "pull_request.labeled",
        "pull_request_review.approved",
        "pull_request_review.changes_requested",
        "pull_request_review.commented",
        "pull_request_review.dismissed",
        "pull_request_review_comment.created",
        "issues.opened",
        "issues.closed",
        "issues.reopened",
        "issues.labeled",
        "issues.assigned",
        "issues.edited",
        "issue_comment.created",
        "release.published",
        "release.prereleased",
        "release.created",
        "workflow_run.requested",
        "workflow_run.in_progress",
        "workflow_run.completed",
        "workflow_job.queued",
        "workflow_job.in_progress",
        "workflow_job.completed",
        "check_suite.completed",
        "check_run.completed",
        "check_run.created",
        "status",
        "deployment.created",
        "deployment_status.created",
        "star.created",
        "star.deleted",
        "fork",
        "member.added",
        "repository.created",
        "repository.archived",
        "discussion.created",
        "discussion.answered",
        "discussion_comment.created",
        "ping",
    }
    assert design <= set(github.KINDS)


def test_github_field_docs_cover_every_event_name() -> None:
    """FIELD_DOCS documents every event name the parser handles, plus common fields."""
    assert set(github.FIELD_DOCS) == set(github.EVENT_NAMES) | {"*"}
    for docs in github.FIELD_DOCS.values():
        assert all(description.strip() for description in docs.values())


# --------------------------------------------------------------------------- fuzzing

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)


def _paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """List the path of every value nested in a decoded JSON document."""
    found: list[tuple[str | int, ...]] = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@given(
    event=st.sampled_from(sorted(github.EVENT_NAMES)),
    body=st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=5),
)
def test_github_parse_payload_arbitrary_object_raises_only_parse_errors(
    event: str, body: dict[str, Any]
) -> None:
    """Whatever object arrives, parsing yields Events or a typed ParseError, never a crash."""
    try:
        events = github.parse_payload(event, "d", body)
    except ParseError:
        return
    assert all(e.title for e in events)


@given(name=st.sampled_from(FIXTURE_NAMES), data=st.data())
def test_github_parse_payload_mutated_fixture_raises_only_parse_errors(
    name: str, data: st.DataObject
) -> None:
    """Replacing any one value of a real-shaped payload never crashes the parser."""
    body = payload(name)
    path = data.draw(st.sampled_from(_paths(body)))
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(JSON_VALUES)
    try:
        events = github.parse_payload(load(name)[0]["X-GitHub-Event"], "d", body)
    except ParseError:
        return
    assert all(e.title and "\n" not in e.title for e in events)
