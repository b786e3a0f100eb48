"""The ci service: detection, verification, each provider's mapping onto the CI model."""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from parsers import _ci, ci, jenkins
from parsers.errors import PayloadError, SignatureError, UnsupportedEventError
from parsers.event import Event

SAMPLES = Path(__file__).resolve().parents[2] / "parsers" / "samples" / "ci"
SECRET = "tok_3f9a-Secret_value"
STATUSES = {"running", "success", "failed", "cancelled"}


def sample(name: str) -> dict[str, Any]:
    """Return a sample's decoded body (a fresh copy, safe to edit)."""
    body: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    return body


def encode(payload: Any) -> bytes:
    """Encode a payload the way providers do."""
    return json.dumps(payload).encode()


def deliver(name: str, payload: Any | None = None, **extra: str) -> tuple[dict[str, str], bytes]:
    """Return signed headers and body for a sample, optionally with an edited payload."""
    body = (SAMPLES / f"{name}.json").read_bytes() if payload is None else encode(payload)
    headers = ci.sample_headers(name) | ci.sign_as(ci.sample_provider(name), body, SECRET)
    return headers | extra, body


def parse(name: str, payload: Any | None = None, **extra: str) -> list[Event]:
    """Verify and parse a sample (or an edited copy of it)."""
    headers, body = deliver(name, payload, **extra)
    ci.verify(headers, body, SECRET)
    return ci.parse(headers, body, {})


def only(events: list[Event], kind: str) -> Event:
    """Return the one event of `kind`."""
    found = [event for event in events if event.kind == kind]
    assert len(found) == 1, [event.kind for event in events]
    return found[0]


def dig(event: Event, *path: str | int) -> Any:
    """Return the value at a path inside an event's fields."""
    value: Any = event.fields
    for key in path:
        value = value[key]
    return value


