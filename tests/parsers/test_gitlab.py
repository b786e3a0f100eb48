"""The GitLab parser: routing, verification, kinds, fields and hostile input."""

from __future__ import annotations

import base64
import copy
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parsers import gitlab
from parsers.errors import ParseError, PayloadError, SignatureError, UnsupportedEventError
from parsers.event import Event

SAMPLES = Path(__file__).parents[2] / "parsers" / "samples" / "gitlab"
REPO = "acme/web-shop"
REPO_URL = f"https://gitlab.example.com/{REPO}"
SHA_HEAD = "a93be5c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6"
SHA_MR = "b5f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8"
ZERO = "0" * 40
SECRET = "s3cr3t-token"
KIND_GRAMMAR = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?")


def payload(name: str) -> dict[str, Any]:
    """Return a bundled sample's decoded body, for tests that edit it."""
    body: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_bytes())
    return body


def parse_body(name: str, body: dict[str, Any], **headers: str) -> Event:
    """Parse an (edited) sample body with the sample's headers; exactly one Event."""
    sent = gitlab.sample_headers(name) | headers
    events = gitlab.parse(sent, json.dumps(body).encode())
    assert len(events) == 1
    return events[0]


def fields_of(event: Event) -> Any:
    """Return an Event's fields, untyped, for tests that reach into nested values."""
    return event.fields


def parse_sample(name: str) -> Event:
    """Parse a bundled sample as GitLab would send it."""
    return parse_body(name, payload(name))


def edited(name: str, dotted: str, value: Any) -> dict[str, Any]:
    """Return a sample's body with the value at a dotted path replaced (list indexes: digits)."""
    body = payload(name)
    *parents, last = dotted.split(".")
    target: Any = body
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return body


# --------------------------------------------------------------------------- samples table

# sample → (kind, title, status, branch, url, subject)
EXPECTED: dict[str, tuple[str, str, str | None, str | None, str | None, str | None]] = {
    "push": (
        "push",
        "Push to main: 3 commits",
        None,
        "main",
        f"{REPO_URL}/-/compare/1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d...{SHA_HEAD}",
        f"gitlab:{REPO}@{SHA_HEAD}",
    ),
    "push.branch-deleted": (
        "push",
        "Branch feature/old-cart deleted",
        None,
        "feature/old-cart",
        REPO_URL,
        None,
    ),
    "tag_push": (
        "tag_push.created",
        "Tag v2.4.0 created",
        None,
        None,
        f"{REPO_URL}/-/tags/v2.4.0",
        f"gitlab:{REPO}@{SHA_HEAD}",
    ),
    "tag_push.deleted": ("tag_push.deleted", "Tag v2.4.0-rc1 deleted", None, None, REPO_URL, None),
    "merge_request": (
        "merge_request.open",
        "MR !58 opened: Add Apple Pay checkout",
        "open",
        "main",
        f"{REPO_URL}/-/merge_requests/58",
        f"gitlab:{REPO}!58",
    ),
    "merge_request.merge": (
        "merge_request.merge",
        "MR !58 merged: Add Apple Pay checkout",
        "merged",
        "main",
        f"{REPO_URL}/-/merge_requests/58",
        f"gitlab:{REPO}!58",
    ),
    "merge_request.close": (
        "merge_request.close",
        "MR !61 closed: Try a one-page cart layout",
        "closed",
        "main",
        f"{REPO_URL}/-/merge_requests/61",
        f"gitlab:{REPO}!61",
    ),
    "merge_request.approved": (
        "merge_request.approved",
        "MR !58 approved: Add Apple Pay checkout",
        "open",
        "main",
        f"{REPO_URL}/-/merge_requests/58",
        f"gitlab:{REPO}!58",
    ),
    "pipeline": (
        "pipeline.success",
        "Pipeline #1042 succeeded on main",
        "success",
        "main",
        f"{REPO_URL}/-/pipelines/1042",
        f"gitlab:{REPO}@{SHA_HEAD}",
    ),
    "pipeline.failed": (
        "pipeline.failed",
        "Pipeline #1043 failed on feature/apple-pay",
        "failed",
        "feature/apple-pay",
        f"{REPO_URL}/-/pipelines/1043",
        f"gitlab:{REPO}@{SHA_MR}",
    ),
    "job": (
        "job.failed",
        "Job unit-tests failed on feature/apple-pay (stage test)",
        "failed",
        "feature/apple-pay",
        f"{REPO_URL}/-/jobs/5512",
        f"gitlab:{REPO}@{SHA_MR}",
    ),
    "deployment": (
        "deployment.success",
        "Deployment to production succeeded",
        "success",
        "main",
        f"{REPO_URL}/-/jobs/5520",
        f"gitlab:{REPO}@{SHA_HEAD}",
    ),
    "deployment.failed": (
        "deployment.failed",
        "Deployment to staging failed",
        "failed",
        "main",
        f"{REPO_URL}/-/jobs/5504",
        f"gitlab:{REPO}@{SHA_HEAD}",
    ),
    "issue": (
        "issue.open",
        "Issue #214 opened: Checkout button unresponsive on Safari 17",
        "open",
        None,
        f"{REPO_URL}/-/issues/214",
        f"gitlab:{REPO}#214",
    ),
    "issue.close": (
        "issue.close",
        "Issue #214 closed: Checkout button unresponsive on Safari 17",
        "closed",
        None,
        f"{REPO_URL}/-/issues/214",
        f"gitlab:{REPO}#214",
    ),
    "note": (
        "note.merge_request",
        "Comment on MR !58: Add Apple Pay checkout",
        "open",
        "main",
        f"{REPO_URL}/-/merge_requests/58#note_88121",
        f"gitlab:{REPO}!58",
    ),
    "note.issue": (
        "note.issue",
        "Comment on issue #214: Checkout button unresponsive on Safari 17",
        "open",
        None,
        f"{REPO_URL}/-/issues/214#note_88130",
        f"gitlab:{REPO}#214",
    ),
    "note.commit": (
        "note.commit",
        "Comment on commit 7c1d2e3f: Fix rounding of VAT on discounted items",
        None,
        None,
        f"{REPO_URL}/-/commit/7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d#note_88140",
        f"gitlab:{REPO}@7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d",
    ),
    "note.snippet": (
        "note.snippet",
        "Comment on snippet $31: Reset a stuck cart",
        None,
        None,
        f"{REPO_URL}/-/snippets/31#note_88150",
        f"gitlab:{REPO}$31",
    ),
    "release": (
        "release.create",
        "Release v2.4.0 created: 2.4.0 — Spring release",
        None,
        None,
        f"{REPO_URL}/-/releases/v2.4.0",
        None,
    ),
    "wiki_page": (
        "wiki_page.create",
        "Wiki page Deployment runbook created",
        None,
        None,
        f"{REPO_URL}/-/wikis/deployment-runbook",
        None,
    ),
    "member": (
        "member.user_add_to_group",
        "linus added to Acme (Developer)",
        None,
        None,
        None,
        None,
    ),
}


