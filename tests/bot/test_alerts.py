"""alert-if rules: checking, evaluation, the rising edge and the alert text (bot.core.alerts)."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import pytest

from bot.core.alerts import (
    MAX_RULE_LENGTH,
    AlertRule,
    RuleError,
    evaluate,
    fire,
    known_names,
    parse_rule,
    pr_state_events,
    reads_pr_state,
    render_alert,
)
from bot.core.filters import value_of
from bot.core.prstate import PRState, apply, subjects_for
from formatters.message import Message
from parsers import SERVICES
from parsers.event import Event
from tests.bot.test_prstate import (
    HEAD,
    NEW_HEAD,
    SUBJECT,
    check_suite,
    fold,
    github_event,
    pr_event,
    review,
    workflow_run,
)

READY = "pr.status == 'approved' and pr.reviews >= 2"
KNOWN = known_names("github")
SAMPLES = Path(__file__).resolve().parents[2] / "parsers" / "samples"


def registered_sample(service: str, name: str) -> Event:
    """Parse a bundled sample of a registered service as its sender sends it."""
    spec = SERVICES[service]
    body = (SAMPLES / service / f"{name}.json").read_bytes()
    events = spec.parse(spec.sample_headers(name, body, "s" * 32, f"d-{name}"), body, {})
    return next((e for e in events if e.kind == spec.samples[name]), events[0])


class Hook:
    """The caller's loop in miniature: state and last results stored as JSON per subject."""

    def __init__(self, rule: AlertRule) -> None:
        self.rule = rule
        self.stored: dict[str, str] = {}  # subject → PRState JSON
        self.was_true: dict[str, bool] = {}
        self.alerts: list[Message] = []
        self.undecided = 0

    def restarted(self) -> Hook:
        """Return a fresh Hook that has only what was stored, as JSON text."""
        fresh = Hook(self.rule)
        fresh.stored = json.loads(json.dumps(self.stored))
        fresh.was_true = json.loads(json.dumps(self.was_true))
        fresh.alerts = list(self.alerts)
        return fresh

    def receive(self, event: Event) -> None:
        for subject in subjects_for(event):
            before = self.stored.get(subject)
            state = PRState.from_json(json.loads(before)) if before else None
            new = apply(state, event, subject)
            if new is not None:
                state = new
                self.stored[subject] = json.dumps(new.to_json())
            result, values = evaluate(self.rule.expression, event, state)
            if result is None:
                self.undecided += 1
            now = bool(result)
            if fire(self.was_true.get(subject, False), now):
                self.alerts.append(render_alert(self.rule, event, state, values))
            self.was_true[subject] = now

    def run(self, events: Iterable[Event]) -> list[Message]:
        for event in events:
            self.receive(event)
        return self.alerts


def _hook(expression: str = READY, mention_role: str | None = None) -> Hook:
    return Hook(AlertRule(parse_rule(expression, KNOWN), mention_role))


def _state(**kwargs: Any) -> PRState:
    return PRState(subject=SUBJECT, head_sha=HEAD, **kwargs)


# --------------------------------------------------------------------------- state machine


def test_fire_rising_edge_only() -> None:
    """fire is true only when the rule turns from false to true."""
    assert fire(previous=False, now_true=True)
    assert not fire(previous=True, now_true=True)
    assert not fire(previous=True, now_true=False)
    assert not fire(previous=False, now_true=False)


def test_loop_two_approvals_one_alert() -> None:
    """Approve, approve (two reviewers) → exactly one alert, after the second."""
    hook = _hook()
    hook.run([pr_event(), review("ann", "approved")])
    assert hook.alerts == []
    hook.run([review("bob", "approved")])
    assert len(hook.alerts) == 1


def test_loop_third_approval_no_repeat() -> None:
    """A third approval keeps the rule true: no second alert."""
    hook = _hook()
    hook.run([review(name, "approved") for name in ("ann", "bob", "cy")])
    assert len(hook.alerts) == 1


def test_loop_changes_requested_no_alert() -> None:
    """With a change request outstanding, two approvals raise no alert."""
    hook = _hook()
    hook.run(
        [review("ann", "changes_requested"), review("bob", "approved"), review("cy", "approved")]
    )
    assert hook.alerts == []


def test_loop_dismissal_then_new_approval_alerts_again() -> None:
    """Dismissal makes the rule false; a new approval makes it true → a second alert."""
    hook = _hook()
    hook.run([review("ann", "approved"), review("bob", "approved")])
    hook.run([review("ann", "dismissed")])
    assert len(hook.alerts) == 1
    hook.run([review("cy", "approved")])
    assert len(hook.alerts) == 2


