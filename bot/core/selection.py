"""Event selection: patterns over kinds, aliases, per-service defaults.

A selection is a tuple of patterns as stored on a hook (`parse_patterns` makes
it from what the user typed): globs over kinds (`pull_request.opened`,
`*.created`), where a pattern that names an event also selects every action of
it (`pull_request` means `pull_request` and `pull_request.*`), and `-pattern`
excludes. Inclusions are OR'd, then exclusions remove; with no inclusion the
service default is the start (`-star` is "the default minus stars"), and `*`
is everything. `ping` is always selected: it is the connection check.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping, Sequence

from bot.core.globs import Glob, GlobError, compile_glob
from parsers import SERVICES

__all__ = [
    "MAX_PATTERNS",
    "MAX_PATTERN_LENGTH",
    "Selection",
    "SelectionError",
    "aliases",
    "default_selection",
    "describe",
    "parse_patterns",
    "selected_event_names",
    "selects",
    "service_kinds",
]


def aliases(service: str) -> Mapping[str, tuple[str, ...]]:
    """Return the short names users may type for a service's events (docs/events.md)."""
    spec = SERVICES.get(service)
    return spec.aliases if spec is not None else {}


def default_selection(service: str) -> tuple[str, ...] | None:
    """Return what a hook of this service selects when given no patterns (None: all)."""
    spec = SERVICES.get(service)
    return spec.default_selection if spec is not None else None


MAX_PATTERNS = 50
"""Most patterns one selection may hold, as typed (before aliases expand)."""

MAX_PATTERN_LENGTH = 100
"""Longest pattern accepted, in characters."""

ALWAYS = "ping"
"""The kind every selection keeps: the provider's connection check."""

_MAX_TEXT = 6000
_SEPARATORS = re.compile(r"[,\s]+")
_PATTERN_CHARS = re.compile(r"[a-z0-9_.*?]+")
_WILDCARDS = frozenset("*?")
_MEMO_LIMIT = 4096


class SelectionError(ValueError):
    """Event patterns cannot be used; the message says what is wrong and what to type."""


def service_kinds(service: str) -> tuple[str, ...]:
    """Return the kinds a service's parser produces, in its documented order.

    Args:
        service: A service name (`github`).

    Returns:
        The kinds, or an empty tuple for a service without a parser.
    """
    spec = SERVICES.get(service)
    return spec.kinds if spec is not None else ()


def _open_kind(service: str, pattern: str) -> bool:
    """Return True when a service takes kinds of any name and the pattern has that shape.

    A custom hook's kinds come from its senders' bodies (`custom.server_alert`), so
    `custom.server_*` is accepted though no bundled kind matches it.
    """
    spec = SERVICES.get(service)
    if spec is None or spec.open_kinds is None:
        return False
    return spec.open_kinds.fullmatch(pattern.replace("*", "x").replace("?", "x")) is not None


def _event_of(kind: str) -> str:
    """Return the event part of a kind: `pull_request` for `pull_request.opened`."""
    return kind.partition(".")[0]


def _event_names(kinds: Iterable[str]) -> list[str]:
    """Return the event names of some kinds, each once, in order."""
    return list(dict.fromkeys(_event_of(kind) for kind in kinds))


def _glob_selects(glob: Glob, kind: str) -> bool:
    """Return True when a pattern selects a kind, directly or by naming its event."""
    if glob.matches(kind):
        return True
    event, dot, _ = kind.partition(".")
    return bool(dot) and glob.matches(event)


