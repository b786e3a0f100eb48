"""Pipeline: stored delivery → parse → the hook's rules → rendered messages → outbox."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from bot.aio import wait_event
from bot.alerting import AlertTracker
from bot.core.alerts import pr_state_events
from bot.core.filters import FilterSet, parse_filter
from bot.core.selection import Selection, selected_event_names
from bot.delivery.forwarding import forward_rows
from bot.delivery.outbox import make_nonce
from bot.parse_pool import ParsePool, ParseTimeoutError, UnknownServiceError
from bot.store import (
    AlertMisses,
    AlertStateChange,
    Completion,
    FilterCount,
    Hook,
    HookStatus,
    InboxRow,
    LogEntry,
    NewHeldEvent,
    NewOutbox,
    PRStateChange,
    Store,
    StoreError,
)
from bot.store.forwards import Forward
from bot.windows import held_json, window_end
from formatters.message import Message, message_to_json
from formatters.render import TemplateError, render_default, render_user
from parsers import SERVICES
from parsers.errors import PayloadError, UnsupportedEventError
from parsers.event import JSON, Event

log = logging.getLogger(__name__)

BATCH = 256
POLL_SECONDS = 2.0
# Work done between two turns of the loop: see `slice_seconds`.
SLICE_SECONDS = 0.005
MAX_SLICE_SECONDS = 0.2
CATCH_UP_LAG_SECONDS = 0.25
# A delivery the pipeline started this many times without finishing is set aside.
MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message for one event, and the template error that made it fall back, if any."""

    message: Message
    template_error: str | None = None


def find_template(
    hook: Hook, event: Event, channel_templates: Mapping[tuple[str, str], str]
) -> str | None:
    """Return the user template for an event, in DESIGN.md's lookup order.

    hook + kind (or its event name) → hook (`*`) → channel + service-kind → None (default).
    """
    event_name = event.kind.split(".", 1)[0]
    for key in (event.kind, event_name, "*"):
        if hook.templates.get(key):
            return hook.templates[key]
    for key in (event.kind, event_name):
        if channel_templates.get((hook.service, key)):
            return channel_templates[(hook.service, key)]
    return None


def render_with(
    source: str | None, event: Event, payload: Callable[[], JSON] | None = None
) -> Rendered:
    """Render with a user template, falling back to the default when it fails.

    `payload` returns the delivery's raw JSON; it is called only for a template that
    reads `payload`.
    """
    if source:
        try:
            message = render_user(source, event, payload)
        except TemplateError as exc:
            return Rendered(render_default(event), f"template failed, default used: {exc}")
        if message.content.strip():
            return Rendered(message)
        return Rendered(render_default(event), "template rendered nothing, default used")
    return Rendered(render_default(event))


def slice_seconds(waited: float, away: float) -> float:
    """Return how long the pipeline may work before it hands the loop back.

    `waited` is how long the deliveries being worked on have waited since they were
    accepted; `away` how long the rest of the loop (requests, sends) ran since the
    pipeline last handed it over. While deliveries are fresh a slice is short, so
    requests are answered promptly. Once they wait more than CATCH_UP_LAG_SECONDS, a
    slice lasts `away` times the number of CATCH_UP_LAG_SECONDS they have waited: the
    later the messages, the larger the pipeline's share of the loop, so a saturated
    receiver ends up accepting about as fast as the pipeline finishes (DESIGN
    "Guarantees": what is accepted is also processed). MAX_SLICE_SECONDS bounds what a
    request may wait for its answer.
    """
    if waited <= CATCH_UP_LAG_SECONDS:
        return SLICE_SECONDS
    share = away * waited / CATCH_UP_LAG_SECONDS
    return min(MAX_SLICE_SECONDS, max(SLICE_SECONDS, share))


@dataclass(frozen=True, slots=True)
class HookRules:
    """A hook as the pipeline uses it: its selection and filters compiled."""

    hook: Hook
    selection: Selection
    filters: FilterSet
    filter_texts: tuple[str, ...]


@functools.lru_cache(maxsize=1024)
def _compile(
    service: str, events: tuple[str, ...], filters: tuple[str, ...]
) -> tuple[Selection, FilterSet, tuple[str, ...]]:
    parsed = [parse_filter(text, service) for text in filters]  # validated when stored
    return (
        Selection.from_patterns(events, service),
        FilterSet(parsed),
        tuple(f.text for f in parsed),
    )


def compile_rules(hook: Hook) -> HookRules:
    """Return the hook with its selection and filters compiled (cached by their text)."""
    return HookRules(hook, *_compile(hook.service, tuple(hook.events), tuple(hook.filters)))


