"""The `hook` commands' words, in either order, read once into typed requests (pure).

Both adapters call `parse_command`: the CLI with its arguments joined by spaces, the Cog
with what was typed after `!hook` (and, for a slash command, its options written out in
the same words). Neither adapter reads a word itself; they render what the service
answers. Free text (a filter, a template, an alert rule) is kept exactly as typed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from bot.core.grammar import VERBS, is_hook_id, is_service, is_shorthand, split_format_args
from bot.core.wording import DurationError, parse_duration
from parsers import SERVICES

__all__ = [
    "MAX_FORWARD_RETRIES",
    "AddForward",
    "Aggregate",
    "AlertIf",
    "Create",
    "Delete",
    "Disable",
    "Enable",
    "Events",
    "Filter",
    "Format",
    "Forward",
    "Help",
    "Hosts",
    "Info",
    "ListHooks",
    "Logs",
    "RemoveAll",
    "RemoveOne",
    "Replay",
    "Request",
    "Rotate",
    "SendTest",
    "ShowAll",
    "SubVerb",
    "TryOne",
    "VerbError",
    "parse_command",
    "parse_forward",
    "parse_sub_verb",
]

MAX_FORWARD_RETRIES = 10
FORWARD_TIMEOUT_RANGE = (5, 300)
DEFAULT_FORWARD_RETRIES = 3
DEFAULT_FORWARD_TIMEOUT = 30
_WORD = re.compile(r"\s*(\S+)\s*(.*)", re.DOTALL)
_HEADER = re.compile(r"([A-Za-z0-9!#$%&'*+.^_`|~-]+):\s*(.*)")


class VerbError(ValueError):
    """The words do not make a command; the message says what to type instead."""


# -- sub-verbs shared by filter, alert-if and forward ------------------------------------


@dataclass(frozen=True, slots=True)
class ShowAll:
    """`list`: show the numbered items."""


@dataclass(frozen=True, slots=True)
class RemoveOne:
    """`remove <n>`: remove item n, as `list` numbers them."""

    number: int


@dataclass(frozen=True, slots=True)
class RemoveAll:
    """`clear`: remove every item."""


@dataclass(frozen=True, slots=True)
class TryOne:
    """`test <n>`: try item n now."""

    number: int


SubVerb = ShowAll | RemoveOne | RemoveAll | TryOne


# -- requests ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Help:
    """`help`, or nothing at all."""


@dataclass(frozen=True, slots=True)
class Create:
    """`on <service> [target] [--events …] [--new] [--signed] [--containers glob]`."""

    service: str
    target: str | None = None
    events: str | None = None
    new: bool = False
    signed: bool = False
    containers: str | None = None  # docker: which containers, by name


@dataclass(frozen=True, slots=True)
class Hosts:
    """`docker hosts`: each watched host's stream (a service read, not received)."""

    service: str


@dataclass(frozen=True, slots=True)
class Enable:
    """`on <hook id>`."""

    ref: str


@dataclass(frozen=True, slots=True)
class Disable:
    """`off <ref>`."""

    ref: str


@dataclass(frozen=True, slots=True)
class ListHooks:
    """`list`."""


@dataclass(frozen=True, slots=True)
class Info:
    """`info <ref>`."""

    ref: str


@dataclass(frozen=True, slots=True)
class Delete:
    """`delete <ref> [--yes]`."""

    ref: str
    confirmed: bool = False


@dataclass(frozen=True, slots=True)
class SendTest:
    """`test <ref> [kind]`."""

    ref: str
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Rotate:
    """`rotate <ref> [--grace 24h]` (the grace is checked to be a duration)."""

    ref: str
    grace: str | None = None


@dataclass(frozen=True, slots=True)
class Logs:
    """`logs [ref] [--failed] [--page n]`."""

    ref: str | None = None
    failed: bool = False
    page: int = 1


@dataclass(frozen=True, slots=True)
class Replay:
    """`replay <delivery>`."""

    delivery: str


@dataclass(frozen=True, slots=True)
class Events:
    """`events <ref> [patterns]` (no patterns: show them)."""

    ref: str
    patterns: str | None = None


