"""Field filters on real parsed sample events: keys, multi-value rules, hostile input."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import MappingProxyType

import pytest

from bot.core.filters import (
    STANDARD_KEYS,
    Filter,
    FilterError,
    FilterSet,
    check_applies,
    keeps,
    kinds_with_key,
    parse_filter,
    valid_keys,
    value_of,
)
from parsers import SERVICES, github
from parsers.event import JSON, Event

SAMPLES = Path(__file__).resolve().parents[2] / "parsers" / "samples" / "github"


def _sample(name: str) -> Event:
    body = (SAMPLES / f"{name}.json").read_bytes()
    headers = {"X-GitHub-Event": name, "Content-Type": "application/json"}
    return github.parse(headers, body)[0]


def _with(event: Event, **fields: JSON) -> Event:
    return dataclasses.replace(event, fields=MappingProxyType(dict(event.fields) | fields))


@pytest.fixture(scope="module")
def push() -> Event:
    return _sample("push")


@pytest.fixture(scope="module")
def pr() -> Event:
    return _sample("pull_request")


@pytest.fixture(scope="module")
def run() -> Event:
    return _sample("workflow_run")


@pytest.fixture(scope="module")
def issue() -> Event:
    return _sample("issues")


def _keeps(text: str, event: Event) -> bool | None:
    return keeps(parse_filter(text, "github"), event)


# --------------------------------------------------------------------------- parsing


def test_parse_filter_equals_and_not_equals_canonical_text() -> None:
    """`key=glob` keeps, `key!=glob` negates; the key is trimmed and lower-cased."""
    assert parse_filter(" Branch =main", "github") == Filter("branch", False, "main", "branch=main")
    f = parse_filter("author!=dependabot[bot]", "github")
    assert (f.key, f.negated, f.pattern, f.text) == (
        "author",
        True,
        "dependabot[bot]",
        "author!=dependabot[bot]",
    )


def test_parse_filter_value_keeps_equals_and_braces_literal() -> None:
    """Only the first `=` splits; `=` and `{{` in the value are literal."""
    f = parse_filter("pr.title={{ x }}=y", "github")
    assert (f.key, f.pattern) == ("pr.title", "{{ x }}=y")
    assert parse_filter("label!=a=b", "github").pattern == "a=b"


def test_parse_filter_strips_one_pair_of_quotes() -> None:
    """`label="needs review"` drops the quotes; a quoted whole filter too."""
    assert parse_filter('label="needs review"', "github").pattern == "needs review"
    assert parse_filter("label='\"x\"'", "github").pattern == '"x"'
    assert parse_filter('"branch=main"', "github").text == "branch=main"


def test_parse_filter_canonical_text_reads_back_the_same() -> None:
    """A value that needs quoting is quoted in `text`, and parses back to itself."""
    for typed in ("label=' spaced '", "label='\"x'", "pr.title=", "label=ok"):
        f = parse_filter(typed, "github")
        assert parse_filter(f.text, "github") == f


@pytest.mark.parametrize("text", ['label="open', "label='open", "label=“open"])
def test_parse_filter_unbalanced_quote_raises(text: str) -> None:
    """An opening quote left open is refused with how to fix it."""
    with pytest.raises(FilterError, match="unbalanced quote"):
        parse_filter(text, "github")


def test_parse_filter_missing_equals_raises_with_example() -> None:
    """No `=` at all: say so and show the form."""
    with pytest.raises(FilterError, match=r"has no `=`; type key=value"):
        parse_filter("branch main", "github")


@pytest.mark.parametrize("text", ["=main", " != main", "!=x"])
def test_parse_filter_empty_key_raises(text: str) -> None:
    """Nothing before `=` is refused."""
    with pytest.raises(FilterError, match="has no key"):
        parse_filter(text, "github")


def test_parse_filter_unknown_key_lists_valid_keys() -> None:
    """An unknown key is refused with a suggestion and the keys."""
    with pytest.raises(FilterError, match="did you mean branch") as caught:
        parse_filter("brnach=main", "github")
    assert "keys: branch, head, tag, author, repo, label, path, status, kind" in str(caught.value)


def test_parse_filter_documented_field_paths_are_keys() -> None:
    """Documented paths are keys; containers and list items are not."""
    assert parse_filter("pr.draft=false", "github").key == "pr.draft"
    assert parse_filter("workflow.conclusion=failure", "github").key == "workflow.conclusion"
    for key in ("pr", "commits", "commits[].id", "pr.nope"):
        with pytest.raises(FilterError, match="not a filter key"):
            parse_filter(f"{key}=x", "github")


def test_parse_filter_ten_kilobyte_value_raises_with_length() -> None:
    """A 10 KB value is refused quickly, naming the limit."""
    with pytest.raises(FilterError, match="10240 characters long; the limit is 200"):
        parse_filter("label=" + "x" * 10240, "github")


def test_parse_filter_value_at_limit_accepted() -> None:
    """200 characters are fine, even quoted."""
    assert len(parse_filter("label=" + "x" * 200, "github").pattern) == 200
    assert len(parse_filter('label="' + "x" * 200 + '"', "github").pattern) == 200
    with pytest.raises(FilterError, match="201 characters"):
        parse_filter('label="' + "x" * 201 + '"', "github")


@pytest.mark.parametrize("text", ["label=a\nb", "label=\x00", "author=x\x1b[31m", "bra\tnch=x"])
def test_parse_filter_control_characters_raise(text: str) -> None:
    """Control characters in key or value are refused and named."""
    with pytest.raises(FilterError, match="control character U\\+"):
        parse_filter(text, "github")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("branch=[", "`branch=[` is not a valid branch name: `[` is not allowed"),
        ("branch=a..b", "`..` is not allowed"),
        ("branch=a b", "a space is not allowed"),
        ("branch=a~1", "`~` is not allowed"),
        ("branch=a^", "`^` is not allowed"),
        ("branch=a:b", "`:` is not allowed"),
        ("branch=a\\b", "`\\\\` is not allowed"),
        ("branch=a@{1}", "`@{` is not allowed"),
        ("branch=a//b", "`//` is not allowed"),
        ("branch=/a", "cannot start or end with `/`"),
        ("branch=a/", "cannot start or end with `/`"),
        ("branch=a.", "cannot end with `.`"),
        ("branch=x/.hidden", "cannot start with `.`"),
        ("branch=main.lock", "cannot end with `.lock`"),
        ("branch=@", "`@` alone"),
        ("head!=a..b", "not a valid branch name"),
        ("tag=v1:0", "not a valid tag name"),
        ("branch=main,a..b", "`..` is not allowed"),
    ],
)
def test_parse_filter_impossible_ref_name_raises_reason(text: str, reason: str) -> None:
    """`branch`/`head`/`tag` values must be possible git ref names."""
    with pytest.raises(FilterError, match=reason.replace("[", "\\[").replace("^", "\\^")):
        parse_filter(text, "github")


@pytest.mark.parametrize(
    "text", ["branch=release/*", "branch=feature/**", "tag=v?.*", "branch=a,b"]
)
def test_parse_filter_ref_wildcards_accepted(text: str) -> None:
    """`*` and `?` are allowed in ref values although git refuses them."""
    assert parse_filter(text, "github").key in {"branch", "tag"}


def test_parse_filter_brackets_allowed_outside_ref_keys() -> None:
    """`[` is only refused for ref keys."""
    assert parse_filter("author=dependabot[bot]", "github").pattern == "dependabot[bot]"


def test_parse_filter_empty_value_allowed() -> None:
    """An empty value parses (it matches only an empty value)."""
    assert parse_filter("pr.body=", "github").pattern == ""


def test_parse_filter_unknown_service_offers_standard_keys() -> None:
    """A service without field docs still has the shorthand keys."""
    assert parse_filter("status=die", "nosuch").key == "status"
    with pytest.raises(FilterError, match="not a filter key"):
        parse_filter("pr.draft=true", "nosuch")


# --------------------------------------------------------------------------- values


def test_value_of_standard_keys_on_push(push: Event) -> None:
    """branch, author, repo, kind, path read from a push; head and label are missing."""
    assert value_of("branch", push) == "main"
    assert value_of("author", push) == push.actor
    assert value_of("repo", push) == "octo-org/Hello-World"
    assert value_of("kind", push) == "push"
    assert value_of("path", push) == [
        "web/settings/oauth.py",
        "README.md",
        "core/crypto.py",
        "tests/test_crypto.py",
    ]
    assert value_of("head", push) is None
    assert value_of("label", push) is None
    assert value_of("status", push) is None


def test_value_of_pull_request_keys(pr: Event) -> None:
    """A PR carries its base as branch, head, labels, status and field paths."""
    assert value_of("branch", pr) == "main"
    assert value_of("head", pr) == "feature-oauth"
    assert value_of("label", pr) == ["feature"]
    assert value_of("status", pr) == "open"
    assert value_of("pr.draft", pr) == "false"
    assert value_of("pr.number", pr) == str(pr.fields["pr"]["number"])  # type: ignore[index,call-overload]
    assert value_of("pr.labels", pr) == ["feature"]
    assert value_of("pr", pr) is None


def test_value_of_head_falls_back_to_pr_head(pr: Event) -> None:
    """Without top-level `head`, `pr.head` is read."""
    fields = {k: v for k, v in pr.fields.items() if k != "head"}
    bare = dataclasses.replace(pr, fields=MappingProxyType(fields))
    assert value_of("head", bare) == "feature-oauth"


def test_value_of_tag_on_release() -> None:
    """A release carries its tag."""
    assert value_of("tag", _sample("release")) == "v1.2.0"


def test_value_of_missing_nested_path_is_none(run: Event) -> None:
    """A path the event lacks reads None."""
    assert value_of("pr.draft", run) is None
    assert value_of("workflow.conclusion", run) == "success"


# --------------------------------------------------------------------------- keeping


def test_keeps_branch_on_push_and_not_on_issue(push: Event, issue: Event) -> None:
    """`branch=main` keeps main pushes, drops others, and leaves issues alone."""
    assert _keeps("branch=main", push) is True
    assert _keeps("branch=release/*", push) is False
    assert _keeps("branch!=main", push) is False
    assert _keeps("branch=main", issue) is None
    assert _keeps("branch=main", _with(push)) is True


def test_keeps_branch_exact_case(push: Event) -> None:
    """Branches compare case-sensitively."""
    assert _keeps("branch=MAIN", push) is False


def test_keeps_tag_push_ignores_branch_filter(push: Event) -> None:
    """A tag push carries no branch, so `branch=` does not apply to it."""
    tag_push = dataclasses.replace(push, branch=None)
    assert _keeps("branch=main", tag_push) is None


def test_keeps_author_case_insensitive_brackets_literal(push: Event) -> None:
    """`author!=dependabot[bot]` drops Dependabot in any case, keeps humans."""
    bot = dataclasses.replace(push, actor="Dependabot[bot]")
    assert _keeps("author!=dependabot[bot]", bot) is False
    assert _keeps("author!=dependabot[bot]", push) is True
    assert _keeps("author!=dependabot[bot]", dataclasses.replace(push, actor="dependabotb")) is True


def test_keeps_repo_glob_case_insensitive(push: Event) -> None:
    """`repo=OCTO-ORG/*` keeps the sample repository."""
    assert _keeps("repo=OCTO-ORG/*", push) is True
    assert _keeps("repo=other/*", push) is False


def test_keeps_label_any_rule(pr: Event) -> None:
    """`label=x` keeps when any label matches; `label!=x` drops when any does."""
    two = _with(pr, labels=["feature", "WIP"])
    assert _keeps("label=wip", two) is True
    assert _keeps("label=bug", two) is False
    assert _keeps("label!=wip", two) is False
    assert _keeps("label!=bug", two) is True


def test_keeps_label_empty_list(pr: Event) -> None:
    """With no labels, `label=` drops and `label!=` keeps."""
    none = _with(pr, labels=[])
    assert _keeps("label=*", none) is False
    assert _keeps("label!=wip", none) is True


def test_keeps_label_on_issue_sample(issue: Event) -> None:
    """Issues carry labels too."""
    assert _keeps("label=bug", issue) is True


def test_keeps_path_any_for_inclusion(push: Event) -> None:
    """`path=core/**` keeps when any changed file matches."""
    assert _keeps("path=core/**", push) is True
    assert _keeps("path=docs/**", push) is False
    assert _keeps("path=*.md", push) is True
    assert _keeps("path=*.py", push) is False  # `*` does not cross `/`, and README is .md
    assert _keeps("path=**/*.py", push) is True


def test_keeps_path_not_equal_drops_only_when_every_file_matches(push: Event) -> None:
    """`path!=docs/**` drops docs-only pushes and keeps mixed ones."""
    docs_only = _with(push, files=["docs/a.md", "docs/b/c.md"])
    mixed = _with(push, files=["docs/a.md", "src/x.py"])
    assert _keeps("path!=docs/**", docs_only) is False
    assert _keeps("path!=docs/**", mixed) is True
    assert _keeps("path!=docs/**", push) is True


def test_keeps_path_empty_file_list(push: Event) -> None:
    """No changed files: `path=` drops, `path!=` keeps."""
    empty = _with(push, files=[])
    assert _keeps("path=**", empty) is False
    assert _keeps("path!=**", empty) is True


def test_keeps_status_on_workflow_run(run: Event) -> None:
    """`status=failure` drops a successful run; `status=success,failure` keeps it."""
    assert _keeps("status=failure", run) is False
    assert _keeps("status=success,failure", run) is True
    assert _keeps("status=Success", run) is False
    assert _keeps("status!=success", _sample("workflow_job")) is True


def test_keeps_kind_glob(pr: Event) -> None:
    """`kind=pull_request.*` matches the opened PR; `kind!=` negates."""
    assert _keeps("kind=pull_request.*", pr) is True
    assert _keeps("kind!=pull_request.opened", pr) is False


def test_keeps_field_path_bool(pr: Event) -> None:
    """`pr.draft=false` keeps a ready PR, drops a draft one."""
    assert _keeps("pr.draft=false", pr) is True
    draft = _with(pr, pr=dict(pr.fields["pr"]) | {"draft": True})  # type: ignore[arg-type]
    assert _keeps("pr.draft=false", draft) is False
    assert _keeps("pr.draft=false", _sample("push")) is None


def test_keeps_braces_in_value_literal(pr: Event) -> None:
    """`{{` in a value matches literally, never as a template."""
    titled = _with(pr, pr=dict(pr.fields["pr"]) | {"title": "fix {{ x }}"})  # type: ignore[arg-type]
    assert _keeps("pr.title=*{{ x }}", titled) is True
    assert _keeps("pr.title=*{{ x }}", pr) is False


def test_keeps_empty_value_matches_empty_only(pr: Event) -> None:
    """`pr.body=` keeps an empty body and drops a non-empty one."""
    empty = _with(pr, pr=dict(pr.fields["pr"]) | {"body": ""})  # type: ignore[arg-type]
    full = _with(pr, pr=dict(pr.fields["pr"]) | {"body": "text"})  # type: ignore[arg-type]
    assert _keeps("pr.body=", empty) is True
    assert _keeps("pr.body=", full) is False


# --------------------------------------------------------------------------- sets


def test_filterset_ands_applying_filters(push: Event, issue: Event) -> None:
    """Filters AND; a filter that does not apply neither keeps nor drops."""
    filters = FilterSet.from_texts(
        ["branch=main", "author!=dependabot[bot]", "path!=docs/**"], "github"
    )
    assert filters.evaluate(push) == (True, [True, True, True])
    assert filters.evaluate(issue) == (True, [None, True, None])
    assert filters.evaluate(dataclasses.replace(push, branch="dev")) == (False, [False, True, True])
    assert len(filters) == 3


def test_filterset_empty_keeps_everything(push: Event) -> None:
    """No filters keep every event."""
    assert FilterSet([]).evaluate(push) == (True, [])


def test_filterset_one_drop_drops(pr: Event) -> None:
    """Any applying filter saying drop drops the event."""
    filters = FilterSet(parse_filter(t, "github") for t in ["label=feature", "head!=feature-*"])
    kept, outcomes = filters.evaluate(pr)
    assert (kept, outcomes) == (False, [True, False])


def test_filterset_from_texts_bad_text_raises() -> None:
    """A stored text that is no longer valid raises."""
    with pytest.raises(FilterError):
        FilterSet.from_texts(["nope=1"], "github")


# --------------------------------------------------------------------------- applicability


def test_kinds_with_key_names_carrying_events() -> None:
    """The confirmation lists the events carrying a key."""
    assert kinds_with_key("path", "github") == ["push"]
    assert kinds_with_key("head", "github") == [
        "pull_request",
        "pull_request_review",
        "pull_request_review_comment",
    ]
    branch = kinds_with_key("branch", "github")
    assert branch[:2] == ["push", "create"]
    assert "workflow_run" in branch
    assert "issues" not in branch
    assert kinds_with_key("workflow.conclusion", "github") == ["workflow_run"]
    assert "star" in kinds_with_key("action", "github")
    assert kinds_with_key("nope", "github") == []
    assert kinds_with_key("branch", "nosuch") == []


def test_kinds_with_key_agrees_with_sample_events() -> None:
    """Each sample whose event carries a shorthand key is listed for that key, and back."""
    for sample in sorted(SAMPLES.glob("*.json")):
        event = _sample(sample.stem)
        for key in STANDARD_KEYS:
            listed = sample.stem in kinds_with_key(key, "github")
            if value_of(key, event) is not None:
                assert listed, (sample.stem, key)


def test_check_applies_passes_when_some_selected_event_carries() -> None:
    """`branch=main` on a push + issues hook is fine."""
    check_applies(parse_filter("branch=main", "github"), "github", ["push", "issues"])


def test_check_applies_refuses_with_valid_keys() -> None:
    """`path=` on an issues-only hook is refused, listing the keys issues carry."""
    with pytest.raises(FilterError, match="none of this hook's events") as caught:
        check_applies(parse_filter("path=docs/**", "github"), "github", ["issues", "star"])
    message = str(caught.value)
    assert "label" in message
    assert "issue.title" in message
    assert "path," not in message


def test_check_applies_unknown_service_passes() -> None:
    """With no knowledge of a service's keys, nothing is refused."""
    check_applies(parse_filter("branch=x", "nosuch"), "nosuch", [])