def test_every_sample_has_an_expectation_and_a_body() -> None:
    """The table above, SAMPLES and the files on disk name the same samples."""
    on_disk = {path.name.removesuffix(".json") for path in SAMPLES.glob("*.json")}
    assert set(gitlab.SAMPLES) == set(EXPECTED) == on_disk


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_gitlab_sample_parses_to_its_event(name: str) -> None:
    """Each bundled sample yields one Event with the documented kind, title, state and links."""
    kind, title, status, branch, url, subject = EXPECTED[name]
    event = parse_sample(name)
    assert event.kind == kind == gitlab.SAMPLES[name]
    assert event.kind in gitlab.KINDS
    assert event.title == title
    assert event.status == status
    assert event.branch == branch
    assert event.url == url
    assert event.subject == subject
    assert event.service == event.provider == "gitlab"
    assert event.delivery_id == gitlab.sample_headers(name)["Idempotency-Key"]
    assert isinstance(event.fields, MappingProxyType)
    assert event.occurred_at is None or event.occurred_at.utcoffset() is not None


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_gitlab_sample_fields_are_json_and_documented(name: str) -> None:
    """Every top-level field is JSON-serialisable and documented for its event (or for all)."""
    event = parse_sample(name)
    json.dumps(dict(event.fields))
    event_name = event.kind.split(".", 1)[0]
    documented = {path.split(".", 1)[0].split("[", 1)[0] for path in gitlab.FIELD_DOCS[event_name]}
    documented |= set(gitlab.FIELD_DOCS["*"])
    assert set(event.fields) <= documented


def test_sample_headers_are_deterministic_and_named() -> None:
    """Sample headers name the hook and carry stable, distinct ids."""
    first = gitlab.sample_headers("pipeline.failed")
    assert first == gitlab.sample_headers("pipeline.failed")
    assert first["X-Gitlab-Event"] == "Pipeline Hook"
    ids = {gitlab.sample_headers(name)["Idempotency-Key"] for name in gitlab.SAMPLES}
    assert len(ids) == len(gitlab.SAMPLES)
    with pytest.raises(KeyError):
        gitlab.sample_headers("nope")


def test_registry_values_are_consistent() -> None:
    """Selection patterns and aliases name kinds that exist; KINDS has no duplicates."""
    assert len(set(gitlab.KINDS)) == len(gitlab.KINDS)
    assert all(KIND_GRAMMAR.fullmatch(kind) for kind in gitlab.KINDS)
    events = {kind.split(".", 1)[0] for kind in gitlab.KINDS}
    for pattern in gitlab.DEFAULT_SELECTION:
        assert pattern in gitlab.KINDS or pattern in events, pattern
    for patterns in gitlab.ALIASES.values():
        assert all(pattern in events for pattern in patterns)
    assert gitlab.ALIASES["mr"] == ("merge_request",)
    assert set(gitlab.ALIASES["ci"]) == {"pipeline", "job"}
    assert "{url}" in gitlab.SETUP_HINT
    assert "{secret}" in gitlab.SETUP_HINT
    assert set(gitlab.FIELD_DOCS) >= events | {"*"}


# --------------------------------------------------------------------------- routing


@pytest.mark.parametrize(
    ("hook", "event"),
    [
        ("Push Hook", "push"),
        ("Tag Push Hook", "tag_push"),
        ("Merge Request Hook", "merge_request"),
        ("Pipeline Hook", "pipeline"),
        ("Job Hook", "job"),
        ("Note Hook", "note"),
        ("Confidential Note Hook", "note"),
        ("Issue Hook", "issue"),
        ("Confidential Issue Hook", "issue"),
        ("Wiki Page Hook", "wiki_page"),
        ("Resource Access Token Hook", "resource_access_token"),
        ("Feature Flag Hook", "feature_flag"),
        ("Push Hook ", "push"),
        ("Push", None),
        ("push", None),
        ("Push-Hook", None),
        ("Hook", None),
    ],
)
def test_identify_maps_the_event_header(hook: str, event: str | None) -> None:
    """`X-Gitlab-Event` names the event; a value that is no GitLab hook name gives None."""
    assert gitlab.identify({"x-gitlab-event": hook}, b"not read") == (event, None)


def test_identify_without_the_header_is_not_gitlab() -> None:
    """No X-Gitlab-Event: not a GitLab delivery (the receiver answers 400)."""
    assert gitlab.identify({"Idempotency-Key": "k"}, b"{}") == (None, "k")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Idempotency-Key": "a", "X-Gitlab-Event-UUID": "b", "webhook-id": "c"}, "a"),
        ({"X-Gitlab-Event-UUID": "b", "webhook-id": "c"}, "b"),
        ({"webhook-id": "c"}, "c"),
        ({"idempotency-key": "  a  ", "X-GITLAB-EVENT-UUID": "b"}, "a"),
        ({"Idempotency-Key": " ", "X-Gitlab-Event-UUID": "b"}, "b"),
        ({}, None),
    ],
)
def test_delivery_id_prefers_idempotency_key(headers: dict[str, str], expected: str | None) -> None:
    """Idempotency-Key (stable across retries), else X-Gitlab-Event-UUID, else webhook-id."""
    assert gitlab.delivery_id(headers) == expected
    assert gitlab.identify({"X-Gitlab-Event": "Push Hook", **headers}, b"")[1] == expected


@pytest.mark.parametrize(
    ("body", "event"),
    [
        (payload("push"), "push"),
        (payload("merge_request"), "merge_request"),
        ({"event_name": "project_create", "name": "x"}, "system"),
    ],
)
def test_system_hook_routes_by_object_kind(body: dict[str, Any], event: str) -> None:
    """A System Hook is routed by the body's object_kind, else it is the `system` event."""
    headers = {"X-Gitlab-Event": "System Hook"}
    raw = json.dumps(body).encode()
    assert gitlab.identify(headers, raw)[0] == event
    [parsed] = gitlab.parse(headers, raw)
    assert parsed.kind.split(".", 1)[0] == event


