"""HookService: create, find, edit and delete hooks; the one API both command adapters use."""

from __future__ import annotations

import re
import secrets
import string
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Protocol

from bot.core.alerts import RuleError, known_names, parse_rule, pr_state_events
from bot.core.filters import Filter, FilterError, check_applies, kinds_with_key, parse_filter
from bot.core.globs import GlobError, compile_glob
from bot.core.grammar import HOOK_ID
from bot.core.selection import (
    SelectionError,
    describe,
    parse_patterns,
    selected_event_names,
    selects,
)
from bot.core.verbs import AddForward
from bot.core.wording import DurationError
from bot.core.wording import parse_duration as core_parse_duration
from bot.delivery.guard import IPNetwork
from bot.intake.docker_streams import DockerView, HostStatus
from bot.store import Direction, Hook, LogEntry, NewDelivery, Store
from bot.store.forwards import Forward
from formatters.message import Message
from formatters.render import TemplateError, render_user, validate_template
from parsers import SERVICES, ServiceSpec
from parsers.errors import ParseError
from parsers.event import JSON, Event

CHANNEL_TEMPLATE = re.compile(r"([a-z]+)-([a-z_]+(?:\.[a-z_]+)*)")
MAX_FILTERS = 20
MAX_ALERTS = 10
MIN_WINDOW_SECONDS = 60
MAX_WINDOW_SECONDS = 24 * 3600
MAX_GRACE_SECONDS = 7 * 24 * 3600
LOG_CONTEXT = 10  # `logs` reads this many times its lines to name the kind of `sent` ones


def webhook_events(hook: Hook) -> list[str]:
    """Return the provider's event names a hook needs sent: its selection plus its rules' state."""
    names = list(selected_event_names(hook.events, hook.service))
    for rule in hook.alerts:
        names += [n for n in pr_state_events(str(rule["expression"])) if n not in names]
    return names


def events_to_tick(hook: Hook) -> list[str]:
    """Return the provider-side events a hook needs ticked, as the provider labels them."""
    labels = SERVICES[hook.service].event_labels
    return [labels.get(name, name) for name in webhook_events(hook)]


MAX_TARGET = 200


def setup_hint(creds: HookCredentials) -> str:
    """Return a hook's setup steps: where to paste its URL (and secret), what to tick.

    Some services' steps hold the secret (`hint_shows_secret`): show those only where
    secrets go (stdout, a DM, an ephemeral reply).
    """
    hook = creds.hook
    events = ", ".join(events_to_tick(hook)) or "the events you want"
    return SERVICES[hook.service].setup_hint.format(
        url=creds.url, secret=creds.secret, events=events
    )


def destination_for(
    webhook_url: str | None,
    channel_id: str | None,
    *,
    bot_available: bool,
    default_webhook_url: str | None = None,
) -> str:
    """Return where a hook made outside Discord posts: a channel webhook, a channel, the console.

    The shell's and the API's rule: a Discord channel needs the bot (DISCORD_TOKEN); with
    neither given, the default channel webhook (DISCORD_WEBHOOK_URL), else the console.
    """
    if webhook_url and channel_id:
        raise InvalidInputError("give a webhook URL or a channel id, not both")
    if channel_id:
        if not channel_id.isdigit():
            raise InvalidInputError("a channel is given by its Discord id (digits)")
        if not bot_available:
            raise InvalidInputError("posting to a channel needs DISCORD_TOKEN; give a webhook URL")
        return f"discord:channel:{channel_id}"
    url = webhook_url or default_webhook_url
    if url:
        if not url.startswith(("http://", "https://")) or "/webhooks/" not in url:
            raise InvalidInputError("a webhook URL must end in /webhooks/<id>/<token>")
        return f"webhook:{url}"
    return "console"


def hint_shows_secret(service: str) -> bool:
    """Return True when a service's setup steps (`setup_hint`) spell out the secret."""
    hint = SERVICES[service].setup_hint
    return any(name == "secret" for _, name, _, _ in string.Formatter().parse(hint))


def _options_for(spec: ServiceSpec, target: str | None, signed: bool) -> dict[str, JSON]:
    """Return a new hook's options: its target (the sender's name) and `--signed`."""
    options: dict[str, JSON] = {}
    if target is not None:
        if not target.strip() or len(target) > MAX_TARGET or not target.isprintable():
            raise InvalidInputError(
                f"a target is one line of at most {MAX_TARGET} characters "
                "(owner/repo, a name or the sender's URL)"
            )
        options["target"] = target
    if signed:
        if not spec.signature_optional:
            optional = ", ".join(n for n, s in SERVICES.items() if s.signature_optional)
            raise InvalidInputError(
                f"{spec.name} deliveries are always verified; --signed is for services "
                f"whose signature is optional ({optional})"
            )
        options["signed"] = True
    return options


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
    # What the provider's API did with the webhook (one line), when hookbot sets it up.
    remote: str | None = None


class RemoteHooks(Protocol):
    """Sets hooks' webhooks up through the provider's API (bot.integrations.github_api)."""

    def handles(self, service: str) -> bool:
        """Return True for a service whose webhooks this sets up."""
        ...

    def target_problem(self, target: str) -> str | None:
        """Say what is wrong with a hook's target for the API, or None."""
        ...

    async def install(self, hook: Hook, url: str, events: Sequence[str]) -> str:
        """Create or take over the hook's webhook; returns the answer's line."""
        ...

    async def update(
        self, hook: Hook, url: str, events: Sequence[str], *, secret_changed: bool = False
    ) -> str | None:
        """Bring the webhook in step; its line (✅ when in step), None when there is none."""
        ...

    async def remove(self, hook: Hook) -> str | None:
        """Delete the hook's webhook; its line, None when there is none."""
        ...


