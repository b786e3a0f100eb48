"""rotate --grace: every old token keeps working until its own grace ends."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.service import HookService
from bot.store import Store


class Clock:
    """A settable clock for the service."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(1000.0)


@pytest.fixture
def service(store: Store, clock: Clock) -> HookService:
    return HookService(store, "https://hooks.example/", clock=clock)


async def test_second_rotate_keeps_the_first_old_token_until_its_grace_ends(
    service: HookService, store: Store, clock: Clock
):
    """Two rotations an hour apart: each old URL works with its own secret until its own end."""
    first = (await service.create("github", "console")).hook
    await service.rotate("hook_001", grace="2h")  # first.token works until 1000 + 7200
    second = await store.hooks.get("hook_001")
    assert second is not None
    clock.now = 1000.0 + 3600
    third = (await service.rotate("hook_001", grace="2h")).hook  # second until 4600 + 7200

    found = await store.hooks.find_by_token(first.token, 1000.0 + 7199)
    assert found is not None
    assert (found[0].id, found[1]) == ("hook_001", first.secret)
    assert await store.hooks.find_by_token(first.token, 1000.0 + 7201) is None

    found = await store.hooks.find_by_token(second.token, 4600.0 + 7199)
    assert found is not None
    assert found[1] == second.secret
    assert await store.hooks.find_by_token(second.token, 4600.0 + 7201) is None

    found = await store.hooks.find_by_token(third.token, 99_999.0)
    assert found is not None
    assert found[1] == third.secret


async def test_rotate_without_grace_ends_every_old_token(
    service: HookService, store: Store, clock: Clock
):
    """rotate with no grace: the new URL alone works, whatever earlier graces said."""
    first = (await service.create("github", "console")).hook
    await service.rotate("hook_001", grace="2h")
    clock.now = 1100.0
    await service.rotate("hook_001")
    assert await store.hooks.find_by_token(first.token, 1200.0) is None


async def test_deleting_a_hook_ends_its_old_tokens(service: HookService, store: Store):
    """A deleted hook's old URLs stop working too."""
    first = (await service.create("github", "console")).hook
    await service.rotate("hook_001", grace="2h")
    await service.delete("hook_001")
    assert await store.hooks.find_by_token(first.token, 1001.0) is None


def test_migration_keeps_a_grace_in_progress(tmp_path: Path):
    """A rotation made before the upgrade (old_token columns) keeps its grace after it."""
    path = tmp_path / "hookbot.db"
    migrations = sorted((Path(__file__).parents[2] / "bot" / "store" / "migrations").glob("*.sql"))
    with sqlite3.connect(path) as conn:
        for migration in migrations:
            if int(migration.name.split("_", 1)[0]) >= 6:
                break
            conn.executescript(migration.read_text(encoding="utf-8"))
            conn.execute(f"PRAGMA user_version = {int(migration.name.split('_', 1)[0])}")
        conn.execute(
            "INSERT INTO hooks (id, service, destination, token, secret, old_token, old_secret,"
            " grace_until, created_at, updated_at)"
            " VALUES ('hook_001', 'github', 'console', 'new', 'new-secret', 'old', 'old-secret',"
            " 5000, 1, 1)"
        )
    conn.close()

    async def check() -> None:
        store = await Store.open(str(path))
        try:
            found = await store.hooks.find_by_token("old", 4999.0)
            assert found is not None
            assert found[1] == "old-secret"
            assert await store.hooks.find_by_token("old", 5001.0) is None
        finally:
            await store.close()

    asyncio.run(check())