def test_system_hook_generic_kind_and_undecodable_body() -> None:
    """A system event without object_kind is `system.<event_name>`; a bad body is refused."""
    headers = {"X-Gitlab-Event": "System Hook"}
    body = {"event_name": "user_create", "username": "linus", "name": "Linus Torvalds"}
    [event] = gitlab.parse(headers, json.dumps(body).encode())
    assert event.kind == "system.user_create"
    assert event.source == "gitlab"
    assert fields_of(event)["attributes"] == body
    with pytest.raises(PayloadError):
        gitlab.identify(headers, b"[1]")


def test_parse_needs_a_gitlab_event_header() -> None:
    """Without X-Gitlab-Event, or with a value that is no hook name, nothing is parsed."""
    body = (SAMPLES / "push.json").read_bytes()
    with pytest.raises(UnsupportedEventError, match="X-Gitlab-Event"):
        gitlab.parse({"Idempotency-Key": "k"}, body)
    with pytest.raises(UnsupportedEventError, match="not a GitLab hook name"):
        gitlab.parse({"X-Gitlab-Event": "push"}, body)


def test_object_kind_must_agree_with_the_header() -> None:
    """A push body sent as a Merge Request Hook is refused, not misread."""
    body = (SAMPLES / "push.json").read_bytes()
    with pytest.raises(PayloadError, match="object_kind"):
        gitlab.parse({"X-Gitlab-Event": "Merge Request Hook"}, body)


def test_header_names_are_case_insensitive() -> None:
    """Lower-cased (stored) headers parse the same as GitLab's spelling."""
    headers = {key.lower(): value for key, value in gitlab.sample_headers("push").items()}
    [event] = gitlab.parse(headers, (SAMPLES / "push.json").read_bytes())
    assert event.kind == "push"
    assert event.delivery_id == gitlab.sample_headers("push")["Idempotency-Key"]


def test_confidential_issue_hook_is_an_issue() -> None:
    """A confidential issue arrives under its own header and is still `issue.<action>`."""
    body = edited("issue", "object_attributes.confidential", True)
    event = parse_body("issue", body, **{"X-Gitlab-Event": "Confidential Issue Hook"})
    assert event.kind == "issue.open"
    assert fields_of(event)["issue"]["confidential"] is True


def test_unknown_hook_is_parsed_generically() -> None:
    """An event GitLab adds later still yields an Event, named in GitLab's words."""
    body = {
        "object_kind": "epic",
        "user": {"username": "ada", "name": "Ada"},
        "object_attributes": {"title": "Q3 goals", "action": "open", "url": "https://x/e/1"},
    }
    [event] = gitlab.parse({"X-Gitlab-Event": "Epic Hook"}, json.dumps(body).encode())
    assert event.kind == "epic.open"
    assert event.title == "Epic opened: Q3 goals"
    assert event.actor == "ada"
    assert event.url == "https://x/e/1"
    assert fields_of(event)["attributes"] == {
        "title": "Q3 goals",
        "action": "open",
        "url": "https://x/e/1",
    }


@pytest.mark.parametrize("action", ["Open Now", "open.now", "1st", "", "x" * 3 + "-y"])
def test_kinds_that_are_not_snake_words_are_unsupported(action: str) -> None:
    """An action or status that cannot be a kind's word is refused with UnsupportedEventError."""
    body = edited("merge_request", "object_attributes.action", action)
    if action == "":  # an empty action reads as `update`
        assert parse_body("merge_request", body).kind == "merge_request.update"
        return
    with pytest.raises(UnsupportedEventError):
        parse_body("merge_request", body)
    with pytest.raises(UnsupportedEventError):
        parse_body("pipeline", edited("pipeline", "object_attributes.status", action))


def test_parse_payload_refuses_event_names_that_are_not_words() -> None:
    """parse_payload checks the event name it is given."""
    with pytest.raises(UnsupportedEventError):
        gitlab.parse_payload("Push Hook", "d", payload("push"))


# --------------------------------------------------------------------------- push and tags


def test_push_fields() -> None:
    """A push carries its commits, their paths once each, and GitHub-named fields."""
    event = parse_sample("push")
    fields = fields_of(event)
    assert event.actor == "ada"
    assert fields["repo"] == REPO
    assert fields["branch"] == "main"
    assert fields["tag"] is None
    assert fields["commit_count"] == 3
    assert fields["commits_omitted"] == 0
    assert fields["latest_commit_message"] == "Update CHANGELOG for 2.4.0"
    assert fields["head_sha"] == SHA_HEAD
    assert fields["created"] is fields["deleted"] is False
    assert fields["protected"] is True
    assert fields["files"] == [
        "app/checkout/apple_pay.js",
        "app/checkout/index.js",
        "config/features.yml",
        "app/cart/totals.py",
        "tests/cart/test_totals.py",
        "CHANGELOG.md",
    ]
    assert fields["files_omitted"] == 0
    first = fields["commits"][0]
    assert first["message"] == "Add Apple Pay button to checkout"
    assert first["full_message"].endswith("feature flag.")
    assert first["short_id"] == "4f2a9c1e"
    assert first["author"] == "Ada Lovelace"
    assert first["added"] == ["app/checkout/apple_pay.js"]
    assert event.occurred_at == datetime(2026, 3, 12, 9, 15, 30, tzinfo=UTC)


def test_push_counts_commits_gitlab_left_out() -> None:
    """GitLab lists at most 20 commits; total_commits_count is the real number."""
    body = payload("push")
    body["total_commits_count"] = 45
    event = parse_body("push", body)
    assert fields_of(event)["commit_count"] == 45
    assert fields_of(event)["commits_omitted"] == 42
    assert event.title == "Push to main: 45 commits"


def test_push_creating_a_branch() -> None:
    """A push from the all-zero SHA creates the branch; without commits it says so."""
    body = edited("push", "before", ZERO)
    event = parse_body("push", body)
    assert event.title == "Push to new branch main: 3 commits"
    assert fields_of(event)["created"] is True
    assert fields_of(event)["compare_url"] is None
    assert event.url == f"{REPO_URL}/-/tree/main"
    body["commits"] = []
    body["total_commits_count"] = 0
    assert parse_body("push", body).title == "Branch main created"


def test_push_head_is_the_checkout_commit() -> None:
    """The latest message is the checked-out commit's, even when it is not listed last."""
    body = payload("push")
    body["commits"].reverse()
    assert fields_of(parse_body("push", body))["latest_commit_message"] == (
        "Update CHANGELOG for 2.4.0"
    )


