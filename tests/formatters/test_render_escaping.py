"""User templates escape every printed value for Discord markdown unless it opts out."""

from __future__ import annotations

from typing import Any

import pytest

from formatters.render import md, render_user
from tests.formatters.conftest import build_event

PHISH = "[https://github.com/octo-org](http://evil.example)"


def render(source: str, *, branch: str | None = "main", **fields: Any) -> str:
    """Render a user template against a push event carrying `fields`; return the content."""
    event = build_event("push", branch=branch, fields=fields)
    return render_user(source, event).content


def test_masked_link_in_commit_message_is_not_a_link() -> None:
    """The issue's phishing link arrives as plain text: both brackets escaped."""
    content = render("{{ latest_commit_message }}", latest_commit_message=PHISH)
    assert content == r"\[https://github.com/octo-org\](http://evil.example)"


def test_masked_link_in_branch_is_not_a_link() -> None:
    """A branch name is payload text too."""
    assert render("to {{ branch }}", branch=PHISH) == (
        r"to \[https://github.com/octo-org\](http://evil.example)"
    )


def test_code_fence_cannot_swallow_the_layout() -> None:
    """Backticks from the payload are escaped, so no code block opens."""
    content = render("{{ m }}\nafter", m="```py\nrm -rf /\n```")
    assert content == "\\`\\`\\`py\nrm -rf /\n\\`\\`\\`\nafter"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# Big", r"\# Big"),
        ("## Medium", r"\## Medium"),
        ("fix\n# Big\n  ### Small", "fix\n\\# Big\n  \\### Small"),
    ],
)
def test_headings_at_line_start_are_escaped(text: str, expected: str) -> None:
    """A `#` that starts a line (after optional spaces) cannot become a heading."""
    assert render("{{ m }}", m=text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("**bold**", r"\*\*bold\*\*"),
        ("*italic*", r"\*italic\*"),
        ("_italic_", r"\_italic\_"),
        ("__underline__", r"\_\_underline\_\_"),
        ("~~strike~~", r"\~\~strike\~\~"),
        ("||spoiler||", r"\|\|spoiler\|\|"),
        ("back\\slash", r"back\\slash"),
    ],
)
def test_inline_markers_are_escaped(text: str, expected: str) -> None:
    """Bold, italic, underline, strike, spoiler markers and backslashes print literally."""
    assert render("{{ m }}", m=text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("> quoted", r"\> quoted"), (">>> all the rest", r"\>\>\> all the rest")],
)
def test_block_quotes_are_escaped(text: str, expected: str) -> None:
    """`>` and `>>>` from the payload cannot quote the rest of the message."""
    assert render("{{ m }}", m=text) == expected


@pytest.mark.parametrize("mention", ["@everyone", "@here", "<@123>", "<@!123>", "<@&42>", "<#7>"])
@pytest.mark.parametrize("source", ["{{ m }}", "{{ m|raw }}"])
def test_mentions_are_broken_even_with_raw(source: str, mention: str) -> None:
    """Payload text can never ping, whether escaped or opted out with raw."""
    content = render(source, m=f"hi {mention}!")
    assert mention not in content
    assert "\u200b" in content


def test_none_prints_nothing() -> None:
    """`{{ branch }}` on an event without a branch prints nothing rather than "None"."""
    event = build_event("issues.opened", branch=None, status=None)
    assert render_user("[{{ branch }}|{{ status }}|{{ none }}]", event).content == "[||]"


def test_raw_opts_out_of_escaping() -> None:
    """`|raw` prints the text as it is, markdown included."""
    text = "**bold** `code` [docs](https://example.com/docs)\n# Head"
    assert render("{{ m|raw }}", m=text) == text


def test_raw_marks_literal_parts_of_an_expression() -> None:
    """`~` escapes the unmarked operands only when one operand is marked."""
    content = render('{{ "**"|raw ~ branch ~ "**"|raw }}', branch="feat_x*")
    assert content == r"**feat\_x\***"


def test_md_value_is_not_escaped_twice() -> None:
    """`{{ x|md }}` prints the same as `{{ x }}`: md's output is escaped only once."""
    text = r"fix_it **now** \o/"
    content = render("{{ m|md }}|{{ m }}", m=text)
    assert content == rf"{md(text)}|{md(text)}"
    assert content == r"fix\_it \*\*now\*\* \\o/|fix\_it \*\*now\*\* \\o/"


def test_md_value_concatenated_is_not_escaped_twice() -> None:
    """A `~` with an md operand escapes the other operands once and the md one not again."""
    content = render('{{ "a_" ~ m|md }}|{{ "a_" ~ m }}', m="b_c")
    assert content == r"a\_b\_c|a\_b\_c"


def test_md_items_joined_are_not_escaped_twice() -> None:
    """`map('md')|join` prints the same as a plain `join`."""
    content = render(
        "{{ names|map('md')|join(', ') }}|{{ names|join(', ') }}", names=["a_b", "c*d"]
    )
    assert content == r"a\_b, c\*d|a\_b, c\*d"


def test_literal_template_text_is_never_escaped() -> None:
    """Markdown the template author wrote outside `{{ }}` stays markdown."""
    content = render("**{{ branch }}** _in_ [repo](https://example.com/a_b)", branch="feat_x")
    assert content == r"**feat\_x** _in_ [repo](https://example.com/a_b)"


def test_macro_output_is_escaped_once() -> None:
    """A macro's own markup stays; the values it prints are escaped once."""
    source = "{% macro bold(t) %}**{{ t }}**{% endmacro %}{{ bold(branch) }} {{ bold(branch)|md }}"
    assert render(source, branch="feat_x") == r"**feat\_x** **feat\_x**"


def test_set_block_output_is_escaped_once() -> None:
    """A `{% set %}` block keeps its markup; the values it printed are not escaped again."""
    source = "{% set line %}**{{ branch }}**{% endset %}{{ line }}"
    assert render(source, branch="feat_x") == r"**feat\_x**"


def test_set_block_with_filter_renders() -> None:
    """A filtered `{% set %}` block applies its filter to the captured text."""
    source = "{% set line | upper %}**{{ branch }}**{% endset %}{{ line }}"
    assert render(source, branch="feat_x") == r"**FEAT\_X**"


def test_numbers_and_bools_print_as_they_are_beside_escaped_text() -> None:
    """Numbers and booleans are unaffected while the text next to them is escaped."""
    source = "{{ commit_count }} {{ ok }} {{ ratio }} {{ -3 }} {{ branch }}"
    content = render(source, branch="a_b", commit_count=7, ok=True, ratio=0.5)
    assert content == r"7 True 0.5 -3 a\_b"


def test_bare_web_address_stays_a_working_link() -> None:
    """A value that is one URL is printed intact (escaping `_` would break the link)."""
    url = "https://github.com/octo-org/hello_world/compare/a1~1...b2"
    assert render("{{ u }} {{ m }}", u=url, m="a_b") == rf"{url} a\_b"


@pytest.mark.parametrize(
    "value",
    ["https://example.com/x [y](http://evil.example)", "https://a.example/`x`", "http://a/<@1>"],
)
def test_address_with_markup_is_escaped(value: str) -> None:
    """Only a plain address is exempt: one carrying markup or spaces is escaped as text."""
    content = render("{{ u }}", u=value)
    assert content == md(value)
    assert content != value