def basic(user: str, password: str) -> str:
    """Return an HTTP Basic Authorization value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --------------------------------------------------------------------------- contract


def test_kinds_are_the_ci_model() -> None:
    assert set(ci.KINDS) == {
        "pipeline.started",
        "pipeline.running",
        "pipeline.success",
        "pipeline.failed",
        "pipeline.cancelled",
        "stage.success",
        "stage.failed",
        "job.started",
        "job.success",
        "job.failed",
        "job.cancelled",
        "deploy.success",
        "deploy.failed",
    }


def test_default_selection_leaves_out_jobs_and_progress() -> None:
    selected = {
        kind
        for kind in ci.KINDS
        for pattern in ci.DEFAULT_SELECTION
        if re.fullmatch(pattern.replace(".", r"\.").replace("*", "[^.]*"), kind)
    }
    assert selected == {
        "pipeline.started",
        "pipeline.success",
        "pipeline.failed",
        "stage.failed",
        "deploy.success",
        "deploy.failed",
    }


def test_aliases_and_field_docs_name_real_events() -> None:
    events = {kind.split(".")[0] for kind in ci.KINDS}
    assert ci.ALIASES == {"build": ("pipeline",), "deploy": ("deploy",)}
    assert set(ci.FIELD_DOCS) <= events | {"*"}
    for path in ("provider", "project", "branch", "commit", "stage", "job", "duration"):
        assert path in ci.FIELD_DOCS["*"]
    for path in ("url", "triggered_by", "failed_jobs", "failed_jobs[].reason"):
        assert path in ci.FIELD_DOCS["*"]


@pytest.mark.parametrize("name", sorted(ci.SAMPLES))
def test_every_field_an_event_carries_is_documented(name: str) -> None:
    for event in parse(name):
        documented = ci.FIELD_DOCS["*"] | ci.FIELD_DOCS.get(event.kind.split(".")[0], {})
        tops = {path.split(".")[0].split("[")[0] for path in documented}
        assert set(event.fields) <= tops, set(event.fields) - tops


def test_setup_hint_names_each_provider_and_the_placeholders() -> None:
    for word in ("Jenkins", "Notification plugin", "GitLab", "Pipeline events", "Job events"):
        assert word in ci.SETUP_HINT
    for word in ("CircleCI", "GitHub", "Workflow runs", "{url}", "{secret}"):
        assert word in ci.SETUP_HINT
    assert ci.SETUP_HINT.format(url="https://h/x", secret="s")


def test_every_kind_has_a_sample_and_every_sample_file_is_listed() -> None:
    assert set(ci.SAMPLES.values()) == set(ci.KINDS)
    assert {path.stem for path in SAMPLES.glob("*.json")} == set(ci.SAMPLES)


@pytest.mark.parametrize("name", sorted(ci.SAMPLES))
def test_sample_verifies_and_shows_its_kind(name: str) -> None:
    events = parse(name)
    assert ci.SAMPLES[name] in [event.kind for event in events]


@pytest.mark.parametrize("name", sorted(ci.SAMPLES))
def test_every_event_carries_the_model(name: str) -> None:
    """service ci, provider set, one-line title, and every common field present."""
    provider = ci.sample_provider(name)
    for event in parse(name):
        assert event.service == "ci"
        assert event.provider == provider
        assert event.fields["provider"] == provider
        assert event.kind in ci.KINDS
        assert event.status in STATUSES
        assert event.title
        assert "\n" not in event.title
        assert event.source == event.fields["project"]
        assert event.subject
        assert event.subject.startswith(f"ci:{provider}:")
        common = {path.split(".")[0].split("[")[0] for path in ci.FIELD_DOCS["*"]}
        assert common <= set(event.fields)
        for job in dig(event, "failed_jobs"):
            assert set(job) == {"name", "stage", "reason", "url"}
        json.dumps(dict(event.fields))  # JSON-able


# --------------------------------------------------------------------------- detection


def test_detect_order_github_then_gitlab_then_circleci() -> None:
    assert ci.detect({"x-github-event": "workflow_run", "X-Gitlab-Event": "Job Hook"}) == "actions"
    assert ci.detect({"X-GITLAB-EVENT": "Job Hook", "circleci-event-type": "x"}) == "gitlab"
    assert ci.detect({"CircleCI-Event-Type": "job-completed"}) == "circleci"
    assert ci.detect({"Content-Type": "application/json"}) is None
    assert ci.detect({"X-GitHub-Event": "  "}) is None


@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("actions_run_failed", "actions:workflow_run"),
        ("gitlab_pipeline_failed", "gitlab:Pipeline Hook"),
        ("circleci_job_failed", "circleci:job-completed"),
        ("jenkins_started", "jenkins:STARTED"),
    ],
)
def test_identify_names_the_provider_event(name: str, event: str) -> None:
    headers, body = deliver(name)
    assert ci.identify(headers, body)[0] == event


def test_identify_delivery_ids() -> None:
    headers, body = deliver("actions_run_failed")
    assert ci.identify(headers, body)[1] == headers["X-GitHub-Delivery"]

    headers, body = deliver("gitlab_job_failed")
    assert ci.identify(headers, body)[1] == headers["Idempotency-Key"]
    del headers["Idempotency-Key"]
    assert ci.identify(headers, body)[1] == headers["X-Gitlab-Event-UUID"]

    headers, body = deliver("circleci_workflow_failed")
    assert ci.identify(headers, body)[1] == sample("circleci_workflow_failed")["id"]

    headers, body = deliver("jenkins_started")
    assert ci.identify(headers, body)[1] == "payments-api#214:STARTED"


def test_jenkins_completed_and_finalized_share_a_delivery_id() -> None:
    """The plugin's "All Events" sends both; the second is a duplicate of the first."""
    payload = sample("jenkins_failed")
    finalized = ci.identify({}, encode(payload))
    payload["build"]["phase"] = "COMPLETED"
    completed = ci.identify({}, encode(payload))
    assert finalized == ("jenkins:FINALIZED", "payments-api#215:COMPLETED")
    assert completed == ("jenkins:COMPLETED", "payments-api#215:COMPLETED")
    payload["build"]["phase"] = "QUEUED"
    assert ci.identify({}, encode(payload))[1] == "payments-api#215:QUEUED"


def test_identify_refuses_bodies_of_no_ci_provider() -> None:
    assert ci.identify({}, b'{"event": "deploy"}') == (None, None)
    assert ci.identify({}, b'{"build": {"number": 1}}') == (None, None)
    headers, body = deliver("actions_run_failed")
    stripped = {k: v for k, v in headers.items() if k != "X-GitHub-Event"}
    assert ci.identify(stripped, body) == (None, None)  # no downgrade to "Jenkins"


def test_identify_is_lenient_about_ids_but_not_about_json() -> None:
    headers = ci.sample_headers("circleci_job_failed")
    assert ci.identify(headers, b'{"id": 5}') == ("circleci:job-completed", None)
    assert ci.identify({}, b'{"name": 1, "build": {"phase": 2}}') == ("jenkins", None)
    with pytest.raises(PayloadError):
        ci.identify(headers, b"{not json")
    with pytest.raises(PayloadError):
        ci.identify({}, b"")
    # A GitLab or GitHub delivery is identified from headers alone.
    gitlab = ci.sample_headers("gitlab_job_failed")
    assert ci.identify(gitlab, b"\xff")[1] == gitlab["Idempotency-Key"]


# --------------------------------------------------------------------------- verification


