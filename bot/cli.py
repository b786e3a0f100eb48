"""Command line: hookbot run | hook … | send-sample; thin over HookService."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from bot.config import (
    ConfigError,
    Settings,
    StartupError,
    check_database_path,
    watched_docker_hosts,
)
from bot.core.verbs import (
    AddForward,
    Aggregate,
    AlertIf,
    Create,
    Delete,
    Disable,
    Enable,
    Events,
    Filter,
    Format,
    Forward,
    Help,
    Hosts,
    Info,
    ListHooks,
    Logs,
    RemoveAll,
    RemoveOne,
    Replay,
    Request,
    Rotate,
    SendTest,
    ShowAll,
    TryOne,
    VerbError,
    parse_command,
)
from bot.core.wording import format_duration, state_word, window_words
from bot.delivery.words import attempt_words, forward_words
from bot.intake.docker_streams import DockerView
from bot.service import (
    HookCredentials,
    HookDetails,
    HookError,
    HookService,
    InvalidInputError,
    first_sample,
    load_sample,
    setup_hint,
)
from bot.store import Hook, LogEntry, Store, StoreError
from parsers import SERVICES

log = logging.getLogger(__name__)

T = TypeVar("T")
LOG_LINES = 50

HOOK_HELP = """\
hookbot hook <verb> [<ref>] [args]   (the service-first order works too: hook github on)

  on <service> [target] [--events push,pr,release] [--new] [--signed]
     [--webhook-url URL | --channel ID] [--json]
                                   create a hook (or show the one of that service and target
                                   posting there again); --events chooses its events at once
                                   and say what to paste where; services: github, gitlab, ci
                                   (Jenkins, GitLab CI, CircleCI, GitHub Actions), custom
  custom <name|url> [--signed]     = on custom <name|url>: any JSON; --signed refuses unsigned
  docker on [host] [--containers api*] [--events die,oom]
                                   Docker events read from DOCKER_HOSTS (no URL, no secret):
                                   crashes, OOM kills, unhealthy containers, restart loops, builds
  docker hosts                     each Docker host's stream: state, last event, reconnects
  on <ref> | off <ref>             enable / disable (kept, not deleted)
  list                             every hook with its state and counters
  info <ref>                       one hook in full, with its last error
  delete <ref> --yes               delete for good
  test <ref> [kind]                send the last delivery (or the sample of that kind) again
  logs [<ref>] [--failed] [--page n]
                                   the delivery ledger: accepted, dropped (and why), sent, retried
  replay <delivery>                run a stored delivery (an id from logs) through its hook again
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
  forward <ref> <url> [--events push,pr] [--header K:V]... [--retries 0-10] [--timeout 5-300]
          [--body <template>] | list | remove <n> | test <n>
                                   POST every event the hook posts to your endpoint as signed
                                   JSON (Standard Webhooks); the secret is shown once
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
            from bot.integrations import wiring  # the GitHub API and the tunnel's URL

            base_url = await wiring.shown_base_url(settings, store)
            docker = DockerView(watched_docker_hosts(settings.docker_hosts))
            service = HookService(
                store,
                base_url,
                remote=wiring.github_hooks(settings, store),
                docker=docker,
                forward_allow=settings.hookbot_forward_allow,
            )
            return await work(service, store)
        finally:
            await store.close()

    return asyncio.run(run())


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _state(hook: Hook) -> str:
    return state_word(hook.enabled, hook.failing)


def _destination(settings: Settings, options: ShellOptions) -> str:
    if options.webhook_url and options.channel:
        raise InvalidInputError("give --webhook-url or --channel, not both")
    if options.channel:
        if not options.channel.isdigit():
            raise InvalidInputError("--channel takes a Discord channel id (digits)")
        if not settings.discord_token:
            raise InvalidInputError("--channel needs DISCORD_TOKEN; use --webhook-url instead")
        return f"discord:channel:{options.channel}"
    url = options.webhook_url or settings.discord_webhook_url
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
                    "setup": setup_hint(creds),
                    "github": creds.remote,
                }
            )
        )
        return
    print(f"✅ {verb} {hook.id}: {hook.service} → {_shown_destination(hook.destination)}")
    if creds.remote:
        print(creds.remote)
    if not (creds.remote or "").startswith("✅"):  # GitHub's API did not add the webhook
        print(setup_hint(creds))  # stdout is where secrets go
    print(f"ID: {hook.id}")
    print(f"URL: {creds.url}")
    print(f"Secret: {creds.secret}")