@dataclass(frozen=True, slots=True)
class Filter:
    """`filter <ref> key=glob | key!=glob | list | remove <n> | clear`."""

    ref: str
    sub: SubVerb | None = None
    rule: str = ""


@dataclass(frozen=True, slots=True)
class Format:
    """`format <ref|service-kind> [kind] <template> | [kind] reset [--preview]`."""

    target: str
    kind: str | None
    template: str | None  # None: reset
    preview: bool = False


@dataclass(frozen=True, slots=True)
class Aggregate:
    """`aggregate <ref> 5m | off` (the window is checked to be a duration or `off`)."""

    ref: str
    window: str


@dataclass(frozen=True, slots=True)
class AlertIf:
    """`alert-if <ref> "<expression>" [--mention ROLE] | list | remove <n>`."""

    ref: str
    sub: SubVerb | None = None
    expression: str = ""
    mention: str | None = None


@dataclass(frozen=True, slots=True)
class AddForward:
    """What `forward <ref> <url> …` attaches: the endpoint and how to send to it."""

    url: str
    events: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    retries: int = DEFAULT_FORWARD_RETRIES
    timeout_seconds: int = DEFAULT_FORWARD_TIMEOUT
    body: str | None = None


@dataclass(frozen=True, slots=True)
class Forward:
    """`forward <ref> <url> [options] | list | remove <n> | test <n>`."""

    ref: str
    sub: SubVerb | None = None
    add: AddForward | None = None


Request = (
    Help
    | Create
    | Enable
    | Disable
    | ListHooks
    | Info
    | Delete
    | SendTest
    | Rotate
    | Logs
    | Replay
    | Events
    | Filter
    | Format
    | Aggregate
    | AlertIf
    | Forward
    | Hosts
)


# -- reading words ----------------------------------------------------------------------


def _word(text: str) -> tuple[str, str]:
    """Split off the first word; the rest keeps its inner spacing and newlines."""
    match = _WORD.fullmatch(text)
    if match is None:
        return "", ""
    return match[1], match[2]


def _options(
    tokens: list[str], usage: str, flags: Mapping[str, bool]
) -> tuple[list[str], dict[str, str | bool]]:
    """Split tokens into positional words and `--flag [value]` options, in any order.

    `flags` maps each option name to whether it takes a value. A value may follow as the
    next word or after `=`; a value ending in a comma goes on with the next word, so
    `--events push, pr` reads as `push, pr`.
    """
    positional: list[str] = []
    found: dict[str, str | bool] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("--"):
            positional.append(token)
            continue
        name, equals, value = token[2:].partition("=")
        if name not in flags:
            known = ", ".join(f"--{f}" for f in flags) or "no options"
            raise VerbError(f"unknown option --{name}; write: {usage} (it takes {known})")
        if not flags[name]:
            if equals:
                raise VerbError(f"--{name} takes no value; write: {usage}")
            found[name] = True
            continue
        if not equals:
            if index >= len(tokens) or tokens[index].startswith("--"):
                raise VerbError(f"--{name} needs a value; write: {usage}")
            value = tokens[index]
            index += 1
        while value.endswith(",") and index < len(tokens) and not tokens[index].startswith("--"):
            value = f"{value} {tokens[index]}"
            index += 1
        if name in found:
            raise VerbError(f"--{name} is given twice; write: {usage}")
        found[name] = value
    return positional, found


def _text(found: Mapping[str, str | bool], name: str) -> str | None:
    value = found.get(name)
    return value if isinstance(value, str) else None


def _need_ref(verb: str, rest: str, usage: str) -> tuple[str, str]:
    ref, tail = _word(rest)
    if not ref or ref.startswith("--"):
        raise VerbError(
            f"`{verb}` needs a hook: write {usage} (a hook id like hook_001, or a service)"
        )
    return ref, tail


def _nothing_more(tail: str, usage: str) -> None:
    if tail.strip():
        raise VerbError(f"unexpected {tail.strip()!r}; write: {usage}")


def _check_duration(text: str, what: str) -> None:
    try:
        parse_duration(text)
    except DurationError as exc:
        raise VerbError(f"{what}: {exc}") from None


