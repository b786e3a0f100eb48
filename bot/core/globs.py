"""Glob matching for event patterns and filter values (DESIGN.md semantics).

`*` matches any run of characters except `/`, `**` any run including `/` (and
`**/` also matches no folder at all, so `**/*.md` matches `README.md`), `?`
exactly one character except `/`. Every other character is literal, brackets
and braces included: `dependabot[bot]` matches that login and nothing else.
`a,b` means either alternative; an empty alternative matches only the empty
string. A pattern matches the whole value.

Patterns compile once to a regular expression (literal runs through
`re.escape`). A backtracking regex can take polynomial time on hostile input
when a pattern has several wildcards, so long values against such patterns go
through a bit-parallel automaton instead, which is linear in the value.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["MAX_PATTERN_LENGTH", "Glob", "GlobError", "compile_glob"]

MAX_PATTERN_LENGTH = 256
"""Longest pattern accepted, in characters."""

# Backtracking budget: a pattern with k unbounded wildcards in one alternative
# costs the regex up to about len(value) ** k steps; above this, use the automaton.
_REGEX_STEP_BUDGET = 200_000
_UNBOUNDED = 1 << 62

# Automaton tokens.
_LIT, _ONE, _STAR, _DSTAR, _OPTDIRS, _END = range(6)


class GlobError(ValueError):
    """A pattern cannot be used; the message says why."""


def _check(pattern: str) -> None:
    """Raise GlobError for over-long patterns or ones with control characters."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise GlobError(
            f"the pattern is {len(pattern)} characters long; the limit is {MAX_PATTERN_LENGTH}"
        )
    for char in pattern:
        if unicodedata.category(char) == "Cc":
            raise GlobError(
                f"the pattern contains the control character U+{ord(char):04X}; "
                "type plain text, `*`, `**`, `?` and `,`"
            )


def _tokens(alternative: str) -> list[tuple[int, str]]:
    """Split one alternative into (token, literal) pairs; stars collapse into one."""
    tokens: list[tuple[int, str]] = []
    i = 0
    n = len(alternative)
    while i < n:
        char = alternative[i]
        if char == "*":
            j = i
            while j < n and alternative[j] == "*":
                j += 1
            if j - i == 1:
                tokens.append((_STAR, ""))
            elif j < n and alternative[j] == "/" and (i == 0 or alternative[i - 1] == "/"):
                tokens.append((_OPTDIRS, ""))  # `**/`: any folders, or none
                j += 1
            else:
                tokens.append((_DSTAR, ""))
            i = j
        elif char == "?":
            tokens.append((_ONE, ""))
            i += 1
        else:
            tokens.append((_LIT, char))
            i += 1
    return tokens


def _regex(tokens: list[tuple[int, str]]) -> str:
    """Spell one alternative's tokens as a regular expression."""
    parts: list[str] = []
    literal: list[str] = []
    for kind, char in tokens:
        if kind == _LIT:
            literal.append(char)
            continue
        if literal:
            parts.append(re.escape("".join(literal)))
            literal = []
        parts.append({_STAR: "[^/]*", _DSTAR: ".*", _OPTDIRS: "(?:.*/)?", _ONE: "[^/]"}[kind])
    if literal:
        parts.append(re.escape("".join(literal)))
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class _Automaton:
    """Bit-parallel NFA over the tokens of every alternative (bit i: before token i)."""

    start: int
    accept: int
    literals: dict[str, int]
    one: int
    star: int
    dstar: int
    optdirs: int
    ignore_case: bool

    @classmethod
    def build(cls, alternatives: list[list[tuple[int, str]]], ignore_case: bool) -> _Automaton:
        """Lay the alternatives end to end, each closed by a token that never matches."""
        start = accept = one = star = dstar = optdirs = 0
        literals: dict[str, int] = {}
        position = 0
        for tokens in alternatives:
            start |= 1 << position
            for kind, char in [*tokens, (_END, "")]:
                bit = 1 << position
                if kind == _LIT:
                    key = char.lower() if ignore_case else char
                    literals[key] = literals.get(key, 0) | bit
                elif kind == _ONE:
                    one |= bit
                elif kind == _STAR:
                    star |= bit
                elif kind == _DSTAR:
                    dstar |= bit
                elif kind == _OPTDIRS:
                    # `**/` is an entry that reads nothing, then `**`, then `/`;
                    # the entry may also jump past all three.
                    optdirs |= bit
                    dstar |= bit << 1
                    literals["/"] = literals.get("/", 0) | (bit << 2)
                    position += 2
                else:
                    accept |= bit
                position += 1
        return cls(start, accept, literals, one, star, dstar, optdirs, ignore_case)

    def _closure(self, state: int) -> int:
        """Add the positions reachable without reading: skipped `**/` and stars."""
        entries = state & self.optdirs
        while entries:  # `**/**/` jumps twice
            state |= (entries << 1) | (entries << 3)
            entries = (entries << 3) & self.optdirs & ~entries
        return state | ((state & (self.star | self.dstar)) << 1)

    def matches(self, value: str) -> bool:
        """Return True when the whole value matches; linear in its length."""
        if self.ignore_case:
            value = value.lower()
        literals = self.literals
        stay_any = self.star | self.dstar
        advance_any = self.one
        dstar = self.dstar
        state = self._closure(self.start)
        for char in value:
            lit = literals.get(char, 0)
            if char == "/":
                state = ((state & lit) << 1) | (state & dstar)
            else:
                state = ((state & (lit | advance_any)) << 1) | (state & stay_any)
            if not state:
                return False
            state = self._closure(state)
        return bool(state & self.accept)