def test_valid_keys_filtered_by_events() -> None:
    """Keys for push include path and branch but not label."""
    keys = valid_keys("github", ["push"])
    assert {"path", "branch", "tag", "commit_count", "files", "repo"} <= set(keys)
    assert "label" not in keys
    assert "commits" not in keys
    assert valid_keys("nosuch") == list(STANDARD_KEYS)


# --------------------------------------------------------------------------- every service


def _registered_sample(service: str, name: str) -> Event:
    """Parse a bundled sample of any registered service as its sender sends it."""
    spec = SERVICES[service]
    body = (SAMPLES.parent / service / f"{name}.json").read_bytes()
    headers = spec.sample_headers(name, body, "s" * 32, f"delivery-{name}")
    events = spec.parse(headers, body, {})
    return next((e for e in events if e.kind == spec.samples[name]), events[0])


def _custom(body: str) -> Event:
    """A custom delivery of this JSON body."""
    headers = {"Content-Type": "application/json"}
    return SERVICES["custom"].parse(headers, body.encode(), {})[0]


def test_gitlab_branch_filter_drops_other_branches_and_leaves_issues() -> None:
    """`branch=main` on a gitlab hook keeps pushes to main, drops others, ignores issues."""
    filters = FilterSet.from_texts(["branch=main"], "gitlab")
    assert filters.evaluate(_registered_sample("gitlab", "push"))[0] is True
    assert filters.evaluate(_registered_sample("gitlab", "push.branch-deleted")) == (False, [False])
    assert filters.evaluate(_registered_sample("gitlab", "issue")) == (True, [None])
    assert filters.evaluate(_registered_sample("gitlab", "merge_request"))[0] is True


