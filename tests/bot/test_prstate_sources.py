"""Which events feed PR state is read from what they carry (bot.core.prstate.sources)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import pytest

from bot.core.filters import value_of
from bot.core.prstate import Sources, apply, sources, sources_from, subjects_for
from parsers import SERVICES
from parsers.event import Event
from tests.bot.test_prstate import HEAD, SUBJECT, check_suite, pr_event, review, workflow_run

SAMPLES = Path(__file__).resolve().parents[2] / "parsers" / "samples"

# A made-up forge whose events carry pull requests under other event names.
FORGE_DOCS = {
    "*": {"repo": "Repository."},
    "change": {"pr.number": "Number.", "pr.head_sha": "Head.", "pr.merged": "Merged."},
    "change_review": {"pr.head_sha": "Head.", "review.reviewer": "Who.", "review.state": "What."},
    "change_note": {"pr.head_sha": "Head.", "comment.body": "Text."},
    "build": {
        "build.name": "Name.",
        "build.head_sha": "Head.",
        "build.conclusion": "Result.",
        "build.pull_requests": "Numbers.",
    },
    "suite": {"suite.app": "App.", "suite.conclusion": "Result.", "suite.pull_requests": "Nos."},
    "deploy": {"deploy.pull_requests": "Numbers, but no result."},
}
FORGE_KINDS = ("change.opened", "change.closed", "change_review.approved", "change_note.created")


def test_github_sources_come_from_its_field_docs() -> None:
    """GitHub: PRs, reviews, and the runs and suites that name their PRs."""
    fed = sources("github")
    assert fed.feeds
    assert fed.pull_requests == (
        "pull_request",
        "pull_request_review",
        "pull_request_review_comment",
    )
    assert fed.lifecycle == ("pull_request",)
    assert fed.reviews == ("pull_request_review",)
    assert dict(fed.checks) == {
        "workflow_run": ("workflow", "name"),
        "check_suite": ("check_suite", "app"),
    }


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "github"] + ["nosuch"])
def test_other_services_feed_no_pr_state(service: str) -> None:
    """No other registered service's events carry a pull request or a check naming one."""
    assert sources(service) == Sources()
    assert not sources(service).feeds


@pytest.mark.parametrize("service", [s for s in SERVICES if s != "github"])
def test_other_services_samples_update_no_subject(service: str) -> None:
    """Their samples update no PR state (a gitlab MR is not a GitHub PR)."""
    spec = SERVICES[service]
    for name in spec.samples:
        body = (SAMPLES / service / f"{name}.json").read_bytes()
        for event in spec.parse(spec.sample_headers(name, body, "s" * 32, name), body, {}):
            assert subjects_for(event) == [], (service, name)


def test_sources_from_reads_what_events_carry_not_their_names() -> None:
    """Any event names work: `pr.head_sha`, `review.reviewer` and `<x>.pull_requests` decide."""
    fed = sources_from(FORGE_DOCS, FORGE_KINDS)
    assert fed.pull_requests == ("change", "change_review", "change_note")
    assert fed.lifecycle == ("change",)  # the one with a `.closed` kind
    assert fed.reviews == ("change_review",)
    assert dict(fed.checks) == {"build": ("build", "name"), "suite": ("suite", "app")}


def test_sources_from_without_closing_kinds_needs_every_pr_event() -> None:
    """When no PR event reports closing by name, every one carrying the PR is needed."""
    fed = sources_from(FORGE_DOCS, ())
    assert fed.lifecycle == fed.pull_requests


def test_github_events_under_another_service_name_feed_nothing() -> None:
    """State follows the service's docs: the same event under an unknown service is ignored."""
    event = dataclasses.replace(pr_event(), service="nosuch")
    assert subjects_for(event) == []
    assert apply(None, event, SUBJECT) is None


def test_github_folding_still_follows_the_docs() -> None:
    """A PR, a review and a suite fold as before through the data-driven tables."""
    state = apply(None, pr_event(), SUBJECT)
    state = apply(state, review("ann", "approved"), SUBJECT)
    suite = check_suite("success")
    state = apply(state, suite, SUBJECT)
    state = apply(state, workflow_run("failure", name="CI"), SUBJECT)
    assert state is not None
    assert (state.head_sha, state.approvals, state.status) == (HEAD, 1, "approved")
    app = value_of("check_suite.app", suite)
    assert isinstance(app, str)
    assert dict(state.checks) == {app: "passed", "CI": "failed"}
    assert state.checks_status == "failed"


def test_merged_kind_counts_without_the_merged_flag() -> None:
    """A `<event>.merged` kind marks the PR merged even if its payload says nothing."""
    merged = pr_event("closed", state="closed", merged=True)
    carried = merged.fields["pr"]
    assert isinstance(carried, Mapping)
    pr = dict(carried)
    pr["merged"] = None
    bare = dataclasses.replace(merged, fields=MappingProxyType({**merged.fields, "pr": pr}))
    assert bare.kind.endswith(".merged")
    state = apply(None, bare, SUBJECT)
    assert state is not None
    assert state.status == "merged"


def test_event_without_its_pr_section_updates_nothing() -> None:
    """An event of a PR-carrying name that lacks `pr` names no subject."""
    event = pr_event()
    stripped = dataclasses.replace(
        event, fields=MappingProxyType({k: v for k, v in event.fields.items() if k != "pr"})
    )
    assert isinstance(stripped, Event)
    assert subjects_for(stripped) == []
