"""CircleCI outbound webhook deliveries → CI events (the `ci` service's CircleCI side).

Pure: no I/O, no clock. CircleCI sends `circleci-event-type: workflow-completed` or
`job-completed` with a JSON body `{id, type, happened_at, project, organization,
pipeline: {number, vcs | trigger_parameters}, workflow, job}`; it sends nothing when a
workflow or job starts.

* `workflow-completed` → `pipeline.success|failed|cancelled` from `workflow.status`
  (`success`; `failed`, `error`, `unauthorized`; `canceled`). The payload does not list
  the workflow's jobs, so `failed_jobs` is empty: subscribe to job events to get them.
* `job-completed` → `job.success|failed|cancelled` from `job.status`; a failed job is its
  own `failed_jobs` entry, linked to its page in the workflow.

`project` is `<organization>/<project>` (the slug of GitLab and GitHub App projects is
made of ids). Branch, tag and commit come from `pipeline.vcs` (GitHub OAuth, Bitbucket)
or `pipeline.trigger_parameters.git` (GitLab, GitHub App); `triggered_by` is the
trigger's user name when CircleCI sends one, else the commit author.

Signature: `circleci-signature` is a comma-separated list of versioned signatures; only
`v1` (HMAC-SHA256 hex of the body) exists, and only `v1` is checked, so a header with
only other versions is refused rather than trusted (no downgrade). Dedupe on the body's
`id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TypedDict

from parsers._ci import (
    CiRun,
    FailedJob,
    between,
    first_line,
    get_time,
    nonempty,
    to_event,
    words,
)
from parsers._headers import header
from parsers._json import as_dict, get_dict, get_opt_dict, get_opt_int, get_opt_str, get_str
from parsers.errors import SignatureError, UnsupportedEventError
from parsers.event import JSON, Event
from parsers.signatures import sign_hmac_sha256, verify_hmac_sha256

PROVIDER = "circleci"
EVENT_HEADER = "circleci-event-type"
SIGNATURE_HEADER = "circleci-signature"

_STATES = {
    "success": "success",
    "failed": "failed",
    "error": "failed",
    "unauthorized": "failed",
    "infrastructure_fail": "failed",
    "timedout": "failed",
    "canceled": "cancelled",
    "cancelled": "cancelled",
}
_COMMIT_PATHS = {"github": "/commit/", "gitlab": "/-/commit/", "bitbucket": "/commits/"}


def delivery_id(payload: Mapping[str, JSON]) -> str | None:
    """Return the body's `id` (CircleCI's dedupe key), or None when absent or not a string."""
    value = payload.get("id")
    return value if isinstance(value, str) and value.strip() else None


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Check the `v1` signature of `circleci-signature` against the hook's secret.

    Args:
        headers: The request headers; names match case-insensitively.
        body: The raw body bytes as received.
        secret: The hook's signing secret.

    Raises:
        SignatureError: The header is missing, has no `v1` entry (only other versions),
            or no `v1` entry matches.
    """
    value = header(headers, SIGNATURE_HEADER)
    if value is None or not value.strip():
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    entries = [part.strip() for part in value.split(",") if part.strip()]
    v1 = [entry for entry in entries if entry[:3].lower() == "v1="]
    if not v1:
        versions = ", ".join(sorted({entry.partition("=")[0] for entry in entries}))
        raise SignatureError(f"no v1 signature (sent: {versions or 'none'}); only v1 is accepted")
    errors: list[SignatureError] = []
    for entry in v1:
        try:
            verify_hmac_sha256(body, entry, secret, prefix="v1=")
        except SignatureError as exc:
            errors.append(exc)
        else:
            return
    raise errors[0]


def sign(body: bytes, secret: str) -> dict[str, str]:
    """Return the signature header CircleCI sends with `body`."""
    digest = sign_hmac_sha256(body, secret).partition("=")[2]
    return {SIGNATURE_HEADER: f"v1={digest}"}


def parse_payload(event: str, delivery: str, payload: dict[str, JSON]) -> list[Event]:
    """Turn a CircleCI delivery into CI events.

    Args:
        event: The `circleci-event-type` value.
        delivery: The body's `id`, or "".
        payload: The decoded body.

    Returns:
        One event.

    Raises:
        PayloadError: A required value is missing or has the wrong type.
        UnsupportedEventError: Another event type, or a status CircleCI does not document.
    """
    if event == "workflow-completed":
        return [_workflow(delivery, payload)]
    if event == "job-completed":
        return [_job(delivery, payload)]
    raise UnsupportedEventError(f"CircleCI event {event!r} is not supported")


def _state(status: str, path: str) -> str:
    """Map a workflow or job status onto the model's states."""
    state = _STATES.get(status.lower())
    if state is None:
        raise UnsupportedEventError(f"CircleCI status {status!r} at {path!r} is not supported")
    return state


class _Common(TypedDict):
    """The CiRun arguments both events share."""

    provider: str
    delivery_id: str
    project: str
    project_url: str | None
    number: int | None
    branch: str | None
    tag: str | None
    commit: str | None
    commit_message: str | None
    commit_url: str | None
    triggered_by: str | None
    occurred_at: datetime | None