def test_gitlab_branch_applies_to_the_events_that_carry_it() -> None:
    """The confirmation lists gitlab's branch carriers: not issues, tags or releases."""
    carriers = kinds_with_key("branch", "gitlab")
    assert {"push", "merge_request", "pipeline", "job", "deployment"} <= set(carriers)
    assert not {"issue", "tag_push", "release", "wiki_page"} & set(carriers)
    check_applies(parse_filter("branch=main", "gitlab"), "gitlab", ["push", "issue"])
    with pytest.raises(FilterError, match="none of this hook's events"):
        check_applies(parse_filter("branch=main", "gitlab"), "gitlab", ["issue", "release"])


def test_gitlab_labels_and_files() -> None:
    """gitlab's `label` reads MR and issue labels; `path` the files a push changed."""
    assert kinds_with_key("label", "gitlab") == ["merge_request", "issue", "note"]
    assert kinds_with_key("path", "gitlab") == ["push", "tag_push"]
    issue = _registered_sample("gitlab", "issue")
    assert keeps(parse_filter("label=BUG", "gitlab"), issue) is True
    assert keeps(parse_filter("label!=priority::*", "gitlab"), issue) is False
    push = _registered_sample("gitlab", "push")
    assert keeps(parse_filter("path=app/**", "gitlab"), push) is True
    assert keeps(parse_filter("path!=app/**", "gitlab"), push) is True  # not every file
    assert keeps(parse_filter("path=docs/**", "gitlab"), push) is False


