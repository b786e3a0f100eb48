"""Conformance: every real GitHub payload in the shared corpus parses into sensible Events."""

from __future__ import annotations

import json
from types import MappingProxyType

import pytest

from parsers import github
from parsers.errors import UnsupportedEventError
from tests import corpus

CORPUS = corpus.ROOT / "github"
if not CORPUS.is_dir():
    pytest.skip(
        "../shared/corpus is absent: conformance tests need the shared payload corpus",
        allow_module_level=True,
    )

# The corpus headers are signed with the secret from GitHub's validation docs.
CORPUS_SECRET = "It's a Secret to Everybody"
PAYLOADS = sorted(
    path.name for path in CORPUS.glob("*.json") if not path.name.endswith(".headers.json")
)
# Where each event keeps the web address of the thing it is about.
THING_URL = {
    "pull_request": "pull_request.html_url",
    "pull_request_review": "review.html_url",
    "pull_request_review_comment": "comment.html_url",
    "issues": "issue.html_url",
    "issue_comment": "comment.html_url",
    "release": "release.html_url",
    "workflow_run": "workflow_run.html_url",
    "workflow_job": "workflow_job.html_url",
    "check_run": "check_run.html_url",
    "discussion": "discussion.html_url",
    "discussion_comment": "comment.html_url",
    "fork": "forkee.html_url",
    "member": "member.html_url",
    "repository": "repository.html_url",
    "star": "repository.html_url",
    "watch": "repository.html_url",
    "ping": "repository.html_url",
    "status": "commit.html_url",
    "push": "compare",
}


def load(name: str) -> tuple[dict[str, str], bytes]:
    """Return a corpus file's headers and exact body bytes."""
    return corpus.load(CORPUS / name)


def test_corpus_is_not_empty() -> None:
    """The corpus folder holds GitHub payloads (a typo in the path would skip nothing)."""
    assert len(PAYLOADS) >= 50


@pytest.mark.parametrize("name", PAYLOADS)
def test_github_corpus_payload_parses(name: str) -> None:
    """A handled event yields Events of known kinds; any other event is unsupported."""
    headers, body = load(name)
    event_name = headers["X-GitHub-Event"]
    if event_name not in github.EVENT_NAMES:
        with pytest.raises(UnsupportedEventError):
            github.parse(headers, body)
        return
    events = github.parse(headers, body)
    assert len(events) >= 1
    for event in events:
        assert event.kind in github.KINDS
        assert event.kind == event_name or event.kind.startswith(f"{event_name}.")
        assert event.title.strip()
        assert "\n" not in event.title
        assert event.source
        assert event.delivery_id == headers["X-GitHub-Delivery"]
        assert isinstance(event.fields, MappingProxyType)
        if event.occurred_at is not None:
            assert event.occurred_at.utcoffset() is not None


def _has_thing_url(name: str) -> bool:
    """Say whether a corpus payload carries a web address for the thing it is about."""
    headers, body = load(name)
    where = THING_URL.get(headers["X-GitHub-Event"])
    return where is not None and bool(corpus.dig(json.loads(body), where))


@pytest.mark.parametrize("name", [n for n in PAYLOADS if _has_thing_url(n)])
def test_github_corpus_payload_links_its_thing(name: str) -> None:
    """When the payload has a web address for the thing, the Event links to it."""
    headers, body = load(name)
    payload = json.loads(body)
    thing_url = corpus.dig(payload, THING_URL[headers["X-GitHub-Event"]])
    [event] = github.parse(headers, body)
    if event.kind == "discussion.answered":
        assert event.url == corpus.dig(payload, "answer.html_url")
    else:
        assert event.url == thing_url


@pytest.mark.parametrize("name", PAYLOADS)
def test_github_corpus_signature_verifies(name: str) -> None:
    """The corpus's X-Hub-Signature-256 verifies over the exact file bytes."""
    headers, body = load(name)
    github.verify(headers, body, CORPUS_SECRET)