def test_github_signature() -> None:
    headers, body = deliver("actions_job_failed")
    ci.verify(headers, body, SECRET)
    with pytest.raises(SignatureError):
        ci.verify(headers, body + b" ", SECRET)
    with pytest.raises(SignatureError):
        ci.verify(headers, body, "another secret")
    del headers["X-Hub-Signature-256"]
    with pytest.raises(SignatureError, match="missing"):
        ci.verify(headers, body, SECRET)


def test_gitlab_token() -> None:
    headers, body = deliver("gitlab_pipeline_failed")
    assert headers["X-Gitlab-Token"] == SECRET
    ci.verify({k.lower(): v for k, v in headers.items()}, body, SECRET)
    with pytest.raises(SignatureError, match="does not match"):
        ci.verify(headers | {"X-Gitlab-Token": SECRET + "x"}, body, SECRET)
    with pytest.raises(SignatureError, match="no secret"):
        ci.verify(headers, body, "")
    del headers["X-Gitlab-Token"]
    with pytest.raises(SignatureError, match="missing"):
        ci.verify(headers, body, SECRET)


def test_circleci_v1_signature() -> None:
    headers, body = deliver("circleci_workflow_failed")
    good = headers["circleci-signature"]
    assert good.startswith("v1=")
    ci.verify(headers, body, SECRET)
    ci.verify(headers | {"circleci-signature": f"v2=abcd,{good}"}, body, SECRET)
    ci.verify(headers | {"circleci-signature": f"v1={'0' * 64},{good}"}, body, SECRET)
    with pytest.raises(SignatureError, match="does not match"):
        ci.verify(headers, body.replace(b"failed", b"success"), SECRET)
    with pytest.raises(SignatureError, match="missing"):
        ci.verify({k: v for k, v in headers.items() if k != "circleci-signature"}, body, SECRET)


@pytest.mark.parametrize("header", ["v2=" + "ab" * 32, "v0=" + "ab" * 32 + ",v2=ff", "sha256=x"])
def test_circleci_header_without_v1_is_refused(header: str) -> None:
    """Only v1 exists: a header with only other versions is a downgrade, not a pass."""
    headers, body = deliver("circleci_job_failed")
    with pytest.raises(SignatureError, match="only v1"):
        ci.verify(headers | {"circleci-signature": header}, body, SECRET)


def test_circleci_sign_matches_the_documented_vector() -> None:
    """PROTOCOLS.md: ("hello world", "secret") signs as v1=734cc62f…623a."""
    value = ci.sign_as("circleci", b"hello world", "secret")["circleci-signature"]
    assert value.startswith("v1=734cc62f")
    assert value.endswith("623a")


def test_jenkins_url_token_is_the_credential() -> None:
    body = (SAMPLES / "jenkins_started.json").read_bytes()
    assert ci.sign(body, SECRET) == {}
    ci.verify(ci.sample_headers("jenkins_started"), body, SECRET)


def test_jenkins_basic_auth_password_must_be_the_secret() -> None:
    headers, body = deliver("jenkins_failed")
    ci.verify(headers | {"Authorization": basic("jenkins", SECRET)}, body, SECRET)
    ci.verify(headers | jenkins.basic_auth(SECRET), body, SECRET)
    encoded = "p@ss:w/rd"
    ci.verify(headers | {"authorization": basic("ci", quote(encoded, safe=""))}, body, encoded)
    with pytest.raises(SignatureError, match="does not match"):
        ci.verify(headers | {"Authorization": basic("jenkins", "guess")}, body, SECRET)
    with pytest.raises(SignatureError, match="no password"):
        ci.verify(
            headers | {"Authorization": "Basic " + base64.b64encode(b"x").decode()}, body, SECRET
        )
    with pytest.raises(SignatureError, match="base64"):
        ci.verify(headers | {"Authorization": "Basic !!!"}, body, SECRET)
    with pytest.raises(SignatureError, match="scheme"):
        ci.verify(headers | {"Authorization": f"Bearer {SECRET}"}, body, SECRET)


@pytest.mark.parametrize("name", sorted(ci.SAMPLES))
def test_sign_reads_the_provider_from_the_body(name: str) -> None:
    body = (SAMPLES / f"{name}.json").read_bytes()
    assert ci.sign(body, SECRET) == ci.sign_as(ci.sample_provider(name), body, SECRET)


def test_sign_as_refuses_unknown_providers() -> None:
    with pytest.raises(ValueError, match="unknown"):
        ci.sign_as("travis", b"{}", SECRET)


# --------------------------------------------------------------------------- jenkins


