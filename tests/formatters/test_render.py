"""The bounded sandbox: escapes blocked, limits enforced fast, typed errors, safe defaults."""

from __future__ import annotations

import time

import pytest

from formatters.message import LIMITS
from formatters.render import (
    COLORS,
    MAX_SOURCE,
    TemplateError,
    TemplateLimitError,
    TemplateParseError,
    TemplateRenderError,
    TemplateSecurityError,
    TemplateVariableError,
    duration,
    md,
    plural,
    render_default,
    render_user,
    short_sha,
    template_context,
    truncate_line,
    validate_template,
)
from tests.formatters.conftest import MakeEvent, build_commits, build_event

# Generous: each of these takes a few milliseconds; unbounded, they take seconds or forever.
FAST = 1.0

ESCAPES = {
    "class mro": "{{ ''.__class__.__mro__ }}",
    "cycler globals": "{{ cycler.__init__.__globals__ }}",
    "joiner globals": "{{ joiner.__init__.__globals__ }}",
    "template reference": "{{ self._TemplateReference__context }}",
    "attr format": "{{ ''|attr('format') }}",
    "attr format call": "{{ ('{0.__class__}'|attr('format'))(1) }}",
    "stored format": "{% set f = '{0.__class__}'.format %}{{ f(1) }}",
    "format call": "{{ '{0.__class__.__mro__}'.format(1) }}",
    "format_map": "{{ '{x}'.format_map({'x': 1}) }}",
    "int to_bytes": "{{ (1).to_bytes(10**6, 'big') }}",
    "str translate": "{{ 'a'.translate({97: 'b'}) }}",
    "list append": "{% set items = [] %}{{ items.append(1) }}",
    "dict update": "{% set d = {} %}{{ d.update(a=1) }}",
    "loop internals": "{% for x in [1] %}{{ loop.__class__ }}{% endfor %}",
}

BOMBS = {
    "string repetition": "{{ 'a' * 10**9 }}",
    "list repetition": "{{ [1] * 10**8 }}",
    "huge exponent": "{{ 10 ** (10 ** 8) }}",
    "integer squaring": (
        "{% set ns = namespace(n=10**100) %}"
        "{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}{% endfor %}"
    ),
    "nested loops": (
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}"
    ),
    "big range": "{% for i in range(10**6) %}{% endfor %}",
    "recursive loop": "{% for x in [1] recursive %}{{ loop([1, 1]) }}{% endfor %}",
    "macro fork bomb": "{% macro m() %}{{ m() }}{{ m() }}{% endmacro %}{{ m() }}",
    "concat doubling": (
        "{% set ns = namespace(s='xx') %}"
        "{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
    ),
    "plus doubling": (
        "{% set ns = namespace(s='xx') %}"
        "{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}"
    ),
    "nested literal": (
        "{% set a = ['x' * 10000] %}{% set b = [a, a, a, a, a, a, a, a, a, a] %}"
        "{% set c = [b, b, b, b, b, b, b, b, b, b] %}{{ c }}"
    ),
    "center width": "{{ 'a'|center(10**9) }}",
    "str ljust": "{{ 'a'.ljust(10**9) }}",
    "replace amplification": "{{ ('a' * 50000)|replace('', 'bb') }}",
    "join amplification": "{{ ('x' * 50000).join(range(5000)|map('string')) }}",
    "join filter separator": "{{ range(5000)|join('x' * 50000) }}",
    "map amplification": "{{ range(5000)|map('center', 1000)|map('center', 1000)|list|length }}",
    "percent width": "{{ '%0999999999d' % 1 }}",
    "format filter star": "{{ '%*d'|format(10**9, 1) }}",
    "wordwrap wrapstring": "{{ ('a' * 90000)|wordwrap(1, wrapstring='x' * 1000) }}",
    "batch fill": "{{ [1]|batch(10**9, 0)|list }}",
    "slice count": "{{ [1]|slice(10**9)|list }}",
    "sum of lists": "{{ ([[1]] * 20000)|sum(start=[]) }}",
    "output size": "{% for i in range(5000) %}{{ 'x' * 100 }}{% endfor %}",
    "captured static text": (
        "{% set big %}{% for i in range(9000) %}" + "y" * 1000 + "{% endfor %}{% endset %}"
    ),
    "source length": "x" * (MAX_SOURCE + 1),
}


@pytest.fixture
def event(make_event: MakeEvent) -> object:
    """A push event with a few commits."""
    return make_event(
        "push",
        branch="main",
        fields={"commits": build_commits(3), "commit_count": 3, "pr": {"number": 1}},
    )


@pytest.mark.parametrize("source", ESCAPES.values(), ids=ESCAPES.keys())
def test_render_user_sandbox_escape_raises_security_error(source: str, event: object) -> None:
    """Known sandbox escapes and unsafe methods raise TemplateSecurityError."""
    with pytest.raises(TemplateSecurityError):
        render_user(source, event)  # type: ignore[arg-type]


