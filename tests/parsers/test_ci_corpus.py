"""Conformance: the shared corpus's CI payloads go through parsers.ci into CI events.

Every CircleCI, Jenkins Notification plugin, GitLab pipeline/job/deployment and GitHub
workflow_run/workflow_job/check_suite/deployment_status file is verified with the
corpus secret, identified and parsed; the Jenkins Office 365 connector cards (what
Jenkins sends to Teams) and every non-CI GitLab or GitHub event are refused cleanly.
"""

from __future__ import annotations

import pytest

from formatters.render import render_default
from parsers import ci
from parsers.errors import SignatureError, UnsupportedEventError
from tests import corpus

CORPUS = corpus.ROOT
if not CORPUS.is_dir():
    pytest.skip(
        "../shared/corpus is absent: conformance tests need the shared payload corpus",
        allow_module_level=True,
    )

# The corpus signs (and GitLab tokens) with the secret from GitHub's validation docs.
CORPUS_SECRET = "It's a Secret to Everybody"

# Corpus file → the kinds it must give. Empty: a state the model does not report (a job
# that is only created or queued, a deployment in progress).
EXPECTED: dict[str, list[str]] = {
    "circleci/job-completed.github-oauth-bitbucket-cloud.json": ["job.success"],
    "circleci/job-completed.gitlab-githubapp-bitbucket-dc.json": ["job.success"],
    "circleci/workflow-completed.github-oauth-bitbucket-cloud.json": ["pipeline.success"],
    "circleci/workflow-completed.gitlab-githubapp-bitbucket-dc.failed.json": ["pipeline.failed"],
    "jenkins/notification-plugin/job-status.completed-success.wiki-example.json": [
        "pipeline.success"
    ],
    "jenkins/notification-plugin/job-status.started-failed.help-example.json": ["pipeline.started"],
    "gitlab/pipeline.json": ["pipeline.success"],
    "gitlab/job.json": [],
    "gitlab/deployment.json": ["deploy.success"],
    "github/check_suite.completed.json": ["pipeline.success"],
    "github/check_suite.completed.main-branch.json": ["pipeline.success"],
    "github/check_suite.requested.json": ["pipeline.started"],
    "github/check_suite.rerequested.json": ["pipeline.started"],
    "github/deployment_status.created.gh-pages-in_progress.json": [],
    "github/deployment_status.created.success.json": ["deploy.success"],
    "github/deployment_status.success.legacy-docs.json": ["deploy.success"],
    "github/workflow_job.completed.failure.json": ["job.failed"],
    "github/workflow_job.completed.success.json": ["job.success"],
    "github/workflow_job.in_progress.json": ["job.started"],
    "github/workflow_job.queued.json": [],
    "github/workflow_job.queued.with-deployment.json": [],
    "github/workflow_job.waiting.json": [],
    "github/workflow_run.completed.success.json": ["pipeline.success"],
    "github/workflow_run.completed.success.with-pull-requests.json": ["pipeline.success"],
    "github/workflow_run.in_progress.json": ["pipeline.running"],
    "github/workflow_run.requested.action_required.json": ["pipeline.started"],
    "github/workflow_run.requested.json": ["pipeline.started"],
}
PROVIDER_OF_DIR = {
    "circleci": "circleci",
    "jenkins": "jenkins",
    "gitlab": "gitlab",
    "github": "actions",
}
CI_GLOBS = (
    "circleci/*.json",
    "jenkins/notification-plugin/*.json",
    "gitlab/pipeline.json",
    "gitlab/job.json",
    "gitlab/deployment.json",
    "github/workflow_run*.json",
    "github/workflow_job*.json",
    "github/check_suite*.json",
    "github/deployment_status*.json",
)


def payloads(*patterns: str) -> list[str]:
    """Return the corpus payload files (not their headers) matching the patterns."""
    found = {
        path.relative_to(CORPUS).as_posix()
        for pattern in patterns
        for path in CORPUS.glob(pattern)
        if not path.name.endswith(".headers.json")
    }
    return sorted(found)


def load(name: str) -> tuple[dict[str, str], bytes]:
    """Return a corpus file's headers and its exact body bytes."""
    return corpus.load(CORPUS / name)


CI_FILES = payloads(*CI_GLOBS)
TEAMS_CARDS = payloads("jenkins/office365-connector/*.json")
OTHER_EVENTS = sorted(set(payloads("gitlab/*.json", "github/*.json")) - set(CI_FILES))