def test_loop_restart_between_approvals_one_alert() -> None:
    """Restarting (only JSON kept) between the two approvals still gives one alert."""
    hook = _hook()
    hook.run([pr_event(), review("ann", "approved")])
    hook = hook.restarted()
    hook.run([review("bob", "approved"), review("cy", "approved")])
    assert len(hook.alerts) == 1


def test_loop_subjects_separate() -> None:
    """Each pull request has its own rising edge."""
    hook = _hook()
    hook.run([review(name, "approved", number=n) for n in (45, 46) for name in ("ann", "bob")])
    assert len(hook.alerts) == 2


def test_loop_checks_failed_until_passing_run() -> None:
    """pr.checks stays failed through other events until a passing run of that check."""
    hook = _hook("pr.checks == 'passed'")
    hook.run([pr_event(), workflow_run("failure"), review("ann", "approved")])
    assert hook.alerts == []
    assert PRState.from_json(json.loads(hook.stored[SUBJECT])).checks_status == "failed"
    hook.run([workflow_run("success")])
    assert len(hook.alerts) == 1


def test_loop_old_head_checks_ignored() -> None:
    """After new commits, a late result for the old head SHA does not count."""
    hook = _hook("pr.checks == 'passed'")
    hook.run([pr_event(), pr_event("synchronize", head=NEW_HEAD), check_suite("success")])
    assert hook.alerts == []
    hook.run([check_suite("success", head=NEW_HEAD)])
    assert len(hook.alerts) == 1


def test_loop_event_without_name_counted_not_fired() -> None:
    """A rule on a name the event lacks is false silently, and counted."""
    hook = _hook("workflow.conclusion == 'failure'")
    hook.run([review("ann", "approved")])
    assert hook.alerts == []
    assert hook.undecided == 1


# --------------------------------------------------------------------------- evaluate


def test_evaluate_state_names_win() -> None:
    """pr merges the event's pull request with the state; state names win."""
    event = review("ann", "approved")
    state = _state(reviews={"ann": "approved", "bob": "approved"})
    ok, values = evaluate("pr.number == 45 and " + READY, event, state)
    assert ok is True
    assert values == {"pr.number": 45, "pr.status": "approved", "pr.reviews": 2}


def test_evaluate_reviews_alias_of_approvals() -> None:
    """pr.reviews is the number of approvals."""
    state = _state(reviews={"ann": "approved", "bob": "commented"})
    assert evaluate("pr.reviews == pr.approvals == 1", review("ann", "approved"), state)[0]


def test_evaluate_false_values_read() -> None:
    """A false rule returns False with the values it read."""
    ok, values = evaluate("pr.checks == 'passed'", pr_event(), _state(checks={"CI": "failed"}))
    assert (ok, values) == (False, {"pr.checks": "failed"})


def test_evaluate_missing_name_none() -> None:
    """A name the event lacks gives None and no values."""
    assert evaluate("workflow.conclusion == 'failure'", pr_event(), None) == (None, {})


def test_evaluate_without_state_pr_status_none() -> None:
    """Without a PR state, the state names are missing: None."""
    assert evaluate("pr.status == 'approved'", pr_event(), None) == (None, {})


def test_evaluate_ci_event_reads_state() -> None:
    """On a check event, pr holds the state names only."""
    state = _state(checks={"CI": "passed"})
    assert evaluate("pr.checks == 'passed'", check_suite("success"), state)[0] is True


def test_evaluate_event_names_read() -> None:
    """Top-level template names (branch, event, labels) are readable."""
    ok, values = evaluate("event == 'pull_request.opened' and branch == 'main'", pr_event(), None)
    assert ok is True
    assert values == {"event": "pull_request.opened", "branch": "main"}


@pytest.mark.parametrize(
    "expression",
    [
        "title.__class__.__name__ == 'str'",
        "''.__class__.__mro__ is defined and title",
        "(title|attr('format'))('x') and title",
        "'a' * 10**9 == title",
        "range(10**9)|length > 0 and title",
        "1 / 0 == 1 and title",
        "title ==",
    ],
)
def test_evaluate_hostile_or_broken_none(expression: str) -> None:
    """Sandbox escapes, unbounded work and errors give None, quickly."""
    assert evaluate(expression, pr_event(), None) == (None, {})


