"""Command grammar: verbs, services and hook ids, in either word order, to verb-first form."""

from __future__ import annotations

from parsers import PARSERS

VERBS = frozenset({"on", "off", "list", "info", "delete", "test", "rotate", "help", "logs"})


def canonical(words: list[str]) -> list[str]:
    """Return the words verb first: `github on` → `on github`, `hook_001 info` → `info hook_001`.

    Verbs, service names and hook ids are disjoint sets, so a leading reference followed
    by a verb is unambiguous. Words already verb first are returned unchanged.
    """
    if len(words) >= 2 and words[0] not in VERBS and words[1] in VERBS:
        return [words[1], words[0], *words[2:]]
    return list(words)


def is_service(word: str) -> bool:
    """Return True when `word` names a service hookbot receives."""
    return word in PARSERS
