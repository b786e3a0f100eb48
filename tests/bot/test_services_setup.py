"""`on` for every service: options, setup answers and `test <ref> [kind]`."""

from __future__ import annotations

import pytest

from bot.service import (
    HookService,
    InvalidInputError,
    hint_shows_secret,
    sample_showing,
    setup_hint,
)
from bot.store import Store
from parsers import SERVICES

BASE = "https://hooks.example.com"


@pytest.fixture
def service(store: Store) -> HookService:
    return HookService(store, BASE, clock=lambda: 100.0)


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if s.http))
async def test_every_answer_says_where_the_url_goes_and_holds_the_secret_only_when_flagged(
    service: HookService, name: str
) -> None:
    creds = await service.create(name, "console")
    text = setup_hint(creds)
    assert creds.url in text
    assert (creds.secret in text) is hint_shows_secret(name)
    assert "{" not in text.replace("{{", "").replace('{"', "")  # every field filled in


async def test_github_answer_lists_the_events_to_tick(service: HookService) -> None:
    creds = await service.create("github", "console", events="push,release")
    text = setup_hint(creds)
    assert text.endswith("Events: Pushes, Releases")
    assert not hint_shows_secret("github")


async def test_ci_answer_covers_the_four_providers(service: HookService) -> None:
    text = setup_hint(await service.create("ci", "console"))
    for provider in ("Jenkins", "GitLab CI", "CircleCI", "GitHub Actions"):
        assert provider in text


async def test_custom_answer_has_a_curl_line_for_its_url(service: HookService) -> None:
    creds = await service.create("custom", "console", target="https://api.monitoring.com/events")
    assert f"curl -X POST '{creds.url}' -H 'Content-Type: application/json'" in setup_hint(creds)
    assert creds.hook.options == {"target": "https://api.monitoring.com/events"}


async def test_signed_is_stored_for_custom_and_refused_elsewhere(service: HookService) -> None:
    creds = await service.create("custom", "console", target="billing", signed=True)
    assert creds.hook.options == {"target": "billing", "signed": True}
    with pytest.raises(InvalidInputError, match=r"always verified.*\(custom\)"):
        await service.create("gitlab", "console", signed=True)
    assert [h.service for h in await service.list_hooks()] == ["custom"]


async def test_reusing_a_hook_with_signed_makes_it_signed_never_unsigned(
    service: HookService,
) -> None:
    first = await service.create("custom", "console", target="billing")
    again = await service.create("custom", "console", target="billing", signed=True)
    assert (again.created, again.hook.id) == (False, first.hook.id)
    assert again.hook.options == {"target": "billing", "signed": True}
    once_more = await service.create("custom", "console", target="billing")
    assert once_more.hook.options["signed"] is True


@pytest.mark.parametrize("target", ["", "   ", "x" * 201, "two\nlines"])
async def test_a_target_is_one_short_line(service: HookService, target: str) -> None:
    with pytest.raises(InvalidInputError, match="one line"):
        await service.create("custom", "console", target=target)


@pytest.mark.parametrize(
    ("service_name", "kind", "sample"),
    [
        ("ci", "pipeline.failed", "jenkins_failed"),
        ("ci", "circleci_workflow_failed", "circleci_workflow_failed"),
        ("ci", "stage", "gitlab_stage_passed"),
        ("gitlab", "merge_request.merge", "merge_request.merge"),
        ("gitlab", "pipeline", "pipeline"),
        ("custom", "custom.deploy.finished", "deploy_finished"),
        ("github", "pull_request.opened", "pull_request"),
    ],
)
def test_sample_showing_picks_a_sample_of_that_kind(
    service_name: str, kind: str, sample: str
) -> None:
    assert sample_showing(SERVICES[service_name], kind) == sample


@pytest.mark.parametrize(("service_name", "kind"), [("ci", "nothing"), ("gitlab", "job.nope")])
def test_sample_showing_names_the_samples_when_none_fits(service_name: str, kind: str) -> None:
    with pytest.raises(InvalidInputError, match="samples: "):
        sample_showing(SERVICES[service_name], kind)


async def test_test_with_a_kind_queues_that_sample_signed_for_the_hook(
    service: HookService, store: Store
) -> None:
    creds = await service.create("ci", "console")
    hook, what = await service.test(creds.hook.id, kind="pipeline.failed")
    assert "jenkins_failed" in what
    assert "dropped" not in what
    (row,) = await store.inbox.pending(10)
    assert row.hook_id == hook.id
    assert row.event_name == "jenkins:FINALIZED"
    _, dropped = await service.test(creds.hook.id, kind="pipeline.cancelled")
    assert "pipeline.cancelled is not in its events" in dropped