def _print_watching(service: HookService, creds: HookCredentials, as_json: bool) -> None:
    """A Docker hook's answer: what it watches (it has no URL and no secret)."""
    hook = creds.hook
    summary = service.docker_summary(hook)
    if as_json:
        fields = {"id": hook.id, "service": hook.service, "destination": hook.destination}
        print(json.dumps({**fields, "target": hook.target, "created": creds.created}))
        return
    verb = "Created" if creds.created else "Enabled"
    print(f"✅ {verb} {hook.id}: {hook.service} → {_shown_destination(hook.destination)}")
    print(summary.replace("`", ""))


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
        ("Target", hook.target or "none"),
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
    print(f"{'Aggregate:':<15}{window_words(hook.window_seconds)}")
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
    print(f"{'Forwards:':<15}none" if not details.forwards else "Forwards:")
    for item in details.forwards:
        print(f"  {item.number}. {forward_words(item)}")


def _print_list(hooks: Sequence[Hook]) -> None:
    if not hooks:
        print("No hooks yet. Create one: hookbot hook on github")
    for hook in hooks:
        target = f" {hook.target}" if hook.target else ""
        print(
            f"{hook.id}  {hook.service:<8} {_state(hook):<8} "
            f"{_shown_destination(hook.destination)}{target}  accepted {hook.accepted}, "
            f"rejected {hook.rejected}, last {_when(hook.last_delivery_at)} "
            f"({hook.last_delivery_status or '-'})"
        )


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
            attempt_words(e)[:160],
        )
        for e in entries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True)]
        print("  ".join([*cells, row[5]]))


@dataclass(frozen=True, slots=True)
class ShellOptions:
    """The options only the shell has: where a new hook posts, JSON output, help."""

    webhook_url: str | None = None
    channel: str | None = None
    json: bool = False
    help: bool = False


def _shell_options(words: Sequence[str]) -> tuple[ShellOptions, list[str]]:
    """Take the shell's own options out of `words`; the rest stays, in order, for the grammar."""
    found: dict[str, str | bool] = {}
    rest: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        name, equals, value = word.partition("=")
        if name in ("--webhook-url", "--channel"):
            if not equals:
                if index >= len(words):
                    raise InvalidInputError(f"{name} needs a value; see hookbot hook help")
                value, index = words[index], index + 1
            found[name] = value
        elif word in ("--json", "-h", "--help"):
            found[word] = True
        else:
            rest.append(word)
    return (
        ShellOptions(
            webhook_url=str(found.get("--webhook-url") or "") or None,
            channel=str(found.get("--channel") or "") or None,
            json=bool(found.get("--json")),
            help=bool(found.get("-h") or found.get("--help")),
        ),
        rest,
    )


def _hook_command(settings: Settings, words: list[str]) -> int:
    options, rest = _shell_options(words)
    if options.help:
        print(HOOK_HELP, end="")
        return 0
    try:
        request = parse_command(" ".join(rest))
    except VerbError as exc:
        raise InvalidInputError(f"{exc}; see hookbot hook help") from None
    if isinstance(request, Help):
        print(HOOK_HELP, end="")
        return 0
    if (options.webhook_url or options.channel) and not isinstance(request, Create):
        raise InvalidInputError(
            "--webhook-url and --channel choose where a new hook posts: on <service>"
        )
    if options.json and not isinstance(request, Create | Rotate):
        raise InvalidInputError("--json is for `on <service>` and `rotate`")

    async def work(service: HookService, store: Store) -> int:
        await _answer(service, request, settings, options)
        return 0

    return _with_store(settings, work)