@dataclass(frozen=True, slots=True)
class Glob:
    """A compiled pattern; build it with `compile_glob`."""

    pattern: str
    ignore_case: bool
    _regex: re.Pattern[str] = field(repr=False, compare=False)
    _automaton: _Automaton = field(repr=False, compare=False)
    _regex_max_length: int = field(repr=False, compare=False)
    _literals: frozenset[str] | None = field(default=None, repr=False, compare=False)

    def matches(self, value: str) -> bool:
        """Return True when the whole value matches the pattern.

        Args:
            value: The text to test (a kind, a branch, a login, a path…).

        Returns:
            Whether the pattern matches all of `value`.
        """
        if len(value) <= self._regex_max_length:
            return self._regex.fullmatch(value) is not None
        return self._automaton.matches(value)

    def matcher(self) -> Callable[[str], object]:
        """Return the fastest test for this pattern: its result is truthy on a match.

        The regex's own `fullmatch` when it cannot backtrack badly, else `matches`.
        """
        if self._literals is not None:
            return self._literals.__contains__
        if self._regex_max_length >= _UNBOUNDED:
            return self._regex.fullmatch
        return self.matches


@functools.lru_cache(maxsize=4096)
def compile_glob(pattern: str, *, ignore_case: bool = False) -> Glob:
    """Compile a glob pattern once (results are cached).

    Args:
        pattern: The glob: `*`, `**`, `?` and `,` are special, all else literal.
        ignore_case: Compare letters case-insensitively (logins, repositories, labels).

    Returns:
        The compiled Glob.

    Raises:
        GlobError: The pattern is over 256 characters or contains a control character.
    """
    _check(pattern)
    alternatives = [_tokens(alternative) for alternative in pattern.split(",")]
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    regex = re.compile("|".join(f"(?:{_regex(tokens)})" for tokens in alternatives), flags)
    wildcards = max(
        sum(kind in (_STAR, _DSTAR, _OPTDIRS) for kind, _ in tokens) for tokens in alternatives
    )
    # One wildcard backtracks at most linearly; more use the automaton on long values.
    regex_max_length = _UNBOUNDED if wildcards <= 1 else int(_REGEX_STEP_BUDGET ** (1 / wildcards))
    # Case-sensitive patterns without wildcards test by set membership (fastest).
    literal = not ignore_case and all(kind == _LIT for tokens in alternatives for kind, _ in tokens)
    literals = frozenset(pattern.split(",")) if literal else None
    return Glob(
        pattern=pattern,
        ignore_case=ignore_case,
        _regex=regex,
        _automaton=_Automaton.build(alternatives, ignore_case),
        _regex_max_length=regex_max_length,
        _literals=literals,
    )
