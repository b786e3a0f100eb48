"""GitHubHooks through HookService, with the real PyGithub against the fake GitHub API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.integrations.github_api import GitHubApi, GitHubHooks, repo_problem
from bot.service import HookService, InvalidInputError
from bot.store import Store
from bot.store.integrations import IntegrationRepo
from tests.e2e.fake_github import FakeGitHub, FakeHook, loopback_only

BASE = "https://hooks.example"
DEFAULT_EVENTS = ["push", "create", "delete", "pull_request", "issues", "release", "workflow_run"]


@pytest.fixture
def refused() -> Iterator[list[object]]:
    """No test here may open a connection outside 127.0.0.1; the list is what was refused."""
    with loopback_only() as attempts:
        yield attempts
    assert attempts == [], "a connection left 127.0.0.1"


@pytest.fixture
async def fake(refused: list[object]) -> AsyncIterator[FakeGitHub]:
    github = FakeGitHub(send_pings=False)
    github.add_repo("octo/repo")
    github.add_repo("octo/readonly", admin=False)
    await github.start()
    yield github
    await github.stop()


def _service(store: Store, fake: FakeGitHub, *, token: str | None = None) -> HookService:
    api = GitHubApi(token or fake.token, fake.base_url)
    return HookService(store, BASE, remote=GitHubHooks(api, IntegrationRepo(store)))


async def test_on_creates_the_webhook_with_url_secret_and_events(store: Store, fake: FakeGitHub):
    """`on github octo/repo`: one POST with the hook's URL, secret, json and its events."""
    creds = await _service(store, fake).create("github", "console", target="octo/repo")
    (post,) = fake.calls("POST")
    assert post.path == "/api/v3/repos/octo/repo/hooks"
    assert post.authorization == f"token {fake.token}"
    assert post.body is not None
    assert post.body["config"] == {
        "url": creds.url,
        "content_type": "json",
        "secret": creds.secret,
        "insecure_ssl": "0",
    }
    assert post.body["events"] == DEFAULT_EVENTS
    assert post.body["active"] is True
    assert creds.url.startswith(f"{BASE}/webhook/github/")
    (made,) = fake.hooks.values()
    assert creds.remote == f"✅ Webhook installed on octo/repo (GitHub hook {made.id})"
    link = await IntegrationRepo(store).link(creds.hook.id)
    assert link is not None
    assert (link.repo, link.github_id, link.url) == ("octo/repo", made.id, creds.url)


async def test_events_and_alert_rules_keep_the_webhook_in_step(store: Store, fake: FakeGitHub):
    """`events` and `alert-if` PATCH the events; an unchanged list makes no call."""
    service = _service(store, fake)
    creds = await service.create("github", "console", target="octo/repo")
    (made,) = fake.hooks.values()
    _, words = await service.set_events(creds.hook.id, "push,pr")
    assert made.events == ["push", "pull_request"]
    assert "✅ The webhook on octo/repo now sends: push, pull_request" in words
    assert made.config["secret"] == creds.secret, "the secret is sent again with the config"
    _, _, needs = await service.add_alert(creds.hook.id, "pr.reviews >= 2")
    assert made.events == ["push", "pull_request", "pull_request_review"]
    assert needs == (), "nothing to tick by hand: the webhook was updated"
    patches = len(fake.calls("PATCH"))
    _, words = await service.set_events(creds.hook.id, "push,pr")
    assert len(fake.calls("PATCH")) == patches
    assert "already sends" in words
    await service.remove_alert(creds.hook.id, "1")
    assert made.events == ["push", "pull_request"]


async def test_rotate_gives_the_webhook_the_new_url_and_secret(store: Store, fake: FakeGitHub):
    """`rotate` PATCHes the config: the new URL and the new secret."""
    service = _service(store, fake)
    creds = await service.create("github", "console", target="octo/repo")
    rotated = await service.rotate(creds.hook.id, grace="1h")
    (made,) = fake.hooks.values()
    assert made.config["url"] == rotated.url != creds.url
    assert made.config["secret"] == rotated.secret != creds.secret
    assert rotated.remote == "✅ The webhook on octo/repo now uses the new URL and secret"


