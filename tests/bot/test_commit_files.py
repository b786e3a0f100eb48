"""The push Files line: fetched by the real PyGithub from the fake API, cached, bounded."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.integrations.commit_files import CommitFilesEnricher
from bot.integrations.github_api import GitHubApi
from bot.store import Store
from bot.store.integrations import IntegrationRepo
from formatters.render import render_default
from parsers import SERVICES
from parsers.event import Event
from tests.conftest import sample
from tests.e2e.fake_github import FakeGitHub, loopback_only

REPO = "octo-org/Hello-World"
SHA = "3c4d5e6f708192a3b4c5d6e7f80912a3b4c5d6e7"
FILES = [("src/encryption.py", 15, 8), ("README.md", 2, 0)] + [
    (f"docs/page_{n}.md", n, 1) for n in range(10)
]


def push(sha: str = SHA, **changes: object) -> Event:
    """The bundled push sample, parsed, with its head commit `sha`."""
    payload = json.loads(sample("github/push"))
    payload["after"] = sha
    payload.update(changes)
    body = json.dumps(payload).encode()
    spec = SERVICES["github"]
    return spec.parse(spec.sample_headers("push", body, "s", "d1"), body, {})[0]


def files_line(event: Event) -> str | None:
    description = render_default(event).embeds[0].description or ""
    return next((line for line in description.splitlines() if line.startswith("**Files:**")), None)


@pytest.fixture
def refused() -> Iterator[list[object]]:
    with loopback_only() as attempts:
        yield attempts
    assert attempts == [], "a connection left 127.0.0.1"


@pytest.fixture
async def fake(refused: list[object]) -> AsyncIterator[FakeGitHub]:
    github = FakeGitHub(prefix="")  # github.com's shape: no /api/v3
    github.add_repo(REPO)
    github.add_commit(REPO, SHA, FILES)
    await github.start()
    yield github
    await github.stop()


def enricher(store: Store, fake: FakeGitHub, **options: object) -> CommitFilesEnricher:
    api = GitHubApi(fake.token, fake.base_url)
    return CommitFilesEnricher(api, IntegrationRepo(store), **options)  # type: ignore[arg-type]


async def test_push_gets_the_files_line_of_its_head_commit(store: Store, fake: FakeGitHub):
    """Ten files with +/−, then "…and N more", from GET /repos/{repo}/commits/{sha}."""
    event = await enricher(store, fake).enrich(push())
    assert [c.path for c in fake.calls("GET")] == [f"/repos/{REPO}/commits/{SHA}"]
    assert event.fields["head_commit_files_more"] == 2
    assert event.fields["head_commit_files"][0] == {  # type: ignore[index]
        "path": "src/encryption.py",
        "additions": 15,
        "deletions": 8,
    }
    line = files_line(event)
    assert line is not None
    assert line.startswith("**Files:** src/encryption.py (+15, −8), README.md (+2, −0), ")
    assert line.endswith("docs/page\\_7.md (+7, −1) …and 2 more")
    assert files_line(push()) is None, "without the API there is no Files line"


async def test_files_are_fetched_once_per_sha_and_kept_in_sqlite(store: Store, fake: FakeGitHub):
    """A second push of that SHA, and a restarted process, read the cache: one call in all."""
    first = await enricher(store, fake).enrich(push())
    again = await enricher(store, fake).enrich(push())  # a new process: memory is empty
    assert files_line(again) == files_line(first) is not None
    assert len(fake.calls("GET", "/commits/")) == 1
    assert await IntegrationRepo(store).commit_files(REPO, SHA) is not None


async def test_concurrent_pushes_of_one_sha_share_one_fetch(store: Store, fake: FakeGitHub):
    """Two hooks on one repository see the same push at once: one request."""
    fake.commit_delay = 0.3
    files = enricher(store, fake)
    first, second = await asyncio.gather(files.enrich(push()), files.enrich(push()))
    assert files_line(first) == files_line(second) is not None
    assert len(fake.calls("GET", "/commits/")) == 1


async def test_low_rate_limit_stops_the_calls(store: Store, fake: FakeGitHub):
    """X-RateLimit-Remaining below 100: no more calls until the reset; pushes post without."""
    fake.rate_remaining = 99
    other = "4" * 40
    fake.add_commit(REPO, other, [("a.py", 1, 1)])
    files = enricher(store, fake)
    assert files_line(await files.enrich(push())) is not None, "that answer is still used"
    assert files_line(await files.enrich(push(other))) is None
    assert len(fake.calls("GET", "/commits/")) == 1


async def test_a_failure_posts_without_the_line_and_is_not_retried(store: Store, fake: FakeGitHub):
    """GitHub knows no such commit: no line, and that SHA is not asked again soon."""
    files = enricher(store, fake)
    missing = "5" * 40
    assert files_line(await files.enrich(push(missing))) is None
    assert files_line(await files.enrich(push(missing))) is None
    assert len(fake.calls("GET", "/commits/")) == 1


async def test_the_budget_bounds_the_wait(store: Store, fake: FakeGitHub):
    """A slow API: the push is back without the line when the budget is spent."""
    fake.commit_delay = 1.5
    files = enricher(store, fake, budget=0.3)
    started = time.monotonic()
    event = await files.enrich(push())
    assert time.monotonic() - started < 1.0
    assert files_line(event) is None
    await files.close()


async def test_other_work_ends_the_wait_and_the_fetch_fills_the_cache(
    store: Store, fake: FakeGitHub
):
    """Something else waits: the push goes on at once; the fetch lands for the next time."""
    fake.commit_delay = 0.5
    files = enricher(store, fake, others_waiting=lambda since: True)
    started = time.monotonic()
    assert files_line(await files.enrich(push())) is None
    assert time.monotonic() - started < 0.3
    async with asyncio.timeout(5):
        while await IntegrationRepo(store).commit_files(REPO, SHA) is None:
            await asyncio.sleep(0.05)
    assert files_line(await files.enrich(push())) is not None
    assert len(fake.calls("GET", "/commits/")) == 1


@pytest.mark.parametrize(
    "event",
    [
        push(ref="refs/tags/v1.0"),
        push(deleted=True, after="0" * 40),
        push(commits=[], head_commit=None),
    ],
    ids=["tag", "deleted branch", "no commits"],
)
async def test_only_pushes_of_new_commits_to_branches_ask(
    store: Store, fake: FakeGitHub, event: Event
):
    """Tags, deleted branches and pushes without commits are left as they are."""
    assert await enricher(store, fake).enrich(event) is event
    assert fake.requests == []


async def test_other_events_are_left_alone(store: Store, fake: FakeGitHub):
    """A pull request is not enriched, and nothing is asked."""
    body = sample("github/pull_request")
    spec = SERVICES["github"]
    event = spec.parse(spec.sample_headers("pull_request", body, "s", "d"), body, {})[0]
    assert await enricher(store, fake).enrich(event) is event
    assert fake.requests == []