def parse_sub_verb(text: str, usage: str, allowed: Collection[str]) -> SubVerb | None:
    """Read `list`, `remove <n>`, `clear` or `test <n>` (those in `allowed`), else None.

    None means the text is not a sub-verb: it is what the verb adds (a filter, a rule,
    a URL).

    Raises:
        VerbError: a sub-verb with missing, extra or non-numeric words.
    """
    words = text.split()
    if not words or words[0] not in allowed:
        return None
    head = words[0]
    if head in ("list", "clear"):
        if len(words) != 1:
            raise VerbError(f"`{head}` takes nothing after it; write: {usage}")
        return ShowAll() if head == "list" else RemoveAll()
    if len(words) != 2 or not words[1].isdigit() or int(words[1]) < 1:
        raise VerbError(f"write `{head} <n>`, n being a number that `list` shows; {usage}")
    number = int(words[1])
    return RemoveOne(number) if head == "remove" else TryOne(number)


# -- one parser per verb ----------------------------------------------------------------

ON_USAGE = "on <service> [target] [--events push,pr] [--new] [--signed], or on <hook id>"


def _on(rest: str) -> Create | Enable:
    ref, tail = _word(rest)
    if not ref or ref.startswith("--"):
        raise VerbError(f"`on` needs a service or a hook: write {ON_USAGE}")
    if is_hook_id(ref):
        _nothing_more(tail, f"on {ref} (options such as --events are for creating a hook)")
        return Enable(ref)
    if not is_service(ref):
        raise VerbError(f"{ref!r} is neither a service nor a hook id; write {ON_USAGE}")
    usage = f"on {ref} [target] [--events push,pr] [--new] [--signed]"
    flags = {"events": True, "new": False, "signed": False}
    if not SERVICES[ref].http:
        usage = f"on {ref} [host] [--containers glob] [--events die,oom] [--new]"
        flags = {"events": True, "new": False, "containers": True}
    words, found = _options(tail.split(), usage, flags)
    if len(words) > 1:
        raise VerbError(f"one target at most, got {' '.join(words)!r}; write: {usage}")
    return Create(
        ref,
        target=words[0] if words else None,
        events=_text(found, "events"),
        new=bool(found.get("new")),
        signed=bool(found.get("signed")),
        containers=_text(found, "containers"),
    )


def _one_ref(verb: str) -> Callable[[str], str]:
    def read(rest: str) -> str:
        usage = f"{verb} <ref>"
        ref, tail = _need_ref(verb, rest, usage)
        _nothing_more(tail, usage)
        return ref

    return read


def _list(rest: str) -> ListHooks:
    _nothing_more(rest, "list")
    return ListHooks()


def _delete(rest: str) -> Delete:
    usage = "delete <ref> [--yes]"
    ref, tail = _need_ref("delete", rest, usage)
    words, found = _options(tail.split(), usage, {"yes": False})
    if words not in ([], ["yes"]):
        raise VerbError(f"unexpected {' '.join(words)!r}; write: {usage}")
    return Delete(ref, confirmed=bool(words) or bool(found.get("yes")))


def _test(rest: str) -> SendTest:
    usage = "test <ref> [kind]"
    ref, tail = _need_ref("test", rest, usage)
    words = tail.split()
    if len(words) > 1:
        raise VerbError(f"one kind at most; write: {usage}")
    return SendTest(ref, words[0] if words else None)


def _rotate(rest: str) -> Rotate:
    usage = "rotate <ref> [--grace 24h]"
    ref, tail = _need_ref("rotate", rest, usage)
    words, found = _options(tail.split(), usage, {"grace": True})
    grace = _text(found, "grace")
    if words and grace is None and len(words) == 1:
        grace, words = words[0], []  # `rotate hook_001 24h`, as chat users type it
    _nothing_more(" ".join(words), usage)
    if grace is not None:
        _check_duration(grace, "--grace")
    return Rotate(ref, grace)