def test_jenkins_started() -> None:
    event = only(parse("jenkins_started"), "pipeline.started")
    assert event.fields["project"] == "backend/payments-api"
    assert event.branch == "main"  # `origin/main` from the Git plugin
    assert event.fields["commit"] == "9fceb02d0ae598e95dc970b74767f19372d61af8"
    assert event.url == "https://jenkins.example.com/job/backend/job/payments-api/214/"
    assert (
        event.fields["project_url"] == "https://jenkins.example.com/job/backend/job/payments-api/"
    )
    assert event.fields["duration"] is None
    assert dig(event, "pipeline", "number") == 214


def test_jenkins_completed_success_reports_duration_and_tests() -> None:
    event = only(parse("jenkins_success"), "pipeline.success")
    assert event.fields["duration"] == 204
    assert event.fields["test_summary"] == {"total": 412, "failed": 0, "skipped": 3, "passed": 409}
    assert event.fields["failed_jobs"] == []
    assert event.fields["culprits"] == ["dana"]


def test_jenkins_finalized_unstable_is_a_failure_with_its_tests() -> None:
    event = only(parse("jenkins_failed"), "pipeline.failed")
    assert event.fields["result"] == "UNSTABLE"
    assert event.fields["failed_jobs"] == [
        {
            "name": "backend/payments-api #215",
            "stage": None,
            "reason": "2 of 412 tests failed",
            "url": "https://jenkins.example.com/job/backend/job/payments-api/215/",
        }
    ]
    assert len(dig(event, "failed_tests")) == 2
    assert str(event.fields["log"]).endswith("Finished: UNSTABLE")


@pytest.mark.parametrize(
    ("result", "kind"),
    [
        ("SUCCESS", "pipeline.success"),
        ("FAILURE", "pipeline.failed"),
        ("UNSTABLE", "pipeline.failed"),
        ("ABORTED", "pipeline.cancelled"),
        ("NOT_BUILT", "pipeline.cancelled"),
    ],
)
def test_jenkins_results(result: str, kind: str) -> None:
    payload = sample("jenkins_aborted")
    payload["build"]["status"] = result
    assert [event.kind for event in parse("jenkins_aborted", payload)] == [kind]


def test_jenkins_failure_without_tests_says_its_result() -> None:
    payload = sample("jenkins_aborted")
    payload["build"]["status"] = "FAILURE"
    event = parse("jenkins_aborted", payload)[0]
    assert dig(event, "failed_jobs", 0, "reason") == "failure"
    assert event.fields["project"] == "nightly-e2e"


def test_jenkins_queued_reports_nothing_and_unknowns_are_unsupported() -> None:
    payload = sample("jenkins_started")
    payload["build"]["phase"] = "QUEUED"
    assert parse("jenkins_started", payload) == []
    payload["build"]["phase"] = "PAUSED"
    with pytest.raises(UnsupportedEventError, match="PAUSED"):
        parse("jenkins_started", payload)
    payload = sample("jenkins_success")
    payload["build"]["status"] = "WEIRD"
    with pytest.raises(UnsupportedEventError, match="WEIRD"):
        parse("jenkins_success", payload)
    del payload["build"]["status"]
    with pytest.raises(UnsupportedEventError):
        parse("jenkins_success", payload)


def test_jenkins_minimal_body() -> None:
    """The plugin's own help example: name, a relative url, number and phase only."""
    body = b'{"name":"JobName","url":"JobUrl","build":{"number":1,"phase":"STARTED"}}'
    (event,) = ci.parse({}, body, {})
    assert (event.kind, event.source, event.url, event.branch) == (
        "pipeline.started",
        "JobName",
        None,
        None,
    )


# --------------------------------------------------------------------------- circleci


def test_circleci_workflow() -> None:
    event = only(parse("circleci_workflow_success"), "pipeline.success")
    assert event.fields["project"] == "acme/mobile-app"
    assert event.fields["workflow"] == "build-and-test"
    assert dig(event, "pipeline", "number") == 1287
    assert event.branch == "main"
    assert event.fields["duration"] == 282
    assert event.fields["commit_message"] == "Cache the onboarding images"
    assert event.fields["commit_url"] == (
        "https://github.com/acme/mobile-app/commit/4d3c2b1a0f9e8d7c6b5a49382716051f4e3d2c1b"
    )
    assert event.actor == "Priya Raman"
    assert event.delivery_id == sample("circleci_workflow_success")["id"]


def test_circleci_failed_job_is_its_own_failed_job() -> None:
    event = only(parse("circleci_job_failed"), "job.failed")
    assert event.fields["job"] == "android-instrumented-tests"
    (failed,) = dig(event, "failed_jobs")
    assert failed["name"] == "android-instrumented-tests"
    assert failed["url"].endswith("/workflows/c7d8e9f0-a1b2-4c3d-9e4f-5a6b7c8d9e0f/jobs/5419")


