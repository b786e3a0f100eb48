"""Glob matcher: DESIGN.md semantics (brackets literal, `*` within a folder, `**` across)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.globs import MAX_PATTERN_LENGTH, GlobError, compile_glob


def test_glob_brackets_are_literal_matches_dependabot_login() -> None:
    """`dependabot[bot]` matches that login and not what a character class would."""
    glob = compile_glob("dependabot[bot]")
    assert glob.matches("dependabot[bot]")
    assert not glob.matches("dependabotb")
    assert not glob.matches("dependabot")


def test_glob_star_does_not_cross_slash() -> None:
    """`*` matches within one folder only."""
    glob = compile_glob("release/*")
    assert glob.matches("release/1.0")
    assert glob.matches("release/")
    assert not glob.matches("release/1.0/hotfix")
    assert not compile_glob("*").matches("a/b")


def test_glob_double_star_crosses_slash() -> None:
    """`**` matches any run including `/`."""
    glob = compile_glob("docs/**")
    assert glob.matches("docs/a/b/c.md")
    assert glob.matches("docs/")
    assert not glob.matches("src/docs/a.md")
    assert compile_glob("**").matches("a/b/c")


def test_glob_double_star_slash_matches_no_folder() -> None:
    """`**/*.md` also matches a file at the top."""
    glob = compile_glob("**/*.md")
    assert glob.matches("README.md")
    assert glob.matches("docs/deep/x.md")
    assert not glob.matches("README.txt")


def test_glob_question_mark_matches_one_character_not_slash() -> None:
    """`?` is exactly one character other than `/`."""
    glob = compile_glob("v?.0")
    assert glob.matches("v1.0")
    assert not glob.matches("v10.0")
    assert not glob.matches("v.0")
    assert not compile_glob("a?b").matches("a/b")


def test_glob_whole_value_must_match() -> None:
    """A pattern without wildcards matches only the identical value."""
    glob = compile_glob("main")
    assert glob.matches("main")
    assert not glob.matches("main2")
    assert not glob.matches("xmain")


def test_glob_case_sensitive_by_default_ignores_case_on_request() -> None:
    """Matching is exact unless `ignore_case` is set."""
    assert not compile_glob("Main").matches("main")
    assert compile_glob("Dependabot[BOT]", ignore_case=True).matches("dependabot[bot]")


def test_glob_empty_pattern_matches_only_empty_value() -> None:
    """An empty pattern matches the empty string and nothing else."""
    glob = compile_glob("")
    assert glob.matches("")
    assert not glob.matches("a")
    assert compile_glob("*").matches("")


def test_glob_comma_means_either_alternative() -> None:
    """`main,release/*` matches either; an empty alternative matches only empty."""
    glob = compile_glob("main,release/*")
    assert glob.matches("main")
    assert glob.matches("release/2")
    assert not glob.matches("dev")
    trailing = compile_glob("main,")
    assert trailing.matches("")
    assert not trailing.matches("x")


@pytest.mark.parametrize("literal", ["a.b", "a+b", "(x)", "a|b", "^a$", "{x}", "a\\b", "{{ x }}"])
def test_glob_regex_metacharacters_are_literal(literal: str) -> None:
    """Regex metacharacters in a pattern stand for themselves."""
    glob = compile_glob(literal)
    assert glob.matches(literal)
    assert not glob.matches(literal.replace(literal[1], "Z", 1))


def test_glob_too_long_raises_glob_error() -> None:
    """A pattern over the limit is refused with its length."""
    with pytest.raises(GlobError, match="257 characters"):
        compile_glob("a" * (MAX_PATTERN_LENGTH + 1))


@pytest.mark.parametrize("pattern", ["a\nb", "a\x00", "\x7f", "tab\there", "c1\x85"])
def test_glob_control_character_raises_glob_error(pattern: str) -> None:
    """Control characters are refused and named."""
    with pytest.raises(GlobError, match="control character U\\+"):
        compile_glob(pattern)


def test_glob_compile_is_cached() -> None:
    """Compiling the same pattern twice returns the same object."""
    assert compile_glob("x/**") is compile_glob("x/**")
    assert compile_glob("x/**") is not compile_glob("x/**", ignore_case=True)


def test_glob_many_stars_on_long_value_finishes_quickly() -> None:
    """A pattern with many `*` against a long hostile value does not backtrack for ages."""
    glob = compile_glob("*a*a*a*a*a*a*a*a*a*a*b")
    value = "a" * 20_000
    started = time.perf_counter()
    assert not glob.matches(value)
    assert glob.matches(value + "b")
    assert time.perf_counter() - started < 2.0


_PATTERN_ALPHABET = st.sampled_from(["a", "B", "/", "*", "**", "?", ",", "[", "."])
_VALUE_ALPHABET = st.sampled_from(["a", "b", "B", "/", "[", "."])


@given(
    pattern=st.lists(_PATTERN_ALPHABET, max_size=8).map("".join),
    value=st.lists(_VALUE_ALPHABET, max_size=10).map("".join),
    ignore_case=st.booleans(),
)
def test_glob_automaton_agrees_with_regex(pattern: str, value: str, ignore_case: bool) -> None:
    """The linear automaton used for long values decides exactly like the regex."""
    glob = compile_glob(pattern, ignore_case=ignore_case)
    expected = glob._regex.fullmatch(value) is not None
    assert glob._automaton.matches(value) is expected


@given(st.text(max_size=60).filter(lambda s: not any(c in s for c in "*?,")))
def test_glob_literal_without_wildcards_matches_itself(text: str) -> None:
    """Any string free of `*`, `?` and `,` (and control characters) matches itself."""
    try:
        glob = compile_glob(text)
    except GlobError:
        return  # control characters are refused, which is tested above
    assert glob.matches(text)
    assert not glob.matches(text + "x")


@given(
    pattern=st.lists(_PATTERN_ALPHABET, max_size=6).map("".join),
    value=st.lists(_VALUE_ALPHABET, max_size=8).map("".join),
    ignore_case=st.booleans(),
)
def test_glob_matcher_agrees_with_matches(pattern: str, value: str, ignore_case: bool) -> None:
    """The fast test `matcher()` hands to filters decides like `matches`."""
    glob = compile_glob(pattern, ignore_case=ignore_case)
    assert bool(glob.matcher()(value)) is glob.matches(value)


def test_glob_matcher_literal_alternatives_use_set_membership() -> None:
    """A case-sensitive pattern without wildcards tests by membership, exactly."""
    test = compile_glob("main,dev").matcher()
    assert test("main")
    assert test("dev")
    assert not test("Main")
    assert not test("main,dev")


def test_glob_matcher_many_wildcards_stays_linear() -> None:
    """For patterns that could backtrack, `matcher()` is the guarded `matches`."""
    glob = compile_glob("*a*a*a*a*b")
    assert glob.matcher() == glob.matches
    assert not glob.matcher()("a" * 20_000)


_CASES = [
    ("a?b", "a/b", False),
    ("a?b", "axb", True),
    ("a*b", "a/b", False),
    ("a*b", "axxb", True),
    ("a**b", "a/x/b", True),
    ("**/x", "x", True),
    ("**/x", "a/b/x", True),
    ("**/x", "a/bx", False),
    ("x/**/y", "x/y", True),
    ("x/**/y", "x/a/b/y", True),
    ("[b]", "[b]", True),
    ("[b]", "b", False),
    ("a,,b", "", True),
    ("a,b", "c", False),
]


@pytest.mark.parametrize(("pattern", "value", "expected"), _CASES)
def test_glob_both_engines_follow_design_semantics(
    pattern: str, value: str, expected: bool
) -> None:
    """The regex and the automaton each give DESIGN.md's answer."""
    glob = compile_glob(pattern)
    assert (glob._regex.fullmatch(value) is not None) is expected
    assert glob._automaton.matches(value) is expected