def test_every_ci_file_has_an_expectation() -> None:
    """The table covers exactly the corpus's CI files (a typo would silently skip one)."""
    assert sorted(EXPECTED) == CI_FILES
    assert len(TEAMS_CARDS) >= 5
    assert len(OTHER_EVENTS) >= 50


@pytest.mark.parametrize("name", CI_FILES)
def test_ci_file_verifies_identifies_and_parses(name: str) -> None:
    headers, body = load(name)
    provider = PROVIDER_OF_DIR[name.split("/")[0]]
    ci.verify(headers, body, CORPUS_SECRET)
    event_name, delivery = ci.identify(headers, body)
    assert event_name is not None
    assert event_name.startswith(f"{provider}:")
    assert delivery

    events = ci.parse(headers, body, {})
    assert [event.kind for event in events] == EXPECTED[name]
    for event in events:
        assert (event.service, event.provider, event.delivery_id) == ("ci", provider, delivery)
        assert event.status in {"running", "success", "failed", "cancelled"}
        assert event.source
        assert event.title
        assert "\n" not in event.title
        for key in ("project", "branch", "commit", "stage", "job", "duration", "url"):
            assert key in event.fields
        assert "triggered_by" in event.fields
        assert isinstance(event.fields["failed_jobs"], list)
        if event.kind.endswith(".failed") and provider != "circleci":
            assert event.fields["failed_jobs"]  # CircleCI workflows do not list their jobs
        embed = render_default(event).embeds[0]
        assert embed.footer == f"ci · {event.kind}"  # its own template, not the fallback


@pytest.mark.parametrize("name", CI_FILES)
def test_ci_file_with_a_wrong_credential_is_refused(name: str) -> None:
    headers, body = load(name)
    if name.startswith("jenkins/"):
        headers = headers | {"Authorization": "Basic " + "amVua2luczpndWVzcw=="}  # jenkins:guess
    with pytest.raises(SignatureError):
        ci.verify(headers, body, "not the secret")


@pytest.mark.parametrize("name", TEAMS_CARDS)
def test_office365_cards_are_refused_cleanly(name: str) -> None:
    """What Jenkins sends to Teams is not a CI delivery: 400 at the edge, ignored if parsed."""
    headers, body = load(name)
    assert ci.identify(headers, body) == (None, None)
    with pytest.raises(UnsupportedEventError, match="Office 365"):
        ci.parse(headers, body, {})


@pytest.mark.parametrize("name", OTHER_EVENTS)
def test_other_gitlab_and_github_events_are_not_ci(name: str) -> None:
    headers, body = load(name)
    ci.verify(headers, body, CORPUS_SECRET)
    assert ci.identify(headers, body)[0] is not None
    with pytest.raises(UnsupportedEventError, match="not a CI event"):
        ci.parse(headers, body, {})


def test_corpus_values() -> None:
    """A few values read from the real payloads, one per provider."""
    (jenkins,) = ci.parse(
        *load("jenkins/notification-plugin/job-status.completed-success.wiki-example.json")
    )
    assert (jenkins.source, jenkins.branch, jenkins.url) == (
        "asgard",
        "master",
        "http://localhost:8080/job/asgard/18/",
    )
    assert jenkins.delivery_id == "asgard#18:COMPLETED"

    (circle,) = ci.parse(
        *load("circleci/workflow-completed.gitlab-githubapp-bitbucket-dc.failed.json")
    )
    assert (circle.source, circle.branch, circle.actor) == (
        "circleci/hello-world",
        "main",
        "username",
    )
    assert circle.fields["commit_url"] == (
        "https://gitlab.com/circleci/hello-world/-/commit/850a1519f25d14e968649cc420d1bd381715c05c"
    )

    (gitlab,) = ci.parse(*load("gitlab/pipeline.json"))
    assert (gitlab.source, gitlab.fields["duration"], gitlab.fields["failed_jobs"]) == (
        "gitlab-org/gitlab-test",
        63,
        [],  # the doc example passed although one of its jobs failed
    )

    (job,) = ci.parse(*load("github/workflow_job.completed.failure.json"))
    assert job.fields["failed_jobs"] == [
        {
            "name": "linters",
            "stage": None,
            "reason": 'failed at step "Run yarn run format-check"',
            "url": "https://github.com/octo-org/octo-repo/runs/1291536064",
        }
    ]