def test_evaluate_bare_undefined_none() -> None:
    """A rule that is just a missing name is undecided, not an exception."""
    assert evaluate("job", pr_event(), None) == (None, {})


# --------------------------------------------------------------------------- parse_rule


def test_parse_rule_valid_returned() -> None:
    """A valid rule comes back as typed."""
    assert parse_rule(READY, KNOWN) == READY


@pytest.mark.parametrize(
    "typed",
    [f'"{READY}"', f"  {json.dumps(READY)}  ", f"“{READY}”", "'pr.reviews >= 2'"],
)
def test_parse_rule_outer_quotes_removed(typed: str) -> None:
    """One pair of outer quotes (straight or typographic) is removed."""
    assert parse_rule(typed, KNOWN) in {READY, "pr.reviews >= 2"}


def test_parse_rule_quotes_part_of_expression_kept() -> None:
    """Quotes that belong to the expression are kept."""
    rule = "'hotfix' in title and branch == 'main'"
    assert parse_rule(rule, KNOWN) == rule


def test_parse_rule_unknown_name_refused_listing_names() -> None:
    """An unknown name is refused with a suggestion and the available names."""
    with pytest.raises(RuleError, match=r"`pr\.statuz`") as info:
        parse_rule("pr.statuz == 'approved'", KNOWN)
    message = str(info.value)
    assert "did you mean `pr.status`" in message
    for name in ("branch", "title", "pr.approvals", "pr.reviews", "pr.checks", "pr.number"):
        assert name in message


def test_parse_rule_unknown_top_level_refused() -> None:
    """An unknown top-level name is refused too."""
    with pytest.raises(RuleError, match="`approvals`"):
        parse_rule("approvals >= 2", KNOWN)


def test_parse_rule_unknown_field_child_refused() -> None:
    """A misspelt documented field is refused, listing that field's names."""
    with pytest.raises(RuleError, match=r"`workflow\.conclusoin`") as info:
        parse_rule("workflow.conclusoin == 'failure'", KNOWN)
    assert "workflow names: workflow.conclusion, " in str(info.value)


def test_parse_rule_no_name_refused() -> None:
    """A rule that reads no name is refused."""
    with pytest.raises(RuleError, match="reads no event value"):
        parse_rule("1 == 1", KNOWN)


def test_parse_rule_quoted_constant_refused() -> None:
    """A string constant (quotes inside quotes) reads no name: refused."""
    with pytest.raises(RuleError, match="reads no event value"):
        parse_rule("\"'pr.status'\"", KNOWN)


def test_parse_rule_syntax_error_refused_with_message() -> None:
    """A syntax error is refused with Jinja's message."""
    with pytest.raises(RuleError, match="not a valid expression: unexpected 'end of the rule'"):
        parse_rule("pr.status ==", KNOWN)


def test_parse_rule_unknown_filter_refused() -> None:
    """An unknown filter is refused when the rule is added."""
    with pytest.raises(RuleError, match="No filter named 'nope'"):
        parse_rule("title|nope", KNOWN)


def test_parse_rule_statement_refused() -> None:
    """Template statements cannot be smuggled into a rule."""
    with pytest.raises(RuleError, match="not a valid expression"):
        parse_rule("title) }}{% for x in range(9) %}{{ (x", KNOWN)


@pytest.mark.parametrize("rule", ["''.__class__", "title.__class__ == 1", "pr['__class__']"])
def test_parse_rule_private_attribute_refused(rule: str) -> None:
    """`_`-prefixed attributes (''.__class__) are refused at command time."""
    with pytest.raises(RuleError, match="__class__"):
        parse_rule(rule, KNOWN)


def test_parse_rule_too_long_refused() -> None:
    """A rule over the length limit is refused."""
    rule = "title == '" + "x" * MAX_RULE_LENGTH + "'"
    with pytest.raises(RuleError, match=str(MAX_RULE_LENGTH)):
        parse_rule(rule, KNOWN)


def test_parse_rule_empty_refused() -> None:
    """An empty rule (or bare quotes) is refused."""
    for rule in ("", '""', "  "):
        with pytest.raises(RuleError, match="empty"):
            parse_rule(rule, KNOWN)


def test_parse_rule_method_on_field_accepted() -> None:
    """Methods and filters on known fields are fine (below documented paths)."""
    rule = "pr.title.startswith('WIP') or 'bug' in labels or commits|length > 3"
    assert parse_rule(rule, KNOWN) == rule