def test_circleci_trigger_parameters_shape() -> None:
    """GitLab and GitHub App projects: branch, commit and user from trigger_parameters."""
    payload = sample("circleci_job_success")
    pipeline = payload["pipeline"]
    del pipeline["vcs"]
    pipeline["trigger_parameters"] = {
        "gitlab": {
            "web_url": "https://gitlab.com/acme/mobile-app",
            "user_username": "priya",
            "commit_title": "Cache images",
            "branch": "main",
        },
        "git": {
            "tag": "",
            "checkout_sha": "850a1519f25d",
            "ref": "refs/heads/main",
            "branch": "main",
        },
        "circleci": {"event_type": "push"},
    }
    event = parse("circleci_job_success", payload)[0]
    assert (event.branch, event.actor, event.fields["tag"]) == ("main", "priya", None)
    assert event.fields["commit_url"] == "https://gitlab.com/acme/mobile-app/-/commit/850a1519f25d"
    assert event.fields["commit_message"] == "Cache images"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("canceled", "pipeline.cancelled"),
        ("error", "pipeline.failed"),
        ("unauthorized", "pipeline.failed"),
    ],
)
def test_circleci_statuses(status: str, kind: str) -> None:
    payload = sample("circleci_workflow_failed")
    payload["workflow"]["status"] = status
    assert [event.kind for event in parse("circleci_workflow_failed", payload)] == [kind]


def test_circleci_unknowns_are_unsupported() -> None:
    payload = sample("circleci_workflow_failed")
    payload["workflow"]["status"] = "on_hold"
    with pytest.raises(UnsupportedEventError, match="on_hold"):
        parse("circleci_workflow_failed", payload)
    with pytest.raises(UnsupportedEventError, match="ping"):
        parse("circleci_workflow_failed", None, **{"circleci-event-type": "ping"})


# --------------------------------------------------------------------------- gitlab


def test_gitlab_failed_pipeline_lists_its_failed_jobs() -> None:
    event = only(parse("gitlab_pipeline_failed"), "pipeline.failed")
    assert event.fields["project"] == "acme/storefront"
    assert (event.fields["stage"], event.fields["job"]) == ("Test", "unit-tests")
    assert event.fields["duration"] == 204
    assert event.fields["failed_jobs"] == [
        {
            "name": "unit-tests",
            "stage": "Test",
            "reason": "script failure",
            "url": "https://gitlab.example.com/acme/storefront/-/jobs/501309",
        },
        {
            "name": "e2e-checkout",
            "stage": "Test",
            "reason": "job execution timeout",
            "url": "https://gitlab.example.com/acme/storefront/-/jobs/501310",
        },
    ]
    assert event.actor == "sam"
    assert event.url == "https://gitlab.example.com/acme/storefront/-/pipelines/88140"


def test_gitlab_passed_pipeline_lists_no_failures() -> None:
    payload = sample("gitlab_pipeline_failed")
    payload["object_attributes"]["status"] = "success"
    (event,) = parse("gitlab_pipeline_failed", payload)
    assert (event.kind, event.fields["failed_jobs"], event.fields["stage"]) == (
        "pipeline.success",
        [],
        None,
    )


def test_gitlab_running_is_started_until_a_job_finished() -> None:
    event = only(parse("gitlab_pipeline_started"), "pipeline.started")
    assert event.fields["stage"] == "Build"
    payload = sample("gitlab_stage_passed")
    payload["object_attributes"]["status"] = "running"
    payload["builds"][1]["status"] = "running"  # unit-tests picked up
    payload["builds"][1]["started_at"] = "2026-11-20 10:00:12 UTC"
    assert [event.kind for event in parse("gitlab_stage_passed", payload)] == ["pipeline.running"]


@pytest.mark.parametrize("status", ["pending", "created", "waiting_for_resource", "scheduled"])
def test_gitlab_pipeline_not_started_reports_nothing(status: str) -> None:
    payload = sample("gitlab_pipeline_started")
    payload["object_attributes"]["status"] = status
    payload["builds"][-1].update(status="pending", started_at=None)
    assert parse("gitlab_pipeline_started", payload) == []


def test_gitlab_unknown_pipeline_status_is_unsupported() -> None:
    payload = sample("gitlab_pipeline_started")
    payload["object_attributes"]["status"] = "teleporting"
    with pytest.raises(UnsupportedEventError, match="teleporting"):
        parse("gitlab_pipeline_started", payload)


def test_gitlab_stage_passed_between_stages() -> None:
    event = only(parse("gitlab_stage_passed"), "stage.success")
    assert (event.fields["stage"], event.fields["next_stage"]) == ("Build", "Test")
    assert event.fields["duration"] == 105
    assert dig(event, "pipeline", "status") == "running"
    assert event.subject == "ci:gitlab:acme/storefront@main#stage:Build"


