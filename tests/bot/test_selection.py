"""Event selection: patterns, aliases, exclusions, defaults, `*`, ping and errors."""

from __future__ import annotations

import pytest

from bot.core.selection import (
    Selection,
    SelectionError,
    aliases,
    default_selection,
    describe,
    parse_patterns,
    selected_event_names,
    selects,
    service_kinds,
)
from parsers import github

KINDS = github.KINDS


def _parse(text: str) -> tuple[str, ...]:
    return parse_patterns(text, "github", KINDS)


def test_parse_patterns_splits_commas_spaces_and_lowercases() -> None:
    """Commas and spaces both separate; case folds; duplicates go."""
    assert _parse("Push,  RELEASE push") == ("push", "release")


def test_parse_patterns_expands_aliases_keeping_exclusion() -> None:
    """`pr` and `-pr` expand; `ci` becomes three events."""
    assert _parse("pr review issue") == ("pull_request", "pull_request_review", "issues")
    assert _parse("*,-pr") == ("*", "-pull_request")
    assert _parse("ci") == aliases("github")["ci"]


def test_parse_patterns_unknown_name_suggests_close_match() -> None:
    """A typo is refused with the pattern named and a suggestion."""
    with pytest.raises(
        SelectionError, match=r"`pusj` matches no github event; did you mean push\?"
    ):
        _parse("pusj")


def test_parse_patterns_unknown_exclusion_suggests_with_dash() -> None:
    """A misspelt exclusion suggests the exclusion."""
    with pytest.raises(SelectionError, match="did you mean -star"):
        _parse("-stra")


def test_parse_patterns_unknown_action_suggests_kinds() -> None:
    """A misspelt action suggests full kinds."""
    with pytest.raises(SelectionError, match=r"pull_request\.opened"):
        _parse("pull_request.opend")


def test_parse_patterns_gitlab_alias_on_github_is_refused() -> None:
    """Aliases are per service: `mr` (GitLab's merge requests) means nothing to GitHub."""
    with pytest.raises(SelectionError, match="`mr` matches no github event"):
        _parse("mr")
    assert parse_patterns("mr", "gitlab", service_kinds("gitlab")) == ("merge_request",)


def test_parse_patterns_custom_accepts_kinds_its_senders_name() -> None:
    """A custom hook's kinds come from bodies: `custom.server_*` is a valid pattern."""
    assert parse_patterns("custom.server_*", "custom", service_kinds("custom")) == (
        "custom.server_*",
    )
    with pytest.raises(SelectionError):
        parse_patterns("server_alert", "custom", service_kinds("custom"))


@pytest.mark.parametrize("text", ["", "  ,, ", "\n"])
def test_parse_patterns_empty_text_raises(text: str) -> None:
    """Nothing typed is refused with what to type."""
    with pytest.raises(SelectionError, match="no event patterns"):
        _parse(text)


def test_parse_patterns_too_many_raises() -> None:
    """More than 50 patterns are refused."""
    with pytest.raises(SelectionError, match="limit is 50"):
        _parse(" ".join(["push"] * 51))


def test_parse_patterns_too_long_pattern_raises() -> None:
    """A pattern over 100 characters is refused."""
    with pytest.raises(SelectionError, match="limit is 100"):
        _parse("p" * 101)


@pytest.mark.parametrize("text", ["push[", "pu$h", "-", "--push"])
def test_parse_patterns_bad_characters_raise(text: str) -> None:
    """Characters that cannot appear in a kind are refused."""
    with pytest.raises(SelectionError, match="not an event pattern"):
        _parse(text)


def test_parse_patterns_excluding_everything_raises() -> None:
    """A selection that keeps nothing is refused."""
    with pytest.raises(SelectionError, match="leaves no github event"):
        _parse("-*")


def test_parse_patterns_wildcards_accepted_when_matching() -> None:
    """Globs over kinds are accepted when they match a kind."""
    assert _parse("*.opened pull_request.*") == ("*.opened", "pull_request.*")