@pytest.mark.parametrize("source", BOMBS.values(), ids=BOMBS.keys())
def test_render_user_resource_bomb_raises_limit_error_fast(source: str, event: object) -> None:
    """Each way to burn CPU or memory raises TemplateLimitError well under a second."""
    started = time.perf_counter()
    with pytest.raises(TemplateLimitError):
        render_user(source, event)  # type: ignore[arg-type]
    assert time.perf_counter() - started < FAST


def test_render_user_after_limit_error_budget_is_fresh(event: object) -> None:
    """A render that hit a bound leaves nothing behind: the next one has a full budget."""
    with pytest.raises(TemplateLimitError):
        render_user("{% for i in range(10**6) %}{% endfor %}", event)  # type: ignore[arg-type]
    source = "{% for i in range(9000) %}{% endfor %}done"
    assert render_user(source, event).content == "done"  # type: ignore[arg-type]


def test_render_user_modest_loops_within_budget(event: object) -> None:
    """Ordinary loops and string building are not limited."""
    source = (
        "{% for c in commits %}{% for i in range(100) %}{% endfor %}{{ c.short_id }} {% endfor %}"
    )
    assert render_user(source, event).content == "0000001 0000002 0000003"  # type: ignore[arg-type]


def test_render_user_chained_power_is_left_associative(event: object) -> None:
    """Jinja's `**` is left-associative: 10**10**8 is (10**10)**8 = 10**80, which is allowed."""
    assert render_user("{{ 10**10**8 }}", event).content == str(10**80)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "name"),
    [("{{ nope }}", "nope"), ("{{ pr.nope }}", "nope"), ("{{ commits[0].missing }}", "missing")],
)
def test_render_user_undefined_variable_error_names_it(
    source: str, name: str, event: object
) -> None:
    """StrictUndefined: reading a missing variable raises TemplateVariableError with its name."""
    with pytest.raises(TemplateVariableError) as caught:
        render_user(source, event)  # type: ignore[arg-type]
    assert caught.value.name == name


def test_validate_template_undefined_variable_error_gives_line(event: object) -> None:
    """The variable error says which template line read the missing name."""
    with pytest.raises(TemplateVariableError) as caught:
        validate_template("one\ntwo {{ title }}\nthree {{ nope }}\n", event)  # type: ignore[arg-type]
    assert (caught.value.name, caught.value.line) == ("nope", 3)
    assert str(caught.value).startswith("line 3:")


def test_validate_template_syntax_error_gives_line(event: object) -> None:
    """A syntax error raises TemplateParseError with the line it is on."""
    with pytest.raises(TemplateParseError) as caught:
        validate_template("fine\n{% if %}\n", event)  # type: ignore[arg-type]
    assert caught.value.line == 2


def test_validate_template_limit_error_gives_line(event: object) -> None:
    """A bound hit inside the template reports the line too."""
    with pytest.raises(TemplateLimitError) as caught:
        validate_template("a\nb\n{{ 'a' * 10**9 }}", event)  # type: ignore[arg-type]
    assert caught.value.line == 3


def test_validate_template_runtime_error_is_typed(event: object) -> None:
    """Other failures (division by zero, includes) are TemplateRenderError, a TemplateError."""
    for source in ("{{ 1 / 0 }}", "{% include 'github/push.j2' %}"):
        with pytest.raises(TemplateRenderError):
            validate_template(source, event)  # type: ignore[arg-type]
    assert issubclass(TemplateRenderError, TemplateError)


def test_validate_template_good_template_passes(event: object) -> None:
    """A template using documented names and filters validates."""
    source = "{{ event }} {{ repo }} {{ author|md }} {{ commit_count|plural('commit') }}"
    validate_template(source, event)  # type: ignore[arg-type]


def test_render_user_content_only_and_clamped(event: object) -> None:
    """A user template fills the content, never embeds, cut to Discord's 2000."""
    message = render_user("{{ 'x' * 5000 }}", event)  # type: ignore[arg-type]
    assert message.embeds == ()
    assert len(message.content) == LIMITS.content


def test_template_context_fields_never_override_documented_names(make_event: MakeEvent) -> None:
    """Fields appear at top level, except where they would shadow a documented name."""
    event = make_event(
        "push", branch="main", fields={"title": "spoof", "commit_count": 3, "repo": "x"}
    )
    context = template_context(event)
    assert context["title"] == context["message"] == event.title
    assert context["repo"] == "octo/hello-world"
    assert context["commit_count"] == 3
    assert context["fields"]["title"] == "spoof"  # type: ignore[index]
    assert (context["event"], context["author"], context["branch"]) == ("push", "alice", "main")