async def _answer(
    service: HookService, request: Request, settings: Settings, options: ShellOptions
) -> None:
    """Do one request and print the answer (secrets on stdout, where they belong)."""
    match request:
        case Create():
            creds = await service.create(
                request.service,
                _destination(settings, options),
                target=request.target,
                creator="cli",
                new=request.new,
                events=request.events,
                signed=request.signed,
                containers=request.containers,
            )
            if not SERVICES[creds.hook.service].http:  # docker: no URL, no secret
                _print_watching(service, creds, options.json)
                return
            _print_credentials(creds, options.json, "Created" if creds.created else "Enabled")
        case Enable(ref):
            hook, requeued = await service.enable(ref)
            extra = f"; {requeued} kept message(s) queued again" if requeued else ""
            print(f"✅ {hook.id} is on{extra}")
        case Disable(ref):
            hook = await service.disable(ref)
            print(
                f"✅ {hook.id} is off: deliveries are recorded, not posted. `on {hook.id}` resumes"
            )
        case ListHooks():
            _print_list(await service.list_hooks())
        case Info(ref):
            _print_hook(await service.details(ref))
        case Delete(ref, confirmed):
            hook = await service.resolve(ref)
            if not confirmed:
                raise InvalidInputError(f"deleting {hook.id} cannot be undone; add --yes")
            _, remote = await service.delete(hook.id)
            print(f"✅ Deleted {hook.id}; its URL no longer works")
            if remote:
                print(remote)
        case SendTest(ref, kind):
            hook, what = await service.test(ref, kind=kind)
            print(f"✅ Sent {what} through {hook.id}; a running hookbot posts it within seconds")
        case Rotate(ref, grace):
            _print_credentials(await service.rotate(ref, grace=grace), options.json, "Rotated")
        case Logs(ref, failed, page):
            _print_logs(await service.logs(ref, limit=LOG_LINES, failed=failed, page=page))
        case Replay(delivery):
            await _print_replay(service, delivery)
        case Events(ref, None):
            hook, words = await service.describe_events(ref)
            print(f"{hook.id} posts {words}")
        case Events(ref, str() as patterns):
            hook, words = await service.set_events(ref, patterns)
            print(f"✅ {hook.id} now posts {words}")
        case Filter():
            await _filter(service, request)
        case Format(target, kind, template, preview):
            change = await service.set_template(target, kind, template, preview=preview)
            print(change.summary)
        case Aggregate(ref, window):
            hook, seconds, released = await service.set_window(ref, window)
            if seconds is None:
                print(f"✅ {hook.id} posts each event again; {released} held event(s) released")
            else:
                every = format_duration(seconds)
                print(f"✅ {hook.id} posts a digest every {every} (UTC-aligned windows)")
        case AlertIf():
            await _alert_if(service, request)
        case Forward():
            await _forward(service, request)
        case Hosts():
            now = time.time()
            for status in await service.docker_hosts():
                print(status.describe(now).replace("`", ""))


async def _filter(service: HookService, request: Filter) -> None:
    ref = request.ref
    match request.sub:
        case ShowAll():
            hook, counts = await service.filter_counts(ref)
            for n, (text, kept, dropped) in enumerate(counts, 1):
                print(f"{n}. {text}  (kept {kept}, dropped {dropped})")
            if not counts:
                print(f"{hook.id} has no filters")
        case RemoveOne(number):
            print(f"✅ Removed filter {await service.remove_filter(ref, str(number))}")
        case RemoveAll():
            print(f"✅ Removed {await service.clear_filters(ref)} filter(s)")
        case None:
            hook, added, applies = await service.add_filter(ref, request.rule)
            print(f"✅ {hook.id}: filter {added.text} added; applies to {', '.join(applies)}")
        case _:
            raise InvalidInputError("filter takes list, remove <n>, clear or key=glob")


