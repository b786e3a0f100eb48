"""GitHub's REST API through PyGithub: a hook's repository webhook, and a commit's files.

With GITHUB_TOKEN, `on github owner/repo` creates the repository webhook itself (the
hook's URL, its secret, content type json, and the events its selection and alert
rules need) and records GitHub's id of it; `events`, `alert-if` and `rotate` edit it,
`delete` removes it, `off` leaves it alone. When a call fails the hook still exists:
the answer says what went wrong and what to do, and the webhook can be added by hand.

PyGithub is blocking (requests): every call runs in a worker thread, so the event loop
never waits on GitHub. Its throttling sleeps are off (one user's commands make a few
calls) and it does not retry: a 500 is answered at once instead of after ten tries.
GITHUB_API_BASE points it at GitHub Enterprise (`https://host/api/v3`) or a test fake.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from bot.store import Hook
from bot.store.integrations import GitHubLink, IntegrationRepo

if TYPE_CHECKING:
    from github import Github

log = logging.getLogger(__name__)

T = TypeVar("T")

GITHUB_API = "https://api.github.com"
API_TIMEOUT_SECONDS = 10
# Owners: letters, digits, dashes (and underscores: Enterprise managed users, `mona_acme`).
REPO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,38}/[A-Za-z0-9._-]{1,100}")
MANUAL = "Settings → Webhooks in the repository"


def repo_problem(name: str) -> str | None:
    """Say what is wrong with an `owner/repo` name, or return None when it is one."""
    if REPO_NAME.fullmatch(name) and name.split("/")[1] not in (".", ".."):
        return None
    return (
        f"{name!r} is not a GitHub repository: write owner/repo, e.g. octo-org/hello-world "
        "(the owner: letters, digits and dashes; the name: also . and _)"
    )


class GitHubApiError(Exception):
    """A GitHub call failed: `status` is GitHub's HTTP status, None when no answer came."""

    def __init__(self, status: int | None, message: str, *, reset_at: float | None = None) -> None:
        """`reset_at`: when a rate limit resets (unix seconds)."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.reset_at = reset_at


@dataclass(frozen=True, slots=True)
class RateLimit:
    """What GitHub said about the token's rate limit in its last answer."""

    remaining: int | None = None
    reset_at: float | None = None