def is_connection_check(hook: Hook, event: Event) -> bool:
    """True for the sender's connection check (its service's `connection_kind`, a ping)."""
    spec = SERVICES.get(hook.service)
    return spec is not None and event.kind == spec.connection_kind


def with_missing_events(hook: Hook, ping: Event) -> Event:
    """Add `missing_events` to a connection check: what the hook needs but will not be sent.

    The check lists the events the sender will send in its `hook_events` field; a check
    without that list is returned as is.
    """
    sent = ping.fields.get("hook_events")
    if not isinstance(sent, list) or "*" in sent:
        return ping
    needed = set(selected_event_names(hook.events, hook.service))
    for rule in hook.alerts:
        needed.update(pr_state_events(str(rule["expression"]), hook.service))
    missing: list[JSON] = [*sorted(needed - {str(name) for name in sent})]
    return replace(ping, fields=MappingProxyType({**ping.fields, "missing_events": missing}))


class Pipeline:
    """One worker that turns stored deliveries into queued messages, in arrival order."""

    def __init__(
        self,
        store: Store,
        on_queued: Callable[[], None],
        clock: Callable[[], float] = time.time,
        parse_pool: ParsePool | None = None,
        enrich: Callable[[Event], Awaitable[Event]] | None = None,
        *,
        idle: asyncio.Event | None = None,
        wake: asyncio.Event | None = None,
    ) -> None:
        """`enrich` adds what a payload lacks to an event just before it is rendered.

        It is the Files line from GitHub's API (bot/integrations/commit_files.py); it
        never raises. `idle` (set while no backlog is queued) and `wake` may be made
        first and shared: the outbox waits on `idle`, the writer sets `wake`.
        """
        self._store = store
        self._enrich = enrich
        self._parse_pool = parse_pool or ParsePool()
        self._on_queued = on_queued
        self.idle = idle if idle is not None else asyncio.Event()  # clear during a backlog
        self.idle.set()
        self._clock = clock
        self._wake = wake if wake is not None else asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._drain_until = 0.0
        self._slice_ended = time.monotonic()  # when the last slice handed the loop back

    @property
    def running(self) -> bool:
        """Return True while the worker runs."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the worker; it first drains what an earlier run left pending."""
        self._task = asyncio.create_task(self._run(), name="pipeline")
        self.notify()

    def notify(self) -> None:
        """Wake the worker: new deliveries were committed."""
        self._wake.set()

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Turn what is already stored into queued messages (bounded), then stop.

        Whatever is left when the bound passes stays in the inbox for the next start.
        """
        self._drain_until = time.monotonic() + drain_seconds
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        await self._parse_pool.close()

    async def _run(self) -> None:
        while True:
            if not self._stopping:
                await wait_event(self._wake, POLL_SECONDS)
                self._wake.clear()
            finished = await self._drain()
            if self._stopping and (finished or time.monotonic() > self._drain_until):
                return

    async def _drain(self) -> bool:
        """Process pending deliveries; True once none are left (or the store fails)."""
        while True:
            try:
                rows = await self._store.inbox.pending(BATCH)
            except StoreError:
                log.exception("pipeline: cannot read the inbox")
                return True
            if not rows:
                self.idle.set()
                return True
            if len(rows) > 1:  # a backlog, not a lone event
                self.idle.clear()
            try:
                await self._attempt(rows)
            except StoreError:
                log.exception("pipeline: %d deliveries could not be completed", len(rows))
                self.idle.set()
                return True
            if self._stopping and time.monotonic() > self._drain_until:
                return False

    async def _attempt(self, rows: list[InboxRow]) -> None:
        """Count an attempt on deliveries, then process them; set aside the poisoned ones.

        The attempt is committed before the work starts, so a crash or a kill counts too.
        Fresh deliveries go as one batch. A delivery an earlier attempt did not finish
        goes alone, so that one poisoned delivery cannot take its neighbours down with it,
        and after MAX_ATTEMPTS it is marked failed instead of tried again.
        """
        first = rows[0]
        if first.attempts >= MAX_ATTEMPTS:
            reason = (
                f"set aside: processing did not finish after {first.attempts} attempts"
                " (the process stopped or crashed while working on it)"
            )
            log.warning("hook %s: delivery %s %s", first.hook_id, first.delivery_id, reason)
            await self._store.inbox.set_aside(first, reason, self._clock())
            return
        batch = [first] if first.attempts else [r for r in rows if not r.attempts]
        await self._store.inbox.count_attempt([row.id for row in batch])
        await self._process_batch(batch)

    async def process(self, row: InboxRow) -> None:
        """Parse one delivery, render it for its hook and queue the messages (one transaction)."""
        await self._process_batch([row])

    async def _process_batch(self, rows: list[InboxRow]) -> None:
        """Work out the batch's deliveries, committing each slice of work as it is done.

        A slice ends in one transaction, so its messages go out while the rest is worked
        on; the transaction commits in the background while the loop takes one turn for
        everything else (requests, sends) and the next slice starts. `slice_seconds`
        says how long a slice works: longer once deliveries wait, so a saturated
        receiver does not starve the pipeline.
        """
        now = self._clock()
        hooks = await self._store.hooks.get_many({row.hook_id for row in rows})
        forwards = await self._store.forwards.of_hooks(hooks)
        channels: dict[tuple[str, str], Mapping[tuple[str, str], str]] = {}
        tracker = AlertTracker(self._store)
        completions: list[Completion] = []
        committing: asyncio.Task[None] | None = None
        slice_start = time.monotonic()
        slice_length = self._slice_length(rows[0], slice_start)
        try:
            for row in rows:
                hook = hooks.get(row.hook_id)
                rules = None if hook is None else compile_rules(hook)
                templates: Mapping[tuple[str, str], str] = {}
                if hook is not None:
                    where = (hook.guild_id or "", hook.channel_id or "")
                    if where not in channels:
                        channels[where] = await self._store.hooks.channel_templates(*where)
                    templates = channels[where]
                completions.append(
                    await self._complete_safely(
                        row, rules, templates, tracker, now, forwards.get(row.hook_id, ())
                    )
                )
                if time.monotonic() - slice_start >= slice_length:
                    committing = await self._hand_over(completions, committing)
                    completions = []
                    slice_start = time.monotonic()
                    slice_length = self._slice_length(row, slice_start)
            if completions:
                committing = await self._hand_over(completions, committing)
        finally:  # a slice being committed is seen through, whatever happened since
            if committing is not None:
                await committing

    def _slice_length(self, current: InboxRow, starting: float) -> float:
        """Return how long the slice `starting` (monotonic) may work before it commits.

        `current`'s wait stands for the backlog's.
        """
        waited = self._clock() - current.received_at
        return slice_seconds(waited, starting - self._slice_ended)

    async def _hand_over(
        self, completions: list[Completion], previous: asyncio.Task[None] | None
    ) -> asyncio.Task[None]:
        """Commit a slice's work in the background and give the loop one turn.

        The next slice is worked on while the database thread commits this one (behind
        the receiver's fsyncs, it may wait); slices still commit in order, each after the
        one before. Returns the commit, to be awaited before the batch ends.
        """
        if previous is not None:
            await previous
        self._slice_ended = time.monotonic()
        committing = asyncio.create_task(self._commit(completions), name="pipeline-commit")
        await asyncio.sleep(0)  # requests and sends run now
        return committing

    async def _commit(self, completions: list[Completion]) -> None:
        await self._store.inbox.complete(completions)
        self._on_queued()

    async def _complete_safely(
        self,
        row: InboxRow,
        rules: HookRules | None,
        channel_templates: Mapping[tuple[str, str], str],
        tracker: AlertTracker,
        now: float,
        forwards: Sequence[Forward] = (),
    ) -> Completion:
        """Complete one delivery; a bug on one delivery fails it, not the worker."""
        try:
            return await self._complete(row, rules, channel_templates, tracker, now, forwards)
        except StoreError:
            raise
        except Exception as exc:
            log.exception("hook %s: delivery %s: pipeline error", row.hook_id, row.delivery_id)
            detail = f"pipeline error: {exc!r}"
            entry = LogEntry(now, "error", row.hook_id, row.delivery_id, row.event_name, detail)
            return Completion(row.id, (), [entry], HookStatus(row.hook_id, "error", detail))

    async def _complete(
        self,
        row: InboxRow,
        rules: HookRules | None,
        channel_templates: Mapping[tuple[str, str], str],
        tracker: AlertTracker,
        now: float,
        forwards: Sequence[Forward] = (),
    ) -> Completion:
        entries: list[LogEntry] = []

        def note(outcome: str, detail: str | None = None, kind: str | None = None) -> None:
            entries.append(LogEntry(now, outcome, row.hook_id, row.delivery_id, kind, detail))

        if rules is None:
            note("skipped", "the hook was deleted")
            return Completion(row.id, (), entries)
        hook = rules.hook
        events, error = await self._parse(row, hook.options)
        if error is not None:
            outcome, detail = error
            note(outcome, detail, row.event_name)
            status_error = detail if outcome == "error" else None
            return Completion(row.id, (), entries, HookStatus(hook.id, outcome, status_error))
        if not hook.enabled:
            note("skipped", "the hook is off", row.event_name)
            return Completion(row.id, (), entries, HookStatus(hook.id, "skipped"))
        # Decoded at most once, and only for a template that reads `payload`.
        payload_of = functools.cache(
            functools.partial(SERVICES[row.service].payload_of, row.headers, row.body)
        )
        outbox: list[NewOutbox] = []
        counts: dict[str, list[int]] = {}
        held: list[NewHeldEvent] = []
        pr_states: list[PRStateChange] = []
        alert_states: list[AlertStateChange] = []
        misses = 0
        last_error: str | None = None

        def queue(message: Message, part: str) -> None:
            outbox.append(
                NewOutbox(
                    destination=hook.destination,
                    payload=json.dumps(message_to_json(message)),
                    nonce=make_nonce(hook.id, row.delivery_id, part),
                    hook_id=hook.id,
                    delivery_id=row.delivery_id,
                    not_before=now,
                    dead_reason=f"kept, not sent: {hook.failing}" if hook.failing else None,
                )
            )

        def forward(event: Event, part: str, alert: str | None = None) -> None:
            """Queue the event (or its alert) for each of the hook's forwards."""
            nonlocal last_error
            queued = forward_rows(
                forwards, event, delivery=row.delivery_id, part=part, now=now, alert=alert
            )
            outbox.extend(queued.rows)
            for error in queued.body_errors:
                last_error = error
                note("template-error", error, event.kind)

        for part, event in enumerate(events):
            # State and alert rules see every event, before selection, filters and windows.
            observed = await tracker.observe(hook, event)
            pr_states += observed.pr_states
            alert_states += observed.alert_states
            misses += observed.misses
            for n, alert in enumerate(observed.messages):
                queue(alert, f"{part}:alert:{n}")
                note("alert", alert.content[:200], event.kind)
                forward(event, f"{part}:alert:{n}", alert.content)
            if not rules.selection.selects(event.kind):
                note("dropped", f"{event.kind} is not in the hook's events", event.kind)
                continue
            kept, outcomes = rules.filters.evaluate(event)
            for text, result in zip(rules.filter_texts, outcomes, strict=True):
                if result is not None:
                    counts.setdefault(text, [0, 0])[0 if result else 1] += 1
            if not kept:
                failed = [
                    t for t, o in zip(rules.filter_texts, outcomes, strict=True) if o is False
                ]
                note("dropped", f"filter {', '.join(failed)}", event.kind)
                continue
            forward(event, str(part))
            connection_check = is_connection_check(hook, event)
            if hook.window_seconds and not connection_check:
                end = window_end(now, hook.window_seconds)
                event_json = held_json(event, hook.window_seconds)
                held.append(NewHeldEvent(hook.id, end, event_json, row.delivery_id))
                note("held", f"in the window ending {end:.0f}", event.kind)
                continue
            if connection_check:
                event = with_missing_events(hook, event)
            if self._enrich is not None:
                event = await self._enrich(event)
            rendered = render_with(find_template(hook, event, channel_templates), event, payload_of)
            if rendered.template_error:
                last_error = rendered.template_error
                note("template-error", rendered.template_error, event.kind)
            queue(rendered.message, str(part))
            note("queued", event.title, event.kind)
        status = "queued" if outbox else ("held" if held else "dropped")
        return Completion(
            row.id,
            outbox,
            entries,
            HookStatus(hook.id, status, last_error),
            [FilterCount(hook.id, text, k, d) for text, (k, d) in counts.items()],
            held=held,
            pr_states=pr_states,
            alert_states=alert_states,
            alert_misses=[AlertMisses(hook.id, misses)],
            at=now,
        )

    async def _parse(
        self, row: InboxRow, options: Mapping[str, JSON]
    ) -> tuple[list[Event], tuple[str, str] | None]:
        """Parse a delivery with its hook's options; the error is (outcome, detail)."""
        try:
            events = await self._parse_pool.parse(row.service, row.headers, row.body, options)
        except UnknownServiceError as exc:
            return [], ("error", str(exc))
        except ParseTimeoutError as exc:
            return [], ("failed", str(exc))
        except UnsupportedEventError as exc:
            return [], ("ignored", str(exc))
        except PayloadError as exc:
            log.warning("hook %s: delivery %s: %s", row.hook_id, row.delivery_id, exc)
            return [], ("error", f"payload error: {exc}")
        except Exception as exc:  # a parser bug must not stop the worker
            log.exception("hook %s: delivery %s: parser crashed", row.hook_id, row.delivery_id)
            return [], ("error", f"parser error: {exc!r}")
        if not events:
            return [], ("ignored", "nothing to post for this delivery")
        return events, None
