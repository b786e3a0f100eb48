"""What the cheaper rendering paths must keep (formatters/render.py).

User templates: the budget's set of given objects is built lazily, on the first charge
that needs it, and must still recognise every given value (however deeply nested)
and charge every built one. Built-in defaults: they render in a plain Jinja
environment whose context calls builtin methods and macros directly, so the
templates must keep away from what only the sandbox made safe, and the output cap
and the fallback still hold. `md` skips its substitutions for text without markup.
"""

from __future__ import annotations

import jinja2
import pytest
from jinja2 import nodes, pass_context
from jinja2.runtime import Context

from formatters import render
from formatters.render import MAX_OUTPUT, MAX_VALUE, TemplateLimitError, md, render_user
from tests.formatters.conftest import build_event

BIG = MAX_VALUE + 50_000  # larger than any value a template may build


class _Text(str):
    """A str subclass in the event's data (the walk must not need exact types)."""

    __slots__ = ()


# --- user templates: the lazy set of given objects ---------------------------------


def test_a_huge_given_string_passes_through_a_filter_for_free() -> None:
    event = build_event(fields={"body": "b" * BIG})
    assert render_user("{{ body|default('')|length }}", event).content == str(BIG)


def test_given_values_nested_in_tuples_proxies_and_str_subclasses_are_free() -> None:
    fields = {"deep": ({"text": "t" * BIG},), "note": _Text("n" * BIG)}
    event = build_event(fields=fields)
    source = "{{ ((deep|first).text|default(''))|length }} {{ note|default('')|length }}"
    assert render_user(source, event).content == f"{BIG} {BIG}"


def test_a_given_value_is_free_after_a_built_value_was_charged_first() -> None:
    event = build_event(fields={"body": "b" * BIG})
    source = "{{ ('x' ~ 'y')|upper }} {{ body|default('')|length }}"
    assert render_user(source, event).content == f"XY {BIG}"


@pytest.mark.parametrize(
    "source",
    [
        "{{ body|upper|length }}",  # the first charge of the render builds the value
        "{{ body|default('')|length }} {{ body|upper|length }}",  # after a given one
    ],
)
def test_a_huge_value_built_from_given_data_is_still_charged(source: str) -> None:
    event = build_event(fields={"body": "b" * BIG})
    with pytest.raises(TemplateLimitError):
        render_user(source, event)


# --- built-in defaults: the plain environment ---------------------------------------


def _default_template_trees() -> list[tuple[str, nodes.Template]]:
    root = render.TEMPLATES_DIR
    names = sorted(path.relative_to(root).as_posix() for path in root.rglob("*.j2"))
    environment = render._DEFAULT_ENV
    return [
        (name, environment.parse(environment.loader.get_source(environment, name)[0]))
        for name in names
        if environment.loader is not None
    ]


def test_the_default_templates_are_found() -> None:
    names = [name for name, _ in _default_template_trees()]
    assert "_generic.j2" in names
    assert "github/push.j2" in names
    assert len(names) > 40


@pytest.mark.parametrize(("name", "tree"), _default_template_trees())
def test_a_default_template_uses_nothing_only_the_sandbox_made_safe(
    name: str, tree: nodes.Template
) -> None:
    """No format strings (`format`, `%`, str.format) and no `attr`: see _TrustedEnvironment."""
    filters = {node.name for node in tree.find_all(nodes.Filter)}
    assert not filters & {"format", "attr"}, name
    assert not list(tree.find_all(nodes.Mod)), name
    attributes = {node.attr for node in tree.find_all(nodes.Getattr)}
    assert not attributes & {"format", "format_map"}, name


def test_the_defaults_output_is_still_capped() -> None:
    template = render._DEFAULT_ENV.from_string("{% for i in range(3) %}{{ text }}{% endfor %}")
    with pytest.raises(TemplateLimitError):
        render._render(template, {"text": "x" * (MAX_OUTPUT // 2)})


def test_a_failing_default_template_falls_back_on_every_render() -> None:
    """The cached lookup keeps the fallback: a failing template is tried, then the next."""
    event = build_event("push", fields={"commits": "not a list", "commit_count": "two"})
    first = render.render_default(event)
    second = render.render_default(event)
    assert first == second
    (embed,) = first.embeds
    assert embed.description is not None
    assert embed.description.startswith("**Source:** octo/hello-world")  # _generic.j2


def _context_call_environment() -> jinja2.Environment:
    environment = render._TrustedEnvironment()

    @pass_context
    def who(context: Context) -> str:
        return str(context["name"])

    environment.globals["who"] = who
    return environment


def test_the_defaults_context_still_passes_the_context_to_those_that_ask() -> None:
    template = _context_call_environment().from_string(
        "{% for i in [1, 2] %}{% set name = 'loop' ~ i %}{{ who() }};{% endfor %}{{ who() }}"
    )
    output, _ = render._render(template, {"name": "top"})
    assert output == "loop1;loop2;top"


def test_the_defaults_context_calls_methods_and_macros_with_their_arguments() -> None:
    template = _context_call_environment().from_string(
        "{% macro box(x, sep='|') %}[{{ x }}{{ sep }}{{ caller() }}]{% endmacro %}"
        "{% for part in text.split(',', 1) %}"
        "{% call box(part.upper(), sep='/') %}{{ loop.index }}{% endcall %}"
        "{% endfor %}{{ fields.get('missing', 'none') }}"
    )
    output, _ = render._render(template, {"text": "a,b,c", "fields": {}})
    assert output == "[A/1][B,C/2]none"


# --- md: text without a markup character ----------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "@everyone",
        "@here",
        "<@123>",
        "<@!5>",
        "<@&42>",
        "<#7>",
        "# heading",
        "  # indented",
        "a\\b",
        "*b*",
        "_i_",
        "~~s~~",
        "`c`",
        "||x||",
        "> quote",
        "[t]",
    ],
)
def test_md_still_changes_text_with_a_single_markup_character(text: str) -> None:
    assert md(text) != text


@pytest.mark.parametrize("text", ["", "Fix the build", "release v1.2.3 (2026-12-01)", "ü é ß 😀"])
def test_md_keeps_text_without_markup_as_it_is(text: str) -> None:
    result = md(text)
    assert result == text
    assert isinstance(result, render.Markdown)
