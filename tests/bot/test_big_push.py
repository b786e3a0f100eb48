"""A big but legitimate push: linear parsing with caps, the loop stays free, poison set aside."""

from __future__ import annotations

import asyncio
import json
import time
from types import MappingProxyType
from typing import Any

import pytest

from bot.core.filters import FilterSet, parse_filter
from bot.parse_pool import ParsePool
from bot.pipeline import MAX_ATTEMPTS, Pipeline
from bot.store import NewDelivery, Store
from parsers import github
from parsers.event import Event
from tests.conftest import Receiver

GITHUB_MAX_COMMITS = 2048


def big_push(commits: int, files_per_commit: int) -> bytes:
    """A push of `commits` commits, each adding its own files and touching shared ones."""
    items = []
    for i in range(commits):
        sha = f"{i:040x}"
        half = files_per_commit // 2
        items.append(
            {
                "id": sha,
                "message": f"change {i}",
                "timestamp": "2026-01-01T00:00:00Z",
                "url": f"https://github.com/o/r/commit/{sha}",
                "author": {"name": "a", "email": "a@example.com", "username": "a"},
                "added": [f"src/d{i % 50}/f{i}_{j}.py" for j in range(half)],
                "removed": [],
                "modified": [f"src/common/f{j}.py" for j in range(files_per_commit - half)],
            }
        )
    payload = {
        "ref": "refs/heads/main",
        "before": "1" * 40,
        "after": f"{commits - 1:040x}",
        "compare": "https://github.com/o/r/compare/a...b",
        "commits": items,
        "head_commit": items[-1],
        "repository": {"full_name": "o/r", "html_url": "https://github.com/o/r", "name": "r"},
        "pusher": {"name": "a"},
        "sender": {"login": "a"},
    }
    return json.dumps(payload).encode()


def parse_push(body: bytes) -> Event:
    (event,) = github.parse({"X-GitHub-Event": "push", "Content-Type": "application/json"}, body)
    return event


@pytest.mark.timeout(60)  # the quadratic dedupe took minutes on this push
def test_ten_thousand_commits_parse_with_caps() -> None:
    """10,000 commits × 40 files: commits cut at GitHub's 2,048, paths capped and counted."""
    event = parse_push(big_push(10_000, 40))
    fields = event.fields
    distinct = 10_000 * 20 + 20  # each commit adds 20 paths of its own; 20 shared ones
    assert len(fields["commits"]) == GITHUB_MAX_COMMITS
    assert fields["commits_omitted"] == 10_000 - GITHUB_MAX_COMMITS
    assert fields["commit_count"] == 10_000
    kept = fields["files"]
    assert isinstance(kept, list)
    assert len(kept) == github.MAX_PUSH_FILES == len(set(kept))
    # Only the first 2,048 commits are read; their distinct paths beyond the cap are counted.
    read = GITHUB_MAX_COMMITS * 20 + 20
    assert fields["files_omitted"] == read - github.MAX_PUSH_FILES
    assert fields["files_omitted"] < distinct
    commits = fields["commits"]
    assert isinstance(commits, list)
    shown = sum(len(c[key]) for c in commits for key in ("added", "removed", "modified"))
    assert shown == github.MAX_COMMIT_PATHS, "the commits' own path lists share one cap"
    assert len(commits[0]["added"]) == 20


def test_small_push_keeps_every_path_once() -> None:
    """Below the caps nothing is cut and nothing is reported as omitted."""
    fields = parse_push(big_push(3, 4)).fields
    assert fields["files_omitted"] == 0
    assert fields["commits_omitted"] == 0
    assert fields["files"] == [
        "src/d0/f0_0.py",
        "src/d0/f0_1.py",
        "src/common/f0.py",
        "src/common/f1.py",
        "src/d1/f1_0.py",
        "src/d1/f1_1.py",
        "src/d2/f2_0.py",
        "src/d2/f2_1.py",
    ]


def _with_files(files: list[str], omitted: int) -> Event:
    return Event(
        service="github",
        kind="push",
        source="o/r",
        delivery_id="d",
        occurred_at=None,
        title="push",
        fields=MappingProxyType({"files": list(files), "files_omitted": omitted}),
    )


@pytest.mark.parametrize(
    ("rule", "omitted", "kept"),
    [
        ("path!=docs/**", 0, False),  # every kept path is docs: dropped
        ("path!=docs/**", 5, True),  # some unseen path may not be docs: kept
        ("path=src/**", 0, False),  # no kept path under src: dropped
        ("path=src/**", 5, True),  # an unseen path may be under src: kept
    ],
)
def test_path_filters_never_drop_on_a_capped_list(rule: str, omitted: int, kept: bool) -> None:
    """A capped file list keeps the event when the unseen paths could decide otherwise."""
    filters = FilterSet([parse_filter(rule, "github")])
    result, _ = filters.evaluate(_with_files(["docs/a.md", "docs/b.md"], omitted))
    assert result is kept


def test_events_survive_pickling() -> None:
    """Events come back from the parse worker: fields stay read-only and equal."""
    import pickle

    event = parse_push(big_push(2, 2))
    copy = pickle.loads(pickle.dumps(event))  # noqa: S301 - our own bytes
    assert copy == event
    assert isinstance(copy.fields, MappingProxyType)


