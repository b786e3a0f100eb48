"""Conformance: every real GitLab payload in the shared corpus parses into the expected Event."""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest

from parsers import gitlab
from parsers.errors import SignatureError
from tests import corpus

CORPUS = corpus.ROOT / "gitlab"
if not CORPUS.is_dir():
    pytest.skip(
        "../shared/corpus is absent: conformance tests need the shared payload corpus",
        allow_module_level=True,
    )

# The corpus headers carry this X-Gitlab-Token (see the corpus README).
CORPUS_SECRET = "It's a Secret to Everybody"
PAYLOADS = sorted(
    path.name for path in CORPUS.glob("*.json") if not path.name.endswith(".headers.json")
)

# Corpus file → the kind it must yield. No corpus file is ignored: the events without a
# parser of their own (member, project, …) are generic kinds, outside the default selection.
EXPECTED_KINDS = {
    "deployment.json": "deployment.success",
    "emoji.json": "emoji.award",
    "feature_flag.json": "feature_flag",
    "issue.json": "issue.open",
    # The doc example is created, with a failure reason GitLab fills in early.
    "job.json": "job.created",
    "member.user_access_request_denied_for_group.json": (
        "member.user_access_request_denied_for_group"
    ),
    "member.user_access_request_to_group.json": "member.user_access_request_to_group",
    "member.user_add_to_group.json": "member.user_add_to_group",
    "member.user_remove_from_group.json": "member.user_remove_from_group",
    "member.user_update_for_group.json": "member.user_update_for_group",
    "merge_request.json": "merge_request.open",
    "milestone.json": "milestone.create",
    "note.commit.json": "note.commit",
    "note.issue.json": "note.issue",
    "note.merge_request.json": "note.merge_request",
    "note.snippet.json": "note.snippet",
    # success at the top, with a failed job in `builds` (the doc example is inconsistent).
    "pipeline.json": "pipeline.success",
    "project.project_create.json": "project.project_create",
    "project.project_destroy.json": "project.project_destroy",
    "push.json": "push",
    "release.json": "release.create",
    "resource_access_token.group.json": "resource_access_token.expiring_access_token",
    "resource_access_token.project.json": "resource_access_token.expiring_access_token",
    "subgroup.subgroup_create.json": "subgroup.subgroup_create",
    "subgroup.subgroup_destroy.json": "subgroup.subgroup_destroy",
    "tag_push.json": "tag_push.created",
    "vulnerability.json": "vulnerability",
    "wiki_page.json": "wiki_page.create",
}

# Where each payload keeps the web address of the thing it is about.
THING_URL = {
    "merge_request.json": "object_attributes.url",
    "issue.json": "object_attributes.url",
    "note.commit.json": "object_attributes.url",
    "note.issue.json": "object_attributes.url",
    "note.merge_request.json": "object_attributes.url",
    "note.snippet.json": "object_attributes.url",
    "pipeline.json": "object_attributes.url",
    "release.json": "url",
    "wiki_page.json": "object_attributes.url",
    "deployment.json": "deployable_url",
    "vulnerability.json": "object_attributes.url",
}


def load(name: str) -> tuple[dict[str, str], bytes]:
    """Return a corpus file's headers and exact body bytes."""
    return corpus.load(CORPUS / name)


def test_corpus_is_not_empty_and_every_file_is_expected() -> None:
    """The table covers exactly the corpus files (a new file must be given its kind)."""
    assert len(PAYLOADS) >= 25
    assert set(PAYLOADS) == set(EXPECTED_KINDS)


@pytest.mark.parametrize("name", PAYLOADS)
def test_gitlab_corpus_payload_parses_to_its_kind(name: str) -> None:
    """Each corpus payload yields one Event of the expected, known kind."""
    headers, body = load(name)
    events = gitlab.parse(headers, body)
    assert len(events) == 1
    [event] = events
    assert event.kind == EXPECTED_KINDS[name]
    assert event.kind in gitlab.KINDS
    assert event.title.strip()
    assert "\n" not in event.title
    assert event.source
    assert event.service == "gitlab"
    assert event.delivery_id == headers["Idempotency-Key"]
    assert isinstance(event.fields, MappingProxyType)
    json.dumps(dict(event.fields))
    if event.occurred_at is not None:
        assert event.occurred_at.utcoffset() is not None


@pytest.mark.parametrize("name", PAYLOADS)
def test_gitlab_corpus_identify_agrees_with_parse(name: str) -> None:
    """identify names the event the kind starts with, and the delivery's dedupe id."""
    headers, body = load(name)
    event_name, delivery = gitlab.identify(headers, body)
    [event] = gitlab.parse(headers, body)
    assert event_name is not None
    assert event.kind.split(".", 1)[0] == event_name
    assert delivery == headers["Idempotency-Key"]


@pytest.mark.parametrize("name", sorted(THING_URL))
def test_gitlab_corpus_payload_links_its_thing(name: str) -> None:
    """When the payload has a web address for the thing, the Event links to it."""
    headers, body = load(name)
    [event] = gitlab.parse(headers, body)
    assert event.url == corpus.dig(json.loads(body), THING_URL[name])


@pytest.mark.parametrize("name", PAYLOADS)
def test_gitlab_corpus_token_verifies(name: str) -> None:
    """The corpus's X-Gitlab-Token verifies against its secret, and not against another."""
    headers, body = load(name)
    gitlab.verify(headers, body, CORPUS_SECRET)
    with pytest.raises(SignatureError):
        gitlab.verify(headers, body, CORPUS_SECRET + "!")


def test_corpus_pipeline_reports_the_failed_job_it_contains() -> None:
    """The doc's pipeline passes at the top but lists a failed job, which the fields keep."""
    [event] = gitlab.parse(*load("pipeline.json"))
    failed = event.fields["failed_jobs"]
    assert isinstance(failed, list)
    assert [job["name"] for job in failed if isinstance(job, dict)] == ["test-build"]


def test_corpus_push_counts_commits_beyond_the_listed_ones() -> None:
    """The doc's push lists 2 of 4 commits: the count is 4, and 2 are omitted."""
    [event] = gitlab.parse(*load("push.json"))
    assert event.fields["commit_count"] == 4
    assert event.fields["commits_omitted"] == 2
    assert event.title == "Push to master: 4 commits"
