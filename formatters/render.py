"""Render Jinja2 templates into Messages: user templates in a sandbox with hard bounds.

User templates render a message's `content`; built-in defaults under
`formatters/templates/` render an embed. A default template's output is the embed
description, and it sets the rest with top-level `{% set %}` variables, which are read
back after rendering:

    embed_title        the embed title (default: the event title, escaped)
    embed_color        a colour name ("green", "purple", …) or a status ("success", "merged")
    embed_url          the title link (default: event.url)
    embed_author       the author line (default: event.actor)
    embed_author_icon  the author icon URL (default: field `actor_avatar_url`)
    embed_footer       the footer (default: "<service> · <kind>")

User templates escape every value they print (`{{ … }}`) for Discord markdown, with
the `md` filter's rules, and print `None` as nothing; the template's own text is never
escaped. Text that is already markdown is a `Markdown` string and is printed as it is:
what `md` and `raw` (the opt-out) return, what a macro, `caller()` or a `{% set %}`
block renders, and a `~` or `join` with such an operand (its other operands are escaped
instead). Anything computed from a `Markdown` string is plain text again, so `md` or
`raw` comes last in a filter chain. A value that is one plain web address is kept
intact, since escaping would break the link. Built-in defaults escape explicitly with
`md` and print values as they are.

Every user template (and any other code run in a `BoundedEnvironment`) renders under
a budget (see the MAX_* constants): source length, output size, total loop
iterations and macro calls, the size of any value a template builds, and the total
characters built. Exceeding one raises TemplateLimitError. The built-in defaults are
the project's own code: they render as plain Jinja, without the sandbox or the
budget, and only their output is capped (`_TrustedEnvironment` says why and what
they must keep to).
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Set
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from types import BuiltinMethodType
from typing import Any

import jinja2
from jinja2 import meta, nodes, pass_environment, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import BlockReference, Context, LoopContext, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from formatters.message import Embed, Message, clamp, truncate_text
from parsers import SERVICES
from parsers.event import JSON, Event

__all__ = [
    "ABSENT",
    "COLORS",
    "MAX_OUTPUT",
    "MAX_SOURCE",
    "MAX_STEPS",
    "MAX_VALUE",
    "MAX_WORK",
    "BoundedEnvironment",
    "Markdown",
    "TemplateError",
    "TemplateLimitError",
    "TemplateParseError",
    "TemplateRenderError",
    "TemplateSecurityError",
    "TemplateVariableError",
    "raw",
    "reads_payload",
    "render_default",
    "render_user",
    "template_context",
    "validate_template",
]

MAX_SOURCE = 20_000  # characters of template source
MAX_OUTPUT = 50_000  # characters a render may emit
MAX_STEPS = 10_000  # loop iterations + macro/block calls per render, all nestings together
MAX_VALUE = 100_000  # rendered size of any one value a template builds (str, list, …)
MAX_WORK = 2_000_000  # characters built per render, summed over every value
MAX_INT_BITS = 8_192  # largest integer a template may compute
MAX_WIDTH = 1_000  # largest padding width in format specs
MAX_SLICES = 1_000

TEMPLATES_DIR = Path(__file__).parent / "templates"

COLORS: Mapping[str, int] = {
    "green": 0x2EA043,
    "red": 0xCF222E,
    "yellow": 0xD29922,
    "orange": 0xDB6D28,
    "purple": 0x8250DF,
    "blue": 0x0969DA,
    "grey": 0x6E7781,
}

STATUS_COLORS: Mapping[str, str] = {
    "success": "green",
    "passed": "green",
    "opened": "green",
    "failure": "red",
    "failed": "red",
    "error": "red",
    "closed": "red",
    "running": "yellow",
    "pending": "yellow",
    "queued": "yellow",
    "warning": "orange",
    "merged": "purple",
    "cancelled": "grey",
    "skipped": "grey",
}

DEFAULT_COLOR = "blue"


# --- errors -----------------------------------------------------------------------------


class TemplateError(Exception):
    """Base of every error rendering or validating a template raises.

    `line` is the template line the problem is on, when known.
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class TemplateParseError(TemplateError):
    """The template source is not valid Jinja2 syntax."""


class TemplateVariableError(TemplateError):
    """The template reads a variable (or attribute) the event does not have."""

    def __init__(self, name: str, message: str, line: int | None = None) -> None:
        super().__init__(message, line)
        self.name = name


class TemplateLimitError(TemplateError):
    """The template exceeded a resource bound (size, loops, repetition, output)."""


class TemplateSecurityError(TemplateError):
    """The template tried something the sandbox forbids (private attributes, …)."""


class TemplateRenderError(TemplateError):
    """Any other failure while rendering (a type error, division by zero, …)."""


# --- budget -----------------------------------------------------------------------------