async def _alert_if(service: HookService, request: AlertIf) -> None:
    ref = request.ref
    match request.sub:
        case ShowAll():
            hook, rules = await service.list_alerts(ref)
            for n, text in enumerate(rules, 1):
                print(f"{n}. {text}")
            if not rules:
                print(f"{hook.id} has no alert rules")
        case RemoveOne(number):
            print(f"✅ Removed rule {await service.remove_alert(ref, str(number))}")
        case None:
            hook, expression, needs = await service.add_alert(
                ref, request.expression, mention_role=request.mention
            )
            print(f"✅ {hook.id} alerts when: {expression}")
            if needs:
                print(f"Tick these GitHub webhook events: {', '.join(needs)}")
        case _:
            raise InvalidInputError("alert-if takes list, remove <n> or a rule")


async def _forward(service: HookService, request: Forward) -> None:
    ref = request.ref
    match request.sub, request.add:
        case ShowAll(), _:
            hook, forwards = await service.list_forwards(ref)
            for item in forwards:
                print(f"{item.number}. {forward_words(item)}")
            if not forwards:
                print(f"{hook.id} has no forwards")
        case RemoveOne(number), _:
            hook, removed, dropped = await service.remove_forward(ref, number)
            extra = f"; {dropped} queued request(s) dropped" if dropped else ""
            print(f"✅ {hook.id}: removed forward {number} ({removed.url}){extra}")
        case TryOne(number), _:
            hook, tried, entry = await service.test_forward(ref, number)
            mark = "❌" if entry.failed else "✅"
            print(f"{mark} {hook.id}: forward {tried.number} test {attempt_words(entry)}")
        case None, AddForward() as add:
            hook, added = await service.add_forward(ref, add)
            print(f"✅ {hook.id}: forward {added.number} → {added.url}")
            print(f"Secret: {added.secret}")  # shown once, on stdout, where secrets go
            print(
                "Requests carry webhook-id, webhook-timestamp and webhook-signature "
                "(Standard Webhooks) and X-Hookbot-Signature-256"
            )
        case _:
            raise InvalidInputError("forward takes a URL, list, remove <n> or test <n>")


async def _print_replay(service: HookService, delivery: str) -> None:
    retried = await service.retry_forwards(delivery)
    if retried is not None:
        hook, count = retried
        print(
            f"✅ Sending {delivery}'s {count} failed forward request(s) again through {hook.id} "
            "(same webhook-id); a running hookbot sends them"
        )
        return
    hook, new_id = await service.replay(delivery)
    print(f"✅ Replaying {delivery} through {hook.id} as {new_id}; a running hookbot posts it")


def _send_sample(
    settings: Settings, service_name: str, kind: str | None, hook_ref: str | None
) -> int:
    import aiohttp  # only send-sample posts; the other commands start faster without it

    spec = SERVICES.get(service_name)
    if spec is None:
        known = ", ".join(sorted(SERVICES))
        raise InvalidInputError(f"unknown service {service_name!r}; known services: {known}")
    kind = kind or first_sample(spec)
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
    if not spec.http:  # read from an Engine, never posted: stored as `test` stores it

        async def store_it(service: HookService, store: Store) -> tuple[Hook, str]:
            return await service.test(hook.id, kind=kind)

        _, what = _with_store(settings, store_it)
        print(f"✅ Stored {what} for {hook.id}; a running hookbot posts it within seconds")
        return 0
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
    print(f"{status} {text} (hook {hook.id})")  # the answer names the delivery id
    return 0 if status < 300 else 1


def _replay(settings: Settings, delivery: str) -> int:
    async def work(service: HookService, store: Store) -> int:
        await _print_replay(service, delivery)
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
    sample.add_argument("kind", nargs="?", help="a sample's name (default: the first one)")
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
    # A shell command shows its answer, not the server's chatter (migrations…), unless asked.
    _configure_logging(settings.log_level or ("INFO" if args.command == "run" else "WARNING"))
    try:
        if args.command == "run":
            # The server, discord.py and uvloop load only here: `hook …` verbs stay quick.
            import uvloop

            from bot.app import serve

            check_database_path(settings.hookbot_db)
            # uvloop's loop (libuv) costs about a third less CPU per request than asyncio's.
            uvloop.run(serve(settings))
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