def test_selects_empty_patterns_use_github_default() -> None:
    """No patterns: the default, without the noise."""
    assert selects((), "github", "push")
    assert selects((), "github", "pull_request.merged")
    assert selects((), "github", "create.tag")
    assert not selects((), "github", "create.branch")
    assert not selects((), "github", "pull_request.synchronize")
    assert not selects((), "github", "star.created")
    assert not selects((), "github", "workflow_run.in_progress")


def test_selects_default_equals_listed_kinds() -> None:
    """The default selects exactly the kinds default_selection lists (plus ping)."""
    chosen = {k for k in KINDS if selects((), "github", k)}
    assert chosen == {*(default_selection("github") or ()), "ping"}


def test_selects_bare_event_means_every_action() -> None:
    """`pull_request` selects each of its actions, and nothing else."""
    patterns = _parse("pull_request")
    assert selects(patterns, "github", "pull_request.labeled")
    assert selects(patterns, "github", "pull_request.opened")
    assert not selects(patterns, "github", "pull_request_review.approved")
    assert not selects(patterns, "github", "push")


def test_selects_star_selects_everything() -> None:
    """`*` selects every kind."""
    assert all(selects(("*",), "github", k) for k in KINDS)


def test_selects_exclusion_only_starts_from_default() -> None:
    """`-push` is the default minus pushes."""
    patterns = _parse("-push")
    assert not selects(patterns, "github", "push")
    assert selects(patterns, "github", "release.published")
    assert not selects(patterns, "github", "star.created")


def test_selects_star_with_exclusion_is_everything_but() -> None:
    """`*,-star` keeps everything but stars."""
    patterns = _parse("*,-star")
    assert not selects(patterns, "github", "star.created")
    assert selects(patterns, "github", "pull_request.synchronize")


def test_selects_exclusion_removes_from_inclusions() -> None:
    """Inclusions are OR'd, then exclusions remove."""
    patterns = _parse("pr, issues, -pull_request.labeled")
    assert selects(patterns, "github", "issues.labeled")
    assert selects(patterns, "github", "pull_request.opened")
    assert not selects(patterns, "github", "pull_request.labeled")


def test_selects_ping_always_selected() -> None:
    """`ping` passes whatever the patterns."""
    assert selects(_parse("release"), "github", "ping")
    assert selects(("*", "-ping"), "github", "ping")


def test_selects_unknown_service_without_default_selects_everything() -> None:
    """A service with no default selects every kind."""
    assert selects((), "nosuch", "container.die")
    assert not selects(("-container.die",), "nosuch", "container.die")
    assert selects(("-container.die",), "nosuch", "container.start")


def test_selection_memoises_per_kind() -> None:
    """A Selection answers repeated kinds from its memo, the same way."""
    selection = Selection.from_patterns(("push",), "github")
    assert selection.selects("push")
    assert selection._memo == {"push": True}
    assert selection.selects("push")
    assert not selection.selects("issues.opened")


def test_selected_event_names_lists_events_in_order() -> None:
    """The events a selection touches, for filter checks, without ping."""
    assert selected_event_names(("release", "push"), "github") == ["push", "release"]
    assert "star" not in selected_event_names((), "github")
    assert "pull_request" in selected_event_names((), "github")


def test_describe_default_names_the_default() -> None:
    """An empty selection reads as the service default."""
    said = describe((), "github")
    assert said.startswith("the default for github: push, create.tag")
    assert said.endswith("workflow_run.completed")


def test_describe_inclusions_and_exclusions_in_words() -> None:
    """Bare events say `(all actions)`; exclusions follow `not`."""
    said = describe(("pull_request", "release.published", "-star"), "github")
    assert said == "pull_request (all actions), release.published; not star"


def test_describe_star_and_exclusion_only() -> None:
    """`*` reads as everything; exclusions alone start from the default."""
    assert describe(("*", "-star"), "github") == "everything; not star"
    assert describe(("-push",), "github").endswith("; not push")
    assert describe(("push",), "github") == "push"


def test_service_kinds_github_in_parser_order() -> None:
    """GitHub kinds come in the parser's order; an unknown service has none."""
    assert service_kinds("github")[0] == "push"
    assert service_kinds("nope") == ()
