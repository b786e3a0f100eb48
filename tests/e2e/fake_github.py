"""A fake GitHub REST API on 127.0.0.1 that the real PyGithub calls (PROTOCOLS A10).

Repository webhooks (create, list in pages linked by `Link: rel="next"`, get, edit,
delete), a commit with its files, the answers hookbot must explain (401 Bad
credentials, 404 for a repository the token may not administer, 422 for a second
webhook with the same URL), X-RateLimit headers and slow answers. Like GitHub, it sends
a signed `ping` to a new webhook's URL. Everything it was asked is in `requests`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from parsers.signatures import sign_hmac_sha256

PING_SAMPLE = Path(__file__).resolve().parents[2] / "parsers" / "samples" / "github" / "ping.json"
JSON = dict[str, Any]


@dataclass
class FakeHook:
    """A repository webhook as the fake keeps it (the secret unmasked, for tests)."""

    id: int
    repo: str
    config: dict[str, str]
    events: list[str]
    active: bool = True


@dataclass
class Recorded:
    """One request the fake answered."""

    method: str
    path: str
    body: JSON | None
    authorization: str | None


@dataclass
class FakeGitHub:
    """The fake API; `base_url` is what GITHUB_API_BASE should be."""

    token: str = "ghp_fake_token"
    prefix: str = "/api/v3"
    page_size: int = 2
    send_pings: bool = True
    rate_remaining: int = 4999
    rate_reset: int = 4102444800  # 2100-01-01
    commit_delay: float = 0.0
    repos: dict[str, bool] = field(default_factory=dict)  # full name → token is admin
    hooks: dict[int, FakeHook] = field(default_factory=dict)
    commits: dict[tuple[str, str], list[JSON]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    pings: list[tuple[str, int]] = field(default_factory=list)  # (url, status of the answer)
    failures: list[tuple[str, str, int, JSON]] = field(default_factory=list)
    _next_id: int = 1000
    _runner: web.AppRunner | None = None
    _port: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def base_url(self) -> str:
        """The API base PyGithub is given (GitHub Enterprise's shape: `/api/v3`)."""
        return f"http://127.0.0.1:{self._port}{self.prefix}"

    def add_repo(self, full_name: str, *, admin: bool = True) -> None:
        """Make a repository exist; without admin rights its hooks answer 404, as GitHub's."""
        self.repos[full_name] = admin

    def add_commit(self, repo: str, sha: str, files: list[tuple[str, int, int]]) -> None:
        """Make a commit with these (filename, additions, deletions)."""
        self.commits[(repo, sha)] = [
            {"filename": name, "additions": adds, "deletions": dels, "status": "modified"}
            for name, adds, dels in files
        ]

    def fail_next(self, method: str, path_part: str, status: int, body: JSON) -> None:
        """Answer the next `method` request whose path contains `path_part` with this."""
        self.failures.append((method, path_part, status, body))

    def calls(self, method: str, path_part: str = "") -> list[Recorded]:
        """The requests of one method whose path contains `path_part`."""
        return [r for r in self.requests if r.method == method and path_part in r.path]

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(middlewares=[self._middleware])
        p = self.prefix
        app.router.add_get(p + "/repos/{owner}/{name}", self._repo)
        app.router.add_post(p + "/repos/{owner}/{name}/hooks", self._create_hook)
        app.router.add_get(p + "/repos/{owner}/{name}/hooks", self._list_hooks)
        app.router.add_get(p + "/repos/{owner}/{name}/hooks/{id}", self._get_hook)
        app.router.add_patch(p + "/repos/{owner}/{name}/hooks/{id}", self._edit_hook)
        app.router.add_delete(p + "/repos/{owner}/{name}/hooks/{id}", self._delete_hook)
        app.router.add_get(p + "/repos/{owner}/{name}/commits/{sha}", self._commit)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening (pings in flight are cancelled)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()

    # -- answers --------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": str(self.rate_remaining),
            "X-RateLimit-Reset": str(self.rate_reset),
        }

    def _json(self, data: Any, status: int = 200) -> web.Response:
        return web.json_response(data, status=status, headers=self._headers())

    def _error(self, status: int, message: str, **extra: Any) -> web.Response:
        return self._json({"message": message, **extra}, status)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = None
        if request.can_read_body:
            with contextlib.suppress(ValueError):
                body = await request.json()
        auth = request.headers.get("Authorization")
        self.requests.append(Recorded(request.method, request.path, body, auth))
        if auth not in (f"token {self.token}", f"Bearer {self.token}"):
            return self._error(401, "Bad credentials")
        for failure in self.failures:
            method, part, status, answer = failure
            if method == request.method and part in request.path:
                self.failures.remove(failure)
                return self._json(answer, status)
        response: web.StreamResponse = await handler(request)
        return response

    def _repo_of(self, request: web.Request, *, hooks: bool) -> str | web.Response:
        full = f"{request.match_info['owner']}/{request.match_info['name']}"
        admin = self.repos.get(full)
        if admin is None or (hooks and not admin):
            return self._error(404, "Not Found")
        return full

    def _api(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _repo_json(self, full: str) -> JSON:
        owner, name = full.split("/")
        return {
            "id": abs(hash(full)) % 10**8,
            "name": name,
            "full_name": full,
            "url": self._api(f"/repos/{full}"),
            "hooks_url": self._api(f"/repos/{full}/hooks"),
            "html_url": f"https://github.example/{full}",
            "owner": {"login": owner, "id": 1, "type": "Organization"},
            "private": False,
        }

    def _hook_json(self, hook: FakeHook) -> JSON:
        shown = {**hook.config}
        if "secret" in shown:
            shown["secret"] = "********"  # GitHub never shows a webhook's secret
        url = self._api(f"/repos/{hook.repo}/hooks/{hook.id}")
        return {
            "type": "Repository",
            "id": hook.id,
            "name": "web",
            "active": hook.active,
            "events": hook.events,
            "config": shown,
            "url": url,
            "test_url": f"{url}/test",
            "ping_url": f"{url}/pings",
            "deliveries_url": f"{url}/deliveries",
            "updated_at": "2026-12-01T12:00:00Z",
            "created_at": "2026-12-01T12:00:00Z",
            "last_response": {"code": None, "status": "unused", "message": None},
        }

    def _find(self, request: web.Request) -> FakeHook | web.Response:
        repo = self._repo_of(request, hooks=True)
        if isinstance(repo, web.Response):
            return repo
        hook = self.hooks.get(int(request.match_info["id"]))
        if hook is None or hook.repo != repo:
            return self._error(404, "Not Found")
        return hook

    async def _repo(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request, hooks=False)
        return repo if isinstance(repo, web.Response) else self._json(self._repo_json(repo))

    async def _create_hook(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request, hooks=True)
        if isinstance(repo, web.Response):
            return repo
        body = await request.json()
        config = {k: str(v) for k, v in (body.get("config") or {}).items()}
        if not config.get("url"):
            return self._error(422, "Validation Failed", errors=["url cannot be blank"])
        mine = [h for h in self.hooks.values() if h.repo == repo]
        if any(h.config.get("url") == config["url"] for h in mine):
            return self._error(
                422,
                "Validation Failed",
                errors=[
                    {
                        "resource": "Hook",
                        "code": "custom",
                        "message": "Hook already exists on this repository",
                    }
                ],
            )
        self._next_id += 1
        hook = FakeHook(self._next_id, repo, config, list(body.get("events") or ["push"]))
        hook.active = bool(body.get("active", True))
        self.hooks[hook.id] = hook
        if self.send_pings:
            task = asyncio.create_task(self._ping(hook))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return self._json(self._hook_json(hook), 201)

    async def _list_hooks(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request, hooks=True)
        if isinstance(repo, web.Response):
            return repo
        mine = [h for h in self.hooks.values() if h.repo == repo]
        page = int(request.query.get("page", "1"))
        start = (page - 1) * self.page_size
        shown = mine[start : start + self.page_size]
        response = self._json([self._hook_json(h) for h in shown])
        if start + self.page_size < len(mine):
            link = self._api(f"/repos/{repo}/hooks?page={page + 1}")
            response.headers["Link"] = f'<{link}>; rel="next"'
        return response

    async def _get_hook(self, request: web.Request) -> web.Response:
        hook = self._find(request)
        return hook if isinstance(hook, web.Response) else self._json(self._hook_json(hook))

    async def _edit_hook(self, request: web.Request) -> web.Response:
        hook = self._find(request)
        if isinstance(hook, web.Response):
            return hook
        body = await request.json()
        if "config" in body:
            hook.config = {k: str(v) for k, v in body["config"].items()}
        if "events" in body:
            hook.events = list(body["events"])
        hook.events += [e for e in body.get("add_events") or [] if e not in hook.events]
        hook.events = [e for e in hook.events if e not in (body.get("remove_events") or [])]
        if "active" in body:
            hook.active = bool(body["active"])
        return self._json(self._hook_json(hook))

    async def _delete_hook(self, request: web.Request) -> web.Response:
        hook = self._find(request)
        if isinstance(hook, web.Response):
            return hook
        del self.hooks[hook.id]
        return web.Response(status=204, headers=self._headers())

    async def _commit(self, request: web.Request) -> web.Response:
        repo = self._repo_of(request, hooks=False)
        if isinstance(repo, web.Response):
            return repo
        sha = request.match_info["sha"]
        files = self.commits.get((repo, sha))
        if self.commit_delay:
            await asyncio.sleep(self.commit_delay)
        if files is None:
            return self._error(422, f"No commit found for SHA: {sha}")
        url = self._api(f"/repos/{repo}/commits/{sha}")
        return self._json(
            {
                "sha": sha,
                "url": url,
                "html_url": f"https://github.example/{repo}/commit/{sha}",
                "commit": {"message": "a commit", "url": url},
                "stats": {
                    "additions": sum(f["additions"] for f in files),
                    "deletions": sum(f["deletions"] for f in files),
                    "total": sum(f["additions"] + f["deletions"] for f in files),
                },
                "files": files,
            }
        )

    async def _ping(self, hook: FakeHook) -> None:
        """POST a signed ping to a new webhook's URL, as GitHub does."""
        payload = json.loads(PING_SAMPLE.read_text())
        payload["hook_id"] = hook.id
        payload["hook"].update(id=hook.id, events=hook.events)
        payload["hook"]["config"] = {"url": hook.config["url"], "content_type": "json"}
        payload["repository"]["full_name"] = hook.repo
        payload["repository"]["name"] = hook.repo.split("/")[1]
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/fake",
            "X-GitHub-Event": "ping",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-GitHub-Hook-ID": str(hook.id),
            "X-Hub-Signature-256": sign_hmac_sha256(body, hook.config.get("secret", "")),
        }
        timeout = aiohttp.ClientTimeout(total=10)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(hook.config["url"], data=body, headers=headers) as response,
            ):
                self.pings.append((hook.config["url"], response.status))
        except (aiohttp.ClientError, TimeoutError):
            self.pings.append((hook.config["url"], 0))


@contextlib.contextmanager
def loopback_only() -> Iterator[list[object]]:
    """Refuse (and record) every socket connection to an address outside 127.0.0.1 / ::1.

    Wraps `socket.socket.connect` and `connect_ex`, which requests, urllib3 and asyncio's
    transports all end in; unix sockets are let through.
    """
    refused: list[object] = []
    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex

    def allowed(address: object) -> bool:
        if isinstance(address, (str, bytes)):
            return True  # a unix socket
        host = address[0] if isinstance(address, tuple) and address else None
        return host in ("127.0.0.1", "::1", "localhost")

    def connect(self: socket.socket, address: Any) -> None:
        if not allowed(address):
            refused.append(address)
            raise ConnectionRefusedError(f"test: no connection outside 127.0.0.1 ({address})")
        original_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not allowed(address):
            refused.append(address)
            return 111  # ECONNREFUSED
        return original_connect_ex(self, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    try:
        yield refused
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