def test_gitlab_stage_failed_while_a_cleanup_stage_waits() -> None:
    event = only(parse("gitlab_stage_failed"), "stage.failed")
    assert (event.fields["stage"], event.fields["next_stage"]) == ("Test", "Cleanup")
    assert event.fields["job"] == "unit-tests"
    assert [job["name"] for job in dig(event, "failed_jobs")] == ["unit-tests"]


def test_gitlab_stage_is_not_reported_again_once_the_next_began() -> None:
    payload = sample("gitlab_stage_passed")
    payload["object_attributes"]["status"] = "running"
    payload["builds"][2]["status"] = "running"  # lint started
    payload["builds"][2]["started_at"] = "2026-11-20 10:00:15 UTC"
    assert [event.kind for event in parse("gitlab_stage_passed", payload)] == ["pipeline.running"]


def test_gitlab_stage_is_not_guessed_when_needs_lets_a_later_stage_start() -> None:
    payload = sample("gitlab_stage_passed")
    payload["builds"][0].update(status="running", started_at="2026-11-20 10:00:11 UTC")
    assert [event.kind for event in parse("gitlab_stage_passed", payload)] == ["pipeline.running"]


def test_gitlab_stage_needs_the_jobs_list() -> None:
    payload = sample("gitlab_stage_passed")
    payload["builds"] = []
    payload["object_attributes"]["status"] = "running"
    assert [event.kind for event in parse("gitlab_stage_passed", payload)] == ["pipeline.started"]


def test_gitlab_stage_order_without_stages_follows_job_ids() -> None:
    payload = sample("gitlab_stage_passed")
    del payload["object_attributes"]["stages"]
    event = only(parse("gitlab_stage_passed", payload), "stage.success")
    assert (event.fields["stage"], event.fields["next_stage"]) == ("Build", "Test")


def test_gitlab_job_hooks() -> None:
    assert [e.kind for e in parse("gitlab_job_started")] == ["job.started"]
    event = only(parse("gitlab_job_failed"), "job.failed")
    assert (event.fields["job"], event.fields["stage"]) == ("unit-tests", "Test")
    assert dig(event, "failed_jobs", 0, "reason") == "script failure"
    assert event.fields["duration"] == 74
    assert dig(event, "pipeline", "status") == "running"
    assert event.url == "https://gitlab.example.com/acme/storefront/-/jobs/501309"


def test_gitlab_allowed_failure_is_a_failed_job_but_no_failure_reason() -> None:
    payload = sample("gitlab_job_failed")
    payload["build_allow_failure"] = True
    event = parse("gitlab_job_failed", payload)[0]
    assert (event.kind, event.fields["failed_jobs"], event.fields["allow_failure"]) == (
        "job.failed",
        [],
        True,
    )


@pytest.mark.parametrize("status", ["created", "pending", "manual", "skipped"])
def test_gitlab_jobs_not_running_report_nothing(status: str) -> None:
    payload = sample("gitlab_job_started")
    payload["build_status"] = status
    assert parse("gitlab_job_started", payload) == []


def test_gitlab_deployments() -> None:
    event = only(parse("gitlab_deploy"), "deploy.success")
    assert (event.fields["environment"], event.fields["environment_url"]) == (
        "production",
        "https://shop.example.com",
    )
    assert event.fields["commit"] == "a3f9c1e07b6d5428f1e0c9b8a7d6e5f4c3b2a190"
    payload = sample("gitlab_deploy")
    payload["status"] = "failed"
    assert [e.kind for e in parse("gitlab_deploy", payload)] == ["deploy.failed"]
    payload["status"] = "running"
    assert parse("gitlab_deploy", payload) == []


def test_gitlab_routes_on_object_kind_and_refuses_other_hooks() -> None:
    assert parse("gitlab_job_failed", None, **{"X-Gitlab-Event": "Pipeline Hook"})[0].kind == (
        "job.failed"
    )
    payload = sample("gitlab_job_failed")
    del payload["object_kind"]
    assert parse("gitlab_job_failed", payload)[0].kind == "job.failed"
    push = {"object_kind": "push", "ref": "refs/heads/main"}
    with pytest.raises(UnsupportedEventError, match="not a CI event"):
        parse("gitlab_job_failed", push, **{"X-Gitlab-Event": "Push Hook"})


# --------------------------------------------------------------------------- actions


@pytest.mark.parametrize(
    ("action", "conclusion", "kinds"),
    [
        ("requested", None, ["pipeline.started"]),
        ("in_progress", None, ["pipeline.running"]),
        ("completed", "success", ["pipeline.success"]),
        ("completed", "failure", ["pipeline.failed"]),
        ("completed", "timed_out", ["pipeline.failed"]),
        ("completed", "cancelled", ["pipeline.cancelled"]),
        ("completed", "skipped", []),
    ],
)
def test_actions_workflow_run(action: str, conclusion: str | None, kinds: list[str]) -> None:
    payload = sample("actions_run_failed")
    payload["action"] = action
    payload["workflow_run"]["conclusion"] = conclusion
    assert [event.kind for event in parse("actions_run_failed", payload)] == kinds