@dataclass(frozen=True, slots=True)
class HookDetails:
    """Everything `info` shows about one hook."""

    hook: Hook
    url: str
    selection: str
    filters: list[tuple[str, int, int]]  # (text, kept, dropped) in order
    # `format <service>-<kind>` templates that apply to this hook (kind → template),
    # shared by `shared_by` (the channel's hooks, or every hook made from the shell).
    shared_templates: Mapping[str, str] = field(default_factory=dict)
    shared_by: str = "every hook in this channel"
    forwards: Sequence[Forward] = ()


@dataclass(frozen=True, slots=True)
class TemplateChange:
    """What a `format` command did: where the template applies, and its preview.

    `summary` is the whole answer in plain text: what was set or removed (exactly),
    what applies now, and the preview.
    """

    where: str
    preview: str | None
    reset: bool
    summary: str = ""


def clean_template(text: str) -> str:
    """Undo how a template was typed in chat: a code block, backticks or one pair of quotes.

    Inner newlines are kept, so multi-line templates are stored as the user meant them.
    """
    text = text.strip()
    if text.startswith("```") and text.endswith("```") and len(text) >= 6:
        inner = text[3:-3]
        first, newline, rest = inner.partition("\n")
        if newline and re.fullmatch(r"[A-Za-z0-9_+-]*", first.strip()):
            inner = rest  # ```jinja … ``` : drop the language tag line
        return inner.strip("\n")
    for left, right in (('"', '"'), ("'", "'"), ("“", "”"), ("`", "`")):
        if len(text) >= 2 and text.startswith(left) and text.endswith(right):
            return text[1:-1]
    return text


def _known_kind(service: str, kind: str) -> bool:
    spec = SERVICES[service]
    return spec.knows_kind(kind) or any(k.split(".", 1)[0] == kind for k in spec.kinds)


def sample_names(service: str) -> list[str]:
    """Return the names of a service's bundled samples, sorted."""
    spec = SERVICES.get(service)
    return sorted(spec.samples) if spec is not None else []


def first_sample(spec: ServiceSpec) -> str:
    """Return the sample `test` sends when a hook has no delivery yet (a push if any)."""
    return "push" if "push" in spec.samples else next(iter(spec.samples))


def sample_for_kind(spec: ServiceSpec, kind: str) -> str:
    """Return the bundled sample that best shows `kind` (a sample's name, its kind, its event)."""
    if kind in spec.samples:
        return kind
    if kind != "*":
        event = kind.split(".", 1)[0]
        for wanted in (kind, event):
            for name, sample_kind in spec.samples.items():
                if wanted in (sample_kind, sample_kind.split(".", 1)[0]):
                    return name
    return first_sample(spec)


def sample_showing(spec: ServiceSpec, kind: str) -> str:
    """Return the sample `test <ref> <kind>` sends: one named so, or one of that kind or event.

    Raises InvalidInputError naming the samples when none shows `kind`.
    """
    name = sample_for_kind(spec, kind)
    shown = spec.samples[name]
    if kind in (name, shown, shown.split(".", 1)[0]):
        return name
    what = "kind" if _known_kind(spec.name, kind) else "kind or sample"
    names = ", ".join(sorted(spec.samples))
    raise InvalidInputError(
        f"no bundled {spec.name} sample shows {kind!r} (a {spec.name} {what}); samples: {names}"
    )


def pick_event(events: list[Event], kind: str) -> Event | None:
    """Return the first event of `kind` (`*`: any; an event name: any of its kinds), or None."""
    for event in events:
        if kind in ("*", event.kind, event.kind.split(".", 1)[0]):
            return event
    return None


def load_sample(service: str, kind: str) -> bytes:
    """Return a bundled sample payload (`parsers/samples/<service>/<kind>.json`)."""
    sample = resources.files("parsers") / "samples" / service / f"{kind}.json"
    if not sample.is_file():
        names = ", ".join(sample_names(service)) or "none"
        raise InvalidInputError(f"no bundled {service} sample named {kind!r}; samples: {names}")
    return sample.read_bytes()


def shared_by(guild_id: str | None) -> str:
    """Say whose hooks a `format <service>-<kind>` template reaches, for one scope.

    Templates are keyed by (guild, channel); hooks made from the shell have neither, so a
    template set from the shell applies to every hook made from the shell.
    """
    return (
        "every hook in this channel"
        if guild_id is not None
        else "every hook made with `hookbot hook`"
    )


def _message_text(message: Message) -> str:
    # Only a preview of a reset shows the default embed; sinks (and discord.py) stay out
    # of every other command's start-up.
    from bot.delivery.console import describe_message

    return describe_message(message)


def parse_duration(text: str) -> float:
    """Parse `30s`, `15m`, `24h`, `7d` into seconds (bot.core.wording spells them)."""
    try:
        return float(core_parse_duration(text))
    except DurationError as exc:
        raise InvalidInputError(str(exc)) from None