@pytest.mark.timeout(120)
async def test_loop_stays_free_while_the_biggest_push_is_processed(receiver: Receiver) -> None:
    """2,048 commits × 100 files (GitHub's maximum commits): /healthz answers meanwhile.

    Before the fix one such push held the loop for minutes; the bound here is loose
    (the benchmark bench/big_push.py measures the real figure).
    """
    body = big_push(GITHUB_MAX_COMMITS, 100)
    response = await receiver.post(body, delivery="big")
    assert response.status == 202
    worst = 0.0
    deadline = time.monotonic() + 90
    while not receiver.sink.sent and time.monotonic() < deadline:
        started = time.monotonic()
        async with receiver.session.get(f"{receiver.base}/healthz") as health:
            assert health.status == 200
        worst = max(worst, time.monotonic() - started)
        await asyncio.sleep(0.01)
    await receiver.sink.wait_for(1, timeout=5)
    assert worst < 0.5, f"/healthz took {worst * 1000:.0f} ms while the push was processed"
    message, _nonce = receiver.sink.sent[0]
    assert "2048 commits" in (message.embeds[0].title or "")


class _HangingPool(ParsePool):
    """Hangs on one delivery, as a parser stuck in a loop or killed mid-way would."""

    def __init__(self, poisoned: str) -> None:
        super().__init__()
        self.poisoned = poisoned
        self.started: list[str] = []

    async def parse(
        self, service: str, headers: Any, body: bytes, options: Any = None
    ) -> list[Event]:
        delivery = headers.get("x-github-delivery", "")
        self.started.append(delivery)
        if delivery == self.poisoned:
            await asyncio.Event().wait()
        return await super().parse(service, headers, body, options)


async def test_poisoned_delivery_is_set_aside_after_three_attempts(store: Store) -> None:
    """Killed three times on one delivery, the pipeline then fails it and the rest flows."""
    hook = await store.hooks.create(
        service="github", destination="console", token="t", secret="s", now=1.0
    )
    body = big_push(2, 2)
    deliveries = [
        NewDelivery(
            hook.id,
            "github",
            name,
            "push",
            {
                "x-github-event": "push",
                "x-github-delivery": name,
                "content-type": "application/json",
            },
            body,
            2.0,
        )
        for name in ("poison", "next-1", "next-2")
    ]
    await store.inbox.write_batch(deliveries, [])
    for attempt in range(1, MAX_ATTEMPTS + 1):
        pool = _HangingPool("poison")
        pipeline = Pipeline(store, on_queued=lambda: None, clock=lambda: 10.0, parse_pool=pool)
        pipeline.start()
        while "poison" not in pool.started:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        task = pipeline._task  # our own worker, cancelled as a kill -9 would stop it
        assert task is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        attempts = {row.delivery_id: row.attempts for row in await store.inbox.pending(10)}
        assert attempts["poison"] == attempt, "the attempt is counted before the work"
        if attempt > 1:
            assert pool.started == ["poison"], "a suspect delivery is retried alone"

    pool = _HangingPool("poison")
    pipeline = Pipeline(store, on_queued=lambda: None, clock=lambda: 10.0, parse_pool=pool)
    pipeline.start()
    deadline = time.monotonic() + 10
    while await store.inbox.pending(10) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await pipeline.stop()
    assert await store.inbox.pending(10) == []
    assert "poison" not in pool.started, "not tried a fourth time"
    entries = await store.log.recent(hook.id)
    failed = [e for e in entries if e.outcome == "failed"]
    assert [e.delivery_id for e in failed] == ["poison"]
    assert "3 attempts" in (failed[0].detail or "")
    queued = sorted(e.delivery_id or "" for e in entries if e.outcome == "queued")
    assert queued == ["next-1", "next-2"]


async def test_a_parse_past_its_time_limit_fails_the_delivery(store: Store) -> None:
    """The worker process is stopped and the delivery fails with the reason."""
    pool = ParsePool(inline_limit=0, timeout_seconds=0.001)
    hook = await store.hooks.create(
        service="github", destination="console", token="t", secret="s", now=1.0
    )
    headers = {
        "x-github-event": "push",
        "x-github-delivery": "slow",
        "content-type": "application/json",
    }
    await store.inbox.write_batch(
        [NewDelivery(hook.id, "github", "slow", "push", headers, big_push(50, 10), 2.0)], []
    )
    pipeline = Pipeline(store, on_queued=lambda: None, clock=lambda: 10.0, parse_pool=pool)
    (row,) = await store.inbox.pending(10)
    await pipeline.process(row)
    await pool.close()
    (entry,) = await store.log.recent(hook.id)
    assert entry.outcome == "failed"
    assert "longer than" in (entry.detail or "")


async def test_big_delivery_parsed_in_worker_process_matches_inline() -> None:
    """The worker process gives the same Events as parsing in the loop."""
    body = big_push(20, 10)
    headers = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
    worker = ParsePool(inline_limit=0)
    try:
        remote = await worker.parse("github", headers, body)
    finally:
        await worker.close()
    assert remote == github.parse(headers, body)