@pytest.mark.parametrize("text", ["@everyone", "@here", "<@123>", "<@!123>", "<@&456>", "<#789>"])
def test_md_mention_neutralised(text: str) -> None:
    """Mentions are broken with a zero-width space, so they can never ping."""
    escaped = md(f"hi {text}!")
    assert text not in escaped
    assert "\u200b" in escaped


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*bold* _it_ ~~s~~", r"\*bold\* \_it\_ \~\~s\~\~"),
        ("`code` | > quote", r"\`code\` \| \> quote"),
        ("a\\b [x](y)", r"a\\b \[x\](y)"),
        ("# heading", r"\# heading"),
        (None, ""),
    ],
)
def test_md_markdown_characters_escaped(text: str | None, expected: str) -> None:
    """Discord markdown characters are backslash-escaped."""
    assert md(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "0s"), (59, "59s"), (204, "3m 24s"), (3600, "1h"), (3725, "1h 2m"), (90061, "1d 1h")],
)
def test_duration_seconds_two_largest_units(value: int, expected: str) -> None:
    """duration() shows the two largest non-zero units."""
    assert duration(value) == expected


def test_small_filters_behave() -> None:
    """short_sha, truncate_line and plural do what their names say."""
    assert short_sha("a94a8fe5ccb19ba61c4c0873d391e987982fbbd3") == "a94a8fe"
    assert truncate_line("first line\nsecond", 80) == "first line"
    assert truncate_line("abcdefghij", 5) == "abcd…"
    assert (plural(1, "commit"), plural(3, "commit")) == ("1 commit", "3 commits")
    assert plural(2, "child", "children") == "2 children"


def test_render_default_push_neutralises_mentions_everywhere(make_event: MakeEvent) -> None:
    """User text in the default push embed cannot ping: @everyone and <@123> are broken."""
    commits = build_commits(2, message="@everyone look <@123>")
    event = make_event(
        "push",
        branch="@here",
        actor="<@&42>",
        fields={"commits": commits, "commit_count": 2, "latest_commit_message": "@everyone"},
    )
    (embed,) = render_default(event).embeds
    text = " ".join(str(part) for part in (embed.title, embed.description, embed.author))
    for mention in ("@everyone", "@here", "<@123>", "<@&42>"):
        assert mention not in text.replace(embed.author or "", "")
    assert embed.description is not None
    assert "@\u200beveryone" in embed.description


@pytest.mark.parametrize(
    ("kind", "title_start"),
    [
        ("push", "🚀 Push to"),
        ("pull_request.opened", "🔀 PR"),
        ("pull_request.merged", "✅ PR"),
        ("pull_request.labeled", "🔀 PR"),
        ("ping", "✅ Connected: "),
    ],
)
def test_render_default_missing_optional_fields_still_uses_template(
    kind: str, title_start: str
) -> None:
    """With no fields at all, the kind's own template still renders (no fallback)."""
    event = build_event(kind, actor=None, url=None, fields={})
    (embed,) = render_default(event).embeds
    assert embed.title is not None
    assert embed.title.startswith(title_start)


def test_render_default_unknown_service_uses_generic_with_status_colour() -> None:
    """A kind without a template gets the generic embed, coloured by status."""
    event = build_event(
        "pipeline.failed", service="nosuchservice", status="failure", title="Build #3"
    )
    (embed,) = render_default(event).embeds
    assert embed.title == "Build #3"
    assert embed.color == COLORS["red"]
    assert embed.description is not None
    assert "**Status:** failure" in embed.description


def test_render_default_huge_push_fits_discord_quickly() -> None:
    """A 2,000-commit push renders five commits and "…and N more", within every limit."""
    commits = build_commits(2000)
    event = build_event("push", branch="main", fields={"commits": commits, "commit_count": 2000})
    started = time.perf_counter()
    (embed,) = render_default(event).embeds
    assert time.perf_counter() - started < FAST
    assert embed.description is not None
    assert "…and 1995 more" in embed.description
    assert len(embed.description) <= LIMITS.description


def test_render_default_pull_request_closed_red_merged_purple() -> None:
    """Closed PRs are red, merged ones purple."""
    pr = {"number": 7, "title": "Tweak"}
    closed = build_event("pull_request.closed", fields={"pr": pr})
    merged = build_event("pull_request.merged", fields={"pr": pr})
    assert render_default(closed).embeds[0].color == COLORS["red"]
    assert render_default(merged).embeds[0].color == COLORS["purple"]


def test_render_user_large_event_data_passes_through(make_event: MakeEvent) -> None:
    """Reading a big event's own data (2,000 commits) builds nothing, so costs nothing."""
    event = make_event("push", fields={"commits": build_commits(2000), "commit_count": 2000})
    source = (
        "{{ commits|default([])|length }} {{ fields.get('commits')|last|attr('keys') is defined }}"
        "{% for key, value in fields.items() %} {{ key }}{% endfor %}"
        " {{ (commits|reverse|first).short_id }}"
    )
    # Printed values are escaped for Discord markdown: the key's "_" is too.
    assert render_user(source, event).content == r"2000 True commits commit\_count 00007d0"