def test_actions_workflow_run_fields() -> None:
    event = only(parse("actions_run_failed"), "pipeline.failed")
    assert (event.fields["project"], event.fields["workflow"], event.branch) == (
        "acme/api-gateway",
        "CI",
        "main",
    )
    assert dig(event, "pipeline", "number") == 918
    assert event.fields["duration"] == 196
    assert event.actor == "mona"
    assert event.fields["commit_message"] == "Retry upstream calls on 503"
    assert event.subject == "ci:actions:acme/api-gateway/CI@main"


def test_actions_approval_wait_is_a_start_that_says_so() -> None:
    payload = sample("actions_run_started")
    payload["workflow_run"].update(status="completed", conclusion="action_required")
    event = parse("actions_run_started", payload)[0]
    assert (event.kind, event.fields["result"]) == ("pipeline.started", "action_required")


def test_actions_failed_job_names_its_failed_step() -> None:
    event = only(parse("actions_job_failed"), "job.failed")
    (failed,) = dig(event, "failed_jobs")
    assert failed["reason"] == 'failed at step "Run go test ./..."'
    assert event.fields["failed_steps"] == ["Run go test ./..."]
    assert dig(event, "pipeline", "url") == (
        "https://github.com/acme/api-gateway/actions/runs/11873402211"
    )


@pytest.mark.parametrize("action", ["queued", "waiting"])
def test_actions_waiting_jobs_report_nothing(action: str) -> None:
    payload = sample("actions_job_failed")
    payload["action"] = action
    assert parse("actions_job_failed", payload) == []


def test_actions_check_suite_and_deployments() -> None:
    suite = only(parse("actions_check_suite_passed"), "pipeline.success")
    assert (suite.fields["workflow"], suite.branch, suite.fields["duration"]) == (
        "GitHub Actions",
        "release/2.4",
        267,
    )
    payload = sample("actions_check_suite_passed")
    payload["action"] = "requested"
    assert parse("actions_check_suite_passed", payload)[0].kind == "pipeline.started"

    deploy = only(parse("actions_deploy_failed"), "deploy.failed")
    assert deploy.fields["description"] == "Health check failed after rollout"
    assert (
        deploy.url == "https://github.com/acme/api-gateway/actions/runs/11873511930/job/33019884410"
    )
    payload = sample("actions_deploy_failed")
    payload["deployment_status"]["state"] = "in_progress"
    assert parse("actions_deploy_failed", payload) == []


@pytest.mark.parametrize("event", ["push", "ping", "pull_request", "check_run"])
def test_actions_other_github_events_are_unsupported(event: str) -> None:
    with pytest.raises(UnsupportedEventError, match="not a CI event"):
        parse("actions_run_failed", None, **{"X-GitHub-Event": event})


def test_actions_unknown_action_or_conclusion_is_unsupported() -> None:
    payload = sample("actions_run_failed")
    payload["workflow_run"]["conclusion"] = "exploded"
    with pytest.raises(UnsupportedEventError, match="exploded"):
        parse("actions_run_failed", payload)
    payload["action"] = "deleted"
    with pytest.raises(UnsupportedEventError, match="deleted"):
        parse("actions_run_failed", payload)


def test_actions_form_encoded_delivery() -> None:
    """GitHub's legacy content type: the JSON in a `payload` form field."""
    json_body = (SAMPLES / "actions_run_failed.json").read_bytes()
    body = b"payload=" + quote(json_body.decode(), safe="").encode()
    headers = ci.sample_headers("actions_run_failed") | {
        "Content-Type": "application/x-www-form-urlencoded"
    }
    headers |= ci.sign_as("actions", body, SECRET)
    ci.verify(headers, body, SECRET)
    assert [e.kind for e in ci.parse(headers, body)] == ["pipeline.failed"]
    with pytest.raises(PayloadError, match="payload"):
        ci.parse(headers, b"other=1")


# --------------------------------------------------------------------------- the model


def test_subjects_follow_a_branch_so_alerts_fire_when_it_breaks() -> None:
    started = parse("gitlab_pipeline_started")[0]
    failed = parse("gitlab_pipeline_failed")[0]
    assert started.subject == failed.subject == "ci:gitlab:acme/storefront@main"
    job = parse("gitlab_job_failed")[0]
    assert job.subject == "ci:gitlab:acme/storefront@main#job:unit-tests"
    deploy = parse("gitlab_deploy")[0]
    assert deploy.subject == "ci:gitlab:acme/storefront#deploy:production"