def test_push_with_no_new_commits() -> None:
    """A push that moved the branch without new commits says so."""
    body = payload("push")
    body["commits"] = []
    body["total_commits_count"] = 0
    event = parse_body("push", body)
    assert event.title == "Push to main: no new commits"
    assert fields_of(event)["latest_commit_message"] is None


def test_push_is_bounded_and_linear() -> None:
    """A forged push with thousands of commits and paths is cut to the documented bounds."""
    body = payload("push")
    template = body["commits"][0]
    commits = []
    for n in range(gitlab.MAX_PUSH_COMMITS + 7):
        commit = copy.deepcopy(template)
        commit["id"] = f"{n:040x}"
        commit["added"] = [f"src/{n}/{k}.py" for k in range(gitlab.MAX_COMMIT_PATHS + 5)]
        commit["modified"] = ["README.md"]
        commits.append(commit)
    body["commits"] = commits
    body["total_commits_count"] = len(commits)
    started = time.perf_counter()
    event = parse_body("push", body)
    assert time.perf_counter() - started < 5
    fields = fields_of(event)
    assert len(fields["commits"]) == gitlab.MAX_PUSH_COMMITS
    assert fields["commits_omitted"] == 7
    assert fields["commit_count"] == gitlab.MAX_PUSH_COMMITS + 7
    assert len(fields["files"]) == gitlab.MAX_PUSH_FILES
    assert len(set(fields["files"])) == gitlab.MAX_PUSH_FILES
    distinct = gitlab.MAX_PUSH_COMMITS * (gitlab.MAX_COMMIT_PATHS + 5) + 1
    assert fields["files_omitted"] == distinct - gitlab.MAX_PUSH_FILES
    assert len(fields["commits"][0]["added"]) == gitlab.MAX_COMMIT_PATHS


def test_push_to_a_tag_ref_names_the_tag() -> None:
    """A Push Hook whose ref is a tag (seen on System Hooks) keeps the tag apart."""
    event = parse_body("push", edited("push", "ref", "refs/tags/v9"))
    assert event.branch is None
    assert fields_of(event)["tag"] == "v9"


@pytest.mark.parametrize(
    ("before", "after", "kind", "title"),
    [
        (ZERO, SHA_HEAD, "tag_push.created", "Tag v2.4.0 created"),
        (SHA_HEAD, ZERO, "tag_push.deleted", "Tag v2.4.0 deleted"),
        (SHA_MR, SHA_HEAD, "tag_push.updated", "Tag v2.4.0 updated"),
    ],
)
def test_tag_push_kinds(before: str, after: str, kind: str, title: str) -> None:
    """A tag push is created, deleted or updated from its before / after SHAs."""
    body = payload("tag_push")
    body["before"], body["after"] = before, after
    if after == ZERO:
        body["checkout_sha"] = None
    event = parse_body("tag_push", body)
    assert (event.kind, event.title) == (kind, title)
    assert fields_of(event)["tag"] == "v2.4.0"
    assert event.branch is None
    assert (event.subject is None) == (after == ZERO)


def test_tag_push_fields() -> None:
    """The tag message and the tagged commit are kept."""
    fields = fields_of(parse_sample("tag_push"))
    assert fields["tag_message"] == "Release 2.4.0"
    assert fields["head_sha"] == SHA_HEAD
    assert fields["commit_count"] == 1


# --------------------------------------------------------------------------- merge requests

MR_ACTIONS = ["open", "update", "merge", "close", "reopen", "approved", "unapproved"]


@pytest.mark.parametrize("action", [*MR_ACTIONS, "approval", "unapproval"])
def test_merge_request_kind_is_the_action(action: str) -> None:
    """Every merge request action GitLab sends is `merge_request.<action>`."""
    event = parse_body("merge_request", edited("merge_request", "object_attributes.action", action))
    assert event.kind == f"merge_request.{action}"
    assert event.kind in gitlab.KINDS
    assert event.title.startswith("MR !58 ")
    assert fields_of(event)["action"] == action


def test_merge_request_without_action_is_an_update() -> None:
    """A delivery without `action` reads as an update, never as a merge or a close."""
    body = payload("merge_request.merge")
    del body["object_attributes"]["action"]
    event = parse_body("merge_request.merge", body)
    assert event.kind == "merge_request.update"
    assert event.status == "merged"


def test_merge_request_fields() -> None:
    """MR fields mirror GitHub's `pr` names where the concept is the same."""
    event = parse_sample("merge_request")
    mr = fields_of(event)["mr"]
    assert isinstance(mr, dict)
    assert mr["number"] == 58
    assert mr["title"] == "Add Apple Pay checkout"
    assert mr["state"] == "opened"
    assert mr["draft"] is False
    assert (mr["base"], mr["head"]) == ("main", "feature/apple-pay")
    assert mr["head_sha"] == SHA_MR
    assert mr["labels"] == ["payments", "frontend"] == fields_of(event)["labels"]
    assert mr["assignees"] == ["ada"]
    assert mr["reviewers"] == ["grace"]
    assert mr["merge_status"] == "mergeable"
    assert str(mr["body"]).startswith("Adds Apple Pay")
    assert fields_of(event)["head"] == "feature/apple-pay"
    assert fields_of(event)["changes"] == ["id", "title"]
    assert fields_of(event)["new_commits"] is False
    assert fields_of(event)["actor_name"] == "Ada Lovelace"


def test_merged_and_closed_merge_requests() -> None:
    """A merged MR carries its merge commit; a closed draft says it is a draft."""
    merged = parse_sample("merge_request.merge")
    assert merged.actor == "grace"
    assert fields_of(merged)["mr"]["merge_commit_sha"].startswith("d4c3b2a1")
    closed = parse_sample("merge_request.close")
    assert fields_of(closed)["mr"]["draft"] is True


def test_merge_request_draft_from_work_in_progress() -> None:
    """Older payloads say `work_in_progress` instead of `draft`."""
    body = payload("merge_request")
    del body["object_attributes"]["draft"]
    body["object_attributes"]["work_in_progress"] = True
    assert fields_of(parse_body("merge_request", body))["mr"]["draft"] is True


def test_merge_request_update_with_new_commits() -> None:
    """An update carrying `oldrev` pushed commits; `changes` leaves bookkeeping out."""
    body = edited("merge_request", "object_attributes.action", "update")
    body["object_attributes"]["oldrev"] = SHA_HEAD
    body["changes"] = {"updated_at": {}, "labels": {}, "title": {}, "last_edited_at": {}}
    event = parse_body("merge_request", body)
    assert fields_of(event)["new_commits"] is True
    assert fields_of(event)["changes"] == ["labels", "title"]


