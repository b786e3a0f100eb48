"""alert-if rules: checked at command time, evaluated per event, fired on the rising edge.

Pure: no I/O, no clock. A rule is a Jinja2 expression compiled in the bounded
sandbox of formatters.render (`compile_expression`, StrictUndefined,
`undefined_to_none=False`; no eval). `parse_rule` checks it when it is added: the
names it reads must be ones the service's events carry (`known_names`, from the
registry's field docs; any identifier for a service whose bodies are free-form) or,
for a service whose events feed PR state, the PR state names (`pr.approvals`, alias
`pr.reviews`, `pr.changes_requested`, `pr.status`, `pr.checks`; see
bot.core.prstate). `evaluate` runs it against one event and
the subject's PR state; a name the event lacks gives None (false, silently). The
caller remembers the last result per rule and subject and posts `render_alert`
when `fire` says the rule has just turned true.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.environment import TemplateExpression

from bot.core import prstate
from bot.core.prstate import STATE_NAMES, PRState
from formatters.message import Embed, Message, clamp
from formatters.render import (
    COLORS,
    BoundedEnvironment,
    TemplateError,
    md,
    metered,
    template_context,
    truncate_line,
)
from parsers import SERVICES
from parsers.event import Event

__all__ = [
    "MAX_RULE_LENGTH",
    "PR_STATE_NAMES",
    "AlertRule",
    "KnownNames",
    "RuleError",
    "evaluate",
    "fire",
    "known_names",
    "parse_rule",
    "pr_state_events",
    "reads_pr_state",
    "render_alert",
]

MAX_RULE_LENGTH = 500
"""Longest rule accepted, in characters, after removing outer quotes."""

PR_STATE_NAMES: tuple[str, ...] = tuple(f"pr.{name}" for name in STATE_NAMES)
"""The PR-state names rules read: `pr.approvals`, `pr.reviews`, … (bot.core.prstate)."""

_REVIEW_NAMES = frozenset({"pr.approvals", "pr.reviews", "pr.changes_requested", "pr.status"})
_CHECK_NAMES = frozenset({"pr.checks"})

# Quote pairs a user may wrap a rule in; phones turn "…" into “…”.
_QUOTES = (('"', '"'), ("'", "'"), ("“", "”"), ("‘", "’"))

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_ENV = BoundedEnvironment()
_MAX_SHOWN = 100  # characters of one value shown in an alert


class RuleError(ValueError):
    """A rule was refused; the message says why and what to type instead."""


@dataclass(frozen=True)
class AlertRule:
    """One alert-if rule of a hook: the checked expression and the role it may ping."""

    expression: str
    mention_role: str | None = None

    def __post_init__(self) -> None:
        if self.mention_role is not None and not (
            self.mention_role.isascii() and self.mention_role.isdigit()
        ):
            raise RuleError(f"mention role must be a role id, not {self.mention_role!r}")


# --------------------------------------------------------------------------- compiling


@dataclass(frozen=True, slots=True)
class _Reads:
    """What an expression reads: top-level names and attribute paths, in order."""

    names: frozenset[str]
    paths: tuple[str, ...]
    private: str | None  # the first `_`-prefixed attribute it names, if any


@lru_cache(maxsize=512)
def _compiled(expression: str) -> TemplateExpression:
    return _ENV.compile_expression(expression, undefined_to_none=False)


def _path(node: nodes.Node) -> list[str] | None:
    """Return `pr.status` as ["pr", "status"] for a Name/Getattr/Getitem chain."""
    if isinstance(node, nodes.Name) and node.ctx == "load":
        return [node.name]
    if isinstance(node, nodes.Getattr):
        base = _path(node.node)
        return None if base is None else [*base, node.attr]
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        base = _path(node.node)
        return None if base is None else [*base, node.arg.value]
    return None


def _paths(node: nodes.Node) -> Iterator[str]:
    """Yield the longest name paths in a tree, outermost first."""
    path = _path(node)
    if path is not None:
        yield ".".join(path)
        return
    for child in node.iter_child_nodes():
        yield from _paths(child)


def _private(tree: nodes.Node) -> str | None:
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        name: object = node.attr if isinstance(node, nodes.Getattr) else None
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        if isinstance(name, str) and name.startswith("_"):
            return name
    return None


@lru_cache(maxsize=512)
def _reads(expression: str) -> _Reads:
    """Analyse an expression that compiles; raises jinja2.TemplateError otherwise."""
    tree = _ENV.parse("{{ (" + expression + ") }}")
    names = frozenset(meta.find_undeclared_variables(tree)) - frozenset(_ENV.globals)
    paths = tuple(dict.fromkeys(p for p in _paths(tree) if p.partition(".")[0] in names))
    return _Reads(names=names, paths=paths, private=_private(tree))


# --------------------------------------------------------------------------- checking


class KnownNames(frozenset[str]):
    """The names a rule may read; with `open_keys`, any identifier is a top-level name too.

    A service whose bodies are free-form (custom JSON) carries whatever top-level keys
    its sender sends, so `level == 'critical'` is accepted though no doc names `level`.
    Iterating yields only the documented names (for messages and suggestions).
    """

    open_keys: bool

    def __new__(cls, names: Iterable[str] = (), *, open_keys: bool = False) -> KnownNames:
        """Build the set; `open_keys` makes every identifier a known top-level name."""
        made = super().__new__(cls, names)
        made.open_keys = open_keys
        return made

    def __contains__(self, name: object) -> bool:
        """True for a documented name, or an identifier when the keys are open."""
        if super().__contains__(name):
            return True
        return self.open_keys and isinstance(name, str) and _IDENTIFIER.fullmatch(name) is not None


def known_names(
    service: str, field_docs: Mapping[str, Mapping[str, str]] | None = None
) -> KnownNames:
    """Return every name a rule for this service may read.

    Args:
        service: The hook's service (`gitlab`).
        field_docs: Event name → documented field path → description; defaults to
            the service's (`SERVICES[service].field_docs`), else none.

    Returns:
        The top-level template variables (formatters.render.template_context), the
        first part and the full path of each documented field (`mr`, `mr.draft`,
        `pipeline.status`; paths through lists keep only their first part; a placeholder
        is no name: `label.<name>` leaves what is inside `label` unchecked); `pr` with
        the PR-state names when the service's events feed PR state
        (bot.core.prstate.sources); and, for a service whose kinds are open (custom),
        any identifier as a top-level name.
    """
    spec = SERVICES.get(service)
    docs: Mapping[str, Mapping[str, str]] = (
        field_docs if field_docs is not None else (spec.field_docs if spec else {})
    )
    blank = Event(service=service, kind="", source="", delivery_id="", occurred_at=None, title="")
    names = set(template_context(blank))
    for fields in docs.values():
        for path in fields:
            head, _, _ = path.partition("[]")
            parts = head.split(".")
            if not _IDENTIFIER.fullmatch(parts[0]):
                continue  # a placeholder such as `<key>`
            names.add(parts[0])
            if "<" in path:
                continue  # `label.<name>`: any name inside `label`, unchecked
            if "[]" not in path:
                names.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
    fed = (
        prstate.sources_from(docs, spec.kinds if spec else ())
        if field_docs is not None
        else prstate.sources(service)
    )
    if fed.feeds:
        names.add("pr")
        names.update(PR_STATE_NAMES)
    return KnownNames(names, open_keys=spec is not None and spec.open_kinds is not None)


def _strip_quotes(text: str) -> tuple[str, str | None]:
    """Return the text without one pair of outer quotes, and the text as given (or None)."""
    for left, right in _QUOTES:
        if len(text) >= 2 and text.startswith(left) and text.endswith(right):
            return text[len(left) : -len(right)].strip(), text
    return text, None


def _compile_error(expression: str) -> str | None:
    try:
        _compiled(expression)
    except jinja2.TemplateSyntaxError as exc:
        return (exc.message or "invalid syntax").replace("end of template", "end of the rule")
    except (jinja2.TemplateError, TemplateError) as exc:
        return str(exc)
    return None


def _unknown(path: str, known: Collection[str]) -> str | None:
    """Return the first part of a path that is not known, or None.

    Parts below a known name without documented children (`pr.title.upper`,
    `commits`) are not checked.
    """
    parents = {name.rpartition(".")[0] for name in known if "." in name}
    parts = path.split(".")
    prefix = parts[0]
    if prefix not in known:
        return prefix
    for part in parts[1:]:
        if prefix not in parents:
            return None
        prefix = f"{prefix}.{part}"
        if prefix not in known:
            return prefix
    return None


def _available(known: Collection[str], unknown: str) -> str:
    top = sorted(name for name in known if "." not in name)
    lines = [f"Names: {', '.join(top)}"]
    if any(name in known for name in PR_STATE_NAMES):
        pr_names = [*PR_STATE_NAMES, *sorted(n for n in known if n.startswith("pr."))]
        lines.append(f"PR names: {', '.join(dict.fromkeys(pr_names))}")
    parent = unknown.rpartition(".")[0]
    if parent and parent != "pr":
        siblings = sorted(n for n in known if n.rpartition(".")[0] == parent)
        lines.append(f"{parent} names: {', '.join(siblings)}")
    return "\n".join(lines)


def parse_rule(text: str, known_names: Collection[str]) -> str:
    """Check an alert-if rule and return the cleaned expression.

    One pair of outer quotes is removed (straight or typographic); if the text only
    compiles with them, it is kept as given.

    Args:
        text: The rule as typed, e.g. `"pr.status == 'approved' and pr.reviews >= 2"`.
        known_names: What rules may read (see `known_names`).

    Returns:
        The expression to store.

    Raises:
        RuleError: The rule is empty, longer than MAX_RULE_LENGTH, not valid syntax,
            names a private attribute, reads a name not in `known_names` (the message
            lists the available ones), or reads no name at all.
    """
    expression, as_given = _strip_quotes(text.strip())
    error = _compile_error(expression) if expression else None
    if error is not None and as_given is not None and _compile_error(as_given) is None:
        expression, error = as_given, None
    if not expression:
        raise RuleError("the rule is empty; e.g. alert-if <ref> \"status == 'failed'\"")
    if len(expression) > MAX_RULE_LENGTH:
        raise RuleError(f"the rule is longer than {MAX_RULE_LENGTH} characters")
    if error is not None:
        raise RuleError(f"the rule is not a valid expression: {error}")
    reads = _reads(expression)
    if reads.private is not None:
        raise RuleError(f"the rule reads `{reads.private}`; names starting with _ are not allowed")
    for path in (*sorted(reads.names), *reads.paths):
        unknown = _unknown(path, known_names)
        if unknown is not None:
            close = difflib.get_close_matches(unknown, list(known_names), n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise RuleError(
                f"the rule reads `{unknown}`, which this hook's events do not carry{hint}\n"
                + _available(known_names, unknown)
            )
    if not reads.names:
        raise RuleError(
            "the rule reads no event value or PR state, so it never changes; "
            "e.g. status == 'failed' and branch == 'main'"
        )
    return expression


def _reads_any(expression: str, wanted: Collection[str]) -> bool:
    try:
        paths = _reads(expression).paths
    except (jinja2.TemplateError, TemplateError):
        return False
    return any(path in wanted or path.rpartition(".")[0] in wanted for path in paths)


def reads_pr_state(expression: str) -> bool:
    """Return True when the expression reads `pr.approvals`/`reviews`/… (bot.core.prstate)."""
    return _reads_any(expression, PR_STATE_NAMES)


def pr_state_events(expression: str, service: str | None = None) -> tuple[str, ...]:
    """Return the provider events the PR state an expression reads comes from.

    Reviews and status need the events that carry the pull request and report it
    closing, and those carrying reviews; checks need the former and the events whose
    check results name pull requests (bot.core.prstate.sources). A service whose events
    feed no PR state needs none.

    Args:
        expression: A rule.
        service: The hook's service; None for every registered service's events.

    Returns:
        Event names in the service's words, each once (`pull_request`, …), or ().
    """
    reviews = _reads_any(expression, _REVIEW_NAMES)
    checks = _reads_any(expression, _CHECK_NAMES)
    events: list[str] = []
    for name in SERVICES if service is None else (service,):
        fed = prstate.sources(name)
        if reviews:
            events += [*fed.lifecycle, *fed.reviews]
        if checks:
            events += [*fed.lifecycle, *fed.checks]
    return tuple(dict.fromkeys(events))


# --------------------------------------------------------------------------- evaluating


def _context(event: Event, pr: PRState | None) -> dict[str, Any]:
    context: dict[str, Any] = template_context(event)
    if pr is not None:
        carried = event.fields.get("pr")
        merged: dict[str, object] = dict(carried) if isinstance(carried, Mapping) else {}
        merged.update(pr.names())
        context["pr"] = merged
    return context


def _shown(value: object) -> bool:
    if isinstance(value, list | tuple):
        return all(_shown(item) for item in value)
    return value is None or isinstance(value, str | int | float | bool)


def _values(paths: tuple[str, ...], context: Mapping[str, Any]) -> dict[str, object]:
    """Return the value at the deepest reachable part of each path (scalars and lists)."""
    values: dict[str, object] = {}
    for path in paths:
        first, *rest = path.split(".")
        if first not in context:
            continue
        value: Any = context[first]
        reached = [first]
        for part in rest:
            if not isinstance(value, Mapping) or part not in value:
                break
            value = value[part]
            reached.append(part)
        if _shown(value):
            values.setdefault(".".join(reached), value)
    return values


def evaluate(
    expression: str, event: Event, pr: PRState | None
) -> tuple[bool | None, dict[str, object]]:
    """Run a rule against one event and the subject's PR state.

    The rule sees formatters.render.template_context(event), with `pr` being the
    event's `pr` field merged with `pr.names()` (state names win) when a state is
    given. It runs in the bounded sandbox.

    Returns:
        (True or False, the values the rule read by path, e.g. {"pr.status":
        "approved"}), or (None, {}) when the rule cannot be decided: a name the
        event lacks, or any other error (the caller treats it as false and counts it).
    """
    context = _context(event, pr)
    try:
        with metered(context):
            reads = _reads(expression)
            result = _compiled(expression)(context)
            truth = None if isinstance(result, jinja2.Undefined) else bool(result)
    except Exception:  # user code: any failure means "not decided"
        return None, {}
    if truth is None:
        return None, {}
    return truth, _values(reads.paths, context)


def fire(previous: bool, now_true: bool) -> bool:
    """Return True when a rule has just turned true (it was not true before)."""
    return now_true and not previous


# --------------------------------------------------------------------------- the alert


def _subject_ref(subject: str | None) -> str | None:
    """`<service>:owner/repo#45` → `owner/repo#45`; `…@<sha>` keeps 7 characters of it."""
    if not subject:
        return None
    ref = subject.partition(":")[2] or subject
    where, at, sha = ref.partition("@")
    return f"{where}@{sha[:7]}" if at else ref


def _show(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ", ".join(_show(item) for item in value) or "[]"
    return truncate_line(value, _MAX_SHOWN)


_CHECK_MARKS = {"passed": " ✓", "failed": " ✗", "pending": " …"}


def _summary(pr: PRState) -> list[str]:
    approved = pr.approvals and not pr.changes_requested
    parts = [f"Approvals: {pr.approvals}{' ✓' if approved else ''}"]
    if pr.changes_requested:
        parts.append(f"Changes requested: {pr.changes_requested} ✗")
    if pr.checks_status != "none":
        parts.append(f"Checks: {pr.checks_status}{_CHECK_MARKS[pr.checks_status]}")
    if pr.status in {"draft", "merged", "closed"}:
        parts.append(f"Status: {pr.status}")
    return parts


def render_alert(
    rule: AlertRule, event: Event, pr: PRState | None, values: Mapping[str, object]
) -> Message:
    """Build the alert message for a rule that has just turned true.

    The content reads e.g. "⚡ Alert · PR octo-org/Hello-World#45 · Approvals: 2 ✓ ·
    Checks: passed ✓ · rule: pr.status == 'approved' and pr.reviews >= 2", preceded
    by "<@&ROLE_ID> " when the rule has a mention role (the only ping hookbot makes;
    the caller allows exactly that role). PR-state values appear in the summary;
    other values the rule read follow as `path: value`. User text is escaped with
    formatters.render.md. The embed links the pull request (or the event).
    """
    carried = event.fields.get("pr")
    event_pr: Mapping[str, object] = carried if isinstance(carried, Mapping) else {}
    ref = _subject_ref(pr.subject if pr is not None else event.subject)
    is_pr = pr is not None or bool(event_pr)
    parts = ["⚡ Alert"]
    if ref:
        label = "PR " if is_pr else ("Commit " if "@" in ref else "")
        parts.append(label + md(ref))
    if pr is not None:
        parts += _summary(pr)
    for path, value in values.items():
        if pr is not None and path in PR_STATE_NAMES:
            continue
        parts.append(f"{md(path)}: {md(_show(value))}")
    parts.append(f"rule: {md(rule.expression)}")
    content = " · ".join(parts)
    if rule.mention_role is not None:
        content = f"<@&{rule.mention_role}> {content}"

    title = (pr.title if pr is not None else None) or event_pr.get("title") or event.title
    url = (pr.url if pr is not None else None) or event_pr.get("url") or event.url
    lines = [f"**{md(path)}**: {md(_show(value))}" for path, value in values.items()]
    embed = Embed(
        title=md(title),
        url=url if isinstance(url, str) else None,
        description="\n".join(lines) or None,
        color=COLORS["orange"],
        author=event.actor,
        footer=f"alert-if · {event.service} · {event.kind}",
        timestamp=event.occurred_at,
    )
    return clamp(Message(content=content, embeds=(embed,)))
