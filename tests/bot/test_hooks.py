"""HookService: create / re-show, refs, scopes, on/off, rotate with grace, delete."""

from __future__ import annotations

import pytest

from bot.service import (
    AmbiguousRefError,
    HookNotFoundError,
    HookService,
    InvalidInputError,
    Scope,
    parse_duration,
)
from bot.store import Store


@pytest.fixture
def service(store: Store) -> HookService:
    return HookService(store, "https://hooks.example/", clock=lambda: 1000.0)


async def test_hooks_create_gives_url_and_long_secret(service: HookService):
    """A new hook has an id, a URL under the base and a secret of ≥ 32 characters."""
    creds = await service.create("github", "console")
    assert creds.created
    assert creds.hook.id == "hook_001"
    assert creds.url == f"https://hooks.example/webhook/github/{creds.hook.token}"
    assert len(creds.secret) >= 32


async def test_hooks_create_again_shows_the_only_hook(service: HookService):
    """`on github` twice for one destination shows the same hook; --new makes another."""
    first = await service.create("github", "console")
    again = await service.create("github", "console")
    assert (again.hook.id, again.created) == (first.hook.id, False)
    other = await service.create("github", "console", new=True)
    assert other.hook.id == "hook_002"


async def test_hooks_unknown_service_is_refused(service: HookService):
    """An unknown service name is refused with the known ones."""
    with pytest.raises(InvalidInputError, match="github"):
        await service.create("gitbucket", "console")


async def test_hooks_resolve_by_service_needs_exactly_one(service: HookService):
    """A service ref names one hook; with two, the error lists the candidates."""
    await service.create("github", "console")
    assert (await service.resolve("github")).id == "hook_001"
    await service.create("github", "console", new=True)
    with pytest.raises(AmbiguousRefError) as caught:
        await service.resolve("github")
    assert [h.id for h in caught.value.candidates] == ["hook_001", "hook_002"]


async def test_hooks_other_guilds_hook_looks_missing(service: HookService):
    """An id of another guild's hook is answered like one that does not exist."""
    await service.create("github", "console", Scope(guild_id="1", channel_id="10"))
    with pytest.raises(HookNotFoundError) as other:
        await service.resolve("hook_001", Scope(guild_id="2"))
    with pytest.raises(HookNotFoundError) as missing:
        await service.resolve("hook_999", Scope(guild_id="2"))
    assert str(other.value).replace("001", "X") == str(missing.value).replace("999", "X")


async def test_hooks_off_then_on(service: HookService):
    """off disables, on enables again."""
    await service.create("github", "console")
    assert not (await service.disable("hook_001")).enabled
    hook, requeued = await service.enable("hook_001")
    assert hook.enabled
    assert requeued == 0


async def test_hooks_rotate_with_grace_keeps_old_token(service: HookService, store: Store):
    """rotate --grace 1h: new token and secret; the old token still finds the hook."""
    old = (await service.create("github", "console")).hook
    creds = await service.rotate("hook_001", grace="1h")
    assert creds.hook.token != old.token
    assert creds.secret != old.secret
    found = await store.hooks.find_by_token(old.token, 1000.0 + 3599)
    assert found is not None
    assert found[1] == old.secret
    assert await store.hooks.find_by_token(old.token, 1000.0 + 3601) is None


async def test_hooks_rotate_without_grace_drops_old_token(service: HookService, store: Store):
    """rotate with no grace: the old token stops working at once."""
    old = (await service.create("github", "console")).hook
    await service.rotate("github")
    assert await store.hooks.find_by_token(old.token, 1000.0) is None


async def test_hooks_delete_makes_ref_unknown(service: HookService):
    """A deleted hook cannot be found again."""
    await service.create("github", "console")
    await service.delete("hook_001")
    with pytest.raises(HookNotFoundError):
        await service.resolve("hook_001")


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("24h", 86400), ("7d", 604800)]
)
def test_hooks_parse_duration_units(text: str, seconds: int):
    """Durations take s, m, h and d."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1w", "h", "-5m", "5 m m"])
def test_hooks_parse_duration_refuses_garbage(text: str):
    """Malformed durations are refused with an example."""
    with pytest.raises(InvalidInputError, match="24h"):
        parse_duration(text)


async def test_hooks_logs_show_a_hooks_ledger(service: HookService, store: Store):
    """logs <ref> returns that hook's ledger lines; without a ref, a guild sees its own."""
    from bot.store import Rejection

    await service.create("github", "console", Scope(guild_id="1", channel_id="10"))
    await service.create("github", "console", Scope(guild_id="2", channel_id="20"))
    await store.inbox.write_batch(
        [],
        [Rejection("hook_001", "bad signature", 5.0), Rejection("hook_002", "too large", 6.0)],
    )
    entries = await service.logs("hook_001")
    assert [(e.outcome, e.detail) for e in entries] == [("rejected", "bad signature")]
    mine = await service.logs(None, Scope(guild_id="1"))
    assert [(e.hook_id, e.detail) for e in mine] == [("hook_001", "bad signature")]


async def test_hooks_replay_queues_a_stored_delivery_again(service: HookService, store: Store):
    """replay <delivery> stores a new delivery with the same body for the same hook."""
    from bot.store import NewDelivery

    await service.create("github", "console")
    headers = {"x-github-event": "push"}
    await store.inbox.write_batch(
        [NewDelivery("hook_001", "github", "d-1", "push", headers, b"{}", 1.0)], []
    )
    hook, new_id = await service.replay("d-1")
    assert hook.id == "hook_001"
    assert new_id.startswith("replay-")
    (again,) = await store.inbox.by_delivery_id(new_id)
    assert (again.body, again.event_name) == (b"{}", "push")
    with pytest.raises(HookNotFoundError):
        await service.replay("d-1", Scope(guild_id="another"))


async def test_hooks_events_to_tick_follow_selection_and_rules(service: HookService, store: Store):
    """The events to tick are the selection's, plus reviews when a rule reads PR state."""
    from bot.service import events_to_tick

    hook = (await service.create("github", "console")).hook
    default = events_to_tick(hook)
    assert default[:2] == ["Pushes", "Branch or tag creation"]
    assert "Pull requests" in default
    assert "Pull request reviews" not in default
    hook, _, _ = await service.add_alert("hook_001", "pr.reviews >= 2")
    assert "Pull request reviews" in events_to_tick(hook)