def _common(delivery: str, payload: Mapping[str, JSON]) -> _Common:
    """Read what both events share: project, pipeline, source control, trigger."""
    org = get_opt_str(payload, "organization.name")
    name = get_str(payload, "project.name")
    pipeline = get_dict(payload, "pipeline")
    vcs = get_opt_dict(pipeline, "vcs", at="pipeline") or {}
    params = get_opt_dict(pipeline, "trigger_parameters", at="pipeline") or {}
    git = get_opt_dict(params, "git", at="pipeline.trigger_parameters") or {}
    vcs_at, git_at = "pipeline.vcs", "pipeline.trigger_parameters.git"
    commit = get_opt_str(vcs, "revision", at=vcs_at) or get_opt_str(git, "checkout_sha", at=git_at)
    project_url, host = _repository(vcs, params)
    commit_path = _COMMIT_PATHS.get(host or "")
    message = get_opt_str(vcs, "commit.subject", at=vcs_at)
    triggered_by, message_from_trigger = _trigger(params)
    return {
        "provider": PROVIDER,
        "delivery_id": delivery,
        "project": f"{org}/{name}" if org else name,
        "project_url": project_url,
        "number": get_opt_int(pipeline, "number", at="pipeline"),
        "branch": nonempty(get_opt_str(vcs, "branch", at=vcs_at))
        or nonempty(get_opt_str(git, "branch", at=git_at)),
        "tag": nonempty(get_opt_str(vcs, "tag", at=vcs_at))
        or nonempty(get_opt_str(git, "tag", at=git_at)),
        "commit": nonempty(commit),
        "commit_message": first_line(message or message_from_trigger),
        "commit_url": f"{project_url}{commit_path}{commit}"
        if project_url and commit_path and commit
        else None,
        "triggered_by": triggered_by or get_opt_str(vcs, "commit.author.name", at=vcs_at),
        "occurred_at": get_time(payload, "happened_at"),
    }


def _repository(
    vcs: Mapping[str, JSON], params: Mapping[str, JSON]
) -> tuple[str | None, str | None]:
    """Return the repository's web page and its host kind (`github`, `gitlab`, …)."""
    url = get_opt_str(vcs, "target_repository_url", at="pipeline.vcs")
    if url:
        provider = (get_opt_str(vcs, "provider_name", at="pipeline.vcs") or "").lower()
        return url, provider or None
    for host, raw in params.items():
        if host in ("git", "circleci") or not isinstance(raw, dict):
            continue
        web = get_opt_str(raw, "web_url", at=f"pipeline.trigger_parameters.{host}")
        if web:
            return web, "gitlab" if host == "gitlab" else "github" if "github" in host else host
    return None, None


def _trigger(params: Mapping[str, JSON]) -> tuple[str | None, str | None]:
    """Return the triggering user and commit title a GitLab or GitHub App trigger carries."""
    for host, raw in params.items():
        if host in ("git", "circleci") or not isinstance(raw, dict):
            continue
        at = f"pipeline.trigger_parameters.{host}"
        user = get_opt_str(raw, "user_username", at=at) or get_opt_str(raw, "user_name", at=at)
        title = get_opt_str(raw, "commit_title", at=at)
        if user or title:
            return user, title
    return None, None


def _workflow(delivery: str, payload: Mapping[str, JSON]) -> Event:
    """Shape `workflow-completed` as `pipeline.*`."""
    workflow = get_dict(payload, "workflow")
    status = get_str(workflow, "status", at="workflow")
    name = get_str(workflow, "name", at="workflow")
    url = get_opt_str(workflow, "url", at="workflow")
    run = CiRun(
        kind=f"pipeline.{_state(status, 'workflow.status')}",
        result=status,
        workflow=name,
        pipeline_id=get_opt_str(workflow, "id", at="workflow"),
        pipeline_url=url,
        url=url,
        duration=between(
            get_time(workflow, "created_at", at="workflow"),
            get_time(workflow, "stopped_at", at="workflow"),
        ),
        **_common(delivery, payload),
    )
    return to_event(run)


def _job(delivery: str, payload: Mapping[str, JSON]) -> Event:
    """Shape `job-completed` as `job.*`; a failed job lists itself in `failed_jobs`."""
    job = get_dict(payload, "job")
    status = get_str(job, "status", at="job")
    name = get_str(job, "name", at="job")
    state = _state(status, "job.status")
    raw_workflow = payload.get("workflow")
    workflow = as_dict(raw_workflow, "workflow") if raw_workflow is not None else {}
    workflow_url = get_opt_str(workflow, "url", at="workflow")
    number = get_opt_int(job, "number", at="job")
    url = f"{workflow_url}/jobs/{number}" if workflow_url and number is not None else workflow_url
    failed = (FailedJob(name, None, words(status), url),) if state == "failed" else ()
    run = CiRun(
        kind=f"job.{state}",
        result=status,
        workflow=get_opt_str(workflow, "name", at="workflow"),
        pipeline_id=get_opt_str(workflow, "id", at="workflow"),
        pipeline_url=workflow_url,
        url=url,
        job=name,
        duration=between(
            get_time(job, "started_at", at="job"), get_time(job, "stopped_at", at="job")
        ),
        failed_jobs=failed,
        **_common(delivery, payload),
    )
    return to_event(run)