def test_merge_request_labels_fall_back_to_top_level() -> None:
    """Without labels in object_attributes, the payload's top-level labels are used."""
    body = payload("merge_request")
    del body["object_attributes"]["labels"]
    body["labels"] = [{"title": "only-top"}]
    assert fields_of(parse_body("merge_request", body))["labels"] == ["only-top"]


# --------------------------------------------------------------------------- CI


def test_failed_pipeline_names_the_failing_jobs() -> None:
    """A failed pipeline lists its jobs in stage order and the failures that failed it."""
    fields = fields_of(parse_sample("pipeline.failed"))
    pipeline = fields["pipeline"]
    assert isinstance(pipeline, dict)
    assert pipeline["status"] == "failed"
    assert pipeline["duration_seconds"] == 105
    assert pipeline["failed_stage"] == "test"
    assert pipeline["stages"] == ["build", "test", "deploy"]
    assert pipeline["stage_results"] == [
        {"name": "build", "status": "success"},
        {"name": "test", "status": "failed"},
        {"name": "deploy", "status": "skipped"},
    ]
    jobs = fields["jobs"]
    assert isinstance(jobs, list)
    assert [job["name"] for job in jobs] == [
        "build-image",
        "unit-tests",
        "e2e-safari",
        "deploy-review",
    ]
    [failed] = fields["failed_jobs"]
    assert failed["name"] == "unit-tests"
    assert failed["failure_reason"] == "script_failure"
    assert failed["url"] == f"{REPO_URL}/-/jobs/5512"
    assert fields["merge_request"] == {
        "number": 58,
        "title": "Add Apple Pay checkout",
        "url": f"{REPO_URL}/-/merge_requests/58",
        "base": "main",
        "head": "feature/apple-pay",
        "state": "opened",
    }
    assert fields["commit"]["message"] == "Add Apple Pay checkout"


def test_pipeline_failed_only_by_allowed_failures_lists_them() -> None:
    """When every failed job was allowed to fail, those are the failed jobs."""
    body = payload("pipeline.failed")
    for build in body["builds"]:
        if build["status"] == "failed":
            build["allow_failure"] = True
    fields = fields_of(parse_body("pipeline.failed", body))
    assert fields["pipeline"]["stage_results"][1] == {"name": "test", "status": "success"}
    assert [job["name"] for job in fields["failed_jobs"]] == [
        "unit-tests",
        "e2e-safari",
    ]


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("running", "running"),
        ("pending", "pending"),
        ("canceled", "canceled"),
        ("manual", "waiting for a manual action"),
        ("waiting_for_resource", "waiting for a resource"),
        ("brand_new_status", "brand new status"),
    ],
)
def test_pipeline_kind_is_the_status(status: str, words: str) -> None:
    """`pipeline.<status>` in GitLab's words; the title says it in English."""
    event = parse_body("pipeline", edited("pipeline", "object_attributes.status", status))
    assert event.kind == f"pipeline.{status}"
    assert event.status == status
    assert event.title == f"Pipeline #1042 {words} on main"


@pytest.mark.parametrize(
    ("statuses", "folded"),
    [
        (["success", "running"], "running"),
        (["pending", "success"], "pending"),
        (["manual", "skipped"], "manual"),
        (["canceled", "success"], "canceled"),
        (["skipped"], "skipped"),
        (["failed", "running"], "failed"),
    ],
)
def test_stage_results_fold_job_statuses(statuses: list[str], folded: str) -> None:
    """A stage's status is its most telling job's: failed, running, waiting, …, skipped."""
    body = payload("pipeline")
    body["builds"] = [
        {"id": n, "name": f"j{n}", "stage": "test", "status": status}
        for n, status in enumerate(statuses)
    ]
    body["builds"].append({"id": 99, "name": "extra", "stage": "later", "status": "created"})
    results = fields_of(parse_body("pipeline", body))["pipeline"]["stage_results"]
    assert results == [
        {"name": "build", "status": "skipped"},
        {"name": "test", "status": folded},
        {"name": "deploy", "status": "skipped"},
        {"name": "later", "status": "pending"},
    ]


def test_tag_pipeline_has_no_branch() -> None:
    """A pipeline on a tag names the tag, not a branch."""
    body = edited("pipeline", "object_attributes.tag", True)
    body["object_attributes"]["ref"] = "v2.4.0"
    event = parse_body("pipeline", body)
    assert event.branch is None
    assert fields_of(event)["tag"] == "v2.4.0"
    assert event.title == "Pipeline #1042 succeeded on tag v2.4.0"


def test_pipeline_url_without_one_in_the_payload() -> None:
    """Older payloads have no pipeline URL: it is built from the project's."""
    body = payload("pipeline")
    del body["object_attributes"]["url"]
    assert parse_body("pipeline", body).url == f"{REPO_URL}/-/pipelines/1042"


def test_job_fields() -> None:
    """A failed job keeps its reason, stage, timing and pipeline."""
    job = fields_of(parse_sample("job"))["job"]
    assert isinstance(job, dict)
    assert job["failure_reason"] == "script_failure"
    assert job["stage"] == "test"
    assert job["duration_seconds"] == 48
    assert job["pipeline_id"] == 1043
    assert job["pipeline_url"] == f"{REPO_URL}/-/pipelines/1043"
    assert job["runner"] == "docker-runner-02"


def test_job_reason_only_when_failed() -> None:
    """GitLab fills build_failure_reason in early; only a failed job reports one."""
    event = parse_body("job", edited("job", "build_status", "running"))
    assert event.kind == "job.running"
    assert fields_of(event)["job"]["failure_reason"] is None


def test_deployment_fields() -> None:
    """The full SHA comes from the commit URL; the environment's address is kept."""
    dep = fields_of(parse_sample("deployment"))["deployment"]
    assert isinstance(dep, dict)
    assert dep["sha"] == SHA_HEAD
    assert dep["environment"] == "production"
    assert dep["environment_url"] == "https://shop.example.com"
    body = edited("deployment", "commit_url", "https://gitlab.example.com/x/-/commit/abc")
    event = parse_body("deployment", body)
    assert fields_of(event)["deployment"]["sha"] is None
    assert event.subject is None


@pytest.mark.parametrize(("status", "words"), [("running", "running"), ("canceled", "canceled")])
def test_deployment_kind_is_the_status(status: str, words: str) -> None:
    """`deployment.<status>`."""
    event = parse_body("deployment", edited("deployment", "status", status))
    assert event.kind == f"deployment.{status}"
    assert event.title == f"Deployment to production {words}"


# --------------------------------------------------------------------------- issues and notes