def _or_list(names: Sequence[str]) -> str:
    """Spell `a`, `a or b`, `a, b or c`."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} or {names[-1]}"


def _no_match(token: str, name: str, service: str, kinds: Sequence[str]) -> SelectionError:
    """Build the error for a pattern that selects nothing, with close names."""
    events = _event_names(kinds)
    short = aliases(service)
    if name in short:
        meant = ", ".join(short[name])
        return SelectionError(
            f"`{token}` stands for {meant}, which matches no {service} event; "
            f"the events are {', '.join(events) or 'none'}"
        )
    usable = [a for a, targets in short.items() if any(t in events for t in targets)]
    candidates = [*events, *usable]
    if "." in name:
        candidates.extend(kinds)
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.6)
    prefix = "-" if token.startswith("-") else ""
    if close:
        hint = f"did you mean {_or_list([prefix + c for c in close])}?"
    elif events:
        hint = f"the events are {', '.join(events)} (aliases: {', '.join(usable)})"
    else:
        hint = f"{service} has no known events"
    return SelectionError(f"`{token}` matches no {service} event; {hint}")


def parse_patterns(text: str, service: str, kinds: Iterable[str]) -> tuple[str, ...]:
    """Read what a user typed into the patterns a hook stores.

    Patterns are split on commas and spaces and lower-cased; aliases expand
    (`-pr` becomes `-pull_request`); duplicates go.

    Args:
        text: The typed patterns, e.g. `push, pr -star`.
        service: The hook's service, for messages and defaults.
        kinds: Every kind the service produces, to check each pattern against.

    Returns:
        The patterns, in the order typed.

    Raises:
        SelectionError: Nothing was typed, too much was typed, or a pattern is
            malformed or matches no known kind (with close names suggested).
    """
    known = tuple(kinds)
    if len(text) > _MAX_TEXT:
        raise SelectionError(
            f"that is {len(text)} characters of patterns; type at most {MAX_PATTERNS} patterns"
        )
    tokens = [token for token in _SEPARATORS.split(text.strip().lower()) if token]
    if not tokens:
        raise SelectionError(
            "no event patterns given; type event names such as `push, pr, release`, "
            "`*` for everything, or `-star` to leave one out"
        )
    if len(tokens) > MAX_PATTERNS:
        raise SelectionError(f"{len(tokens)} patterns given; the limit is {MAX_PATTERNS}")
    patterns: dict[str, None] = {}
    for token in tokens:
        if len(token) > MAX_PATTERN_LENGTH:
            raise SelectionError(
                f"`{token[:20]}…` is {len(token)} characters long; "
                f"the limit is {MAX_PATTERN_LENGTH}"
            )
        negated = token.startswith("-")
        name = token[1:] if negated else token
        if not _PATTERN_CHARS.fullmatch(name):
            raise SelectionError(
                f"`{token}` is not an event pattern; use event names (`push`), kinds "
                "(`pull_request.opened`), `*`, `?` and `-` to exclude"
            )
        expanded = aliases(service).get(name, (name,))
        try:
            globs = [compile_glob(pattern) for pattern in expanded]
        except GlobError as exc:  # pragma: no cover - the character check above prevents it
            raise SelectionError(f"`{token}`: {exc}") from exc
        if not any(_glob_selects(glob, kind) for glob in globs for kind in known) and not (
            _open_kind(service, name)
        ):
            raise _no_match(token, name, service, known)
        for pattern in expanded:
            patterns["-" + pattern if negated else pattern] = None
    result = tuple(patterns)
    selection = Selection.from_patterns(result, service)
    opened = any(_open_kind(service, p) for p in result if not p.startswith("-"))
    if (
        result != (ALWAYS,)
        and not opened
        and not any(selection.selects(k) for k in known if k != ALWAYS)
    ):
        raise SelectionError(
            f"`{text.strip()}` leaves no {service} event selected; "
            "name at least one event, or `*` for everything"
        )
    return result


class Selection:
    """A compiled selection; `selects(kind)` is memoised per kind."""

    __slots__ = ("_base", "_exclude", "_memo", "patterns", "service")

    def __init__(
        self,
        service: str,
        patterns: tuple[str, ...],
        base: tuple[Glob, ...] | None,
        exclude: tuple[Glob, ...],
    ) -> None:
        self.service = service
        self.patterns = patterns
        self._base = base  # None: everything
        self._exclude = exclude
        self._memo: dict[str, bool] = {}

    @classmethod
    def from_patterns(cls, patterns: Sequence[str], service: str) -> Selection:
        """Compile stored patterns for a service.

        Args:
            patterns: Patterns as `parse_patterns` returns them (empty: the default).
            service: The hook's service.

        Returns:
            The compiled Selection.

        Raises:
            SelectionError: A stored pattern is not a usable glob.
        """
        include = [p for p in patterns if not p.startswith("-")]
        exclude = [p[1:] for p in patterns if p.startswith("-")]
        try:
            if "*" in include:
                base: tuple[Glob, ...] | None = None
            elif include:
                base = tuple(compile_glob(p) for p in include)
            elif (defaults := default_selection(service)) is not None:
                base = tuple(compile_glob(p) for p in defaults)
            else:
                base = None
            excluded = tuple(compile_glob(p) for p in exclude)
        except GlobError as exc:
            raise SelectionError(f"a stored event pattern is unusable: {exc}") from exc
        return cls(service, tuple(patterns), base, excluded)

    def selects(self, kind: str) -> bool:
        """Return True when events of this kind pass the selection.

        Args:
            kind: An event kind (`pull_request.opened`).

        Returns:
            Whether the hook wants the kind; always True for `ping`.
        """
        known = self._memo.get(kind)
        if known is not None:
            return known
        answer = self._decide(kind)
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[kind] = answer
        return answer

    def _decide(self, kind: str) -> bool:
        """Work out whether a kind is selected (uncached)."""
        if kind == ALWAYS:
            return True
        if self._base is not None and not any(_glob_selects(g, kind) for g in self._base):
            return False
        return not any(_glob_selects(g, kind) for g in self._exclude)


@functools.lru_cache(maxsize=1024)
def _compiled(patterns: tuple[str, ...], service: str) -> Selection:
    """Return the cached Selection for stored patterns."""
    return Selection.from_patterns(patterns, service)


def selects(patterns: Sequence[str], service: str, kind: str) -> bool:
    """Return True when a hook with these patterns wants events of this kind.

    Args:
        patterns: The hook's stored patterns (empty: the service default).
        service: The hook's service.
        kind: The event's kind.

    Returns:
        Whether the kind is selected; `ping` always is.
    """
    return _compiled(tuple(patterns), service).selects(kind)


def selected_event_names(patterns: Sequence[str], service: str) -> list[str]:
    """Return the service's event names with at least one selected kind (not `ping`).

    Args:
        patterns: The hook's stored patterns.
        service: The hook's service.

    Returns:
        Event names in the service's order, e.g. `["push", "pull_request"]`.
    """
    selection = _compiled(tuple(patterns), service)
    kinds = [k for k in service_kinds(service) if k != ALWAYS and selection.selects(k)]
    return _event_names(kinds)


def _spell(pattern: str, kinds: Sequence[str]) -> str:
    """Say one pattern: a bare event with actions reads `pull_request (all actions)`."""
    if "." in pattern or _WILDCARDS & set(pattern):
        return pattern
    if any(kind.startswith(pattern + ".") for kind in kinds):
        return f"{pattern} (all actions)"
    return pattern


def describe(patterns: Sequence[str], service: str) -> str:
    """Say a selection in words, for `events <ref>` and `info`.

    Args:
        patterns: The hook's stored patterns.
        service: The hook's service.

    Returns:
        For example `pull_request (all actions), release.published; not star`.
    """
    kinds = service_kinds(service)
    include = [p for p in patterns if not p.startswith("-")]
    exclude = [p[1:] for p in patterns if p.startswith("-")]
    if "*" in include:
        said = "everything"
    elif include:
        said = ", ".join(_spell(p, kinds) for p in include)
    elif (defaults := default_selection(service)) is not None:
        said = f"the default for {service}: {', '.join(defaults)}"
    else:
        said = "everything"
    if exclude:
        said += "; not " + ", ".join(exclude)
    return said