class _Budget:
    """What one render has spent so far, and what it was given."""

    __slots__ = ("_given", "steps", "variables", "work")

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self.steps = 0
        self.work = 0
        self.variables = variables
        self._given: frozenset[int] | None = None

    def gave(self, value: object) -> bool:
        """Return True when the render was given this very object (passing it on is free).

        The ids are collected on the first question only: a template that never hands
        a string or container to `_charge` never pays for the walk. The variables keep
        every object they reach alive for the whole render, so no id can be reused.
        """
        if self._given is None:
            self._given = _object_ids(self.variables)
        return id(value) in self._given


# The budget of the render in progress. A ContextVar rather than a Context attribute,
# because Jinja derives fresh Contexts for scoped blocks and includes.
_BUDGET: ContextVar[_Budget | None] = ContextVar("hookbot_template_budget", default=None)


def _budget() -> _Budget:
    budget = _BUDGET.get()
    if budget is None:
        raise TemplateLimitError("templates must be rendered through formatters.render")
    return budget


def _size(value: object, limit: int = MAX_VALUE) -> int:
    """Return the approximate rendered size of a value; raise once it passes `limit`.

    Containers count every reference, so a list holding one big string many times
    counts it many times; the walk stops as soon as the limit is passed.
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, range):
            total += len(item)
        elif isinstance(item, Mapping):
            total += 2 + 2 * len(item)
            if total <= limit:
                for key, inner in item.items():
                    stack += (key, inner)
        elif isinstance(item, list | tuple | Set):
            total += 2 + len(item)
            if total <= limit:
                stack.extend(item)
        else:
            total += 16
        if total > limit:
            raise TemplateLimitError(f"a value would be larger than {limit} characters")
    return total


def _spend(size: int) -> None:
    budget = _budget()
    budget.work += size
    if budget.work > MAX_WORK:
        raise TemplateLimitError(f"the template built more than {MAX_WORK} characters")


def _charged(items: Iterator[Any]) -> Iterator[Any]:
    for item in items:
        _spend(_size(item))
        yield item


def _charge(value: Any) -> Any:
    """Check a freshly built value against MAX_VALUE, spend it, and return it.

    Values the render was given (the event's fields) are returned as they are.
    """
    if isinstance(value, Iterator) and not isinstance(value, LoopContext):
        return _charged(value)
    budget = _budget()
    if not (isinstance(value, _GIVEN_KINDS) and budget.gave(value)):
        _spend(_size(value))
    return value


# What `_object_ids` collects: the only kinds of value a render can be given for free.
_GIVEN_KINDS = (str, bytes, Mapping, list, tuple)
# Types of JSON leaves that are never given, told apart without isinstance: an isinstance
# against the Mapping ABC runs Python code, and a payload holds thousands of leaves.
_SCALARS = frozenset({int, float, bool, type(None)})


def _object_ids(variables: Mapping[str, Any]) -> frozenset[int]:
    """Return the ids of every string and container reachable from the variables."""
    seen: set[int] = set()
    stack: list[Any] = list(variables.values())
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _SCALARS or id(item) in seen:
            continue
        if kind is str:
            seen.add(id(item))
        elif kind is dict or isinstance(item, Mapping):
            seen.add(id(item))
            stack.extend(item.values())
        elif kind is list or kind is tuple or isinstance(item, list | tuple):
            seen.add(id(item))
            stack.extend(item)
        elif isinstance(item, str | bytes):
            seen.add(id(item))
    return frozenset(seen)


def _check_width(width: object) -> None:
    if isinstance(width, int) and width > MAX_WIDTH:
        raise TemplateLimitError(f"width {width} is larger than {MAX_WIDTH}")
    if isinstance(width, str) and len(width) > MAX_WIDTH:
        raise TemplateLimitError(f"indent is longer than {MAX_WIDTH} characters")


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?")


def _check_percent_format(fmt: str) -> None:
    for match in _PERCENT_SPEC.finditer(fmt):
        for part in match.groups():
            if part == "*" or (part and (len(part) > 4 or int(part) > MAX_WIDTH)):
                raise TemplateLimitError(f"format width or precision above {MAX_WIDTH}")


def _check_replace(text: str, old: object, new: object, count: object) -> None:
    if not isinstance(old, str) or not isinstance(new, str):
        return
    hits = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * (len(new) - len(old)) > MAX_VALUE:
        raise TemplateLimitError(f"replace() would build more than {MAX_VALUE} characters")


def _check_join(separator: object, items: list[Any]) -> None:
    if len(str(separator)) * max(len(items) - 1, 0) > MAX_VALUE:
        raise TemplateLimitError(f"join() would build more than {MAX_VALUE} characters")


# --- filters ----------------------------------------------------------------------------

_MENTION = re.compile(r"@(everyone|here)|<(@[!&]?|#)(\d+)>")
_MARKDOWN = re.compile(r"([\\*_~`|>\[\]])")
_HEADING = re.compile(r"^(\s*)#", re.MULTILINE)
# A character that at least one of the three patterns above needs; text without any is
# left as it is by all three (most titles, names and branches), so one search does.
_MARKUP_CHARACTER = re.compile(r"[@<#\\*_~`|>\[\]]")


def _neutralise_mention(match: re.Match[str]) -> str:
    if match[1]:
        return f"@\u200b{match[1]}"
    return f"<\u200b{match[2]}{match[3]}>"


class Markdown(str):
    """Text that is already Discord markdown: a user template prints it without escaping.

    `md` and `raw` return it; see the module doc for what else does.
    """

    __slots__ = ()


def md(value: object) -> Markdown:
    """Escape Discord markdown and break mentions (`@everyone`, `<@id>`, …) with a ZWSP.

    Text that is already `Markdown` is returned as it is, so nothing is escaped twice.
    """
    if isinstance(value, Markdown):
        return value
    text = "" if value is None else str(value)
    if _MARKUP_CHARACTER.search(text) is None:
        return Markdown(text)
    text = _MENTION.sub(_neutralise_mention, text)
    text = _MARKDOWN.sub(r"\\\1", text)
    return Markdown(_HEADING.sub(r"\1\\#", text))


def raw(value: object) -> Markdown:
    """Mark text to be printed without markdown escaping; mentions are still broken."""
    if isinstance(value, Markdown):
        return value
    text = "" if value is None else str(value)
    return Markdown(_MENTION.sub(_neutralise_mention, text))


# One web address and nothing that could end Discord's autolink early or start markup
# outside it: such a value is kept intact, because escaping a `_` in it breaks the link.
_WEB_ADDRESS = re.compile(r"https?://[^\s<>\[\]()`\\|]+")


_LINK_BREAKERS = re.compile(r"[\s()\[\]<>`\\|\x00-\x1f\x7f]")


def href(value: object) -> str:
    """Return a value fit for a markdown link target: an http(s) URL, else "".

    Characters that would end the target or start markdown of their own (`)`, `]`,
    spaces, `<`, …) are percent-encoded, so a payload URL such as
    `https://ci/1/) [log in](http://evil)` cannot open a second, masked link.
    """
    text = value if isinstance(value, str) else ""
    if not text.lower().startswith(("http://", "https://")):
        return ""
    return _LINK_BREAKERS.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)


def _escaped(value: object) -> object:
    """Return a value as a user template prints it: see the module doc."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, str) and _WEB_ADDRESS.fullmatch(value):
        return raw(value)
    return md(value)


def _marked_join(separator: object, parts: Iterable[object]) -> Markdown | None:
    """Join as `Markdown` when any piece is `Markdown`, escaping the others; else None.

    Jinja's `~` and `join` give `None` the text "None"; so does this.
    """
    pieces = [separator, *parts]
    if not any(isinstance(piece, Markdown) for piece in pieces):
        return None
    escaped = [piece if isinstance(piece, Markdown) else md(str(piece)) for piece in pieces]
    return Markdown(escaped[0].join(escaped[1:]))


def short_sha(value: object, length: int = 7) -> str:
    """Return the first `length` characters of a commit id."""
    return ("" if value is None else str(value))[: max(0, min(length, 40))]


def truncate_line(value: object, limit: int = 80) -> str:
    """Return the first line of the text, cut to `limit` characters with "…"."""
    text = "" if value is None else str(value)
    first = text.split("\n", 1)[0].rstrip("\r")
    return truncate_text(first, max(1, limit))


def plural(count: object, singular: str, plural_form: str | None = None) -> str:
    """Return "1 commit" / "3 commits" (or the given plural form)."""
    number = int(count) if isinstance(count, int | float | str) else 0
    word = singular if number == 1 else (plural_form or singular + "s")
    return f"{number} {word}"


_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))


