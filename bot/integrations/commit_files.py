"""The "Files:" line of push messages: the head commit's changed files, from GitHub's API.

A push payload names the paths a push touched, not how many lines each file gained or
lost; GitHub's commit API does (`GET /repos/{repo}/commits/{sha}`). With GITHUB_TOKEN,
a push event gets `head_commit_files` (up to 10 of `{path, additions, deletions}`) and
`head_commit_files_more` (how many more), which the default push template shows as
"Files: src/app.py (+15, −8), …and 3 more" and user templates may read.

Where it happens, and why the pipeline is never held up by it:

- The pipeline renders as before; just before rendering a push it calls `enrich`.
- `enrich` looks in memory, then in SQLite (github_commit_files): a SHA is fetched once.
- On a miss it starts one background fetch for that SHA (PyGithub in a worker thread, so
  the event loop never waits on GitHub), bounded by a budget of 3 s. A redelivery or a
  second hook on the same repository shares the fetch and its result.
- The pipeline then waits for that fetch only while nothing else waits for the pipeline:
  every 50 ms it asks `others_waiting(since)` (in the app: a delivery was committed since
  the wait began, or the pipeline has a backlog) and stops waiting at once when so. It
  then renders without the line, so no other event waits for it; the fetch goes on
  within its budget and fills the cache (`test` or `replay` shows the line).
- A fetch that fails or outlives its budget renders without the line, and that SHA is
  not asked again for 10 minutes.
  When GitHub says fewer than 100 requests are left (X-RateLimit-Remaining), no call is
  made until the limit resets (X-RateLimit-Reset), so hookbot never spends the token's
  last requests, which `on github owner/repo` and other tools need.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType

from bot.integrations.github_api import GitHubApi, GitHubApiError
from bot.store import StoreError
from bot.store.integrations import CommitFiles, IntegrationRepo, commit_files_of
from parsers.event import JSON, Event

log = logging.getLogger(__name__)

BUDGET_SECONDS = 3.0
FILES_SHOWN = 10
LOW_RATE_LIMIT = 100
RETRY_FAILED_AFTER = 600.0
PAUSE_WITHOUT_RESET = 60.0
POLL_SECONDS = 0.05
MEMORY_ENTRIES = 512


def with_files(event: Event, files: CommitFiles) -> Event:
    """Return the push event with `head_commit_files` and `head_commit_files_more` set."""
    listed: list[JSON] = [
        {"path": f.path, "additions": f.additions, "deletions": f.deletions} for f in files.files
    ]
    fields = {**event.fields, "head_commit_files": listed, "head_commit_files_more": files.more}
    return replace(event, fields=MappingProxyType(fields))


def _target(event: Event) -> tuple[str, str] | None:
    """(repo, head SHA) of a push that brought commits to a branch; None for anything else."""
    if event.service != "github" or event.kind != "push":
        return None
    fields = event.fields
    sha, repo = fields.get("head_sha"), fields.get("repo") or event.source
    if not isinstance(sha, str) or not isinstance(repo, str) or not sha or not repo:
        return None
    if fields.get("deleted") or fields.get("tag") or not fields.get("commit_count"):
        return None
    return repo, sha


class CommitFilesEnricher:
    """Adds the head commit's files to push events (see the module docstring)."""

    def __init__(
        self,
        api: GitHubApi,
        store: IntegrationRepo,
        *,
        budget: float = BUDGET_SECONDS,
        others_waiting: Callable[[float], bool] = lambda since: False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`others_waiting(since)`: whether other work arrived since `since` (monotonic)."""
        self._api = api
        self._store = store
        self._budget = budget
        self.others_waiting = others_waiting
        self._clock = clock
        self._memory: OrderedDict[tuple[str, str], CommitFiles] = OrderedDict()
        self._fetches: dict[tuple[str, str], tuple[asyncio.Task[CommitFiles | None], float]] = {}
        self._failed: dict[tuple[str, str], float] = {}
        self._paused_until = 0.0

    async def enrich(self, event: Event) -> Event:
        """Return the event with its Files fields when they are known in time, else as it is."""
        target = _target(event)
        if target is None:
            return event
        files = await self._cached(target)
        if files is None:
            fetch = self._fetch_for(target)
            if fetch is None:
                return event
            files = await self._wait(*fetch)
        return event if files is None else with_files(event, files)

    async def close(self) -> None:
        """Stop waiting for fetches in flight (their threads end within the budget)."""
        tasks = [task for task, _ in self._fetches.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _cached(self, target: tuple[str, str]) -> CommitFiles | None:
        files = self._memory.get(target)
        if files is None:
            try:
                files = await self._store.commit_files(*target)
            except StoreError:
                log.warning("github: cannot read the commit files cache", exc_info=True)
            if files is not None:
                self._remember(target, files)
        return files

    def _remember(self, target: tuple[str, str], files: CommitFiles) -> None:
        self._memory[target] = files
        self._memory.move_to_end(target)
        while len(self._memory) > MEMORY_ENTRIES:
            self._memory.popitem(last=False)

    def _fetch_for(
        self, target: tuple[str, str]
    ) -> tuple[asyncio.Task[CommitFiles | None], float] | None:
        """The fetch of a SHA: the one in flight, a new one, or None when not to ask now."""
        running = self._fetches.get(target)
        if running is not None:
            return running
        now = self._clock()
        if now < self._paused_until or now < self._failed.get(target, 0.0):
            return None
        task = asyncio.create_task(self._fetch(*target), name=f"commit-files-{target[1][:7]}")
        fetch = (task, time.monotonic())
        self._fetches[target] = fetch
        task.add_done_callback(lambda _: self._fetches.pop(target, None))
        return fetch

    async def _wait(
        self, task: asyncio.Task[CommitFiles | None], started: float
    ) -> CommitFiles | None:
        """Wait for a fetch while nothing else waits, at most until its budget is spent."""
        since = time.monotonic()
        deadline = started + self._budget
        while not task.done():
            left = deadline - time.monotonic()
            if left <= 0 or self.others_waiting(since):
                return None
            await asyncio.wait({task}, timeout=min(POLL_SECONDS, left))
        return None if task.cancelled() else task.result()

    async def _fetch(self, repo: str, sha: str) -> CommitFiles | None:
        """Ask GitHub for a commit's files within the budget; cache them. Never raises."""
        try:
            async with asyncio.timeout(self._budget):
                items, limit = await self._api.commit_files(repo, sha, self._budget)
        except TimeoutError:
            self._failure(repo, sha, f"no answer within {self._budget:g} s")
            return None
        except GitHubApiError as exc:
            if exc.status == 429:
                self._pause(exc.reset_at)
            self._failure(repo, sha, f"{exc.status or 'no answer'}: {exc.message}")
            return None
        except Exception as exc:  # a bug here must cost the Files line, not the pipeline
            log.exception("github: fetching %s@%s failed", repo, sha[:7])
            self._failure(repo, sha, repr(exc))
            return None
        if limit.remaining is not None and limit.remaining < LOW_RATE_LIMIT:
            self._pause(limit.reset_at)
        files = commit_files_of(items, FILES_SHOWN)
        self._remember((repo, sha), files)
        try:
            await self._store.save_commit_files(repo, sha, files, self._clock())
        except StoreError:
            log.warning("github: cannot cache the files of %s@%s", repo, sha[:7], exc_info=True)
        return files

    def _failure(self, repo: str, sha: str, why: str) -> None:
        log.warning("github: no Files line for %s@%s: %s", repo, sha[:7], why)
        self._failed[(repo, sha)] = self._clock() + RETRY_FAILED_AFTER
        if len(self._failed) > MEMORY_ENTRIES:
            now = self._clock()
            self._failed = {k: t for k, t in self._failed.items() if t > now}

    def _pause(self, reset_at: float | None) -> None:
        until = reset_at if reset_at and reset_at > self._clock() else None
        self._paused_until = until or self._clock() + PAUSE_WITHOUT_RESET
        log.warning(
            "github: fewer than %d API requests left for GITHUB_TOKEN; no Files lines until %s",
            LOW_RATE_LIMIT,
            time.strftime("%H:%M:%S UTC", time.gmtime(self._paused_until)),
        )