def test_known_names_covers_context_fields_and_state() -> None:
    """known_names has template names, documented fields and the PR-state names."""
    for name in ("event", "branch", "status", "pr", "pr.number", "workflow", "workflow.name"):
        assert name in KNOWN
    assert {"pr.approvals", "pr.reviews", "pr.changes_requested", "pr.status", "pr.checks"} <= KNOWN
    assert "commits[].id" not in KNOWN


def test_known_names_unknown_service_template_names_only() -> None:
    """A service the registry does not know has the template names, and no PR state."""
    names = known_names("nosuch")
    assert {"event", "title", "branch", "status"} <= names
    assert "pr.status" not in names
    assert "workflow" not in names


def test_known_names_gitlab_fields_without_pr_state() -> None:
    """gitlab's names are its documented fields (`mr.draft`); its events feed no PR state."""
    names = known_names("gitlab")
    assert {"mr", "mr.draft", "pipeline.status", "labels"} <= names
    assert not {"pr", "pr.approvals", "pr.status", "workflow"} & names


def test_alert_if_gitlab_mr_draft_accepted_and_pr_state_refused() -> None:
    """`mr.draft` is a gitlab rule; `pr.approvals` is refused without PR names offered."""
    names = known_names("gitlab")
    assert parse_rule("mr.draft == false and 'bug' in labels", names) == (
        "mr.draft == false and 'bug' in labels"
    )
    with pytest.raises(RuleError, match="reads `pr`") as caught:
        parse_rule("pr.approvals >= 2", names)
    assert "PR names" not in str(caught.value)
    assert "PR names" in _refusal("pr.statuz == 'open'", KNOWN)


def _refusal(rule: str, names: Collection[str]) -> str:
    with pytest.raises(RuleError) as caught:
        parse_rule(rule, names)
    return str(caught.value)


def test_alert_if_gitlab_mr_draft_evaluates_on_a_sample() -> None:
    """The rule reads the merge request the gitlab event carries."""
    merge_request = registered_sample("gitlab", "merge_request")
    draft = value_of("mr.draft", merge_request)
    assert draft in {"true", "false"}
    rule = parse_rule(f"mr.draft == {draft}", known_names("gitlab"))
    assert evaluate(rule, merge_request, None) == (True, {"mr.draft": draft == "true"})
    opposite = "false" if draft == "true" else "true"
    assert evaluate(f"mr.draft == {opposite}", merge_request, None)[0] is False
    assert evaluate("mr.draft == 'x'", registered_sample("gitlab", "push"), None)[0] is None


def test_alert_if_ci_status_and_branch() -> None:
    """`status == 'failed' and branch == 'main'` fires for a failed run on main only."""
    rule = parse_rule("\"status == 'failed' and branch == 'main'\"", known_names("ci"))
    assert rule == "status == 'failed' and branch == 'main'"
    on_main = registered_sample("ci", "gitlab_pipeline_failed")
    elsewhere = registered_sample("ci", "jenkins_failed")
    passing = registered_sample("ci", "jenkins_success")
    assert evaluate(rule, on_main, None) == (True, {"status": "failed", "branch": "main"})
    assert evaluate(rule, elsewhere, None)[0] is False
    assert evaluate(rule, passing, None)[0] is False
    assert {"provider", "stage", "job", "pipeline.status"} <= known_names("ci")
    assert "pr.checks" not in known_names("ci")


def test_alert_if_custom_reads_any_top_level_key() -> None:
    """`level == 'critical'` is a custom rule though no doc names `level`."""
    names = known_names("custom")
    rule = parse_rule("level == 'critical'", names)
    headers = {"Content-Type": "application/json"}
    alert = SERVICES["custom"].parse(headers, b'{"level": "critical", "host": "db-1"}', {})[0]
    calm = SERVICES["custom"].parse(headers, b'{"level": "info"}', {})[0]
    silent = SERVICES["custom"].parse(headers, b'{"host": "db-1"}', {})[0]
    assert evaluate(rule, alert, None) == (True, {"level": "critical"})
    assert evaluate(rule, calm, None)[0] is False
    assert evaluate(rule, silent, None) == (None, {})  # lacks the name: false, silently
    assert "level" in names
    assert "Level" in names
    assert "payload" in names
    assert "not-an-identifier" not in names
    assert "level" not in set(names)  # only documented names are listed in messages
    with pytest.raises(RuleError, match="reads no event value"):
        parse_rule("1 == 1", names)