def duration(seconds: object) -> str:
    """Return a duration in seconds as its two largest units, e.g. "3m 24s"."""
    total = int(seconds) if isinstance(seconds, int | float) else 0
    total = max(total, 0)
    parts: list[str] = []
    for suffix, size in _UNITS:
        amount, total = divmod(total, size)
        if amount and len(parts) < 2:
            parts.append(f"{amount}{suffix}")
        elif parts:
            break
    return " ".join(parts) or "0s"


def _bounded_filters(
    originals: Mapping[str, Callable[..., Any]], *, escape_markdown: bool
) -> dict[str, Any]:
    """Return Jinja's filters with the ones that can amplify their input bounded.

    With `escape_markdown`, `join` keeps `Markdown` items from being escaped twice.
    """
    join, replace_, wordwrap, indent = (
        originals["join"],
        originals["replace"],
        originals["wordwrap"],
        originals["indent"],
    )

    def center(value: object, width: int = 80) -> str:
        _check_width(width)
        return str(value).center(width)

    def indent_(text: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
        _check_width(width)
        return str(indent(text, width, first, blank))

    @pass_environment
    def wordwrap_(
        environment: jinja2.Environment,
        text: str,
        width: int = 79,
        break_long_words: bool = True,
        wrapstring: str | None = None,
        break_on_hyphens: bool = True,
    ) -> str:
        breaks = len(str(text)) // max(int(width), 1) + 1
        if len(wrapstring or "\n") * breaks > MAX_VALUE:
            raise TemplateLimitError(f"wordwrap would build more than {MAX_VALUE} characters")
        return str(
            wordwrap(environment, text, width, break_long_words, wrapstring, break_on_hyphens)
        )

    @pass_eval_context
    def join_(
        eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: str | None = None
    ) -> str:
        items = list(value)
        _check_join(d, items)
        if escape_markdown and attribute is None:
            marked = _marked_join(d, items)
            if marked is not None:
                return marked
        return str(join(eval_ctx, items, d, attribute))

    @pass_eval_context
    def replace__(
        eval_ctx: EvalContext, text: str, old: str, new: str, count: int | None = None
    ) -> str:
        _check_replace(str(text), old, new, count)
        return str(replace_(eval_ctx, text, old, new, count))

    def format_(value: str, *args: Any, **kwargs: Any) -> str:
        fmt = str(value)
        _check_percent_format(fmt)
        return fmt % (kwargs or args)

    def batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Any:
        _check_width(linecount)
        return originals["batch"](value, linecount, fill_with)

    def slice_(value: Iterable[Any], slices: int, fill_with: Any = None) -> Any:
        if slices > MAX_SLICES:
            raise TemplateLimitError(f"slice count {slices} is larger than {MAX_SLICES}")
        return originals["slice"](value, slices, fill_with)

    @pass_environment
    def sum_(
        environment: jinja2.Environment,
        iterable: Iterable[Any],
        attribute: str | None = None,
        start: int | float = 0,
    ) -> Any:
        # Summing lists is quadratic; only numbers may be summed.
        if not isinstance(start, int | float):
            raise TemplateLimitError("sum() only adds numbers")
        return originals["sum"](environment, iterable, attribute, start)

    filters = dict(originals)
    del filters["random"]  # not deterministic
    filters.update(
        center=center,
        indent=indent_,
        wordwrap=wordwrap_,
        join=join_,
        replace=replace__,
        format=format_,
        batch=batch,
        slice=slice_,
        sum=sum_,
        md=md,
        raw=raw,
        href=href,
        short_sha=short_sha,
        truncate_line=truncate_line,
        plural=plural,
        duration=duration,
    )
    return filters


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_STEPS:
        raise TemplateLimitError(f"range of {len(numbers)} items is larger than {MAX_STEPS}")
    return numbers


# --- the environment -----------------------------------------------------------------

_STR_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "center",
        "count",
        "endswith",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isascii",
        "isdecimal",
        "isdigit",
        "islower",
        "isnumeric",
        "isspace",
        "istitle",
        "isupper",
        "join",
        "ljust",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rindex",
        "rjust",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "swapcase",
        "title",
        "upper",
        "zfill",
    }
)
_NUMBER_ATTRIBUTES = frozenset(
    {"real", "imag", "is_integer", "conjugate", "bit_length", "numerator", "denominator"}
)
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})
_SEQUENCE_METHODS = frozenset({"count", "index"})
_SET_METHODS = frozenset(
    {"isdisjoint", "issubset", "issuperset", "union", "intersection", "difference"}
)

