"""Field filters: parse, validate, and keep or drop events (DESIGN.md rules).

A filter is `key=glob` (keep events whose value matches) or `key!=glob` (drop
them). Filters AND together, and each applies only to events that carry its
key: `branch=main` drops pushes to other branches and leaves issues alone.
Keys are the shorthands below plus any documented field path of the
service's kinds (`pr.draft`, `pipeline.status`), read from the registry
(parsers.SERVICES): which events carry each key comes from the service's field
docs and its `attribute_events`. A service with open kinds (custom JSON) carries
whatever its sender sends: any identifier is a key there (`host=web-*`), read
as the top-level field of that name, case kept.

Multi-valued keys: `label=x` keeps when any label matches and `label!=x` drops
when any does; `path=docs/**` keeps when any changed file matches and
`path!=docs/**` drops only when every one does (like a CI workflow's
`paths-ignore`). Other list fields follow the `label` rule. `author`, `repo`
and `label` compare case-insensitively, the rest exactly.
"""

from __future__ import annotations

import difflib
import functools
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.core.globs import GlobError, compile_glob
from parsers import SERVICES
from parsers.event import JSON, Event

__all__ = [
    "MAX_VALUE_LENGTH",
    "STANDARD_KEYS",
    "Filter",
    "FilterError",
    "FilterSet",
    "check_applies",
    "keeps",
    "kinds_with_key",
    "parse_filter",
    "valid_keys",
    "value_of",
]

STANDARD_KEYS: tuple[str, ...] = (
    "branch",
    "head",
    "tag",
    "author",
    "repo",
    "label",
    "path",
    "status",
    "kind",
)
"""Shorthand keys every service offers (where its events carry them)."""

MAX_VALUE_LENGTH = 200
"""Longest filter value accepted, in characters."""

_CASELESS = frozenset({"author", "repo", "label"})
_REF_KEYS = {"branch": "branch", "head": "branch", "tag": "tag"}
_EVERY_RULE = frozenset({"path", "files"})  # `!=` drops only when every value matches
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’"}
_REF_FORBIDDEN = {" ": "a space", "~": "`~`", "^": "`^`", ":": "`:`", "\\": "`\\`", "[": "`[`"}
_ECHO = 40
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATH_REST = re.compile(
    r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*"
)  # inside a field: `com.example.tier`
_LIST_SOURCES = {"label": "labels", "path": "files"}  # shorthand → the list field it reads

Outcome = bool | None
"""A filter's verdict on one event: keep, drop, or None when it does not apply."""


class FilterError(ValueError):
    """A filter cannot be used; the message says what is wrong and what to type."""


@dataclass(frozen=True, slots=True)
class Filter:
    """One parsed filter; `text` is its canonical spelling (`key=glob` / `key!=glob`).

    `plain` is True when a shorthand's name is read as the top-level field of that
    name instead (`label` on a service whose events carry no `labels` list but whose
    bodies are free-form: the body's own `label`).
    """

    key: str
    negated: bool
    pattern: str
    text: str
    plain: bool = False


# --------------------------------------------------------------------------- keys per service


@dataclass(frozen=True, slots=True)
class _ServiceKeys:
    """The filter keys of one service and the event names that carry each.

    `named` maps a field documented as holding any names (`label.<name>` in the field
    docs: Docker's labels) to its events; a path into it is a key (`label.com.example.tier`).
    With `open_keys` (free-form bodies), every identifier is a key, carried by every event,
    and so is a path into any documented field without documented children (`payload.x`);
    `plain` are the shorthands read as a top-level field of their own name (see Filter).
    """

    events: tuple[str, ...]
    carriers: Mapping[str, tuple[str, ...]]
    named: Mapping[str, tuple[str, ...]]
    open_keys: bool = False
    plain: frozenset[str] = frozenset()

    def accepts(self, key: str) -> bool:
        """True for a key of this service: documented, shorthand, into a field, or open."""
        return bool(self.carrying(key)) or key in self.carriers

    def carrying(self, key: str) -> tuple[str, ...]:
        """Return the events carrying a key (every event for an open key)."""
        known = self.carriers.get(key)
        if known is not None:
            return known
        head, dot, rest = key.partition(".")
        if not (dot and _PATH_REST.fullmatch(rest)):
            return self.events if self.open_keys and _IDENTIFIER.fullmatch(key) else ()
        owners = self.named.get(head)
        if owners is None and self.open_keys and head in self.carriers:
            childless = not any(path.startswith(f"{head}.") for path in self.carriers)
            owners = self.carriers[head] if childless else None
        return owners or ()


