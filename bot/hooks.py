"""HookService: create, find, edit and delete hooks; the one API both command adapters use."""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from bot.store import Hook, LogEntry, NewDelivery, Store
from parsers import PARSERS

HOOK_ID = re.compile(r"hook_\d{3,}")
MAX_GRACE_SECONDS = 7 * 24 * 3600
GITHUB_EVENTS_TO_TICK = ("Pushes", "Pull requests", "Issues", "Releases", "Workflow runs")
# The GitHub webhook events behind the default selection (DESIGN.md, Shaping rules).
GITHUB_DEFAULT_EVENTS = (
    "push",
    "create",
    "delete",
    "pull_request",
    "issues",
    "release",
    "workflow_run",
)


class HookError(Exception):
    """A request about hooks cannot be done; the message says what to type instead."""


class HookNotFoundError(HookError):
    """No hook answers to that reference (in this scope)."""


class AmbiguousRefError(HookError):
    """A service name names several hooks; the user must pick an id."""

    def __init__(self, message: str, candidates: list[Hook]) -> None:
        super().__init__(message)
        self.candidates = candidates


class InvalidInputError(HookError):
    """An argument is malformed."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose hooks a command sees: a guild (and channel), or everything (the CLI)."""

    guild_id: str | None = None
    channel_id: str | None = None

    def sees(self, hook: Hook) -> bool:
        """Return True when this scope may see and edit the hook."""
        return self.guild_id is None or hook.guild_id == self.guild_id


CLI_SCOPE = Scope()


@dataclass(frozen=True, slots=True)
class HookCredentials:
    """What a user needs to configure the provider side: the URL and the secret."""

    hook: Hook
    url: str
    secret: str
    created: bool


def load_sample(service: str, kind: str) -> bytes:
    """Return a bundled sample payload (`parsers/samples/<service>/<kind>.json`)."""
    sample = resources.files("parsers") / "samples" / service / f"{kind}.json"
    if not sample.is_file():
        raise InvalidInputError(f"no bundled {service} sample named {kind!r}")
    return sample.read_bytes()