# Only these attributes of builtin values are reachable; anything else (str.format,
# int.to_bytes, str.translate, …) is blocked, because it can escape or amplify.
_ALLOWED_ATTRIBUTES: tuple[tuple[type | tuple[type, ...], frozenset[str]], ...] = (
    (str, _STR_METHODS),
    ((bytes, bytearray), frozenset()),
    ((int, float, complex), _NUMBER_ATTRIBUTES),
    (Mapping, _MAPPING_METHODS),
    ((list, tuple), _SEQUENCE_METHODS),
    (Set, _SET_METHODS),
)

_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


class _Bounder(NodeTransformer):
    """Rewrite a parsed template so its loops, values and strings are metered."""

    def _call(self, method: str, args: list[nodes.Expr], lineno: int) -> nodes.Call:
        return nodes.Call(
            nodes.EnvironmentAttribute(method, lineno=lineno), args, [], None, None, lineno=lineno
        )

    def _step(self, node: nodes.Node, body: list[nodes.Node]) -> nodes.Call:
        static = sum(len(d.data) for part in body for d in part.find_all(nodes.TemplateData))
        return self._call("bounded_step", [nodes.Const(static)], node.lineno)

    def _metered_body(self, node: nodes.Node, body: list[nodes.Node]) -> list[nodes.Node]:
        return [nodes.ExprStmt(self._step(node, body), lineno=node.lineno), *body]

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        node.body = self._metered_body(node, node.body)
        if node.test is not None:
            node.test = nodes.And(self._step(node, []), node.test, lineno=node.lineno)
        return node

    def visit_Macro(self, node: nodes.Macro) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        node.body = self._metered_body(node, node.body)
        return node

    def visit_CallBlock(self, node: nodes.CallBlock) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        node.body = self._metered_body(node, node.body)
        return node

    def visit_Block(self, node: nodes.Block) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        node.body = self._metered_body(node, node.body)
        return node

    def visit_FilterBlock(self, node: nodes.FilterBlock) -> nodes.Node:  # noqa: N802
        # The block's filter is applied to the body by the compiler: meter its
        # arguments but leave the Filter node in place.
        node.body = [self.visit(part) for part in node.body]
        self.generic_visit(node.filter)
        return node

    def visit_AssignBlock(self, node: nodes.AssignBlock) -> list[nodes.Node]:  # noqa: N802
        # `{% set x %}…{% endset %}`, then `{% set x = bounded_block(x) %}`. Like a filter
        # block's, the filter stays a Filter node (the compiler feeds it the body).
        node.body = [self.visit(part) for part in node.body]
        if node.filter is not None:
            self.generic_visit(node.filter)
        lineno = node.lineno
        load: nodes.Expr
        store: nodes.Expr
        if isinstance(node.target, nodes.NSRef):
            name, attr = node.target.name, node.target.attr
            load = nodes.Getattr(nodes.Name(name, "load"), attr, "load", lineno=lineno)
            store = nodes.NSRef(name, attr, lineno=lineno)
        elif isinstance(node.target, nodes.Name):
            load = nodes.Name(node.target.name, "load", lineno=lineno)
            store = nodes.Name(node.target.name, "store", lineno=lineno)
        else:
            return [node]
        value = self._call("bounded_block", [load], lineno)
        return [node, nodes.Assign(store, value, lineno=lineno)]

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        return self._call("bounded_concat", list(node.nodes), node.lineno)

    def _metered_value(self, node: nodes.Expr) -> nodes.Node:
        self.generic_visit(node)
        return self._call("bounded_value", [node], node.lineno)

    def visit_Filter(self, node: nodes.Filter) -> nodes.Node:  # noqa: N802
        return self._metered_value(node)

    def visit_List(self, node: nodes.List) -> nodes.Node:  # noqa: N802
        return self._metered_value(node)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Node:  # noqa: N802
        return self._metered_value(node)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:  # noqa: N802
        if node.ctx != "load":
            self.generic_visit(node)
            return node
        return self._metered_value(node)