def _named_fields(
    docs: Mapping[str, Mapping[str, str]], events: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    """Map each field documented as holding any names (`label.<name>`) to its events."""
    found: dict[str, list[str]] = {}
    for event, fields in docs.items():
        owners = events if event == "*" else (event,)
        for path in fields:
            head, dot, rest = path.partition(".")
            if dot and rest.startswith("<") and _IDENTIFIER.fullmatch(head):
                found.setdefault(head, []).extend(owners)
    return {head: tuple(dict.fromkeys(owners)) for head, owners in found.items()}


def _documented_fields(
    docs: Mapping[str, Mapping[str, str]], events: tuple[str, ...]
) -> dict[str, tuple[str, ...]]:
    """Map each filterable documented path to the events documenting it.

    A path with documented children (`commits` beside `commits[].id`) is a
    container and not a key; paths inside lists (`[]`) are not keys either.
    """
    every_path = {path for fields in docs.values() for path in fields if "<" not in path}
    containers: set[str] = set()
    for path in every_path:
        parts = path.replace("[]", "").split(".")
        if "[]" in path:
            parts.append("")  # `commits[].id`: `commits` itself holds items
        containers.update(".".join(parts[:i]) for i in range(1, len(parts)))
    found: dict[str, list[str]] = {}
    for event, fields in docs.items():
        owners = events if event == "*" else (event,)
        for path in fields:
            if "[]" in path or path in containers or path not in every_path:
                continue  # inside a list, a container, or a placeholder (`<key>`)
            found.setdefault(path, []).extend(owners)
    order = {event: i for i, event in enumerate(events)}
    return {
        path: tuple(sorted(set(owners), key=lambda e: order.get(e, len(order))))
        for path, owners in found.items()
    }


@functools.cache
def _service_keys(service: str) -> _ServiceKeys | None:
    """Return what is known about a service's keys, or None for an unknown service."""
    spec = SERVICES.get(service)
    if spec is None:
        return None
    events = tuple(dict.fromkeys(kind.partition(".")[0] for kind in spec.kinds))
    fields = _documented_fields(spec.field_docs, events)
    open_keys = spec.open_kinds is not None
    standard = {
        "branch": spec.attribute_events.get("branch", events),
        "head": fields.get("head", ()),
        "tag": fields.get("tag", ()),
        "author": events,
        "repo": events,
        "label": fields.get("labels", ()),
        "path": fields.get("files", ()),
        "status": spec.attribute_events.get("status", events),
        "kind": events,
    }
    plain: set[str] = set()
    if open_keys:  # a free-form body may carry any of them
        plain = {key for key, source in _LIST_SOURCES.items() if source not in fields}
        standard = dict.fromkeys(standard, events)
    return _ServiceKeys(
        events=events,
        carriers=fields | standard,
        named=_named_fields(spec.field_docs, events),
        open_keys=open_keys,
        plain=frozenset(plain),
    )


def valid_keys(service: str, event_names: Iterable[str] | None = None) -> list[str]:
    """Return the filter keys of a service, shorthands first, then field paths.

    Args:
        service: The hook's service.
        event_names: Only keys these events carry; None for every key.

    Returns:
        The keys, e.g. `["branch", "author", …, "pr.draft", …]`.
    """
    known = _service_keys(service)
    if known is None:
        return list(STANDARD_KEYS)
    wanted = None if event_names is None else set(event_names)
    keys = [*STANDARD_KEYS, *sorted(k for k in known.carriers if k not in STANDARD_KEYS)]
    if wanted is None:
        return keys
    return [key for key in keys if wanted.intersection(known.carriers[key])]


def kinds_with_key(key: str, service: str) -> list[str]:
    """Return the event names whose events carry a key, in the service's order.

    Args:
        key: A filter key (`branch`, `label`, `pr.draft`).
        service: The hook's service.

    Returns:
        Event names such as `["push", "pull_request", "workflow_run"]`; empty for an
        unknown key or service.
    """
    known = _service_keys(service)
    if known is None:
        return []
    return list(known.carrying(key))


def _keys_hint(keys: Sequence[str], open_keys: bool = False) -> str:
    """List keys for a message: the shorthands, then some field paths."""
    short = [k for k in keys if k in STANDARD_KEYS]
    paths = [k for k in keys if k not in STANDARD_KEYS]
    said = ", ".join(short)
    if paths:
        shown = ", ".join(paths[:25])
        more = f" and {len(paths) - 25} more (docs/events.md)" if len(paths) > 25 else ""
        said = f"{said}; field paths: {shown}{more}" if said else f"field paths: {shown}{more}"
    if open_keys:
        said += "; and any top-level key of the body (letters, digits and `_`, e.g. `host`)"
    return said


def check_applies(f: Filter, service: str, selected_event_names: Iterable[str]) -> None:
    """Refuse a filter none of the hook's selected events carry.

    Args:
        f: The parsed filter.
        service: The hook's service.
        selected_event_names: The event names the hook selects (`push`, `issues`…).

    Raises:
        FilterError: No selected event carries the key; the message lists the keys
            those events do carry.
    """
    known = _service_keys(service)
    if known is None:
        return
    selected = list(dict.fromkeys(selected_event_names))
    if set(kinds_with_key(f.key, service)).intersection(selected):
        return
    events = ", ".join(selected) or "no events"
    raise FilterError(
        f"`{f.key}` is carried by none of this hook's events ({events}); "
        f"keys they carry: {_keys_hint(valid_keys(service, selected), known.open_keys)}"
    )


# --------------------------------------------------------------------------- parsing


def _echo(text: str) -> str:
    """Quote user text in a message, shortened."""
    return text if len(text) <= _ECHO else text[: _ECHO - 1] + "…"


def _unquote(value: str, what: str) -> str:
    """Remove one pair of matching outer quotes; refuse an opening quote left open."""
    closer = _QUOTES.get(value[:1])
    if closer is None:
        return value
    if len(value) >= 2 and value.endswith(closer):
        return value[1:-1]
    raise FilterError(
        f"`{_echo(what)}` has an unbalanced quote: it opens with {value[0]} but does not "
        f"end with {closer}; close it, or leave the quotes out"
    )


def _control_problem(text: str) -> str | None:
    """Name the first control character in text, if any."""
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cc":
            return f"control character U+{ord(char):04X} at position {index + 1}"
    return None


def _ref_problem(name: str) -> str | None:
    """Say why a name (with `*` and `?` allowed) is not a possible git ref name."""
    for char, said in _REF_FORBIDDEN.items():
        if char in name:
            return f"{said} is not allowed"
    for seq in ("..", "@{", "//"):
        if seq in name:
            return f"`{seq}` is not allowed"
    if name == "@":
        return "`@` alone is not a name"
    if name.startswith("/") or name.endswith("/"):
        return "it cannot start or end with `/`"
    if name.endswith("."):
        return "it cannot end with `.`"
    for part in name.split("/"):
        if part.startswith("."):
            return "a part cannot start with `.`"
        if part.endswith(".lock"):
            return "a part cannot end with `.lock`"
    return None


def _unknown_key(key: str, service: str) -> FilterError:
    """Build the error for a key the service does not offer, with close names."""
    keys = valid_keys(service)
    known = _service_keys(service)
    open_keys = known is not None and known.open_keys
    close = difflib.get_close_matches(key, keys, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return FilterError(
        f"`{_echo(key)}` is not a filter key for {service}; {hint}"
        f"keys: {_keys_hint(keys, open_keys)}"
    )


def _canonical(key: str, negated: bool, pattern: str) -> str:
    """Spell a filter so that `parse_filter` reads it back the same."""
    shown = pattern
    if pattern[:1] in _QUOTES or pattern != pattern.strip():
        shown = f'"{pattern}"'
    return f"{key}{'!=' if negated else '='}{shown}"


def parse_filter(text: str, service: str) -> Filter:
    """Read one filter as typed: `key=glob` or `key!=glob`.

    The first `=` (or the `!=` it closes) splits key from value; the value is
    taken as is (`=` and `{{` in it are literal), after removing one pair of
    outer quotes. An empty value is allowed: it matches only an empty value.

    Args:
        text: The filter, e.g. `author!=dependabot[bot]`.
        service: The hook's service, whose documented fields are keys too.

    Returns:
        The parsed Filter with its canonical text.

    Raises:
        FilterError: The filter is malformed, too long, has control characters,
            an unknown key, or a `branch`/`head`/`tag` value no git ref could have.
    """
    example = "type key=value, e.g. `branch=main`, `author!=dependabot[bot]`, `path=docs/**`"
    stripped = text.strip()
    if stripped[:1] in _QUOTES:  # the whole filter quoted: "branch=main"
        stripped = _unquote(stripped, stripped).strip()
    at = stripped.find("=")
    if at < 0:
        raise FilterError(f"`{_echo(stripped)}` has no `=`; {example}")
    negated = at > 0 and stripped[at - 1] == "!"
    raw_key = stripped[: at - 1] if negated else stripped[:at]
    key = raw_key.strip().lower()
    op = "!=" if negated else "="
    raw_value = stripped[at + 1 :]
    if not key:
        raise FilterError(f"`{_echo(stripped)}` has no key before `{op}`; {example}")
    problem = _control_problem(key)
    if problem:
        raise FilterError(f"the filter key contains a {problem}; {example}")
    known = _service_keys(service)
    if known is None:
        if key not in STANDARD_KEYS:
            raise _unknown_key(key, service)
    elif key not in known.carriers:
        typed = raw_key.strip()  # a name inside a field keeps its case: `Level` is not `level`
        if known.accepts(typed):
            key = typed
        elif not known.accepts(key):
            raise _unknown_key(typed if known.open_keys else key, service)
    plain = known is not None and key in known.plain
    pattern = _unquote(raw_value, stripped)
    if len(pattern) > MAX_VALUE_LENGTH:
        raise FilterError(
            f"the value of `{key}{op}` is {len(pattern)} characters long; "
            f"the limit is {MAX_VALUE_LENGTH}"
        )
    problem = _control_problem(pattern)
    if problem:
        raise FilterError(f"the value of `{key}{op}` contains a {problem}; type plain text")
    ref_word = _REF_KEYS.get(key)
    if ref_word is not None:
        for alternative in pattern.split(","):
            reason = _ref_problem(alternative) if alternative else None
            if reason:
                raise FilterError(
                    f"`{_echo(f'{key}{op}{pattern}')}` is not a valid {ref_word} name: {reason}"
                )
    try:
        compile_glob(pattern, ignore_case=key in _CASELESS)
    except GlobError as exc:  # pragma: no cover - length and controls are checked above
        raise FilterError(f"the value of `{key}{op}`: {exc}") from exc
    return Filter(
        key=key,
        negated=negated,
        pattern=pattern,
        text=_canonical(key, negated, pattern),
        plain=plain,
    )


# --------------------------------------------------------------------------- values


def _scalar(value: JSON) -> str | None:
    """Render one scalar as filters compare it: bools `true`/`false`, numbers as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _render(value: JSON) -> str | list[str] | None:
    """Render a field value: a scalar, a list of scalars, or None (missing or a mapping)."""
    if isinstance(value, list):
        return [text for item in value if (text := _scalar(item)) is not None]
    return _scalar(value)


def _lookup(fields: Mapping[str, JSON], parts: tuple[str, ...]) -> JSON:
    """Walk a dotted path through nested mappings; None when a step is missing.

    A key that itself has dots (a Docker label `com.example.tier`) is found whole: at each
    step the rest of the path is tried as one key before its first part.
    """
    current: JSON | Mapping[str, JSON] = fields
    for index, part in enumerate(parts):
        if not isinstance(current, Mapping):
            return None
        if index + 1 < len(parts):
            rest = ".".join(parts[index:])
            if rest in current:
                current = current[rest]
                break
        current = current.get(part)
    return current if not isinstance(current, Mapping) else None


def _head(event: Event) -> str | None:
    """Return the head branch: `head`, else `pr.head`."""
    head = event.fields.get("head")
    if isinstance(head, str):
        return head
    pr = event.fields.get("pr")
    if isinstance(pr, Mapping):
        value = pr.get("head")
        return value if isinstance(value, str) else None
    return None


def _list_field(name: str) -> Callable[[Event], list[str] | None]:
    """Read a top-level list field (labels, files) as strings."""

    def read(event: Event) -> list[str] | None:
        value = event.fields.get(name)
        if not isinstance(value, list):
            return None
        return [text for item in value if (text := _scalar(item)) is not None]

    return read


def _str_field(name: str) -> Callable[[Event], str | None]:
    """Read a top-level string field."""

    def read(event: Event) -> str | None:
        value = event.fields.get(name)
        return value if isinstance(value, str) else None

    return read


_GETTERS: dict[str, Callable[[Event], str | list[str] | None]] = {
    "branch": lambda event: event.branch,
    "head": _head,
    "tag": _str_field("tag"),
    "author": lambda event: event.actor,
    "repo": lambda event: event.source,
    "label": _list_field("labels"),
    "path": _list_field("files"),
    "status": lambda event: event.status,
    "kind": lambda event: event.kind,
}


@functools.lru_cache(maxsize=1024)
def _getter(key: str) -> Callable[[Event], str | list[str] | None]:
    """Return the function reading a key's value from an event."""
    standard = _GETTERS.get(key)
    if standard is not None:
        return standard
    if "." not in key:

        def top(event: Event) -> str | list[str] | None:
            return _render(event.fields.get(key))

        return top
    parts = tuple(key.split("."))

    def nested(event: Event) -> str | list[str] | None:
        return _render(_lookup(event.fields, parts))

    return nested


def value_of(key: str, event: Event) -> str | list[str] | None:
    """Return the value a filter key reads from an event.

    Args:
        key: A filter key (`branch`, `label`, `pr.draft`…).
        event: The event.

    Returns:
        A string, a list of strings (labels, files, other list fields), or None
        when the event does not carry the key.
    """
    return _getter(key)(event)


# --------------------------------------------------------------------------- deciding


Rule = Callable[[Event], Outcome]


# Shorthand keys read straight from an Event attribute, and from a top-level list field.
_ATTRIBUTES = {
    "branch": "branch",
    "author": "actor",
    "repo": "source",
    "status": "status",
    "kind": "kind",
}
_LISTS = {"label": "labels", "path": "files"}


def _list_rule(name: str, test: Callable[[str], object], negated: bool, every: bool) -> Rule:
    """Decide on a top-level list field (labels, files) without copying it."""
    omitted_name = f"{name}_omitted"

    def decide(event: Event) -> Outcome:
        values = event.fields.get(name)
        if not isinstance(values, list):
            return None
        # A capped list (a huge push's files) may hide a value that decides otherwise:
        # then keep the event rather than drop it on a guess.
        omitted = event.fields.get(omitted_name)
        partial = isinstance(omitted, int) and omitted > 0
        if negated and every:  # drop only when every value matches
            for value in values:
                if type(value) is not str or not test(value):
                    return True
            return partial or not values
        for value in values:
            if type(value) is str and test(value):
                return not negated
        return negated or partial

    return decide


@functools.lru_cache(maxsize=4096)
def _rule(key: str, negated: bool, pattern: str, plain: bool = False) -> Rule:
    """Compile one filter into a function from an event to its outcome.

    `plain` reads the top-level field named `key` instead of the shorthand (Filter.plain).
    """
    test = compile_glob(pattern, ignore_case=key in _CASELESS).matcher()
    every = key in _EVERY_RULE
    if plain:
        return _field_rule(_plain_getter(key), test, negated, every)
    if key in _LISTS:
        return _list_rule(_LISTS[key], test, negated, every)
    attribute = _ATTRIBUTES.get(key)
    if attribute is not None:
        read_attribute = operator.attrgetter(attribute)

        def decide_attribute(event: Event) -> Outcome:
            value = read_attribute(event)
            if value is None:
                return None
            return (not test(value)) is negated

        return decide_attribute
    return _field_rule(_getter(key), test, negated, every)


def _plain_getter(key: str) -> Callable[[Event], str | list[str] | None]:
    """Read the top-level field named `key` (Filter.plain)."""

    def read(event: Event) -> str | list[str] | None:
        return _render(event.fields.get(key))

    return read


def _field_rule(
    read: Callable[[Event], str | list[str] | None],
    test: Callable[[str], object],
    negated: bool,
    every: bool,
) -> Rule:
    """Decide on the value a getter reads: a string, or a list (any / every rule)."""

    def decide(event: Event) -> Outcome:
        value = read(event)
        if value is None:
            return None
        if isinstance(value, str):
            return (not test(value)) is negated
        if negated and every:
            return not value or not all(test(v) for v in value)
        return any(test(v) for v in value) is not negated

    return decide


def keeps(f: Filter, event: Event) -> Outcome:
    """Say what one filter does with one event.

    Args:
        f: The filter.
        event: The event.

    Returns:
        True to keep, False to drop, None when the event does not carry the key.
    """
    return _rule(f.key, f.negated, f.pattern, f.plain)(event)


class FilterSet:
    """A hook's filters, compiled once; `evaluate` is the hot path."""

    __slots__ = ("_rules", "filters")

    def __init__(self, filters: Iterable[Filter]) -> None:
        self.filters: tuple[Filter, ...] = tuple(filters)
        self._rules: tuple[Rule, ...] = tuple(
            _rule(f.key, f.negated, f.pattern, f.plain) for f in self.filters
        )

    @classmethod
    def from_texts(cls, texts: Iterable[str], service: str) -> FilterSet:
        """Build from stored filter texts (as `Filter.text` spells them).

        Args:
            texts: Filter texts, e.g. a hook's stored `filters`.
            service: The hook's service.

        Returns:
            The compiled FilterSet.

        Raises:
            FilterError: A text is not a valid filter.
        """
        return cls(parse_filter(text, service) for text in texts)

    def evaluate(self, event: Event) -> tuple[bool, list[Outcome]]:
        """Decide an event: kept when no applying filter drops it.

        Args:
            event: The event.

        Returns:
            Whether to keep it, and each filter's outcome in order (None where
            the filter does not apply), for per-filter kept/dropped counters.
        """
        outcomes = [rule(event) for rule in self._rules]
        return False not in outcomes, outcomes

    def __len__(self) -> int:
        return len(self._rules)