@pytest.mark.parametrize(
    ("action", "verb"),
    [("open", "opened"), ("close", "closed"), ("reopen", "reopened"), ("update", "updated")],
)
def test_issue_kind_is_the_action(action: str, verb: str) -> None:
    """`issue.<action>`."""
    event = parse_body("issue", edited("issue", "object_attributes.action", action))
    assert event.kind == f"issue.{action}"
    assert event.title == f"Issue #214 {verb}: Checkout button unresponsive on Safari 17"


def test_issue_fields() -> None:
    """Issue fields mirror GitHub's names."""
    event = parse_sample("issue")
    issue = fields_of(event)["issue"]
    assert isinstance(issue, dict)
    assert issue["number"] == 214
    assert issue["labels"] == ["bug", "priority::high"] == fields_of(event)["labels"]
    assert issue["assignees"] == ["ada"]
    assert issue["due_date"] == "2026-03-20"
    assert issue["confidential"] is False


def test_incident_is_named_by_its_type() -> None:
    """A work item of another type says so in the title."""
    event = parse_body("issue", edited("issue", "object_attributes.type", "Incident"))
    assert event.title.startswith("Incident #214 opened")


def test_note_fields_per_noteable() -> None:
    """A note carries the comment and the thing it is on, with that thing's fields."""
    on_mr = fields_of(parse_sample("note"))
    assert on_mr["noteable_type"] == "merge_request"
    assert on_mr["mr"]["number"] == 58
    assert on_mr["labels"] == ["payments", "frontend"]
    assert on_mr["comment"]["author"] == "grace"
    assert on_mr["comment"]["system"] is False
    on_commit = fields_of(parse_sample("note.commit"))
    assert on_commit["comment"]["path"] == "app/cart/totals.py"
    assert on_commit["commit"]["id"].startswith("7c1d2e3f")
    assert fields_of(parse_sample("note.snippet"))["snippet"]["file_name"] == "reset_cart.py"
    assert fields_of(parse_sample("note.issue"))["issue"]["number"] == 214


def test_edited_note_says_so() -> None:
    """A note with action `update` is an edited comment."""
    event = parse_body("note", edited("note", "object_attributes.action", "update"))
    assert event.kind == "note.merge_request"
    assert event.title == "Comment updated on MR !58: Add Apple Pay checkout"


def test_note_on_another_noteable_type() -> None:
    """A note on something else (a design) is still a note, named after it."""
    body = edited("note", "object_attributes.noteable_type", "DesignManagement::Design")
    event = parse_body("note", body)
    assert event.kind == "note.design_management_design"
    assert event.title == "Comment on design management design"


# --------------------------------------------------------------------------- releases, wiki


def test_release_fields() -> None:
    """A release keeps its notes, assets and commit; its action is required."""
    event = parse_sample("release")
    release = fields_of(event)["release"]
    assert isinstance(release, dict)
    assert release["tag"] == "v2.4.0" == fields_of(event)["tag"]
    assert release["assets_count"] == 5
    assert release["links"] == [
        {
            "name": "web-shop-2.4.0.tar.gz",
            "url": f"{REPO_URL}/-/package_files/88/download",
        }
    ]
    assert event.actor is None
    body = payload("release")
    del body["action"]
    with pytest.raises(PayloadError) as caught:
        parse_body("release", body)
    assert caught.value.path == "action"


@pytest.mark.parametrize(("action", "verb"), [("update", "updated"), ("delete", "deleted")])
def test_wiki_page_kind_is_the_action(action: str, verb: str) -> None:
    """`wiki_page.<action>`; a deleted page links to the wiki."""
    event = parse_body("wiki_page", edited("wiki_page", "object_attributes.action", action))
    assert event.kind == f"wiki_page.{action}"
    assert event.title == f"Wiki page Deployment runbook {verb}"
    if action == "delete":
        assert event.url == f"{REPO_URL}/-/wikis/home"


# --------------------------------------------------------------------------- generic events


def test_member_event_names_the_member_not_as_actor() -> None:
    """Member Hook's user_* values describe the member: they are not the actor."""
    event = parse_sample("member")
    assert event.actor is None
    assert event.source == "acme"
    assert fields_of(event)["name"] == "linus"
    assert fields_of(event)["event_name"] == "user_add_to_group"
    assert "user_email" not in fields_of(event)["attributes"]


@pytest.mark.parametrize(
    ("hook", "body", "kind", "title"),
    [
        (
            "Project Hook",
            {"event_name": "project_rename", "path_with_namespace": "g/p", "name": "p"},
            "project.project_rename",
            "Project renamed: g/p",
        ),
        ("Feature Flag Hook", {"object_kind": "feature_flag"}, "feature_flag", "Feature flag"),
        (
            "Resource Access Token Hook",
            {
                "object_kind": "access_token",
                "event_name": "expiring_access_token",
                "group": {"full_path": "acme"},
                "object_attributes": {"name": "ci-bot", "expires_at": "2026-04-01"},
            },
            "resource_access_token.expiring_access_token",
            "Access token ci-bot expires on 2026-04-01 (acme)",
        ),
    ],
)
def test_generic_event_titles(hook: str, body: dict[str, Any], kind: str, title: str) -> None:
    """Generic events are titled from what the payload has."""
    [event] = gitlab.parse({"X-Gitlab-Event": hook}, json.dumps(body).encode())
    assert (event.kind, event.title) == (kind, title)


def test_sparse_payloads_fall_back_gracefully() -> None:
    """Optional values GitLab sometimes leaves out give nulls and fallbacks, not errors."""
    body = payload("push")
    body["commits"][-1]["message"] = "\n  \n"
    assert fields_of(parse_body("push", body))["latest_commit_message"] == ""
    body = payload("merge_request")
    del body["object_attributes"]["detailed_merge_status"]
    assert fields_of(parse_body("merge_request", body))["mr"]["merge_status"] == "can_be_merged"
    body = payload("job")
    del body["pipeline_id"]
    assert fields_of(parse_body("job", body))["job"]["pipeline_url"] is None
    body = payload("pipeline")
    body["builds"][0]["stage"] = None
    results = fields_of(parse_body("pipeline", body))["pipeline"]["stage_results"]
    assert {"name": "deploy", "status": "skipped"} in results


def test_non_finite_durations_are_refused() -> None:
    """JSON cannot say infinity, but a decoded payload handed to parse_payload might."""
    body = payload("pipeline")
    body["object_attributes"]["duration"] = float("inf")
    with pytest.raises(PayloadError, match="finite"):
        gitlab.parse_payload("pipeline", "d", body)