def test_gitlab_refuses_keys_it_does_not_carry_listing_its_own() -> None:
    """A ci key on a gitlab hook is refused with gitlab's keys (`mr.draft` among them)."""
    with pytest.raises(FilterError, match="not a filter key for gitlab") as caught:
        parse_filter("provider=jenkins", "gitlab")
    assert "keys: branch, head, tag, author, repo, label, path, status, kind; field paths:" in str(
        caught.value
    )
    assert "any top-level key" not in str(caught.value)
    assert parse_filter("mr.draft=true", "gitlab").key == "mr.draft"


def test_ci_provider_stage_and_job_filters() -> None:
    """`provider=jenkins` keeps Jenkins runs and drops the others; stage and job read theirs."""
    jenkins = _registered_sample("ci", "jenkins_failed")
    circle = _registered_sample("ci", "circleci_job_failed")
    stage = _registered_sample("ci", "gitlab_stage_failed")
    provider = parse_filter("provider=jenkins", "ci")
    assert (keeps(provider, jenkins), keeps(provider, circle)) == (True, False)
    assert keeps(parse_filter("stage=Test", "ci"), stage) is True
    assert keeps(parse_filter("stage=Build", "ci"), stage) is False
    assert keeps(parse_filter("job=android-*", "ci"), circle) is True
    assert keeps(parse_filter("job=android-*", "ci"), jenkins) is None  # no job: not applied
    assert keeps(parse_filter("status=failed", "ci"), jenkins) is True
    assert kinds_with_key("provider", "ci") == ["pipeline", "stage", "job", "deploy"]