async def test_off_leaves_the_webhook_and_delete_removes_it(store: Store, fake: FakeGitHub):
    """`off` calls nothing; `delete` DELETEs the webhook and says so."""
    service = _service(store, fake)
    creds = await service.create("github", "console", target="octo/repo")
    before = len(fake.requests)
    await service.disable(creds.hook.id)
    await service.enable(creds.hook.id)
    assert len(fake.requests) == before
    (made,) = fake.hooks.values()
    hook, remote = await service.delete(creds.hook.id)
    assert hook.id == creds.hook.id
    assert remote == "✅ Removed the webhook from octo/repo"
    assert [c.path for c in fake.calls("DELETE")] == [f"/api/v3/repos/octo/repo/hooks/{made.id}"]
    assert fake.hooks == {}
    assert await IntegrationRepo(store).link(hook.id) is None


async def test_delete_of_a_webhook_already_gone_says_so(store: Store, fake: FakeGitHub):
    """Someone removed the webhook on GitHub first: `delete` still works and says so."""
    service = _service(store, fake)
    creds = await service.create("github", "console", target="octo/repo")
    fake.hooks.clear()
    _, remote = await service.delete(creds.hook.id)
    assert remote == "✅ The webhook on octo/repo was already gone"
    assert await store.hooks.get(creds.hook.id) is None


async def test_a_webhook_with_that_url_is_reused(store: Store, fake: FakeGitHub):
    """422 "Hook already exists": the webhook with our URL (found on page 2) is taken over."""
    service = _service(store, fake)
    creds = await service.create("github", "console", target="octo/repo")
    await IntegrationRepo(store).forget_link(creds.hook.id)  # e.g. a restored database
    (existing,) = fake.hooks.values()
    existing.config["secret"] = "an old secret"
    for n in range(3):  # the fake lists 2 hooks a page: ours is on the second
        other = FakeHook(existing.id - 10 + n, "octo/repo", {"url": f"https://o/{n}"}, ["push"])
        fake.hooks[other.id] = other
    fake.hooks[existing.id] = fake.hooks.pop(existing.id)  # listed last
    again = await service.create("github", "console", target="octo/repo")
    assert again.hook.id == creds.hook.id
    assert fake.calls("POST")[-1].path.endswith("/hooks")
    assert len(fake.calls("GET", "/hooks")) == 2, "both pages were read"
    assert existing.config["secret"] == creds.secret
    assert again.remote == (
        f"✅ Webhook installed on octo/repo (GitHub hook {existing.id}, "
        "the one that already had this URL)"
    )
    link = await IntegrationRepo(store).link(creds.hook.id)
    assert link is not None
    assert link.github_id == existing.id
    assert len([h for h in fake.hooks.values() if h.config["url"] == creds.url]) == 1


async def test_on_again_edits_the_webhook_it_made(store: Store, fake: FakeGitHub):
    """`on github octo/repo` twice: the second edits the same webhook, no second one."""
    service = _service(store, fake)
    await service.create("github", "console", target="octo/repo")
    again = await service.create("github", "console", target="octo/repo")
    (made,) = fake.hooks.values()
    assert len(fake.calls("POST")) == 1
    assert again.remote == f"✅ Webhook installed on octo/repo (GitHub hook {made.id})"


async def test_bad_credentials_are_explained_and_the_hook_works(store: Store, fake: FakeGitHub):
    """401: the answer names GITHUB_TOKEN; the hook exists with its URL and secret."""
    creds = await _service(store, fake, token="wrong").create(
        "github", "console", target="octo/repo"
    )
    assert creds.remote is not None
    assert creds.remote.startswith("❌ The webhook was not installed on octo/repo")
    assert "GitHub refused GITHUB_TOKEN (401 Bad credentials)" in creds.remote
    assert "added by hand" in creds.remote
    assert await store.hooks.get(creds.hook.id) is not None
    assert creds.secret
    assert fake.hooks == {}