def parse_duration(text: str) -> float:
    """Parse `30s`, `15m`, `24h`, `7d` into seconds."""
    match = re.fullmatch(r"(\d+)([smhd])", text.strip().lower())
    if not match:
        raise InvalidInputError(f"{text!r} is not a duration; write e.g. 30m, 24h or 7d")
    number, unit = int(match[1]), match[2]
    return float(number * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


class HookService:
    """Validate input and edit hooks in the store; no adapter holds business logic."""

    def __init__(
        self,
        store: Store,
        base_url: str,
        clock: Callable[[], float] = time.time,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._on_change = on_change

    def set_base_url(self, base_url: str) -> None:
        """Change the base of shown URLs (the server knows its port only once bound)."""
        self._base_url = base_url.rstrip("/")

    def url_for(self, hook: Hook) -> str:
        """Return the webhook URL the provider should call."""
        return f"{self._base_url}/webhook/{hook.service}/{hook.token}"

    async def create(
        self,
        service: str,
        destination: str,
        scope: Scope = CLI_SCOPE,
        *,
        target: str | None = None,
        creator: str | None = None,
        new: bool = False,
    ) -> HookCredentials:
        """Create a hook, or re-enable and show this destination's only hook of that service."""
        if service not in PARSERS:
            known = ", ".join(sorted(PARSERS))
            raise InvalidInputError(f"unknown service {service!r}; known services: {known}")
        if not new:
            existing = [
                h
                for h in await self._visible(scope)
                if h.service == service and h.destination == destination
            ]
            if len(existing) == 1:
                hook = existing[0]
                if not hook.enabled or hook.failing:
                    await self._store.hooks.restore(hook.id, self._clock())
                    hook = await self._get(hook.id)
                self._changed()
                return HookCredentials(hook, self.url_for(hook), hook.secret, created=False)
        hook = await self._store.hooks.create(
            service=service,
            destination=destination,
            token=secrets.token_urlsafe(24),
            secret=secrets.token_urlsafe(32),
            now=self._clock(),
            guild_id=scope.guild_id,
            channel_id=scope.channel_id,
            target=target,
            creator=creator,
        )
        self._changed()
        return HookCredentials(hook, self.url_for(hook), hook.secret, created=True)

    async def list_hooks(self, scope: Scope = CLI_SCOPE) -> list[Hook]:
        """Return the hooks this scope sees, in id order."""
        return await self._visible(scope)

    async def resolve(self, ref: str, scope: Scope = CLI_SCOPE) -> Hook:
        """Find the hook a reference names: an id, or a service with exactly one hook here."""
        ref = ref.strip()
        if HOOK_ID.fullmatch(ref):
            hook = await self._store.hooks.get(ref)
            if hook is None or not scope.sees(hook):
                raise HookNotFoundError(f"no hook {ref}; `list` shows the hooks you can use")
            return hook
        if ref in PARSERS:
            hooks = [h for h in await self._visible(scope) if h.service == ref]
            if scope.channel_id is not None:
                hooks = [h for h in hooks if h.channel_id == scope.channel_id] or hooks
            if not hooks:
                raise HookNotFoundError(f"no {ref} hook here; create one with `on {ref}`")
            if len(hooks) > 1:
                ids = ", ".join(h.id for h in hooks)
                raise AmbiguousRefError(f"{ref} names {len(hooks)} hooks ({ids}); use an id", hooks)
            return hooks[0]
        raise InvalidInputError(f"{ref!r} is neither a hook id (hook_001) nor a service name")

    async def disable(self, ref: str, scope: Scope = CLI_SCOPE) -> Hook:
        """Turn a hook off; deliveries are still accepted and recorded, not posted."""
        hook = await self.resolve(ref, scope)
        await self._store.hooks.update(hook.id, self._clock(), enabled=False)
        self._changed()
        return await self._get(hook.id)

    async def enable(self, ref: str, scope: Scope = CLI_SCOPE) -> tuple[Hook, int]:
        """Turn a hook on, clear a failing destination and re-queue the rows kept meanwhile."""
        hook = await self.resolve(ref, scope)
        requeued = await self._store.hooks.restore(hook.id, self._clock())
        self._changed()
        return await self._get(hook.id), requeued

    async def delete(self, ref: str, scope: Scope = CLI_SCOPE) -> Hook:
        """Delete a hook for good; its URL stops working."""
        hook = await self.resolve(ref, scope)
        await self._store.hooks.delete(hook.id)
        await self._store.log.add([LogEntry(self._clock(), "deleted", hook.id)])
        self._changed()
        return hook

    async def rotate(
        self, ref: str, scope: Scope = CLI_SCOPE, *, grace: str | None = None
    ) -> HookCredentials:
        """Give a hook a new token and secret; the old ones work during the grace period."""
        hook = await self.resolve(ref, scope)
        grace_seconds = parse_duration(grace) if grace else 0.0
        if grace_seconds > MAX_GRACE_SECONDS:
            raise InvalidInputError("the grace period is at most 7d")
        now = self._clock()
        await self._store.hooks.update(
            hook.id,
            now,
            token=secrets.token_urlsafe(24),
            secret=secrets.token_urlsafe(32),
            old_token=hook.token if grace_seconds else None,
            old_secret=hook.secret if grace_seconds else None,
            grace_until=now + grace_seconds if grace_seconds else None,
        )
        self._changed()
        rotated = await self._get(hook.id)
        return HookCredentials(rotated, self.url_for(rotated), rotated.secret, created=False)

    async def test(self, ref: str, scope: Scope = CLI_SCOPE) -> tuple[Hook, str]:
        """Send the hook's last real delivery (or a bundled sample) through the pipeline again.

        Also clears a failing destination, so the kept messages are tried again.
        Returns the hook and a description of what was sent.
        """
        hook = await self.resolve(ref, scope)
        await self._store.hooks.restore(hook.id, self._clock())
        last = await self._store.inbox.last_delivery(hook.id)
        if last is not None:
            headers, body, what = (
                dict(last.headers),
                last.body,
                f"the last delivery ({last.event_name})",
            )
        else:
            spec = PARSERS[hook.service]
            body = load_sample(hook.service, "push")
            headers = {spec.event_header.lower(): "push", "content-type": "application/json"}
            what = "a bundled sample push"
        delivery = f"test-{uuid.uuid4()}"
        await self._store.inbox.write_batch(
            [
                NewDelivery(
                    hook.id,
                    hook.service,
                    delivery,
                    headers.get(PARSERS[hook.service].event_header.lower()),
                    headers,
                    body,
                    self._clock(),
                )
            ],
            [],
        )
        self._changed()
        return await self._get(hook.id), what

    async def _visible(self, scope: Scope) -> list[Hook]:
        return await self._store.hooks.find_all(guild_id=scope.guild_id)

    async def _get(self, hook_id: str) -> Hook:
        hook = await self._store.hooks.get(hook_id)
        if hook is None:
            raise HookNotFoundError(f"no hook {hook_id}")
        return hook

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()