def test_ci_refuses_labels_and_paths_listing_its_keys() -> None:
    """CI runs carry no labels: `label=x` is refused, naming provider, stage and job."""
    with pytest.raises(FilterError, match="none of this hook's events") as caught:
        check_applies(parse_filter("label=x", "ci"), "ci", ["pipeline", "job"])
    for key in ("provider", "stage", "job", "branch", "status"):
        assert key in str(caught.value)


def test_custom_any_top_level_key_is_a_filter_key() -> None:
    """`host=web-*` on a custom hook reads the body's `host`; events without it pass."""
    host = parse_filter("host=web-*", "custom")
    assert keeps(host, _registered_sample("custom", "server_alert")) is True
    assert keeps(host, _registered_sample("custom", "backup_done")) is False
    assert keeps(host, _registered_sample("custom", "deploy_finished")) is None
    assert kinds_with_key("host", "custom") == ["custom"]
    check_applies(host, "custom", ["custom"])


def test_custom_key_keeps_its_case_and_shorthands_keep_theirs() -> None:
    """A body's `Level` is not `level`; `Branch` is still the `branch` shorthand."""
    level = parse_filter("Level=crit*", "custom")
    assert level.text == "Level=crit*"
    assert keeps(level, _custom('{"Level": "critical"}')) is True
    assert keeps(level, _custom('{"level": "critical"}')) is None
    assert parse_filter("Branch=main", "custom").key == "branch"