class HookService:
    """Validate input and edit hooks in the store; no adapter holds business logic."""

    def __init__(
        self,
        store: Store,
        base_url: str | Callable[[], str],
        clock: Callable[[], float] = time.time,
        on_change: Callable[[], None] | None = None,
        remote: RemoteHooks | None = None,
        docker: DockerView | None = None,
        forward_allow: Sequence[IPNetwork] = (),
    ) -> None:
        """`base_url` may be a function: the server knows its port only once bound.

        `remote` sets webhooks up through the provider's API (GITHUB_TOKEN), or None.
        `docker`: the Docker hosts (and their live streams in the running process).
        """
        self._remote = remote
        self._forward_allow = tuple(forward_allow)  # HOOKBOT_FORWARD_ALLOW
        self._docker = docker or DockerView()
        self._store = store
        self._base_url: Callable[[], str]
        if callable(base_url):
            self._base_url = base_url
        else:
            fixed = base_url
            self._base_url = lambda: fixed
        self._clock = clock
        self._on_change = on_change

    def url_for(self, hook: Hook) -> str:
        """Return the webhook URL the provider should call."""
        return f"{self._base_url().rstrip('/')}/webhook/{hook.service}/{hook.token}"

    async def create(
        self,
        service: str,
        destination: str,
        scope: Scope = CLI_SCOPE,
        *,
        target: str | None = None,
        creator: str | None = None,
        new: bool = False,
        events: str | None = None,
        signed: bool = False,
        containers: str | None = None,
    ) -> HookCredentials:
        """Create a hook, or re-enable and show this destination's only hook of that service.

        A hook is reused only when service, target and destination all match; `events`
        (patterns as typed) sets the selection of the new or reused hook. The hook's
        options hold the target and `signed` (a reused hook becomes signed, never unsigned).
        """
        if service not in SERVICES:
            known = ", ".join(sorted(SERVICES))
            raise InvalidInputError(f"unknown service {service!r}; known services: {known}")
        options = _options_for(SERVICES[service], target, signed)
        options.update(self._docker_options(SERVICES[service], target, containers))
        if target is not None and self._remote is not None and self._remote.handles(service):
            problem = self._remote.target_problem(target)
            if problem is not None:
                raise InvalidInputError(problem)
        patterns: tuple[str, ...] = ()
        if events is not None:
            try:
                patterns = parse_patterns(events, service, SERVICES[service].kinds)
            except SelectionError as exc:
                raise InvalidInputError(str(exc)) from exc
        if not new:
            existing = [
                h
                for h in await self._visible(scope)
                if h.service == service and h.destination == destination and h.target == target
            ]
            if len(existing) == 1:
                hook = existing[0]
                if not hook.enabled or hook.failing:
                    await self._store.hooks.restore(hook.id, self._clock())
                if patterns:
                    await self._store.hooks.update(hook.id, self._clock(), events=list(patterns))
                if signed and hook.options.get("signed") is not True:
                    await self._store.hooks.update(
                        hook.id, self._clock(), options={**hook.options, "signed": True}
                    )
                hook = await self._get(hook.id)
                self._changed()
                return HookCredentials(
                    hook, self.url_for(hook), hook.secret, False, await self._install(hook)
                )
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
            events=patterns,
            options=options,
        )
        self._changed()
        remote = await self._install(hook)
        return HookCredentials(hook, self.url_for(hook), hook.secret, True, remote)

    async def _install(self, hook: Hook) -> str | None:
        """Have the provider's API set the hook's webhook up, when it can; the answer's line."""
        if self._remote is None or not self._remote.handles(hook.service):
            return None
        return await self._remote.install(hook, self.url_for(hook), webhook_events(hook))

    async def _update_remote(self, hook: Hook, *, secret_changed: bool = False) -> str | None:
        """Bring the hook's webhook at the provider in step with it, when hookbot made one."""
        if self._remote is None or not self._remote.handles(hook.service):
            return None
        return await self._remote.update(
            hook, self.url_for(hook), webhook_events(hook), secret_changed=secret_changed
        )

    async def refresh_remote(self) -> None:
        """Give every webhook hookbot made the current URL (the tunnel's URL changed)."""
        for hook in await self._store.hooks.find_all():
            await self._update_remote(hook)

    # -- docker: hosts instead of a URL ------------------------------------------------

    def _docker_options(
        self, spec: ServiceSpec, target: str | None, containers: str | None
    ) -> dict[str, JSON]:
        """Check a Docker hook's host and `--containers` glob; return the options they add."""
        if spec.http:
            if containers is not None:
                raise InvalidInputError("--containers is for docker hooks (`on docker …`)")
            return {}
        names = self._docker.names()
        if target is not None and names and target not in names:
            raise InvalidInputError(
                f"no Docker host named {target!r}; DOCKER_HOSTS has {', '.join(names)} "
                f"(`on {spec.name}` alone watches every host)"
            )
        if containers is None:
            return {}
        try:
            compile_glob(containers)
        except GlobError as exc:
            raise InvalidInputError(f"--containers {containers!r}: {exc}") from exc
        return {"containers": containers}

    def docker_summary(self, hook: Hook) -> str:
        """What `on docker` answers (the seed's "🐳 Docker Monitoring Active" lines)."""
        glob = hook.options.get("containers")
        containers = f"containers `{glob}`" if isinstance(glob, str) else "All containers"
        names = self._docker.names()
        if hook.target:
            containers += f" on `{hook.target}`"
        elif names:
            containers += f" on every host ({', '.join(names)})"
        lines = [
            "🐳 Docker Monitoring Active",
            f"Watching: {containers}",
            f"Events: {describe(hook.events, hook.service)}",
        ]
        if not names:
            lines.append(
                "⚠️ No Docker host to watch: set DOCKER_HOSTS "
                "(`local=unix:///var/run/docker.sock,prod=tcp://10.0.0.5:2376`) and restart"
            )
        return "\n".join(lines)

    async def docker_hosts(self) -> list[HostStatus]:
        """Each Docker host's stream: live in the running process, else as last stored."""
        if self._docker.live is not None:
            return self._docker.live()
        cursors = {cursor.host: cursor for cursor in await self._store.sources.all()}
        found = []
        for host in self._docker.hosts:
            cursor = cursors.get(host.name)
            found.append(
                HostStatus(
                    host.name,
                    host.url,
                    state="watched by `hookbot run`",
                    last_event_at=cursor.cursor_nano / 1e9 if cursor else None,
                )
            )
        return found

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
        if ref in SERVICES:
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

    async def delete(self, ref: str, scope: Scope = CLI_SCOPE) -> tuple[Hook, str | None]:
        """Delete a hook for good; its URL stops working, and the webhook hookbot made goes.

        Returns the hook and what the provider's API did (one line), if anything.
        """
        hook = await self.resolve(ref, scope)
        remote = None
        if self._remote is not None and self._remote.handles(hook.service):
            remote = await self._remote.remove(hook)
        await self._store.hooks.delete(hook.id)
        await self._store.log.add([LogEntry(self._clock(), "deleted", hook.id)])
        self._changed()
        return hook, remote

    async def rotate(
        self, ref: str, scope: Scope = CLI_SCOPE, *, grace: str | None = None
    ) -> HookCredentials:
        """Give a hook a new token and secret; the old ones work during the grace period."""
        hook = await self.resolve(ref, scope)
        grace_seconds = parse_duration(grace) if grace else 0.0
        if grace_seconds > MAX_GRACE_SECONDS:
            raise InvalidInputError("the grace period is at most 7d")
        now = self._clock()
        await self._store.hooks.rotate(
            hook.id,
            now,
            token=secrets.token_urlsafe(24),
            secret=secrets.token_urlsafe(32),
            keep_old_until=now + grace_seconds if grace_seconds else None,
        )
        self._changed()
        rotated = await self._get(hook.id)
        remote = await self._update_remote(rotated, secret_changed=True)
        return HookCredentials(rotated, self.url_for(rotated), rotated.secret, False, remote)

    async def test(
        self,
        ref: str,
        scope: Scope = CLI_SCOPE,
        kind: str | None = None,
        sample_data: bytes | None = None,
    ) -> tuple[Hook, str]:
        """Send the hook's last real delivery (or a bundled sample) through the pipeline again.

        With `kind` (a kind, an event name or a sample's name), the bundled sample that
        shows it is sent, signed with the hook's secret; `sample_data` replaces that
        sample's body (the API's test). Also clears a failing destination, so the kept
        messages are tried again. Returns the hook and what was sent.
        """
        hook = await self.resolve(ref, scope)
        spec = SERVICES[hook.service]
        name = None if kind is None else sample_showing(spec, kind.strip())
        await self._store.hooks.restore(hook.id, self._clock())
        chosen = name is not None or sample_data is not None
        last = None if chosen else await self._store.inbox.last_delivery(hook.id)
        if last is not None:
            headers, body, what = (
                dict(last.headers),
                last.body,
                f"the last delivery ({last.event_name})",
            )
        else:
            name = name or first_sample(spec)
            body = load_sample(hook.service, name) if sample_data is None else sample_data
            delivery = f"sample-{uuid.uuid4()}"
            headers = {
                k.lower(): v
                for k, v in spec.sample_headers(name, body, hook.secret, delivery).items()
            }
            what = f"the bundled sample {name!r}"
            if not selects(hook.events, hook.service, spec.samples[name]):
                what += f" ({spec.samples[name]} is not in its events: it is dropped)"
            if sample_data is not None:
                what = f"your sample data, sent as the sample {name!r}"
        await self._resend(hook, headers, body, "test")
        return await self._get(hook.id), what

    async def replay(self, delivery_id: str, scope: Scope = CLI_SCOPE) -> tuple[Hook, str]:
        """Run a stored delivery through the pipeline again (as a new delivery).

        Returns the hook and the id of the new delivery.
        """
        rows = await self._store.inbox.by_delivery_id(delivery_id.strip())
        hooks = [h for r in rows if (h := await self._store.hooks.get(r.hook_id)) and scope.sees(h)]
        if not hooks:
            raise HookNotFoundError(
                f"no stored delivery {delivery_id!r}; `logs <ref>` lists recent ones "
                "(payloads are kept for HOOKBOT_RETENTION_DAYS)"
            )
        row = next(r for r in rows if r.hook_id == hooks[0].id)
        new_id = await self._resend(hooks[0], dict(row.headers), row.body, "replay")
        return hooks[0], new_id

    async def retry_forwards(
        self, delivery_id: str, scope: Scope = CLI_SCOPE
    ) -> tuple[Hook, int] | None:
        """Queue again a delivery's forward requests that ran out of tries; None if none did.

        They are sent as they were (same body, same `webhook-id`), tries counted from 0;
        `replay` does this first, so a delivery already posted is not posted twice.
        """
        for hook_id in await self._store.forwards.failed_hooks(delivery_id.strip()):
            hook = await self._store.hooks.get(hook_id)
            if hook is not None and scope.sees(hook):
                count = await self._store.forwards.retry_failed(
                    delivery_id.strip(), hook.id, self._clock()
                )
                self._changed()
                return hook, count
        return None

    async def _resend(self, hook: Hook, headers: dict[str, str], body: bytes, why: str) -> str:
        delivery = f"{why}-{uuid.uuid4()}"
        try:
            event_name, _ = SERVICES[hook.service].identify(headers, body)
        except ParseError:
            event_name = None
        await self._store.inbox.write_batch(
            [
                NewDelivery(
                    hook.id, hook.service, delivery, event_name, headers, body, self._clock()
                )
            ],
            [],
        )
        self._changed()
        return delivery

    # -- shaping: selection, filters, templates ---------------------------------------

    async def set_events(self, ref: str, text: str, scope: Scope = CLI_SCOPE) -> tuple[Hook, str]:
        """Replace a hook's event selection; returns the hook and the selection in words.

        The words end with a line on the webhook's events when hookbot made the webhook.
        """
        hook = await self.resolve(ref, scope)
        try:
            patterns = parse_patterns(text, hook.service, SERVICES[hook.service].kinds)
        except SelectionError as exc:
            raise InvalidInputError(str(exc)) from exc
        await self._store.hooks.update(hook.id, self._clock(), events=list(patterns))
        self._changed()
        updated = await self._get(hook.id)
        remote = await self._update_remote(updated)
        words = describe(patterns, hook.service)
        return updated, words if remote is None else f"{words}\n{remote}"

    async def describe_events(self, ref: str, scope: Scope = CLI_SCOPE) -> tuple[Hook, str]:
        """Return a hook and its event selection in words."""
        hook = await self.resolve(ref, scope)
        return hook, describe(hook.events, hook.service)

    async def add_filter(
        self, ref: str, text: str, scope: Scope = CLI_SCOPE
    ) -> tuple[Hook, Filter, list[str]]:
        """Add a filter; returns the hook, the filter and the event names it applies to."""
        hook = await self.resolve(ref, scope)
        try:
            new = parse_filter(text, hook.service)
            selected = selected_event_names(hook.events, hook.service)
            check_applies(new, hook.service, selected)
        except FilterError as exc:
            raise InvalidInputError(str(exc)) from exc
        if new.text in hook.filters:
            raise InvalidInputError(f"{hook.id} already has the filter {new.text}")
        if len(hook.filters) >= MAX_FILTERS:
            raise InvalidInputError(f"a hook has at most {MAX_FILTERS} filters; remove one first")
        await self._store.hooks.update(hook.id, self._clock(), filters=[*hook.filters, new.text])
        self._changed()
        applies = [name for name in kinds_with_key(new.key, hook.service) if name in selected]
        return await self._get(hook.id), new, applies

    async def details(self, ref: str, scope: Scope = CLI_SCOPE) -> HookDetails:
        """Return one hook in full: URL, selection in words, filters with their counts."""
        hook, counts = await self.filter_counts(ref, scope)
        shared = await self._store.hooks.channel_templates(
            hook.guild_id or "", hook.channel_id or ""
        )
        return HookDetails(
            hook,
            self.url_for(hook)
            if SERVICES[hook.service].http
            else "none, " + self.docker_summary(hook).splitlines()[1].replace("`", ""),
            describe(hook.events, hook.service),
            counts,
            {kind: source for (service, kind), source in shared.items() if service == hook.service},
            shared_by(hook.guild_id),
            await self._store.forwards.of_hook(hook.id),
        )

    async def filter_counts(
        self, ref: str, scope: Scope = CLI_SCOPE
    ) -> tuple[Hook, list[tuple[str, int, int]]]:
        """Return a hook and its filters in order with (text, kept, dropped) since added."""
        hook = await self.resolve(ref, scope)
        stats = await self._store.hooks.filter_stats(hook.id)
        return hook, [(text, *stats.get(text, (0, 0))) for text in hook.filters]

    async def remove_filter(self, ref: str, number: str, scope: Scope = CLI_SCOPE) -> str:
        """Remove filter number `number` (as `filter <ref> list` shows it); returns its text."""
        hook = await self.resolve(ref, scope)
        if not number.isdigit() or not 1 <= int(number) <= len(hook.filters):
            count = len(hook.filters)
            raise InvalidInputError(
                f"{hook.id} has {count} filter(s); `filter {hook.id} list` shows their numbers"
            )
        removed = hook.filters[int(number) - 1]
        kept = [f for i, f in enumerate(hook.filters) if i != int(number) - 1]
        await self._store.hooks.update(hook.id, self._clock(), filters=kept)
        await self._store.hooks.reset_filter_stats(hook.id, [removed])
        self._changed()
        return removed

    async def set_filters(self, ref: str, texts: list[str], scope: Scope = CLI_SCOPE) -> Hook:
        """Replace all of a hook's filters at once: every one is checked before any is kept."""
        hook = await self.resolve(ref, scope)
        if len(texts) > MAX_FILTERS:
            raise InvalidInputError(f"a hook has at most {MAX_FILTERS} filters")
        selected = selected_event_names(hook.events, hook.service)
        kept: list[str] = []
        for text in texts:
            try:
                new = parse_filter(text, hook.service)
                check_applies(new, hook.service, selected)
            except FilterError as exc:
                raise InvalidInputError(f"filter {text!r}: {exc}") from exc
            if new.text not in kept:
                kept.append(new.text)
        await self._store.hooks.update(hook.id, self._clock(), filters=kept)
        removed = [f for f in hook.filters if f not in kept]
        await self._store.hooks.reset_filter_stats(hook.id, removed)
        self._changed()
        return await self._get(hook.id)

    async def clear_filters(self, ref: str, scope: Scope = CLI_SCOPE) -> int:
        """Remove every filter of a hook; returns how many there were."""
        hook = await self.resolve(ref, scope)
        await self._store.hooks.update(hook.id, self._clock(), filters=[])
        await self._store.hooks.reset_filter_stats(hook.id, hook.filters)
        self._changed()
        return len(hook.filters)

    async def set_template(
        self,
        target: str,
        kind: str | None,
        source: str | None,
        scope: Scope = CLI_SCOPE,
        *,
        preview: bool = False,
    ) -> TemplateChange:
        """Set (or with None reset) a template, after checking it against a real sample.

        `target` is a hook reference, or `<service>-<kind>` for a template shared by the
        channel's hooks (from the shell: by the hooks made from the shell). `reset` of a
        hook without a kind removes all its templates; with a kind, that kind's only.
        With `preview` nothing is stored: the answer shows what the next message would
        read. Returns where it applies, the preview rendered from the hook's last
        delivery (or a bundled sample) and the whole answer.
        """
        channel = CHANNEL_TEMPLATE.fullmatch(target)
        if channel and channel[1] in SERVICES:
            service, kind = channel[1], channel[2]
            hook = None
            where = f"{service} {kind} events of {shared_by(scope.guild_id)}"
        else:
            hook = await self.resolve(target, scope)
            service = hook.service
            where = f"{kind} events of {hook.id}" if kind else f"every event of {hook.id}"
        kind = kind or "*"
        if kind != "*" and not _known_kind(service, kind):
            raise InvalidInputError(
                f"{kind!r} is not a {service} event or kind; see docs/events.md"
            )
        if source is None:
            if hook is None:
                return await self._reset_shared(service, kind, where, scope, preview)
            return await self._reset_hook(hook, kind, where, preview)
        source = clean_template(source)
        if not source.strip():
            raise InvalidInputError('give a template, e.g. "🔔 {{event}}: {{message}}", or `reset`')
        sample, payload = await self._sample_event(hook, service, kind)
        try:
            validate_template(source, sample, payload)
            rendered = render_user(source, sample, lambda: payload)
        except TemplateError as exc:
            raise InvalidInputError(f"template refused: {exc}") from exc
        if not preview:
            if hook is None:
                await self._store.hooks.set_channel_template(
                    scope.guild_id or "",
                    scope.channel_id or "",
                    service,
                    kind,
                    source,
                    self._clock(),
                )
            else:
                templates = {**hook.templates, kind: source}
                await self._store.hooks.update(hook.id, self._clock(), templates=templates)
            self._changed()
        label = "Preview (nothing saved)" if preview else f"✅ Template set for {where}"
        return TemplateChange(
            where,
            rendered.content,
            reset=False,
            summary=f"{label}; next message will read:\n{rendered.content}",
        )

    async def _reset_hook(self, hook: Hook, kind: str, where: str, preview: bool) -> TemplateChange:
        """Remove a hook's templates (`*`: all of them), saying exactly which, or preview it."""
        removing = (
            sorted(hook.templates) if kind == "*" else [k for k in hook.templates if k == kind]
        )
        kept = {k: v for k, v in hook.templates.items() if k not in removing}
        shared = await self._store.hooks.channel_templates(
            hook.guild_id or "", hook.channel_id or ""
        )
        shared = {key: text for key, text in shared.items() if key[0] == hook.service}
        if preview:
            text = await self._fallback_preview(
                replace(hook, templates=kept), hook.service, kind, shared
            )
            return TemplateChange(
                where,
                text,
                reset=False,
                summary=f"Preview of reset (nothing changed); next message will read:\n{text}",
            )
        if not removing:
            what = "" if kind == "*" else f" for {kind} events"
            return TemplateChange(
                where, None, reset=True, summary=f"{hook.id} has no template{what}; nothing changed"
            )
        await self._store.hooks.update(hook.id, self._clock(), templates=kept)
        self._changed()
        names = ", ".join("every event" if k == "*" else k for k in removing)
        if "*" in kept:
            now = f"{kind} events now use its template for every event"
        elif shared:
            kinds = ", ".join(sorted(k for _, k in shared))
            now = (
                f"the shared {hook.service} template(s) for {kinds} ({shared_by(hook.guild_id)}) "
                f"still apply (`format {hook.service}-<kind> reset` removes one); "
                "other events use the default format"
            )
        else:
            now = f"{'its' if kind == '*' else kind} events use the default format"
        plural = "s" if len(removing) > 1 else ""
        return TemplateChange(
            where,
            None,
            reset=True,
            summary=f"✅ Removed {hook.id}'s template{plural} for {names}; {now}",
        )

    async def _reset_shared(
        self, service: str, kind: str, where: str, scope: Scope, preview: bool
    ) -> TemplateChange:
        """Remove a `<service>-<kind>` template of this scope, or preview it."""
        guild, channel = scope.guild_id or "", scope.channel_id or ""
        shared = await self._store.hooks.channel_templates(guild, channel)
        if preview:
            text = await self._fallback_preview(None, service, kind, {})
            return TemplateChange(
                where,
                text,
                reset=False,
                summary="Preview of reset (nothing changed); a hook without a template of its "
                f"own will read:\n{text}",
            )
        if (service, kind) not in shared:
            return TemplateChange(
                where, None, reset=True, summary=f"No template for {where}; nothing changed"
            )
        await self._store.hooks.set_channel_template(
            guild, channel, service, kind, None, self._clock()
        )
        self._changed()
        return TemplateChange(
            where,
            None,
            reset=True,
            summary=f"✅ Removed the template for {where}; they use the default format "
            "(a hook's own template still comes first)",
        )

    async def _fallback_preview(
        self,
        hook: Hook | None,
        service: str,
        kind: str,
        shared: Mapping[tuple[str, str], str],
    ) -> str:
        """What the next message reads with only the given templates (none: the default)."""
        # The pipeline's lookup order, not a copy of it; imported here because the
        # pipeline brings the outbox and discord.py, which no other command needs.
        from bot.pipeline import find_template, render_with

        sample, payload = await self._sample_event(hook, service, kind)
        source = None if hook is None else find_template(hook, sample, shared)
        return _message_text(render_with(source, sample, lambda: payload).message)

    async def logs(
        self,
        ref: str | None,
        scope: Scope = CLI_SCOPE,
        limit: int = 20,
        *,
        failed: bool = False,
        page: int = 1,
    ) -> list[LogEntry]:
        """Return a page of ledger lines of one hook, or of every hook this scope sees.

        Oldest first; page 1 is the newest. Without a ref the CLI sees the whole ledger, a
        guild its own hooks'. `failed` keeps the lines that report a failure.
        """
        hook_ids: list[str | None] = [None]
        if ref is not None:
            hook_ids = [(await self.resolve(ref, scope)).id]
        elif scope.guild_id is not None:
            hook_ids = [h.id for h in await self._visible(scope)]
        entries = await self._recent_of(hook_ids, limit, page, failed)
        if all(e.kind or not e.delivery_id for e in entries):
            return entries
        # Lines written when a message is sent, retried or given up carry no kind: they
        # take the kind(s) of the events their delivery queued, from the wider ledger.
        kinds: dict[tuple[str | None, str], list[str]] = {}
        for entry in await self._recent_of(hook_ids, limit * page * LOG_CONTEXT):
            if entry.kind and entry.delivery_id and entry.outcome in ("queued", "alert"):
                found = kinds.setdefault((entry.hook_id, entry.delivery_id), [])
                if entry.kind not in found:
                    found.append(entry.kind)
        return [
            replace(e, kind=",".join(kinds[(e.hook_id, e.delivery_id)]))
            if not e.kind and e.delivery_id and (e.hook_id, e.delivery_id) in kinds
            else e
            for e in entries
        ]

    async def _recent_of(
        self, hook_ids: list[str | None], limit: int, page: int = 1, failed: bool = False
    ) -> list[LogEntry]:
        """One page of ledger lines of these hooks (None: all), oldest first."""
        newest = page * limit
        merged = [
            entry
            for hook_id in hook_ids
            for entry in await self._store.log.recent(hook_id, newest, failed_only=failed)
        ]
        newest_first = sorted(merged, key=lambda e: e.at)[::-1]  # stable: ties keep order
        return newest_first[newest - limit : newest][::-1]

    # -- aggregation windows and alert-if ----------------------------------------------

    async def set_window(
        self, ref: str, text: str, scope: Scope = CLI_SCOPE
    ) -> tuple[Hook, int | None, int]:
        """Set a hook's aggregation window (1m–24h) or turn it `off`, flushing what is held.

        Returns the hook, the window in seconds (None when off) and how many held
        events were released.
        """
        hook = await self.resolve(ref, scope)
        now = self._clock()
        if text.strip().lower() == "off":
            await self._store.hooks.update(hook.id, now, window_seconds=None)
            released = await self._store.windows.end_now(hook.id, now)
            self._changed()
            return await self._get(hook.id), None, released
        seconds = int(parse_duration(text))
        if not MIN_WINDOW_SECONDS <= seconds <= MAX_WINDOW_SECONDS:
            raise InvalidInputError("a window is 1m to 24h, e.g. 5m, 1h or 24h; or `off`")
        await self._store.hooks.update(hook.id, now, window_seconds=seconds)
        self._changed()
        return await self._get(hook.id), seconds, 0

    async def add_alert(
        self, ref: str, text: str, scope: Scope = CLI_SCOPE, *, mention_role: str | None = None
    ) -> tuple[Hook, str, tuple[str, ...]]:
        """Add an alert-if rule; returns the hook, the rule and the GitHub events to tick.

        When hookbot made the webhook and could update it, there is nothing to tick.
        """
        hook = await self.resolve(ref, scope)
        if mention_role is not None:
            match = re.fullmatch(r"<@&(\d+)>|(\d+)", mention_role.strip())
            if not match:
                raise InvalidInputError(
                    f"--mention {mention_role.strip()!r} is not a role id: give the role's id "
                    "(digits; in Discord: Server Settings → Roles → ⋯ → Copy Role ID, with "
                    "Developer Mode on), or in Discord @mention the role itself"
                )
            mention_role = match[1] or match[2]
        try:
            expression = parse_rule(text, known_names(hook.service))
        except RuleError as exc:
            raise InvalidInputError(str(exc)) from exc
        if any(rule["expression"] == expression for rule in hook.alerts):
            raise InvalidInputError(f"{hook.id} already has that rule")
        if len(hook.alerts) >= MAX_ALERTS:
            raise InvalidInputError(f"a hook has at most {MAX_ALERTS} rules; remove one first")
        rule = {"expression": expression, "mention_role": mention_role}
        await self._store.hooks.update(hook.id, self._clock(), alerts=[*hook.alerts, rule])
        self._changed()
        updated = await self._get(hook.id)
        remote = await self._update_remote(updated)
        in_step = remote is not None and remote.startswith("✅")
        return updated, expression, () if in_step else pr_state_events(expression)

    async def list_alerts(self, ref: str, scope: Scope = CLI_SCOPE) -> tuple[Hook, list[str]]:
        """Return a hook and its rules as shown to users (numbered in this order)."""
        hook = await self.resolve(ref, scope)
        return hook, [
            rule["expression"]
            + (f" (pings <@&{rule['mention_role']}>)" if rule.get("mention_role") else "")
            for rule in hook.alerts
            if rule["expression"]
        ]

    async def remove_alert(self, ref: str, number: str, scope: Scope = CLI_SCOPE) -> str:
        """Remove rule number `number`; returns its expression."""
        hook = await self.resolve(ref, scope)
        if not number.isdigit() or not 1 <= int(number) <= len(hook.alerts):
            raise InvalidInputError(
                f"{hook.id} has {len(hook.alerts)} rule(s); `alert-if {hook.id} list` numbers them"
            )
        index = int(number) - 1
        kept = [rule for i, rule in enumerate(hook.alerts) if i != index]
        await self._store.hooks.update(hook.id, self._clock(), alerts=kept)
        self._changed()
        await self._update_remote(await self._get(hook.id))
        return str(hook.alerts[index]["expression"])

    async def _sample_event(self, hook: Hook | None, service: str, kind: str) -> tuple[Event, JSON]:
        """The hook's last real delivery of that kind, or a bundled sample, and its raw JSON.

        Parsed with the hook's options, as the pipeline parses it.
        """
        spec = SERVICES[service]
        options = hook.options if hook is not None else {}
        if hook is not None:
            last = await self._store.inbox.last_delivery(hook.id)
            if last is not None:
                try:
                    event = pick_event(spec.parse(last.headers, last.body, options), kind)
                except ParseError:
                    event = None
                if event is not None:
                    return event, spec.payload_of(last.headers, last.body)
        name = sample_for_kind(spec, kind)
        body = load_sample(service, name)
        headers = spec.sample_headers(name, body, "sample-secret", f"sample-{name}")
        events = spec.parse(headers, body, options)
        return pick_event(events, kind) or events[0], spec.payload_of(headers, body)

    # -- forwards: the hook's events POSTed to HTTP endpoints (bot/delivery/forwarding.py)

    async def add_forward(
        self, ref: str, add: AddForward, scope: Scope = CLI_SCOPE
    ) -> tuple[Hook, Forward]:
        """Attach a forward once its host, headers and --body pass; its secret is shown once."""
        # Loaded here: aiohttp and the outbox are for the forward verbs, not every command.
        from bot.delivery.forwarding import MAX_FORWARDS, check_forward, new_secret

        hook = await self.resolve(ref, scope)
        events: tuple[str, ...] = ()
        if add.events is not None:
            try:
                events = parse_patterns(add.events, hook.service, SERVICES[hook.service].kinds)
            except SelectionError as exc:
                raise InvalidInputError(str(exc)) from exc
        if len(await self._store.forwards.of_hook(hook.id)) >= MAX_FORWARDS:
            raise InvalidInputError(f"a hook has at most {MAX_FORWARDS} forwards; remove one first")
        sample, _ = await self._sample_event(hook, hook.service, "*")
        try:
            await check_forward(add.url, add.headers, add.body, sample, self._forward_allow)
        except ValueError as exc:
            raise InvalidInputError(str(exc)) from exc
        forward = await self._store.forwards.add(
            hook.id,
            add.url,
            new_secret(),
            self._clock(),
            events=events,
            headers=add.headers,
            retries=add.retries,
            timeout_seconds=add.timeout_seconds,
            body=add.body,
        )
        self._changed()
        return hook, forward

    async def list_forwards(self, ref: str, scope: Scope = CLI_SCOPE) -> tuple[Hook, list[Forward]]:
        """Return a hook and its forwards, numbered as `remove` and `test` take them."""
        hook = await self.resolve(ref, scope)
        return hook, await self._store.forwards.of_hook(hook.id)

    async def _forward(self, ref: str, number: int, scope: Scope) -> tuple[Hook, Forward]:
        hook, forwards = await self.list_forwards(ref, scope)
        if not 1 <= number <= len(forwards):
            raise InvalidInputError(
                f"{hook.id} has {len(forwards)} forward(s); `forward {hook.id} list` numbers them"
            )
        return hook, forwards[number - 1]

    async def remove_forward(
        self, ref: str, number: int, scope: Scope = CLI_SCOPE
    ) -> tuple[Hook, Forward, int]:
        """Remove forward `number`; its queued requests are dropped (returned: how many)."""
        hook, forward = await self._forward(ref, number, scope)
        dropped = await self._store.forwards.remove(forward.id, "the forward was removed")
        self._changed()
        return hook, forward, dropped

    async def test_forward(
        self, ref: str, number: int, scope: Scope = CLI_SCOPE
    ) -> tuple[Hook, Forward, LogEntry]:
        """Send the hook's last event (or a sample) to forward `number` now; the ledger line."""
        from bot.delivery.forwarding import send_now

        hook, forward = await self._forward(ref, number, scope)
        event, _ = await self._sample_event(hook, hook.service, "*")
        now = self._clock()
        delivery = f"test-{uuid.uuid4()}"
        sent, error = await send_now(
            forward, event, self._forward_allow, now=now, delivery=delivery
        )
        result = sent.result if sent is not None else None
        failed = sent is None or sent.receipt is None
        detail = f"forward {forward.number} test"
        if not failed and error is not None:  # sent, with the default body
            detail, error = f"{detail}; {error}", None
        entry = LogEntry(
            now,
            "failed" if failed else "sent",
            hook.id,
            delivery,
            event.kind,
            detail,
            direction=Direction.OUT,
            destination=forward.destination,
            status_code=None if result is None else result.status_code,
            response_ms=None if result is None else result.response_ms,
            attempt=1,
            error=error,
        )
        await self._store.ledger.add([entry])
        return hook, forward, entry

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
