"""Default templates compared with tests/golden/*.txt; UPDATE_GOLDEN=1 rewrites them."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from formatters.message import message_to_text
from formatters.render import render_default
from parsers.event import Event
from tests.formatters.conftest import build_commits, build_event

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
REPO_URL = "https://github.com/octo/hello-world"
AVATAR = "https://avatars.githubusercontent.com/u/1?v=4"


def push() -> Event:
    """Three commits to main."""
    commits = build_commits(3)
    commits[-1]["message"] = "Fix encryption bug"
    return build_event(
        "push",
        branch="main",
        title="alice pushed 3 commits to main",
        url=f"{REPO_URL}/compare/1111111...3333333",
        fields={
            "repo": "octo/hello-world",
            "repo_url": REPO_URL,
            "actor_avatar_url": AVATAR,
            "ref": "refs/heads/main",
            "branch": "main",
            "tag": None,
            "commit_count": 3,
            "commits": commits,
            "latest_commit_message": "Fix encryption bug",
            "head_sha": commits[-1]["id"],
            "compare_url": f"{REPO_URL}/compare/1111111...3333333",
            "forced": False,
            "created": False,
            "deleted": False,
        },
    )


def push_many() -> Event:
    """Seven commits, a markdown-heavy message and a mention: five shown, escaped."""
    commits = build_commits(7)
    commits[0]["message"] = "Use **kwargs in `run()` @everyone"
    return build_event(
        "push",
        branch="feature_x",
        fields={"commits": commits, "commit_count": 7, "compare_url": f"{REPO_URL}/compare/x"},
    )


def push_forced() -> Event:
    """A force push of one commit."""
    return build_event(
        "push",
        branch="main",
        fields={
            "commits": build_commits(1),
            "commit_count": 1,
            "forced": True,
            "compare_url": f"{REPO_URL}/compare/a...b",
            "actor_avatar_url": AVATAR,
        },
    )


def push_tag() -> Event:
    """A tag pushed, no commits."""
    return build_event(
        "push",
        branch=None,
        fields={"tag": "v1.2.0", "ref": "refs/tags/v1.2.0", "commits": [], "commit_count": 0},
    )


def push_branch_deleted() -> Event:
    """A branch deleted."""
    return build_event(
        "push",
        branch="old-feature",
        url=None,
        fields={"deleted": True, "commits": [], "commit_count": 0, "compare_url": None},
    )


def pull_request(action: str, **pr: object) -> Callable[[], Event]:
    """A pull request event with the given action."""

    def build() -> Event:
        values = {
            "number": 45,
            "title": "Add SSO login",
            "body": "Closes #12.\n\nAdds SAML.",
            "draft": False,
            "merged": action == "merged",
            "additions": 450,
            "deletions": 120,
            "changed_files": 8,
            "labels": ["feature", "security"],
            "base": "main",
            "head": "feature/sso",
            "url": f"{REPO_URL}/pull/45",
            "author": "bob",
            "head_sha": "a" * 40,
        }
        values.update(pr)
        return build_event(
            f"pull_request.{action}",
            actor="bob",
            url=f"{REPO_URL}/pull/45",
            fields={"pr": values, "labels": values["labels"]},
        )

    return build


def ping() -> Event:
    """The ping GitHub sends when a webhook is created."""
    return build_event(
        "ping",
        actor=None,
        url=None,
        fields={
            "zen": "Keep it logically awesome.",
            "hook_id": 123,
            "hook_events": ["push", "pull_request"],
        },
    )


CASES: dict[str, Callable[[], Event]] = {
    "github_push": push,
    "github_push_many": push_many,
    "github_push_forced": push_forced,
    "github_push_tag": push_tag,
    "github_push_branch_deleted": push_branch_deleted,
    "github_pull_request_opened": pull_request("opened"),
    "github_pull_request_opened_draft": pull_request("opened", draft=True, labels=[]),
    "github_pull_request_merged": pull_request("merged"),
    "github_pull_request_closed": pull_request("closed"),
    "github_ping": ping,
}


@pytest.mark.parametrize("name", CASES)
def test_render_default_matches_golden_file(name: str) -> None:
    """The default embed for each hand-built event equals tests/golden/<name>.txt."""
    rendered = message_to_text(render_default(CASES[name]()))
    path = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"missing {path}; run with UPDATE_GOLDEN=1 to create it"
    assert rendered == path.read_text(encoding="utf-8")