def test_custom_label_and_path_read_the_bodys_own_keys() -> None:
    """Custom bodies carry no label lists: `label`/`path` read top-level `label`/`path`."""
    label = parse_filter("label=prod*", "custom")
    assert label.plain
    assert keeps(label, _custom('{"label": "production"}')) is True
    assert keeps(label, _custom('{"label": "staging"}')) is False
    assert keeps(parse_filter("path=/srv/**", "custom"), _custom('{"path": "/srv/a/b"}')) is True
    assert not parse_filter("label=x", "github").plain
    assert FilterSet([label]).evaluate(_custom('{"label": "staging"}')) == (False, [False])


def test_custom_paths_into_the_payload_are_keys_but_other_paths_are_not() -> None:
    """`payload.<path>` walks the raw body; a non-identifier key is refused with a hint."""
    region = parse_filter("payload.meta.region=eu-*", "custom")
    assert keeps(region, _custom('{"meta": {"region": "eu-west"}}')) is True
    with pytest.raises(FilterError, match="any top-level key of the body"):
        parse_filter("a-b=1", "custom")
    with pytest.raises(FilterError, match="not a filter key"):
        parse_filter("meta.region=eu", "custom")


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_kinds_with_key_agrees_with_every_services_samples(service: str) -> None:
    """Each sample carrying a shorthand key is listed for it; branch/status claims are real.

    `branch` and `status` come from Event attributes that only some events set: an event
    listed for them has at least one sample carrying a value (when it has samples).
    """
    spec = SERVICES[service]
    by_event: dict[str, list[Event]] = {}
    for name in spec.samples:
        event = _registered_sample(service, name)
        by_event.setdefault(event.kind.partition(".")[0], []).append(event)
        for key in STANDARD_KEYS:
            if value_of(key, event) is not None:
                assert event.kind.partition(".")[0] in kinds_with_key(key, service), (name, key)
    if spec.open_kinds is not None:
        return  # a free-form body may carry any key
    for key in ("branch", "status"):
        for event_name in kinds_with_key(key, service):
            events = by_event.get(event_name, [])
            if events:
                assert any(value_of(key, e) is not None for e in events), (event_name, key)