def test_reads_pr_state_state_names_true() -> None:
    """reads_pr_state is true for the state names, false for event fields."""
    assert reads_pr_state(READY)
    assert reads_pr_state("pr['checks'] == 'failed'")
    assert not reads_pr_state("pr.number == 45 and branch == 'main'")
    assert not reads_pr_state("not valid ==")


def test_pr_state_events_named() -> None:
    """The provider events a rule's PR state needs come from what the events carry."""
    assert pr_state_events(READY, "github") == ("pull_request", "pull_request_review")
    assert pr_state_events("pr.checks == 'passed'", "github") == (
        "pull_request",
        "workflow_run",
        "check_suite",
    )
    assert pr_state_events("branch == 'main'", "github") == ()
    assert pr_state_events(READY) == pr_state_events(READY, "github")  # the only one feeding


@pytest.mark.parametrize("service", ["gitlab", "ci", "custom", "nosuch"])
def test_pr_state_events_none_for_services_that_feed_no_pr_state(service: str) -> None:
    """A service whose events carry no pull request needs no events for PR state."""
    assert pr_state_events(READY, service) == ()
    assert pr_state_events("pr.checks == 'passed'", service) == ()


# --------------------------------------------------------------------------- render_alert


def test_render_alert_text_names_subject_values_rule() -> None:
    """The alert starts with ⚡, names the PR and the values, and quotes the rule."""
    state = fold(
        [pr_event(), review("ann", "approved"), review("bob", "approved"), check_suite("success")]
    )
    ok, values = evaluate(READY, review("bob", "approved"), state)
    assert ok
    message = render_alert(AlertRule(READY), review("bob", "approved"), state, values)
    assert message.content == (
        "⚡ Alert · PR octo-org/Hello-World#45 · Approvals: 2 ✓ · Checks: passed ✓ · "
        "rule: pr.status == 'approved' and pr.reviews \\>= 2"  # md-escaped; shows >=
    )
    [embed] = message.embeds
    assert embed.title == "Add OAuth login"
    assert embed.url == "https://github.com/octo-org/Hello-World/pull/45"


def test_render_alert_mention_role_prefix() -> None:
    """With a mention role, the content begins with that role's mention."""
    message = render_alert(AlertRule(READY, "123456"), pr_event(), _state(), {})
    assert message.content.startswith("<@&123456> ⚡ Alert")


def test_render_alert_bad_role_refused() -> None:
    """A mention role that is not an id is refused (no text injection)."""
    with pytest.raises(RuleError):
        AlertRule(READY, "1> @everyone")


def test_render_alert_user_text_escaped() -> None:
    """Values and titles from events cannot ping or format."""

    def edit(payload: dict[str, Any]) -> None:
        payload["pull_request"]["title"] = "@everyone **now**"

    event = github_event("pull_request", edit)
    ok, values = evaluate("pr.title != ''", event, None)
    assert ok
    message = render_alert(AlertRule("pr.title != ''"), event, None, values)
    assert "@everyone" not in message.content
    assert "\\*\\*now\\*\\*" in message.content
    assert message.embeds[0].title == "@\u200beveryone \\*\\*now\\*\\*"


def test_render_alert_non_state_values_and_status_shown() -> None:
    """Event values the rule read follow the summary; merged/closed/draft are said."""
    state = _state(merged=True, open=False, reviews={"ann": "changes_requested"})
    message = render_alert(AlertRule("branch == 'main'"), pr_event(), state, {"branch": "main"})
    assert "Changes requested: 1 ✗" in message.content
    assert "Status: merged" in message.content
    assert "branch: main" in message.content


def test_render_alert_commit_subject_without_state() -> None:
    """Without a PR, a CI alert names the commit by its short SHA."""
    event = workflow_run("failure", prs=())
    message = render_alert(AlertRule("status == 'failure'"), event, None, {"status": "failure"})
    assert message.content.startswith(f"⚡ Alert · Commit octo-org/Hello-World@{HEAD[:7]} · ")


def test_known_names_placeholder_leaves_the_inside_of_a_field_unchecked() -> None:
    """`label.<name>` documents any name inside `label`: rules may read any label."""
    docs = {"*": {"label": "Labels by name.", "label.<name>": "One label."}}
    names = known_names("nosuch", docs)
    assert "label" in names
    assert "label.<name>" not in names
    rule = "label['com.example.tier'] == 'web'"
    assert parse_rule(rule, names) == rule
    with pytest.raises(RuleError, match="reads `labelz`"):
        parse_rule("labelz.x == 1", names)