def _header(headers: dict[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _rate_limit(headers: dict[str, Any] | None) -> RateLimit:
    remaining = _header(headers, "x-ratelimit-remaining")
    reset = _header(headers, "x-ratelimit-reset")
    return RateLimit(
        int(remaining) if remaining and remaining.isdigit() else None,
        float(reset) if reset and reset.isdigit() else None,
    )


def _error_text(data: Any, fallback: str) -> str:
    """GitHub's message, with the messages of its `errors` list (422 explains itself there)."""
    if not isinstance(data, dict):
        return fallback
    parts = [str(data.get("message") or fallback)]
    for error in data.get("errors") or []:
        if isinstance(error, dict) and error.get("message"):
            parts.append(str(error["message"]))
        elif isinstance(error, str):
            parts.append(error)
    return ": ".join(parts)


def _translate(exc: Exception) -> GitHubApiError:
    """Turn what PyGithub or requests raised into a GitHubApiError."""
    from github import GithubException, RateLimitExceededException

    if isinstance(exc, GithubException):
        limit = _rate_limit(exc.headers)
        limited = isinstance(exc, RateLimitExceededException) or (
            exc.status in (403, 429) and limit.remaining == 0
        )
        text = _error_text(exc.data, exc.message or f"HTTP {exc.status}")
        return GitHubApiError(
            429 if limited else exc.status, text, reset_at=limit.reset_at if limited else None
        )
    reason = str(exc).split(" (Caused by ", 1)[0][:200] or type(exc).__name__
    return GitHubApiError(None, reason)


class GitHubApi:
    """The few GitHub calls hookbot makes; each runs in a worker thread."""

    def __init__(
        self, token: str, base_url: str | None = None, *, timeout: int = API_TIMEOUT_SECONDS
    ) -> None:
        """`base_url` is GITHUB_API_BASE (None: api.github.com)."""
        self._token = token
        self.base_url = (base_url or GITHUB_API).rstrip("/")
        self._timeout = timeout
        self._clients: dict[int, Github] = {}

    def _client(self, timeout: int) -> Github:
        """A PyGithub client with this per-request timeout (made once, in a worker thread)."""
        client = self._clients.get(timeout)
        if client is None:
            import github

            # PyGithub adds a handler of its own on import; its lines go through ours.
            for handler in list(github.logger.handlers):
                github.logger.removeHandler(handler)
            github.set_log_level(logging.WARNING)
            client = github.Github(
                auth=github.Auth.Token(self._token),
                base_url=self.base_url,
                timeout=timeout,
                retry=0,
                seconds_between_requests=None,
                seconds_between_writes=None,
                lazy=True,  # a repository or hook by name costs no request of its own
            )
            self._clients[timeout] = client
        return client

    async def _call(self, work: Callable[[Github], T], request_seconds: int | None = None) -> T:
        client_timeout = request_seconds or self._timeout

        def run() -> T:
            try:
                return work(self._client(client_timeout))
            except GitHubApiError:
                raise
            except Exception as exc:  # PyGithub, requests, urllib3: one error type out
                raise _translate(exc) from exc

        return await asyncio.to_thread(run)

    async def create_hook(self, repo: str, config: dict[str, str], events: Sequence[str]) -> int:
        """Create a repository webhook; returns GitHub's id of it."""
        return await self._call(
            lambda gh: int(
                gh.get_repo(repo).create_hook("web", config, list(events), active=True).id
            )
        )

    async def find_hook(self, repo: str, url: str) -> int | None:
        """Return the id of the repository webhook posting to `url`, if there is one."""

        def find(gh: Github) -> int | None:
            for hook in gh.get_repo(repo).get_hooks():
                if hook.config.get("url") == url:
                    return int(hook.id)
            return None

        return await self._call(find)

    async def edit_hook(
        self, repo: str, hook_id: int, config: dict[str, str], events: Sequence[str]
    ) -> None:
        """Replace a webhook's config (URL, secret) and events, and make it active."""
        await self._call(
            lambda gh: (
                gh.get_repo(repo)
                .get_hook(hook_id)
                .edit("web", config, events=list(events), active=True)
            )
        )

    async def delete_hook(self, repo: str, hook_id: int) -> None:
        """Delete a repository webhook."""
        await self._call(lambda gh: gh.get_repo(repo).get_hook(hook_id).delete())

    async def commit_files(
        self, repo: str, sha: str, request_seconds: float
    ) -> tuple[list[tuple[str, int, int]], RateLimit]:
        """Return a commit's (path, additions, deletions), first page, and the rate limit.

        `request_seconds` bounds each HTTP request (the caller bounds the whole call).
        """

        def fetch(gh: Github) -> tuple[list[tuple[str, int, int]], RateLimit]:
            commit = gh.get_repo(repo).get_commit(sha)
            data = commit.raw_data  # one GET; `files` would page through all of them
            files = [
                (str(f.get("filename")), int(f.get("additions") or 0), int(f.get("deletions") or 0))
                for f in data.get("files") or []
                if isinstance(f, dict) and f.get("filename")
            ]
            return files, _rate_limit(commit.raw_headers)

        return await self._call(fetch, max(1, math.ceil(request_seconds)))


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "127.0.0.1", "::1", "0.0.0.0") or host.endswith(".local")  # noqa: S104


def advice(exc: GitHubApiError, repo: str, base_url: str, url: str) -> str:
    """Say what went wrong with a GitHub call, and what to do about it."""
    if exc.status is None:
        return (
            f"could not reach GitHub at {base_url} ({exc.message}); check the network, "
            "or GITHUB_API_BASE for GitHub Enterprise"
        )
    if exc.status == 401:
        return (
            "GitHub refused GITHUB_TOKEN (401 Bad credentials): it is wrong, expired or "
            "revoked; set a valid token and restart"
        )
    if exc.status in (403, 404):
        return (
            f"GitHub answered {exc.status} for {repo}: the repository does not exist, or "
            "GITHUB_TOKEN may not manage its webhooks (it needs admin rights on it: a "
            "classic token with the admin:repo_hook scope, or a fine-grained token with "
            "Webhooks: Read and write)"
        )
    if exc.status == 429:
        until = (
            datetime.fromtimestamp(exc.reset_at, UTC).strftime(" until %H:%M UTC")
            if exc.reset_at
            else ""
        )
        return f"GitHub's rate limit for GITHUB_TOKEN is used up{until}; try again then"
    if exc.status == 422 and _is_local(url):
        return (
            f"GitHub refused the URL {url.split('/webhook/')[0]} (422: {exc.message}): "
            "GitHub cannot reach this machine; set PUBLIC_URL or NGROK_AUTHTOKEN"
        )
    return f"GitHub answered {exc.status}: {exc.message}"


class GitHubHooks:
    """Keeps each GitHub hook's repository webhook in step with the hook."""

    def __init__(
        self, api: GitHubApi, store: IntegrationRepo, clock: Callable[[], float] = time.time
    ) -> None:
        """`store` keeps GitHub's ids of the webhooks hookbot made."""
        self._api = api
        self._store = store
        self._clock = clock

    def handles(self, service: str) -> bool:
        """Return True for the service whose webhooks this sets up (github)."""
        return service == "github"

    def target_problem(self, target: str) -> str | None:
        """Say what is wrong with a target (it must be owner/repo), or None."""
        return repo_problem(target)

    def _config(self, hook: Hook, url: str) -> dict[str, str]:
        return {"url": url, "content_type": "json", "secret": hook.secret, "insecure_ssl": "0"}

    async def install(self, hook: Hook, url: str, events: Sequence[str]) -> str:
        """Create (or take over) the webhook of `hook.target`; returns the answer's line."""
        if hook.target is None:
            return "Tip: with GITHUB_TOKEN set, `on github owner/repo` adds the webhook itself"
        repo = hook.target
        link = await self._store.link(hook.id)
        try:
            if link is not None and link.repo == repo:
                try:
                    await self._edit(hook, link, url, events)
                    return f"✅ Webhook installed on {repo} (GitHub hook {link.github_id})"
                except GitHubApiError as exc:
                    if exc.status != 404:
                        raise
                    await self._store.forget_link(hook.id)  # deleted on GitHub: make it again
            return await self._create(hook, repo, url, events)
        except GitHubApiError as exc:
            log.warning("github: installing the webhook of %s on %s failed: %s", hook.id, repo, exc)
            return (
                f"❌ The webhook was not installed on {repo}: "
                f"{advice(exc, repo, self._api.base_url, url)}. The hook works once the "
                f"webhook is added by hand ({MANUAL}, with the URL and secret below); or fix "
                f"that and run `on github {repo}` again"
            )

    async def _create(self, hook: Hook, repo: str, url: str, events: Sequence[str]) -> str:
        config = self._config(hook, url)
        try:
            github_id = await self._api.create_hook(repo, config, events)
            reused = ""
        except GitHubApiError as exc:
            found = await self._api.find_hook(repo, url) if exc.status == 422 else None
            if found is None:
                raise
            # GitHub refuses a second webhook with the same URL: take that one over.
            await self._api.edit_hook(repo, found, config, events)
            github_id, reused = found, ", the one that already had this URL"
        await self._store.save_link(
            GitHubLink(hook.id, repo, github_id, url, tuple(events)), self._clock()
        )
        return f"✅ Webhook installed on {repo} (GitHub hook {github_id}{reused})"

    async def _edit(self, hook: Hook, link: GitHubLink, url: str, events: Sequence[str]) -> None:
        await self._api.edit_hook(link.repo, link.github_id, self._config(hook, url), events)
        await self._store.save_link(
            GitHubLink(hook.id, link.repo, link.github_id, url, tuple(events)), self._clock()
        )

    async def update(
        self, hook: Hook, url: str, events: Sequence[str], *, secret_changed: bool = False
    ) -> str | None:
        """Bring the webhook in step after `events`, `alert-if` or `rotate`.

        Returns the answer's line (it starts with ✅ when the webhook sends what the hook
        needs), or None when hookbot made no webhook for the hook.
        """
        link = await self._store.link(hook.id)
        if link is None:
            return None
        if not secret_changed and link.url == url and list(link.events) == list(events):
            return f"✅ The webhook on {link.repo} already sends: {', '.join(events)}"
        try:
            await self._edit(hook, link, url, events)
        except GitHubApiError as exc:
            log.warning("github: updating the webhook of %s failed: %s", hook.id, exc)
            if exc.status == 404:
                await self._store.forget_link(hook.id)
            return (
                f"⚠️ The webhook on {link.repo} was not updated: "
                f"{advice(exc, link.repo, self._api.base_url, url)}. Edit it by hand in "
                f"{MANUAL}, or run `on github {link.repo}` again"
            )
        if secret_changed or link.url != url:
            return f"✅ The webhook on {link.repo} now uses the new URL and secret"
        return f"✅ The webhook on {link.repo} now sends: {', '.join(events)}"

    async def remove(self, hook: Hook) -> str | None:
        """Delete the hook's webhook on GitHub; None when hookbot made none."""
        link = await self._store.link(hook.id)
        if link is None:
            return None
        try:
            await self._api.delete_hook(link.repo, link.github_id)
        except GitHubApiError as exc:
            if exc.status == 404:
                return f"✅ The webhook on {link.repo} was already gone"
            log.warning("github: removing the webhook of %s failed: %s", hook.id, exc)
            return (
                f"⚠️ The webhook on {link.repo} is still there: "
                f"{advice(exc, link.repo, self._api.base_url, link.url)}. Remove it by hand "
                f"in {MANUAL}"
            )
        finally:
            await self._store.forget_link(hook.id)
        return f"✅ Removed the webhook from {link.repo}"