def _toy_spec(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Register a made-up service whose events carry a mapping of labels by name."""
    toy = dataclasses.replace(
        SERVICES["github"],
        name=name,
        kinds=("thing.happened",),
        field_docs={"*": {"label": "Labels by name.", "label.<name>": "One label's value."}},
        attribute_events={},
        open_kinds=None,
    )
    monkeypatch.setitem(SERVICES, name, toy)


def _toy_event(service: str, labels: dict[str, JSON]) -> Event:
    return Event(
        service=service,
        kind="thing.happened",
        source="host",
        delivery_id="d",
        occurred_at=None,
        title="t",
        fields=MappingProxyType({"label": labels}),
    )


def test_field_documented_with_any_names_takes_paths_into_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`label.<name>` in the docs makes `label.com.example.tier=web*` a key; names may have dots."""
    _toy_spec(monkeypatch, "toy_named")
    tier = parse_filter("label.com.example.tier=web*", "toy_named")
    assert tier.key == "label.com.example.tier"
    assert kinds_with_key(tier.key, "toy_named") == ["thing"]
    assert keeps(tier, _toy_event("toy_named", {"com.example.tier": "web-1"})) is True
    assert keeps(tier, _toy_event("toy_named", {"com.example.tier": "db-1"})) is False
    assert keeps(tier, _toy_event("toy_named", {"other": "web-1"})) is None
    with pytest.raises(FilterError, match="not a filter key"):
        parse_filter("labels.com.example.tier=web*", "toy_named")
    with pytest.raises(FilterError, match="not a filter key"):
        parse_filter("label.a b=x", "toy_named")


def test_paths_into_undocumented_insides_are_refused_for_closed_services() -> None:
    """Without a `<name>` placeholder, a path into a documented leaf is no key (`repo.name`)."""
    for text in ("repo.name=x", "action.x=y"):
        with pytest.raises(FilterError, match="not a filter key"):
            parse_filter(text, "github")