def _logs(rest: str) -> Logs:
    usage = "logs [ref] [--failed] [--page n]"
    words, found = _options(rest.split(), usage, {"failed": False, "page": True})
    if len(words) > 1:
        raise VerbError(f"one hook at most; write: {usage}")
    page_text = _text(found, "page") or "1"
    if not page_text.isdigit() or int(page_text) < 1:
        raise VerbError(f"--page takes a number from 1, got {page_text!r}")
    return Logs(words[0] if words else None, bool(found.get("failed")), int(page_text))


def _replay(rest: str) -> Replay:
    usage = "replay <delivery id> (ids are in `logs`)"
    delivery, tail = _word(rest)
    if not delivery:
        raise VerbError(f"`replay` needs a delivery id; write: {usage}")
    _nothing_more(tail, usage)
    return Replay(delivery)


def _events(rest: str) -> Events:
    ref, tail = _need_ref("events", rest, "events <ref> [push,pr,-star]")
    return Events(ref, tail.strip() or None)


def _filter(rest: str) -> Filter:
    usage = "filter <ref> key=glob | key!=glob | list | remove <n> | clear"
    ref, tail = _need_ref("filter", rest, usage)
    sub = parse_sub_verb(tail, usage, ("list", "remove", "clear"))
    if sub is not None:
        return Filter(ref, sub)
    if not tail.strip():
        raise VerbError(f"give a filter such as branch=main; write: {usage}")
    return Filter(ref, rule=tail.strip())


def _format(rest: str) -> Format:
    usage = 'format <ref|service-kind> [kind] "<template>" | [kind] reset [--preview]'
    target, tail = _need_ref("format", rest, usage)
    if not tail.strip():
        raise VerbError(f'give a template such as "🔔 {{{{event}}}}: {{{{message}}}}"; {usage}')
    kind, template, preview = split_format_args(tail)
    return Format(target, kind, template, preview)


def _aggregate(rest: str) -> Aggregate:
    usage = "aggregate <ref> 5m | off (a window from 1m to 24h)"
    ref, tail = _need_ref("aggregate", rest, usage)
    words = tail.split()
    if len(words) != 1:
        raise VerbError(f"give one window; write: {usage}")
    if words[0].lower() != "off":
        _check_duration(words[0], "aggregate")
    return Aggregate(ref, words[0].lower())


_MENTION = re.compile(r"(?:^|\s)--mention(?:=|\s+)(\S+)")


def _alert_if(rest: str) -> AlertIf:
    usage = 'alert-if <ref> "<expression>" [--mention ROLE] | list | remove <n>'
    ref, tail = _need_ref("alert-if", rest, usage)
    sub = parse_sub_verb(tail, usage, ("list", "remove"))
    if sub is not None:
        return AlertIf(ref, sub)
    mention = None
    found = _MENTION.search(tail)
    if found is not None:
        mention, tail = found[1], tail[: found.start()] + tail[found.end() :]
    elif re.search(r"(?:^|\s)--mention\s*$", tail):
        raise VerbError("--mention needs a role (its id, or @role in Discord)")
    if not tail.strip():
        raise VerbError(f"give a rule such as \"pr.status == 'approved'\"; write: {usage}")
    return AlertIf(ref, expression=tail.strip(), mention=mention)


_VERB_PARSERS: dict[str, Callable[[str], Request]] = {
    "on": _on,
    "off": lambda rest: Disable(_one_ref("off")(rest)),
    "list": _list,
    "info": lambda rest: Info(_one_ref("info")(rest)),
    "delete": _delete,
    "test": _test,
    "rotate": _rotate,
    "logs": _logs,
    "replay": _replay,
    "events": _events,
    "filter": _filter,
    "format": _format,
    "aggregate": _aggregate,
    "alert-if": _alert_if,
    "forward": lambda rest: parse_forward(rest),  # defined below, with its helpers
    "help": lambda _rest: Help(),
}


def parse_command(text: str) -> Request:
    """Read one `hook` command, verb first or service first (`github on` ≡ `on github`).

    Args:
        text: Everything after `hook` (`!hook`), as typed; empty asks for help.

    Raises:
        VerbError: an unknown verb, or words the verb does not take.
    """
    first, rest = _word(text)
    if not first:
        return Help()
    second, after = _word(rest)
    if second and second not in VERBS and not second.startswith("--") and is_shorthand(first):
        return _on(text)  # `custom https://…` means `on custom https://…`
    if second == "hosts" and first in SERVICES and not SERVICES[first].http:
        _nothing_more(after, f"{first} hosts")
        return Hosts(first)
    if first not in VERBS and second in VERBS:
        first, rest = second, f"{first} {after}"
    parse = _VERB_PARSERS.get(first)
    if parse is None:
        raise VerbError(_unknown_verb(first))
    return parse(rest)