@pytest.mark.parametrize("repo", ["octo/readonly", "octo/missing"])
async def test_404_says_no_such_repo_or_no_admin_rights(store: Store, fake: FakeGitHub, repo: str):
    """A repository the token may not administer answers 404, as one that does not exist."""
    creds = await _service(store, fake).create("github", "console", target=repo)
    assert creds.remote is not None
    assert creds.remote.startswith(f"❌ The webhook was not installed on {repo}")
    assert f"GitHub answered 404 for {repo}" in creds.remote
    assert "admin:repo_hook" in creds.remote
    assert await store.hooks.get(creds.hook.id) is not None


async def test_a_local_url_refused_by_github_points_to_public_url(store: Store, fake: FakeGitHub):
    """GitHub's 422 for a URL it cannot reach: set PUBLIC_URL or NGROK_AUTHTOKEN."""
    fake.fail_next(
        "POST",
        "/hooks",
        422,
        {
            "message": "Validation Failed",
            "errors": ["url is not supported because it isn't reachable over the public Internet"],
        },
    )
    api = GitHubApi(fake.token, fake.base_url)
    service = HookService(
        store, "http://127.0.0.1:8080", remote=GitHubHooks(api, IntegrationRepo(store))
    )
    creds = await service.create("github", "console", target="octo/repo")
    assert creds.remote is not None
    assert "GitHub cannot reach this machine; set PUBLIC_URL or NGROK_AUTHTOKEN" in creds.remote


async def test_network_errors_say_where_github_was_looked_for(store: Store, refused: list[object]):
    """Nothing listens at GITHUB_API_BASE: the answer names it and what to check."""
    closed = FakeGitHub()
    await closed.start()
    base = closed.base_url
    await closed.stop()
    service = HookService(
        store, BASE, remote=GitHubHooks(GitHubApi("t", base), IntegrationRepo(store))
    )
    creds = await service.create("github", "console", target="octo/repo")
    assert creds.remote is not None
    assert f"could not reach GitHub at {base}" in creds.remote
    assert "GITHUB_API_BASE" in creds.remote


async def test_update_failure_is_explained(store: Store, fake: FakeGitHub):
    """The webhook vanished on GitHub: `events` says it was not updated, and how to fix it."""
    service = _service(store, fake)
    creds = await service.create("github", "console", target="octo/repo")
    fake.hooks.clear()
    _, words = await service.set_events(creds.hook.id, "push")
    assert "⚠️ The webhook on octo/repo was not updated: GitHub answered 404" in words
    assert "`on github octo/repo`" in words
    assert await IntegrationRepo(store).link(creds.hook.id) is None


@pytest.mark.parametrize(
    "target", ["octo", "octo/repo/extra", "-octo/repo", "octo/re po", "octo/..", "o" * 40 + "/r"]
)
async def test_owner_repo_is_validated_before_any_call(store: Store, fake: FakeGitHub, target: str):
    """A target that is not owner/repo is refused before GitHub is asked or a hook is made."""
    with pytest.raises(InvalidInputError, match="is not a GitHub repository: write owner/repo"):
        await _service(store, fake).create("github", "console", target=target)
    assert fake.requests == []
    assert await store.hooks.find_all() == []


def test_repo_names_github_allows_pass():
    """Owners with dashes, names with dots, underscores and dashes are repositories."""
    for name in ("octo-org/hello-world", "a/b", "octo/.github", "o_o/x_y.z-1", "O1/R"):
        assert repo_problem(name) is None, name


async def test_without_a_target_nothing_is_called(store: Store, fake: FakeGitHub):
    """`on github` alone makes a hook for manual set-up and says how to have it installed."""
    creds = await _service(store, fake).create("github", "console")
    assert fake.requests == []
    assert creds.remote is not None
    assert "`on github owner/repo`" in creds.remote


async def test_without_a_token_the_service_calls_nothing(store: Store, fake: FakeGitHub):
    """No GITHUB_TOKEN (no remote): the target is kept and no webhook is made."""
    creds = await HookService(store, BASE).create("github", "console", target="octo/repo")
    assert creds.remote is None
    assert creds.hook.target == "octo/repo"
    assert fake.requests == []