def test_generic_event_name_that_cannot_be_a_kind() -> None:
    """A generic event whose event_name is not a snake word is unsupported."""
    body = {"event_name": "Project Created!", "path_with_namespace": "g/p"}
    with pytest.raises(UnsupportedEventError, match="kind"):
        gitlab.parse({"X-Gitlab-Event": "Project Hook"}, json.dumps(body).encode())


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2013-12-03T17:23:34Z", datetime(2013, 12, 3, 17, 23, 34, tzinfo=UTC)),
        ("2016-08-12 15:23:28 UTC", datetime(2016, 8, 12, 15, 23, 28, tzinfo=UTC)),
        ("2021-04-28 21:50:00 +0200", datetime(2021, 4, 28, 19, 50, tzinfo=UTC)),
        ("2021-02-23T02:41:37.886Z", datetime(2021, 2, 23, 2, 41, 37, 886000, tzinfo=UTC)),
        ("2021-02-23T02:41:37", datetime(2021, 2, 23, 2, 41, 37, tzinfo=UTC)),
        ("2015-04-08T21: 00:25-07:00", None),
        ("0001-01-01T00:00:00+01:00", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_timestamps_in_gitlab_formats(value: str, expected: datetime | None) -> None:
    """GitLab's three timestamp spellings parse; a malformed string is unknown, not fatal."""
    body = edited("pipeline", "object_attributes.finished_at", value)
    body["object_attributes"]["created_at"] = None
    assert parse_body("pipeline", body).occurred_at == expected


# --------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    ("name", "dotted", "value"),
    [
        ("push", "ref", 5),
        ("push", "commits", {"0": {}}),
        ("push", "commits.0", "abc"),
        ("push", "commits.0.id", 1),
        ("push", "commits.0.added", "a.py"),
        ("push", "commits.0.added.0", 3),
        ("push", "commits.0.author", "Ada"),
        ("push", "total_commits_count", "3"),
        ("push", "project", "acme/web-shop"),
        ("push", "project.path_with_namespace", 42),
        ("push", "user_username", ["ada"]),
        ("tag_push", "after", 0),
        ("merge_request", "object_attributes", []),
        ("merge_request", "object_attributes.iid", "58"),
        ("merge_request", "object_attributes.title", None),
        ("merge_request", "object_attributes.labels.0", "payments"),
        ("merge_request", "object_attributes.draft", "no"),
        ("merge_request", "assignees.0.username", 7),
        ("merge_request", "changes", ["title"]),
        ("pipeline", "object_attributes.id", 1.5),
        ("pipeline", "object_attributes.stages", "build"),
        ("pipeline", "builds", "none"),
        ("pipeline", "builds.0.duration", "81s"),
        ("pipeline", "builds.0.allow_failure", "no"),
        ("pipeline", "object_attributes.duration", True),
        ("pipeline", "object_attributes.finished_at", 1710234041),
        ("pipeline", "merge_request", "!58"),
        ("pipeline.failed", "merge_request.iid", None),
        ("job", "build_id", "5512"),
        ("job", "build_status", None),
        ("job", "build_duration", [48]),
        ("deployment", "status", 1),
        ("deployment", "environment", {"name": "production"}),
        ("issue", "object_attributes.labels", "bug"),
        ("issue", "object_attributes.iid", None),
        ("issue", "user", "grace"),
        ("note", "object_attributes.note", 1),
        ("note", "object_attributes.noteable_type", None),
        ("note", "merge_request", "!58"),
        ("note.issue", "issue.iid", "214"),
        ("note.commit", "commit.id", None),
        ("note.snippet", "snippet.id", "31"),
        ("release", "tag", 240),
        ("release", "assets.links.0", "x"),
        ("wiki_page", "object_attributes.title", []),
        ("member", "updated_at", 5),
    ],
)
def test_wrong_types_raise_payload_error_naming_the_path(
    name: str, dotted: str, value: Any
) -> None:
    """A missing required value or a wrong type at any level is a PayloadError, never a crash."""
    with pytest.raises(PayloadError) as caught:
        parse_body(name, edited(name, dotted, value))
    assert caught.value.path
    assert dotted.split(".", 1)[0] in caught.value.path


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'"push"', b"\xff\xfe{}", b'{"a": NaN}', b"null"],
)
def test_undecodable_bodies_raise_payload_error(body: bytes) -> None:
    """A body that is not one JSON object is a PayloadError with an empty path."""
    with pytest.raises(PayloadError) as caught:
        gitlab.parse({"X-Gitlab-Event": "Push Hook"}, body)
    assert caught.value.path == ""


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
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
    event=st.sampled_from(sorted({kind.split(".", 1)[0] for kind in gitlab.KINDS} | {"system"})),
    body=st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=5),
)
def test_arbitrary_objects_raise_only_parse_errors(event: str, body: dict[str, Any]) -> None:
    """Whatever object arrives, parsing yields Events or a typed ParseError, never a crash."""
    try:
        events = gitlab.parse_payload(event, "d", body)
    except ParseError:
        return
    assert all(e.title and "\n" not in e.title for e in events)


@given(name=st.sampled_from(sorted(gitlab.SAMPLES)), data=st.data())
def test_mutated_samples_raise_only_parse_errors(name: str, data: st.DataObject) -> None:
    """Replacing any one value of a real-shaped payload never crashes the parser."""
    body = payload(name)
    path = data.draw(st.sampled_from(_paths(body)))
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(JSON_VALUES)
    try:
        events = gitlab.parse(gitlab.sample_headers(name), json.dumps(body).encode())
    except ParseError:
        return
    assert all(e.title and "\n" not in e.title for e in events)


# --------------------------------------------------------------------------- verification

BODY = (SAMPLES / "push.json").read_bytes()


def test_verify_accepts_the_right_token() -> None:
    """X-Gitlab-Token equal to the secret passes; sign() produces exactly that header."""
    assert gitlab.sign(BODY, SECRET) == {"X-Gitlab-Token": SECRET}
    gitlab.verify(gitlab.sign(BODY, SECRET), BODY, SECRET)
    gitlab.verify({"x-gitlab-token": SECRET}, BODY, SECRET)