def _finalize(value: Any) -> Any:
    _spend(_size(value))
    return value


def _finalize_escaped(value: Any) -> Any:
    _spend(_size(value))
    return _escaped(value)


def _install_template_names(environment: jinja2.Environment, *, escape_markdown: bool) -> None:
    """Give an environment our filters and globals, the amplifying ones bounded."""
    environment.filters = _bounded_filters(environment.filters, escape_markdown=escape_markdown)
    environment.globals.pop("lipsum", None)  # unbounded and random
    environment.globals["range"] = _bounded_range


class _PlainGlobals(jinja2.Environment):
    """An environment whose templates keep their globals in one plain dict.

    Jinja's ChainMap over the environment's globals makes every render's context copy,
    and every `import`'s key check, run Python code. Our globals are set when the
    environment is built, before any template, and never change after, so a snapshot
    sees the same values.
    """

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """Return a template's globals: the environment's, overlaid with `d`."""
        return {**self.globals, **(d or {})}


class BoundedEnvironment(_PlainGlobals, ImmutableSandboxedEnvironment):
    """The immutable sandbox plus hard bounds on time and memory; see the module doc."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, escape_markdown: bool = False) -> None:
        """Build the environment.

        `escape_markdown` escapes every printed value for Discord markdown, as user
        templates do (module doc).
        """
        self.escape_markdown = escape_markdown
        super().__init__(
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            auto_reload=False,
            finalize=_finalize_escaped if escape_markdown else _finalize,
            keep_trailing_newline=False,
        )
        _install_template_names(self, escape_markdown=escape_markdown)

    # -- parsing: cap the source and rewrite the tree before it is compiled

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        if len(source) > MAX_SOURCE:
            raise TemplateLimitError(f"template is longer than {MAX_SOURCE} characters")
        tree = super()._parse(source, name, filename)
        bounded = _Bounder().visit(tree)
        assert isinstance(bounded, nodes.Template)  # noqa: S101 - the transformer keeps the root
        return bounded

    # -- hooks the rewritten tree calls

    def bounded_step(self, static_size: int) -> bool:
        """Count one loop iteration or macro call and its static text; return True."""
        budget = _budget()
        budget.steps += 1
        if budget.steps > MAX_STEPS:
            raise TemplateLimitError(f"more than {MAX_STEPS} loop iterations or macro calls")
        _spend(static_size)
        return True

    def bounded_value(self, value: Any) -> Any:
        """Check and spend a value built by a literal or a filter."""
        return _charge(value)

    def bounded_concat(self, *parts: Any) -> str:
        """Join `~` operands after checking the result's size."""
        if sum(_size(part) for part in parts) > MAX_VALUE:
            raise TemplateLimitError(f"a value would be larger than {MAX_VALUE} characters")
        if self.escape_markdown:
            marked = _marked_join("", parts)
            if marked is not None:
                _charge(marked)
                return marked
        return str(_charge("".join(str(part) for part in parts)))

    def bounded_block(self, value: Any) -> Any:
        """Spend the text a `{% set %}` block captured; mark it as markdown when escaping."""
        value = _charge(value)
        return Markdown(value) if self.escape_markdown else value

    # -- sandbox policy

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Allow only listed attributes of builtin values, on top of the sandbox's rules."""
        if not super().is_safe_attribute(obj, attr, value):
            return False
        for kind, allowed in _ALLOWED_ATTRIBUTES:
            if isinstance(obj, kind):
                return attr in allowed
        return True

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Block str.format / format_map outright; templates use the `format` filter."""
        receiver = getattr(value, "__self__", None)
        name = getattr(value, "__name__", "")
        if isinstance(receiver, str) and name in {"format", "format_map"}:
            # An Undefined that raises SecurityError when printed, called or used.
            blocked: Callable[..., str] = self.unsafe_undefined(receiver, name)
            return blocked
        return None

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Reject huge repetition, exponents and format widths before computing them."""
        if operator == "**" and _is_int(left) and _is_int(right) and right > 0:
            if abs(left) > 1 and abs(left).bit_length() * right > MAX_INT_BITS:
                raise TemplateLimitError(f"{operator} result would exceed {MAX_INT_BITS} bits")
        elif operator == "*":
            _check_multiply(left, right)
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left)
        return _charge(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """Call from sandboxed code: bound str padding/join/replace, then spend the result."""
        if getattr(__obj, "__self__", None) is __self:
            # Our own metering hooks, inserted by _Bounder.
            return __obj(*args)
        receiver = getattr(__obj, "__self__", None)
        if isinstance(receiver, Mapping | list | tuple):
            # get/items/keys/values/count/index hand back what is already there.
            return super().call(__context, __obj, *args, **kwargs)
        if isinstance(receiver, str):
            name = getattr(__obj, "__name__", "")
            if name in _PADDING_METHODS:
                _check_width(args[0] if args else kwargs.get("width"))
            elif name == "join" and args:
                items = list(args[0])
                _check_join(receiver, items)
                args = (items,)
            elif name == "replace" and len(args) >= 2:
                _check_replace(receiver, args[0], args[1], args[2] if len(args) > 2 else -1)
        result = _charge(super().call(__context, __obj, *args, **kwargs))
        if __self.escape_markdown and isinstance(__obj, Macro | BlockReference | LoopContext):
            # Rendered template text: its values were escaped when they were printed.
            return Markdown(result)
        return result


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_multiply(left: Any, right: Any) -> None:
    if _is_int(left) and _is_int(right):
        if left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateLimitError(f"* result would exceed {MAX_INT_BITS} bits")
        return
    for sequence, count in ((left, right), (right, left)):
        repeats = isinstance(sequence, str | bytes | list | tuple) and _is_int(count)
        if repeats and count > 0 and _size(sequence) * count > MAX_VALUE:
            raise TemplateLimitError(f"repetition would exceed {MAX_VALUE} characters")


# --- rendering ------------------------------------------------------------------------


class _DirectCallContext(Context):
    """A Context that calls builtin methods (`fields.get`, `text.split`, …) and macros directly.

    Jinja's `call` looks for `pass_context` and friends on every callable; neither kind
    can carry them, and they are nearly all the calls the defaults make. As Jinja does,
    the loop and block variables it adds as keywords are dropped (no `pass_context`
    callable wants them). Unlike Jinja, a StopIteration is not turned into an undefined
    value: none of these raise it.
    """

    def call(__self, __obj: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """Call `__obj` with the arguments, as Jinja's Context.call does."""
        if type(__obj) in _DIRECTLY_CALLED:
            kwargs.pop("_loop_vars", None)
            kwargs.pop("_block_vars", None)
            return __obj(*args, **kwargs)
        return super().call(__obj, *args, **kwargs)


_DIRECTLY_CALLED = frozenset({BuiltinMethodType, Macro})


class _TrustedEnvironment(_PlainGlobals):
    """The environment of the built-in defaults: plain Jinja, without the sandbox.

    The sandbox and the budget defend against a template's code, and the defaults are
    the project's own: their loops run over slices, or over lists the parsers (and the
    commit-files lookup) cap, and `_render` caps what they print. What is left is
    linear in the payload's size, so they render at Jinja's full speed (several times
    the sandbox's). A template of ours must stay like that: no `format`, `%` or `attr`
    (tests/formatters/test_render_speedup.py checks), no loop over an uncapped list.
    """

    context_class = _DirectCallContext

    def __init__(self) -> None:
        """Build the environment over `formatters/templates/`."""
        super().__init__(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # the output is Discord markdown, escaped with `md`
            auto_reload=False,
            keep_trailing_newline=False,
        )
        _install_template_names(self, escape_markdown=False)


_USER_ENV = BoundedEnvironment(escape_markdown=True)
_DEFAULT_ENV = _TrustedEnvironment()

_UNDEFINED_NAME = re.compile(r"^'(?P<name>[^']+)' is undefined$")
_UNDEFINED_MEMBER = re.compile(r" has no (?:attribute|element) (?P<name>.+)$")


def _template_line(exc: BaseException, template: jinja2.Template | None) -> int | None:
    """Return the template line of the innermost template frame in the traceback."""
    names = {"<template>"}
    if template is not None and template.filename:
        names.add(template.filename)
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename in names or frame.filename.endswith(".j2"):
            line = frame.lineno
    return line


def _undefined_name(message: str) -> str:
    match = _UNDEFINED_NAME.match(message) or _UNDEFINED_MEMBER.search(message)
    if match is None:
        return message
    return match["name"].strip("'\"")


def _translate(exc: Exception, template: jinja2.Template | None) -> TemplateError:
    """Map an exception from Jinja or from template code to our typed errors."""
    if isinstance(exc, TemplateError):
        if exc.line is None:
            exc.line = _template_line(exc, template)
        return exc
    line = _template_line(exc, template)
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return TemplateParseError(exc.message or "invalid syntax", exc.lineno)
    if isinstance(exc, jinja2.UndefinedError):
        message = exc.message or "undefined"
        return TemplateVariableError(_undefined_name(message), message, line)
    if isinstance(exc, SecurityError):
        return TemplateSecurityError(str(exc), line)
    if isinstance(exc, OverflowError | MemoryError | RecursionError):
        return TemplateLimitError(f"{type(exc).__name__}: {exc}", line)
    return TemplateRenderError(f"{type(exc).__name__}: {exc}", line)


@contextmanager
def metered(variables: Mapping[str, Any]) -> Iterator[None]:
    """Run sandboxed code (a template, or an alert-if expression) under a fresh budget.

    Values already in `variables` cost nothing; what the code builds is counted.
    """
    token = _BUDGET.set(_Budget(variables))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def _render(template: jinja2.Template, variables: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Render with the output capped; return the output and the top-level `set` variables.

    A sandboxed template runs under the caller's budget (`metered`). Raises TemplateError.
    """
    chunks: list[str] = []
    context = template.new_context(variables)
    try:
        try:
            size = 0
            for chunk in template.root_render_func(context):
                size += len(chunk)
                if size > MAX_OUTPUT:
                    raise TemplateLimitError(f"output is longer than {MAX_OUTPUT} characters")
                chunks.append(chunk)
        except Exception:
            # Rewrites the traceback so its frames carry template line numbers.
            template.environment.handle_exception()
    except Exception as exc:
        error = _translate(exc, template)
        if error is exc:
            raise
        raise error from exc
    return "".join(chunks), context.get_exported()


@lru_cache(maxsize=256)
def _compile_user(source: str) -> jinja2.Template:
    try:
        return _USER_ENV.from_string(source)
    except Exception as exc:
        raise _translate(exc, None) from exc


class _Absent:
    """The type of ABSENT: no raw payload was offered to `template_context`."""


ABSENT = _Absent()


def _builtin_names(event: Event, *, body_first: bool) -> dict[str, object]:
    """The built-in names and the event's fields; `body_first`: the fields win clashes."""
    names: dict[str, object] = {
        "event": event.kind,
        "service": event.service,
        "title": event.title,
        "message": event.title,
        "url": event.url,
        "actor": event.actor,
        "author": event.actor,
        "repo": event.source,
        "branch": event.branch,
        "status": event.status,
        "fields": event.fields,
    }
    if body_first:
        names.update(event.fields)
    else:
        for key, value in event.fields.items():
            names.setdefault(key, value)
    return names


def template_context(event: Event, payload: JSON | _Absent = ABSENT) -> dict[str, object]:
    """Return the variables a user template (or an alert rule) sees for an event.

    DESIGN.md "Templates": the built-in names, then the event's fields at top level. A
    field never hides a built-in name, except for a service whose templates read the
    body's names first (the registry's `body_names`: a custom hook's `{{ event }}` is the
    body's `event`, `{{ message }}` its `message`). `payload`, when given, is the raw JSON
    of the delivery; an event whose parser put the body in its fields (custom) keeps that.
    """
    spec = SERVICES.get(event.service)
    names = _builtin_names(event, body_first=spec is not None and spec.body_names)
    if not isinstance(payload, _Absent):
        names.setdefault("payload", payload)
    return names


@lru_cache(maxsize=256)
def reads_payload(source: str) -> bool:
    """Return True when a user template names `payload` (so its caller decodes the body).

    Raises TemplateParseError (or TemplateLimitError) for a template that does not parse.
    """
    try:
        tree = _USER_ENV.parse(source)
    except Exception as exc:
        raise _translate(exc, None) from exc
    return "payload" in meta.find_undeclared_variables(tree)


def render_user(source: str, event: Event, payload: Callable[[], JSON] | None = None) -> Message:
    """Render a user template into the message content (no embeds), clamped.

    `payload` returns the delivery's raw JSON; it is called only when the template reads
    `payload` (which is None without it).

    Raises a TemplateError subclass: TemplateParseError, TemplateVariableError,
    TemplateLimitError, TemplateSecurityError or TemplateRenderError.
    """
    template = _compile_user(source)
    raw: JSON = payload() if payload is not None and reads_payload(source) else None
    variables = template_context(event, raw)
    with metered(variables):
        output, _ = _render(template, variables)
    return clamp(Message(content=output.strip()))


def validate_template(source: str, sample: Event, payload: JSON = None) -> None:
    """Check a user template by rendering it against a sample event (and its raw JSON).

    Raises TemplateError, as `render_user` does.
    """
    render_user(source, sample, lambda: payload)


def _default_names(event: Event) -> list[str]:
    service = event.service.replace("/", "_")
    name = event.kind.split(".", 1)[0]
    return [f"{service}/{event.kind}.j2", f"{service}/{name}.j2", "_generic.j2"]


def _exported_str(exports: Mapping[str, Any], name: str) -> str | None:
    value = exports.get(name)
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value).strip() or None
    return None


def _color(name: str | None, status: str | None) -> int:
    key = name or STATUS_COLORS.get(status or "", DEFAULT_COLOR)
    key = STATUS_COLORS.get(key, key)
    return COLORS.get(key, COLORS[DEFAULT_COLOR])


def _embed_message(template: jinja2.Template, event: Event) -> Message:
    # Built-in defaults read our names, whatever the body calls its keys.
    description, exports = _render(template, _builtin_names(event, body_first=False))
    avatar = event.fields.get("actor_avatar_url")
    embed = Embed(
        title=_exported_str(exports, "embed_title") or md(event.title),
        description=description.strip() or None,
        url=_exported_str(exports, "embed_url") or event.url,
        color=_color(_exported_str(exports, "embed_color"), event.status),
        author=_exported_str(exports, "embed_author") or event.actor,
        author_icon_url=_exported_str(exports, "embed_author_icon")
        or (avatar if isinstance(avatar, str) else None),
        footer=_exported_str(exports, "embed_footer") or f"{event.service} · {event.kind}",
        timestamp=event.occurred_at,
    )
    return clamp(Message(embeds=(embed,)))


def _plain_message(event: Event) -> Message:
    embed = Embed(
        title=md(event.title),
        url=event.url,
        color=_color(None, event.status),
        author=event.actor,
        footer=f"{event.service} · {event.kind}",
        timestamp=event.occurred_at,
    )
    return clamp(Message(embeds=(embed,)))


def render_default(event: Event) -> Message:
    """Render the built-in embed for an event, clamped to Discord's limits; never raises.

    Looks for `<service>/<kind>.j2`, then `<service>/<event>.j2` (the kind up to its
    first dot), then `_generic.j2`; a template that fails falls through to the next,
    and a plain embed of the title is the last resort.
    """
    for template in _default_templates(tuple(_default_names(event))):
        try:
            return _embed_message(template, event)
        except TemplateError:
            continue
    return _plain_message(event)


@lru_cache(maxsize=1024)
def _default_templates(names: tuple[str, ...]) -> tuple[jinja2.Template, ...]:
    """Return the templates of those names that exist and compile, in order.

    Cached because Jinja caches only the templates it found: each miss would look for
    the file again, on every render.
    """
    found: list[jinja2.Template] = []
    for name in names:
        try:
            found.append(_DEFAULT_ENV.get_template(name))
        except (jinja2.TemplateError, TemplateError):
            continue
    return tuple(found)
