"""Command grammar: verbs, services and hook ids, in either word order, to verb-first form."""

from __future__ import annotations

import re

from parsers import SERVICES

VERBS = frozenset(
    {
        "on",
        "off",
        "list",
        "info",
        "delete",
        "test",
        "rotate",
        "help",
        "logs",
        "events",
        "filter",
        "format",
        "aggregate",
        "alert-if",
        "replay",
        "forward",
    }
)
KIND_WORD = re.compile(r"[a-z_]+(\.[a-z_]+)*")
HOOK_ID = re.compile(r"hook_\d{3,}")


def canonical(words: list[str]) -> list[str]:
    """Return the words verb first: `github on` → `on github`, `hook_001 info` → `info hook_001`.

    Verbs, service names and hook ids are disjoint sets, so a leading reference followed
    by a verb is unambiguous. Words already verb first are returned unchanged.
    """
    if len(words) >= 2 and words[0] not in VERBS and words[1] in VERBS:
        return [words[1], words[0], *words[2:]]
    return list(words)


def is_hook_id(word: str) -> bool:
    """Return True when `word` is spelled like a hook id (`hook_001`)."""
    return HOOK_ID.fullmatch(word) is not None


def is_service(word: str) -> bool:
    """Return True when `word` names a service hookbot receives."""
    return word in SERVICES


def is_shorthand(word: str) -> bool:
    """Return True when `<word> <target>` alone means `on <word> <target>` (`custom <url>`)."""
    spec = SERVICES.get(word)
    return spec is not None and spec.shorthand


def split_format_args(text: str) -> tuple[str | None, str | None, bool]:
    """Split what follows `format <target>`: an optional kind, the template, `--preview`.

    Returns (kind, template or None for `reset`, preview). The template keeps its
    spacing and newlines as typed.
    """
    preview = False
    stripped = text.strip()
    if stripped.endswith("--preview"):
        preview, stripped = True, stripped.removesuffix("--preview").rstrip()
    elif stripped.startswith("--preview"):
        preview, stripped = True, stripped.removeprefix("--preview").lstrip()
    kind: str | None = None
    first, _, rest = stripped.partition(" ")
    if rest.strip() and KIND_WORD.fullmatch(first) and _is_kind(first):
        kind, stripped = first, rest.strip()
    if stripped == "reset":
        return kind, None, preview
    return kind, stripped, preview


def _is_kind(word: str) -> bool:
    return any(
        word in spec.kinds or any(k.split(".", 1)[0] == word for k in spec.kinds)
        for spec in SERVICES.values()
    )
