"""How the app and the CLI build the integrations from the settings (None when unset)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from bot.config import Settings
from bot.integrations.commit_files import CommitFilesEnricher
from bot.integrations.github_api import GitHubApi, GitHubHooks
from bot.integrations.tunnel import Tunnel
from bot.store import Store
from bot.store.integrations import IntegrationRepo


def github_hooks(
    settings: Settings, store: Store, clock: Callable[[], float] = time.time
) -> GitHubHooks | None:
    """The GitHub webhook setter of HookService, with GITHUB_TOKEN; else None."""
    if not settings.github_token:
        return None
    api = GitHubApi(settings.github_token, settings.github_api_base)
    return GitHubHooks(api, IntegrationRepo(store), clock)


def commit_files(
    settings: Settings,
    store: Store,
    clock: Callable[[], float] = time.time,
    others_waiting: Callable[[float], bool] = lambda since: False,
) -> CommitFilesEnricher | None:
    """The pipeline's Files-line enricher, with GITHUB_TOKEN; else None."""
    if not settings.github_token:
        return None
    api = GitHubApi(settings.github_token, settings.github_api_base)
    return CommitFilesEnricher(
        api, IntegrationRepo(store), clock=clock, others_waiting=others_waiting
    )


def tunnel(settings: Settings, on_url: Callable[[str | None], Awaitable[None]]) -> Tunnel | None:
    """The ngrok tunnel, with NGROK_AUTHTOKEN and no PUBLIC_URL (which wins); else None."""
    if not settings.ngrok_authtoken or settings.public_url:
        return None
    return Tunnel(settings.ngrok_authtoken, ngrok_path=settings.ngrok_path, on_url=on_url)


async def shown_base_url(settings: Settings, store: Store) -> str:
    """The base of webhook URLs outside the server: PUBLIC_URL, the running tunnel's, or local."""
    if settings.public_url:
        return settings.public_url
    if settings.ngrok_authtoken:
        published = await IntegrationRepo(store).tunnel_url()
        if published:
            return published
    return settings.base_url


async def publish_tunnel_url(store: Store, url: str | None, clock: Callable[[], float]) -> None:
    """Record the tunnel's URL (None: closed) for `hookbot hook …` to show."""
    await IntegrationRepo(store).set_tunnel_url(url, clock())