def _unknown_verb(word: str) -> str:
    if is_service(word):
        return f"{word} is a service; write `on {word}` to create a hook for it"
    if is_hook_id(word):
        return f"say what to do with {word}, e.g. `info {word}`"
    close = difflib.get_close_matches(word, sorted(VERBS), n=1)
    hint = f"did you mean `{close[0]}`? " if close else ""
    return f"unknown verb {word!r}; {hint}verbs: {', '.join(sorted(VERBS))}"


# -- forward (parsed here so that the forwards verb only renders) -------------------------

FORWARD_USAGE = (
    "forward <ref> <url> [--events …] [--header K:V]… [--retries 0-10] "
    "[--timeout 5-300s] [--body <template>] | list | remove <n> | test <n>"
)
_BODY = re.compile(r"(?:^|\s)--body(?:=|\s+|$)(.*)$", re.DOTALL)


def parse_forward(rest: str) -> Forward:
    """Read what follows `forward`: a hook and an endpoint with options, or a sub-verb.

    `--body` takes the rest of the line (a Jinja2 template that renders JSON), so it
    comes last; `--header` may be given several times.

    Raises:
        VerbError: a missing URL, an option out of range, or a malformed header.
    """
    ref, tail = _need_ref("forward", rest, FORWARD_USAGE)
    sub = parse_sub_verb(tail, FORWARD_USAGE, ("list", "remove", "test"))
    if sub is not None:
        return Forward(ref, sub)
    body = None
    found_body = _BODY.search(tail)
    if found_body is not None:
        body, tail = found_body[1].strip(), tail[: found_body.start()]
        if not body:
            raise VerbError("--body needs a template that renders JSON")
    tokens = tail.split()
    headers = _headers(tokens)
    flags = {"events": True, "retries": True, "timeout": True}
    words, found = _options(tokens, FORWARD_USAGE, flags)
    if len(words) != 1 or not words[0].startswith(("http://", "https://")):
        raise VerbError(f"give one http(s) URL to send to; write: {FORWARD_USAGE}")
    return Forward(
        ref,
        add=AddForward(
            url=words[0],
            events=_text(found, "events"),
            headers=headers,
            retries=_retries(_text(found, "retries")),
            timeout_seconds=_timeout(_text(found, "timeout")),
            body=body,
        ),
    )


def _headers(tokens: list[str]) -> tuple[tuple[str, str], ...]:
    """Take every `--header K:V` out of `tokens` (in place) and return the pairs."""
    pairs: list[tuple[str, str]] = []
    while "--header" in tokens:
        at = tokens.index("--header")
        if at + 1 >= len(tokens):
            raise VerbError("--header needs Name:value")
        match = _HEADER.fullmatch(tokens[at + 1])
        if match is None or not match[2]:
            raise VerbError(f"--header {tokens[at + 1]!r} is not Name:value")
        pairs.append((match[1], match[2]))
        del tokens[at : at + 2]
    return tuple(pairs)


def _retries(text: str | None) -> int:
    if text is None:
        return DEFAULT_FORWARD_RETRIES
    if not text.isdigit() or int(text) > MAX_FORWARD_RETRIES:
        raise VerbError(f"--retries takes 0 to {MAX_FORWARD_RETRIES}, got {text!r}")
    return int(text)


def _timeout(text: str | None) -> int:
    if text is None:
        return DEFAULT_FORWARD_TIMEOUT
    low, high = FORWARD_TIMEOUT_RANGE
    try:
        seconds = int(text) if text.isdigit() else parse_duration(text)
    except DurationError:
        seconds = -1
    if not low <= seconds <= high:
        raise VerbError(f"--timeout takes {low}s to {high}s, got {text!r}")
    return seconds