@pytest.mark.parametrize(
    ("headers", "secret", "message"),
    [
        ({}, SECRET, "missing X-Gitlab-Token"),
        ({"X-Gitlab-Token": "wrong"}, SECRET, "does not match"),
        ({"X-Gitlab-Token": SECRET + "x"}, SECRET, "does not match"),
        ({"X-Gitlab-Token": SECRET.upper()}, SECRET, "does not match"),
        ({"X-Gitlab-Token": ""}, SECRET, "does not match"),
        ({"X-Gitlab-Token": "\udcff"}, SECRET, "does not match"),
        ({"X-Gitlab-Token": ""}, "", "no secret"),
        ({"X-Hub-Signature-256": "sha256=00"}, SECRET, "missing X-Gitlab-Token"),
    ],
)
def test_verify_refuses_a_wrong_or_missing_token(
    headers: dict[str, str], secret: str, message: str
) -> None:
    """A wrong, missing or empty token, or no configured secret, is a SignatureError."""
    with pytest.raises(SignatureError, match=message):
        gitlab.verify(headers, BODY, secret)


# The example of the Standard Webhooks spec (and Svix's docs): an independent test vector.
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TIMESTAMP = "1614265330"
SW_BODY = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def sw_headers(signature: str = SW_SIGNATURE, **extra: str) -> dict[str, str]:
    """Standard Webhooks headers of the spec's example, plus the GitLab token."""
    return {
        "X-Gitlab-Token": SW_SECRET,
        "webhook-id": SW_ID,
        "webhook-timestamp": SW_TIMESTAMP,
        "webhook-signature": signature,
    } | extra


def test_standard_webhooks_spec_vector_verifies() -> None:
    """The spec's own example verifies, and sign_standard_webhooks reproduces it."""
    gitlab.verify(sw_headers(), SW_BODY, SW_SECRET)
    signed = gitlab.sign_standard_webhooks(SW_BODY, SW_SECRET, SW_ID, int(SW_TIMESTAMP))
    assert signed["webhook-signature"] == SW_SIGNATURE
    assert signed["webhook-id"] == SW_ID
    assert signed["webhook-timestamp"] == SW_TIMESTAMP


@pytest.mark.parametrize(
    "signature",
    [
        f"v1,{'A' * 43}= {SW_SIGNATURE}",
        f"v1a,{'B' * 86}== {SW_SIGNATURE}",
        f"garbage {SW_SIGNATURE}",
        f"v1,not-base64!! {SW_SIGNATURE}",
    ],
)
def test_any_v1_signature_of_the_list_may_match(signature: str) -> None:
    """The header is a space-separated list (secret rotation); one matching v1 is enough."""
    gitlab.verify(sw_headers(signature), SW_BODY, SW_SECRET)


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        (sw_headers(), SW_BODY + b" ", "does not match"),
        (sw_headers(**{"webhook-id": "msg_other"}), SW_BODY, "does not match"),
        (sw_headers(**{"webhook-timestamp": "1614265331"}), SW_BODY, "does not match"),
        (sw_headers("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE"), SW_BODY, "does not match"),
        (sw_headers(f"v1a,{SW_SIGNATURE[3:]}"), SW_BODY, "no v1 signature"),
        (sw_headers("v2,abc"), SW_BODY, "no v1 signature"),
        (sw_headers(SW_SIGNATURE.replace("v1,", "v1")), SW_BODY, "no v1 signature"),
        (sw_headers(**{"webhook-timestamp": "soon"}), SW_BODY, "Unix seconds"),
        (sw_headers(**{"webhook-timestamp": "-1614265330"}), SW_BODY, "Unix seconds"),
        (sw_headers(**{"webhook-timestamp": "1" * 20}), SW_BODY, "Unix seconds"),
        ({**sw_headers(), "webhook-id": " "}, SW_BODY, "needs webhook-id"),
        (
            {k: v for k, v in sw_headers().items() if k != "webhook-timestamp"},
            SW_BODY,
            "needs webhook-id",
        ),
        (sw_headers(**{"X-Gitlab-Token": "wrong"}), SW_BODY, "X-Gitlab-Token"),
    ],
)
def test_standard_webhooks_signature_must_verify_when_present(
    headers: dict[str, str], body: bytes, message: str
) -> None:
    """A sent signature that is wrong, malformed or incomplete is refused, token or not."""
    with pytest.raises(SignatureError, match=message):
        gitlab.verify(headers, body, SW_SECRET)


def test_signed_delivery_may_omit_the_token() -> None:
    """GitLab sends the token only when one is configured; a valid signature is enough."""
    headers = {k: v for k, v in sw_headers().items() if k != "X-Gitlab-Token"}
    gitlab.verify(headers, SW_BODY, SW_SECRET)
    with pytest.raises(SignatureError):
        gitlab.verify(headers, SW_BODY + b"x", SW_SECRET)


def test_signature_timestamp_tolerance_when_now_is_given() -> None:
    """With the receiver's clock, a signature more than five minutes off is refused."""
    sent = datetime.fromtimestamp(int(SW_TIMESTAMP), tz=UTC)
    gitlab.verify(sw_headers(), SW_BODY, SW_SECRET, now=sent + gitlab.SIGNATURE_TOLERANCE)
    gitlab.verify(sw_headers(), SW_BODY, SW_SECRET, now=sent - gitlab.SIGNATURE_TOLERANCE)
    for skew in (gitlab.SIGNATURE_TOLERANCE * 2, -gitlab.SIGNATURE_TOLERANCE * 2):
        with pytest.raises(SignatureError, match="too far"):
            gitlab.verify(sw_headers(), SW_BODY, SW_SECRET, now=sent + skew)


def test_signing_key_from_hookbot_secrets() -> None:
    """hookbot's own secrets (43 URL-safe base64 characters) are the 32 bytes they encode."""
    raw = bytes(range(32))
    secret = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert len(secret) == 43
    assert gitlab.signing_key(secret) == raw
    token = gitlab.signing_token(secret)
    assert token == "whsec_" + base64.b64encode(raw).decode()
    assert gitlab.signing_key(token) == raw  # pasting GitLab's form value back works too
    assert gitlab.signing_key("short secret") == b"short secret"
    with pytest.raises(SignatureError, match="base64"):
        gitlab.signing_key("whsec_!!!")


def test_sign_standard_webhooks_round_trips_with_a_hookbot_secret() -> None:
    """What GitLab would send for a hookbot secret verifies; another secret does not."""
    secret = base64.urlsafe_b64encode(b"k" * 32).decode().rstrip("=")
    headers = gitlab.sign_standard_webhooks(BODY, secret, "idem-1", 1_700_000_000)
    gitlab.verify(headers, BODY, secret)
    gitlab.verify(headers | gitlab.sign(BODY, secret), BODY, secret)
    other = base64.urlsafe_b64encode(b"j" * 32).decode().rstrip("=")
    with pytest.raises(SignatureError):
        gitlab.verify(headers, BODY, other)