def test_titles() -> None:
    assert (
        parse("gitlab_pipeline_failed")[0].title == "Pipeline failed: acme/storefront #646 on main"
    )
    assert parse("circleci_job_failed")[0].title == (
        'Job "android-instrumented-tests" failed: acme/mobile-app › build-and-test'
        " on feature/refund-screen"
    )
    assert (
        parse("gitlab_deploy")[0].title == "Deploy to production succeeded: acme/storefront on main"
    )


def test_to_event_refuses_kinds_outside_the_model() -> None:
    run = _ci.CiRun(provider="jenkins", kind="pipeline.queued", delivery_id="", project="p")
    with pytest.raises(ValueError, match=r"pipeline\.queued"):
        _ci.to_event(run)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2016-08-12 15:23:28 UTC", "2016-08-12T15:23:28+00:00"),
        ("2021-04-28 21:50:00 +0200", "2021-04-28T19:50:00+00:00"),
        ("2026-11-20T10:12:03.412+00:00", "2026-11-20T10:12:03.412000+00:00"),
        ("2021-09-01T22:49:34.279Z", "2021-09-01T22:49:34.279000+00:00"),
        ("2024-01-01T00:00:00", "2024-01-01T00:00:00+00:00"),
        ("yesterday", None),
        ("", None),
        ("9999-12-31T23:59:59-23:59", None),
    ],
)
def test_timestamps(text: str, expected: str | None) -> None:
    parsed = _ci.get_time({"at": text}, "at")
    assert (parsed.isoformat() if parsed else None) == expected


def test_timestamp_of_the_wrong_type_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="at"):
        _ci.get_time({"at": 5}, "at")


# --------------------------------------------------------------------------- hostile bodies


@pytest.mark.parametrize("body", [b"[]", b"null", b'"x"', b"1", b"\xff\xfe", b"", b"{"])
@pytest.mark.parametrize("name", ["jenkins_started", "circleci_job_failed", "gitlab_deploy"])
def test_bodies_that_are_not_objects(name: str, body: bytes) -> None:
    with pytest.raises(PayloadError):
        ci.parse(ci.sample_headers(name), body)


@pytest.mark.parametrize(
    ("name", "path", "value", "where"),
    [
        ("jenkins_failed", ["build", "number"], "215", "build.number"),
        ("jenkins_failed", ["build", "scm"], [], "build.scm"),
        ("jenkins_failed", ["build", "test_summary", "failed_tests", 0], 7, "failed_tests.0"),
        ("circleci_workflow_failed", ["workflow", "status"], 5, "workflow.status"),
        ("circleci_job_failed", ["pipeline", "vcs", "branch"], {}, "pipeline.vcs.branch"),
        ("gitlab_pipeline_failed", ["builds", 1, "stage"], None, "builds.1.stage"),
        ("gitlab_pipeline_failed", ["object_attributes", "duration"], "204", "duration"),
        ("gitlab_job_failed", ["build_id"], 1.5, "build_id"),
        ("actions_run_failed", ["workflow_run"], [], "workflow_run"),
        ("actions_job_failed", ["workflow_job", "steps", 2], "x", "workflow_job.steps.2"),
        ("actions_deploy_failed", ["deployment", "ref"], False, "deployment.ref"),
    ],
)
def test_wrong_types_name_their_path(name: str, path: list[Any], value: Any, where: str) -> None:
    payload = sample(name)
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(PayloadError) as caught:
        parse(name, payload)
    assert where in str(caught.value)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Yield the path of every value inside a decoded JSON document."""
    yield path
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value[:3]):
            yield from _paths(inner, (*path, index))


_REPLACEMENTS: tuple[Any, ...] = (None, 7, 2.5, True, "text", [], {}, [1], {"a": 1})


@pytest.mark.parametrize("name", sorted(ci.SAMPLES))
def test_any_wrong_type_anywhere_is_a_payload_error_or_harmless(name: str) -> None:
    """Every value of every sample replaced by every other JSON type: the parser returns
    events or raises PayloadError/UnsupportedEventError, never another exception."""
    original = sample(name)
    headers = ci.sample_headers(name)
    outcomes: set[str] = set()
    for path in _paths(original):
        if not path:
            continue
        for replacement in _REPLACEMENTS:
            payload = copy.deepcopy(original)
            target = payload
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = replacement
            body = encode(payload)
            try:
                ci.identify(headers, body)
                events = ci.parse(headers, body)
            except PayloadError:
                outcomes.add("payload error")
            except UnsupportedEventError:
                outcomes.add("unsupported")
            else:
                assert all(isinstance(event, Event) for event in events)
                outcomes.add("events")
    assert {"payload error", "events"} <= outcomes
