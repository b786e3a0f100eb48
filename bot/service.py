"""HookService: create, find, edit and delete hooks; the one API both command adapters use."""

from __future__ import annotations

import re
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources

from bot.core.alerts import RuleError, known_names, parse_rule, pr_state_events
from bot.core.filters import Filter, FilterError, check_applies, kinds_with_key, parse_filter
from bot.core.selection import SelectionError, describe, parse_patterns, selected_event_names
from bot.store import Hook, LogEntry, NewDelivery, Store
from formatters.message import Message
from formatters.render import TemplateError, render_user, validate_template
from parsers import SERVICES, ServiceSpec
from parsers.errors import ParseError
from parsers.event import Event

HOOK_ID = re.compile(r"hook_\d{3,}")
CHANNEL_TEMPLATE = re.compile(r"([a-z]+)-([a-z_]+(?:\.[a-z_]+)?)")
MAX_FILTERS = 20
MAX_ALERTS = 10
MIN_WINDOW_SECONDS = 60
MAX_WINDOW_SECONDS = 24 * 3600
MAX_GRACE_SECONDS = 7 * 24 * 3600
LOG_CONTEXT = 10  # `logs` reads this many times its lines to name the kind of `sent` ones


def events_to_tick(hook: Hook) -> list[str]:
    """Return the provider-side events a hook needs ticked: its selection plus its rules' state."""
    names = list(selected_event_names(hook.events, hook.service))
    for rule in hook.alerts:
        names += [n for n in pr_state_events(str(rule["expression"])) if n not in names]
    labels = SERVICES[hook.service].event_labels
    return [labels.get(name, name) for name in names]


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
    """Return the bundled sample that best shows `kind` (its kind, else its event)."""
    if kind != "*":
        event = kind.split(".", 1)[0]
        for wanted in (kind, event):
            for name, sample_kind in spec.samples.items():
                if wanted in (sample_kind, sample_kind.split(".", 1)[0]):
                    return name
    return first_sample(spec)


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
    from bot.delivery.sinks import describe_message

    return describe_message(message)


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
        if service not in SERVICES:
            known = ", ".join(sorted(SERVICES))
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
        await self._store.hooks.rotate(
            hook.id,
            now,
            token=secrets.token_urlsafe(24),
            secret=secrets.token_urlsafe(32),
            keep_old_until=now + grace_seconds if grace_seconds else None,
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
            spec = SERVICES[hook.service]
            name = first_sample(spec)
            body = load_sample(hook.service, name)
            delivery = f"sample-{uuid.uuid4()}"
            headers = {
                k.lower(): v
                for k, v in spec.sample_headers(name, body, hook.secret, delivery).items()
            }
            what = f"the bundled sample {name!r}"
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
        """Replace a hook's event selection; returns the hook and the selection in words."""
        hook = await self.resolve(ref, scope)
        try:
            patterns = parse_patterns(text, hook.service, SERVICES[hook.service].kinds)
        except SelectionError as exc:
            raise InvalidInputError(str(exc)) from exc
        await self._store.hooks.update(hook.id, self._clock(), events=list(patterns))
        self._changed()
        return await self._get(hook.id), describe(patterns, hook.service)

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
            self.url_for(hook),
            describe(hook.events, hook.service),
            counts,
            {kind: source for (service, kind), source in shared.items() if service == hook.service},
            shared_by(hook.guild_id),
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
        sample = await self._sample_event(hook, service, kind)
        try:
            validate_template(source, sample)
            rendered = render_user(source, sample)
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

        sample = await self._sample_event(hook, service, kind)
        source = None if hook is None else find_template(hook, sample, shared)
        return _message_text(render_with(source, sample).message)

    async def logs(
        self, ref: str | None, scope: Scope = CLI_SCOPE, limit: int = 20
    ) -> list[LogEntry]:
        """Return the newest ledger lines of one hook (or, from the CLI, of all), oldest first."""
        hook_id = None
        if ref is None:
            if scope.guild_id is not None:
                raise InvalidInputError("name a hook: logs <ref>")
        else:
            hook_id = (await self.resolve(ref, scope)).id
        entries = await self._store.log.recent(hook_id, limit)
        if all(e.kind or not e.delivery_id for e in entries):
            return entries
        # Lines written when a message is sent, retried or given up carry no kind: they
        # take the kind(s) of the events their delivery queued, from the wider ledger.
        kinds: dict[tuple[str | None, str], list[str]] = {}
        for entry in await self._store.log.recent(hook_id, limit * LOG_CONTEXT):
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
        """Add an alert-if rule; returns the hook, the rule and the GitHub events it needs."""
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
        return await self._get(hook.id), expression, pr_state_events(expression)

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
        return str(hook.alerts[index]["expression"])

    async def _sample_event(self, hook: Hook | None, service: str, kind: str) -> Event:
        """The hook's last real delivery of that kind, or a bundled sample."""
        spec = SERVICES[service]
        if hook is not None:
            last = await self._store.inbox.last_delivery(hook.id)
            if last is not None:
                try:
                    events = spec.parse(last.headers, last.body, {})
                except ParseError:
                    events = []
                for event in events:
                    if kind == "*" or event.kind == kind or event.kind.split(".")[0] == kind:
                        return event
        name = sample_for_kind(spec, kind)
        body = load_sample(service, name)
        headers = spec.sample_headers(name, body, "sample-secret", f"sample-{name}")
        return spec.parse(headers, body, {})[0]

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
