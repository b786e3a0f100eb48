"""Command line: hookbot run | hook … | send-sample; thin over HookService."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from bot.config import ConfigError, Settings, StartupError, check_database_path
from bot.core.grammar import canonical, is_service, split_format_args
from bot.service import (
    HOOK_ID,
    HookCredentials,
    HookDetails,
    HookError,
    HookService,
    InvalidInputError,
    events_to_tick,
    load_sample,
)
from bot.store import Hook, LogEntry, Store, StoreError
from parsers import SERVICES

log = logging.getLogger(__name__)

T = TypeVar("T")

HOOK_HELP = """\
hookbot hook <verb> [<ref>] [args]   (the service-first order works too: hook github on)

  on <service> [--webhook-url URL | --channel ID] [--new] [--json]
                                   create a hook (or show this destination's only one again)
  on <ref> | off <ref>             enable / disable (kept, not deleted)
  list                             every hook with its state and counters
  info <ref>                       one hook in full, with its last error
  delete <ref> --yes               delete for good
  test <ref>                       send the last delivery (or a sample) through the pipeline again
  logs [<ref>]                     the delivery ledger: accepted, dropped (and why), sent, retried
  events <ref> [push,pr,-star]     show or choose the events a hook posts
  filter <ref> key=glob | key!=glob | list | remove <n> | clear
                                   keep or drop events by branch, author, label, path, status…
  format <ref|github-push> [kind] "<template>" | [kind] reset  [--preview]
                                   your own message format (Jinja2), previewed on a real event;
                                   `<ref> reset` removes all the hook's templates, `<ref> push
                                   reset` the push one; github-push: every hook made here
  aggregate <ref> 5m | off          one digest per UTC-aligned window (1m–24h) instead of each event
  alert-if <ref> "<expression>" [--mention ROLE_ID] | list | remove <n>
                                   an extra ⚡ alert when a rule turns true (PR approvals, checks…)
  rotate <ref> [--grace 24h] [--json]
                                   new URL token and secret; the old ones work during the grace

<ref> is a hook id (hook_001) or a service name that names exactly one hook.
"""


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from bot.redact import install_redaction

    install_redaction()  # no webhook token or secret reaches a log line


def _with_store(settings: Settings, work: Callable[[HookService, Store], Awaitable[T]]) -> T:
    check_database_path(settings.hookbot_db)

    async def run() -> T:
        store = await Store.open(settings.hookbot_db)
        try:
            return await work(HookService(store, settings.base_url), store)
        finally:
            await store.close()

    return asyncio.run(run())


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _state(hook: Hook) -> str:
    if hook.failing:
        return "failing"
    return "on" if hook.enabled else "off"


def _destination(settings: Settings, args: argparse.Namespace) -> str:
    if args.webhook_url and args.channel:
        raise InvalidInputError("give --webhook-url or --channel, not both")
    if args.channel:
        if not args.channel.isdigit():
            raise InvalidInputError("--channel takes a Discord channel id (digits)")
        if not settings.discord_token:
            raise InvalidInputError("--channel needs DISCORD_TOKEN; use --webhook-url instead")
        return f"discord:channel:{args.channel}"
    url = args.webhook_url or settings.discord_webhook_url
    if url:
        if not url.startswith(("http://", "https://")) or "/webhooks/" not in url:
            raise InvalidInputError("--webhook-url must be a URL ending in /webhooks/<id>/<token>")
        return f"webhook:{url}"
    return "console"


def _print_credentials(creds: HookCredentials, as_json: bool, verb: str) -> None:
    hook = creds.hook
    if as_json:
        print(
            json.dumps(
                {
                    "id": hook.id,
                    "service": hook.service,
                    "destination": hook.destination,
                    "url": creds.url,
                    "secret": creds.secret,
                    "created": creds.created,
                }
            )
        )
        return
    print(f"✅ {verb} {hook.id}: {hook.service} → {_shown_destination(hook.destination)}")
    if hook.service == "github":
        print("In GitHub: Settings → Webhooks → Add webhook, with")
        print("  Payload URL: the URL below · Content type: application/json")
        print(f"  Events: {', '.join(events_to_tick(hook))}")
    print(f"ID: {hook.id}")
    print(f"URL: {creds.url}")
    print(f"Secret: {creds.secret}")


def _shown_destination(destination: str) -> str:
    if destination.startswith("webhook:"):
        url = destination.removeprefix("webhook:")
        return "channel webhook " + url.rsplit("/", 1)[0] + "/…"  # hide the webhook token
    return destination


def _print_hook(details: HookDetails) -> None:
    hook = details.hook
    rejections = ", ".join(f"{r}: {n}" for r, n in sorted(hook.rejections.items())) or "none"
    rows = [
        ("ID", hook.id),
        ("Service", hook.service),
        ("State", _state(hook)),
        ("Destination", _shown_destination(hook.destination)),
        ("URL", details.url),
        ("Events", details.selection),
        ("Accepted", str(hook.accepted)),
        ("Rejected", f"{hook.rejected} ({rejections})"),
        ("Last delivery", f"{_when(hook.last_delivery_at)} ({hook.last_delivery_status or '-'})"),
        ("Last error", hook.failing or hook.last_error or "none"),
        ("Created", _when(hook.created_at)),
    ]
    for name, value in rows:
        print(f"{name + ':':<15}{value}")
    print(f"{'Filters:':<15}none" if not details.filters else "Filters:")
    for n, (text, kept, dropped) in enumerate(details.filters, 1):
        print(f"  {n}. {text}  (kept {kept}, dropped {dropped})")
    window = f"every {hook.window_seconds // 60}m" if hook.window_seconds else "off"
    print(f"{'Aggregate:':<15}{window}")
    print(f"{'Alert rules:':<15}none" if not hook.alerts else "Alert rules:")
    for n, rule in enumerate(hook.alerts, 1):
        print(f"  {n}. {rule['expression']}")
    if hook.alerts:
        print(f"  (false for a missing value {hook.alert_misses} time(s))")
    shared = details.shared_templates
    print(f"{'Templates:':<15}default" if not hook.templates and not shared else "Templates:")
    for kind, source in sorted(hook.templates.items()):
        print(f"  {'every event' if kind == '*' else kind}: {source}")
    for kind, source in sorted(shared.items()):
        print(f"  {kind} (shared by {details.shared_by}): {source}")


def _print_logs(entries: Sequence[LogEntry]) -> None:
    if not entries:
        return  # an empty ledger prints nothing, so scripts can test for it
    rows = [("TIME", "HOOK", "DELIVERY", "OUTCOME", "KIND", "DETAIL")]
    rows += [
        (
            _when(e.at),
            e.hook_id or "-",
            e.delivery_id or "-",
            e.outcome,
            e.kind or "-",
            (e.detail or "")[:120],
        )
        for e in entries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True)]
        print("  ".join([*cells, row[5]]))


def _hook_command(settings: Settings, words: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hookbot hook", add_help=False)
    parser.add_argument("words", nargs="*")
    parser.add_argument("--webhook-url")
    parser.add_argument("--channel")
    parser.add_argument("--new", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--yes", action="store_true")
    parser.add_argument("--grace")
    parser.add_argument("--preview", action="store_true")
    parser.add_argument("--mention")
    parser.add_argument("-h", "--help", action="store_true")
    # Unknown dashed words are values, not options: `events hook_001 -star`.
    args, dashed = parser.parse_known_args(words)
    positional = canonical([*args.words, *dashed])
    if args.help or not positional or positional[0] == "help":
        print(HOOK_HELP, end="")
        return 0
    verb, rest = positional[0], positional[1:]

    async def work(service: HookService, store: Store) -> int:
        if verb == "logs":
            _print_logs(await service.logs(rest[0] if rest else None, limit=50))
            return 0
        if verb == "list":
            hooks = await service.list_hooks()
            if not hooks:
                print("No hooks yet. Create one: hookbot hook on github")
            for hook in hooks:
                print(
                    f"{hook.id}  {hook.service:<8} {_state(hook):<8} "
                    f"{_shown_destination(hook.destination)}  accepted {hook.accepted}, "
                    f"rejected {hook.rejected}, last {_when(hook.last_delivery_at)} "
                    f"({hook.last_delivery_status or '-'})"
                )
            return 0
        if not rest:
            raise InvalidInputError(f"`{verb}` needs a hook id or service; see hookbot hook help")
        ref = rest[0]
        if verb == "on" and is_service(ref) and not HOOK_ID.fullmatch(ref):
            target = rest[1] if len(rest) > 1 else None
            creds = await service.create(
                ref, _destination(settings, args), target=target, creator="cli", new=args.new
            )
            _print_credentials(creds, args.json, "Created" if creds.created else "Enabled")
            return 0
        if verb == "on":
            hook, requeued = await service.enable(ref)
            extra = f"; {requeued} kept message(s) queued again" if requeued else ""
            print(f"✅ {hook.id} is on{extra}")
            return 0
        if verb == "off":
            hook = await service.disable(ref)
            print(
                f"✅ {hook.id} is off: deliveries are recorded, not posted. `on {hook.id}` resumes"
            )
            return 0
        if verb == "info":
            _print_hook(await service.details(ref))
            return 0
        if verb == "delete":
            hook = await service.resolve(ref)
            if not args.yes:
                raise InvalidInputError(f"deleting {hook.id} cannot be undone; add --yes")
            await service.delete(hook.id)
            print(f"✅ Deleted {hook.id}; its URL no longer works")
            return 0
        if verb == "events":
            if len(rest) > 1:
                hook, words = await service.set_events(ref, ",".join(rest[1:]))
                print(f"✅ {hook.id} now posts {words}")
            else:
                hook, words = await service.describe_events(ref)
                print(f"{hook.id} posts {words}")
            return 0
        if verb == "filter":
            rule = " ".join(rest[1:])
            if rule == "list":
                hook, counts = await service.filter_counts(ref)
                for n, (text, kept, dropped) in enumerate(counts, 1):
                    print(f"{n}. {text}  (kept {kept}, dropped {dropped})")
                if not counts:
                    print(f"{hook.id} has no filters")
            elif len(rest) == 3 and rest[1] == "remove":
                print(f"✅ Removed filter {await service.remove_filter(ref, rest[2])}")
            elif rule == "clear":
                print(f"✅ Removed {await service.clear_filters(ref)} filter(s)")
            elif rule:
                hook, added, applies = await service.add_filter(ref, rule)
                print(f"✅ {hook.id}: filter {added.text} added; applies to {', '.join(applies)}")
            else:
                raise InvalidInputError("give a filter (branch=main), list, remove <n> or clear")
            return 0
        if verb == "format":
            kind, source, preview = split_format_args(" ".join(rest[1:]))
            change = await service.set_template(ref, kind, source, preview=args.preview or preview)
            print(change.summary)
            return 0
        if verb == "aggregate":
            if len(rest) != 2:
                raise InvalidInputError(
                    "write: aggregate <ref> 5m (1m to 24h) or aggregate <ref> off"
                )
            hook, seconds, released = await service.set_window(ref, rest[1])
            if seconds is None:
                print(f"✅ {hook.id} posts each event again; {released} held event(s) released")
            else:
                print(f"✅ {hook.id} posts a digest every {rest[1]} (UTC-aligned windows)")
            return 0
        if verb == "alert-if":
            rule = " ".join(rest[1:])
            if rule == "list":
                hook, rules = await service.list_alerts(ref)
                for n, text in enumerate(rules, 1):
                    print(f"{n}. {text}")
                if not rules:
                    print(f"{hook.id} has no alert rules")
            elif len(rest) == 3 and rest[1] == "remove":
                print(f"✅ Removed rule {await service.remove_alert(ref, rest[2])}")
            elif rule:
                hook, expression, needs = await service.add_alert(
                    ref, rule, mention_role=args.mention
                )
                print(f"✅ {hook.id} alerts when: {expression}")
                if needs:
                    print(f"Tick these GitHub webhook events: {', '.join(needs)}")
            else:
                raise InvalidInputError('write: alert-if <ref> "<expression>" | list | remove <n>')
            return 0
        if verb == "test":
            hook, what = await service.test(ref)
            print(f"✅ Sent {what} through {hook.id}; a running hookbot posts it within seconds")
            return 0
        if verb == "rotate":
            creds = await service.rotate(ref, grace=args.grace)
            _print_credentials(creds, args.json, "Rotated")
            return 0
        raise InvalidInputError(f"unknown verb {verb!r}; see hookbot hook help")

    return _with_store(settings, work)


def _send_sample(settings: Settings, service_name: str, kind: str, hook_ref: str | None) -> int:
    import aiohttp  # only send-sample posts; the other commands start faster without it

    spec = SERVICES.get(service_name)
    if spec is None:
        known = ", ".join(sorted(SERVICES))
        raise InvalidInputError(f"unknown service {service_name!r}; known services: {known}")
    body = load_sample(service_name, kind)

    async def find(service: HookService, store: Store) -> Hook:
        if hook_ref:
            return await service.resolve(hook_ref)
        hooks = [h for h in await service.list_hooks() if h.service == service_name]
        if not hooks:
            raise InvalidInputError(
                f"no {service_name} hook yet; create one with: hookbot hook on {service_name}"
            )
        return hooks[-1]

    hook = _with_store(settings, find)
    delivery = str(uuid.uuid4())
    headers = {
        "User-Agent": "hookbot-send-sample",
        **spec.sample_headers(kind, body, hook.secret, delivery),
    }
    url = f"http://{settings.hookbot_host}:{settings.hookbot_port}/webhook/{hook.service}/{hook.token}"

    async def post() -> tuple[int, str]:
        timeout = aiohttp.ClientTimeout(total=15)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            return response.status, await response.text()

    try:
        status, text = asyncio.run(post())
    except (aiohttp.ClientError, TimeoutError) as exc:
        print(f"❌ cannot reach hookbot at {url.split('/webhook')[0]}: {exc}", file=sys.stderr)
        print("Start it first: hookbot run", file=sys.stderr)
        return 1
    print(f"{status} {text} (hook {hook.id}, delivery {delivery})")
    return 0 if status < 300 else 1


def _replay(settings: Settings, delivery: str) -> int:
    async def work(service: HookService, store: Store) -> int:
        hook, new_id = await service.replay(delivery)
        print(f"✅ Replaying {delivery} through {hook.id} as {new_id}; a running hookbot posts it")
        return 0

    return _with_store(settings, work)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level argument parser."""
    parser = argparse.ArgumentParser(
        prog="hookbot",
        description="Webhooks to Discord messages: receiver, pipeline and bot in one process.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the receiver (and the bot when DISCORD_TOKEN is set)")
    hook = sub.add_parser("hook", help="manage hooks (hookbot hook help)", add_help=False)
    hook.add_argument("words", nargs=argparse.REMAINDER)
    sample = sub.add_parser("send-sample", help="POST a signed bundled sample to the server")
    sample.add_argument("service")
    sample.add_argument("kind", nargs="?", default="push")
    sample.add_argument("--hook", help="hook id (default: the newest hook of that service)")
    replay = sub.add_parser("replay", help="run a stored delivery through the pipeline again")
    replay.add_argument("delivery", help="the provider's delivery id (see hookbot hook logs)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the hookbot command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"hookbot: configuration error: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    try:
        if args.command == "run":
            # The server and discord.py load only here: `hook …` verbs stay quick.
            from bot.app import serve

            check_database_path(settings.hookbot_db)
            asyncio.run(serve(settings))
            return 0
        if args.command == "hook":
            return _hook_command(settings, list(args.words))
        if args.command == "replay":
            return _replay(settings, args.delivery)
        return _send_sample(settings, args.service, args.kind, args.hook)
    except HookError as exc:
        print(f"❌ {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        print(f"❌ database {settings.hookbot_db}: {exc}", file=sys.stderr)
        return 1
    except StartupError as exc:
        print(f"hookbot: {exc}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:  # the database file cannot be opened at all
        print(
            f"hookbot: HOOKBOT_DB={settings.hookbot_db}: {exc}; check the path and its permissions",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        return 130
