"""GitHub Actions webhook deliveries (workflow runs, jobs, check suites) → CI events.

Pure: no I/O, no clock. This reads GitHub's payloads for the `ci` service on its own;
the `github` service (parsers/github.py) keeps GitHub's own kinds for the same events.
Only the CI events below are handled; any other `X-GitHub-Event` (ping, push, …) is
unsupported here.

* `workflow_run`: action `requested` → `pipeline.started` (the run was created;
  `result` is `action_required` when it waits for approval); `in_progress` →
  `pipeline.running`; `completed` → by `conclusion` (below).
* `workflow_job`: `in_progress` → `job.started`; `completed` → `job.*` by conclusion, a
  failed job naming its failed steps; `queued` and `waiting` → nothing.
* `check_suite` (all checks one app ran on a commit): `requested`, `rerequested` →
  `pipeline.started`; `completed` → by conclusion. It reports the same runs as
  workflow_run for GitHub Actions itself: subscribe to one of the two.
* `deployment_status`: `success` → `deploy.success`; `failure`, `error` →
  `deploy.failed`; other states → nothing.

Conclusions: `success`, `neutral` → success; `failure`, `timed_out`, `startup_failure`,
`action_required` → failed; `cancelled`, `stale` → cancelled; `skipped` → nothing (a
job or run whose condition was false did not run). The workflow run payload does not list
its jobs, so a failed run's `failed_jobs` is empty: subscribe to workflow jobs for them.

Signature as for the github service: `X-Hub-Signature-256` (parsers.github.verify).
"""

from __future__ import annotations

from collections.abc import Mapping

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
from parsers._json import as_dict, get_dict, get_opt_int, get_opt_list, get_opt_str, get_str
from parsers.errors import PayloadError, UnsupportedEventError
from parsers.event import JSON, Event

PROVIDER = "actions"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"

_CONCLUSIONS = {
    "success": "success",
    "neutral": "success",
    "failure": "failed",
    "timed_out": "failed",
    "startup_failure": "failed",
    "action_required": "failed",
    "cancelled": "cancelled",
    "stale": "cancelled",
}
_NOT_RUN = frozenset({"skipped"})
_DEPLOY_STATES = {"success": "success", "failure": "failed", "error": "failed"}
_MAX_STEPS = 5
# Where a deployment status links to, best first (its `url` is the REST API's).
_DEPLOY_LINKS = ("target_url", "log_url", "environment_url")


def parse_payload(event: str, delivery: str, payload: dict[str, JSON]) -> list[Event]:
    """Turn a GitHub workflow run, workflow job, check suite or deployment status into events.

    Args:
        event: The `X-GitHub-Event` value.
        delivery: The `X-GitHub-Delivery` value, or "".
        payload: The decoded body.

    Returns:
        The events (none for actions and states the model does not report).

    Raises:
        PayloadError: A required value is missing or has the wrong type.
        UnsupportedEventError: Another event, or an action or conclusion GitHub does not
            document.
    """
    handler = _EVENTS.get(event)
    if handler is None:
        raise UnsupportedEventError(
            f"GitHub event {event!r} is not a CI event (workflow_run, workflow_job, "
            "check_suite, deployment_status)"
        )
    return handler(delivery, payload)


def _state(conclusion: str | None, path: str) -> str | None:
    """Map a conclusion onto a model state; None for one that means "did not run"."""
    if conclusion in _NOT_RUN:
        return None
    state = _CONCLUSIONS.get(conclusion or "")
    if state is None:
        raise UnsupportedEventError(
            f"GitHub conclusion {conclusion!r} at {path!r} is not supported"
        )
    return state


def _action_state(
    event: str, action: str, in_flight: Mapping[str, str], conclusion: str | None
) -> str | None:
    """Map an `event` delivery's action onto a model state (None: nothing to post).

    `in_flight` names the states of the actions before completion; `completed` goes by
    its conclusion (`_state`); any other action is not supported.
    """
    if action in in_flight:
        return in_flight[action]
    if action == "completed":
        return _state(conclusion, f"{event}.conclusion")
    raise UnsupportedEventError(f"GitHub {event} action {action!r} is not supported")


def _repository(payload: Mapping[str, JSON]) -> tuple[str, str | None]:
    """Return the repository's full name and web page."""
    return get_str(payload, "repository.full_name"), get_opt_str(payload, "repository.html_url")


def _commit_url(repo_url: str | None, sha: str | None) -> str | None:
    """Return a commit's web page."""
    return f"{repo_url}/commit/{sha}" if repo_url and sha else None


def _sender(payload: Mapping[str, JSON]) -> tuple[str | None, str | None]:
    """Return the sender's login and avatar."""
    return get_opt_str(payload, "sender.login"), get_opt_str(payload, "sender.avatar_url")


def _action(payload: Mapping[str, JSON]) -> str:
    """Return the delivery's action."""
    return get_str(payload, "action")


def _workflow_run(delivery: str, payload: Mapping[str, JSON]) -> list[Event]:
    """Shape `workflow_run` as `pipeline.*`."""
    action = _action(payload)
    at = "workflow_run"
    run = get_dict(payload, at)
    conclusion = get_opt_str(run, "conclusion", at=at)
    in_flight = {"requested": "started", "in_progress": "running"}
    state = _action_state(at, action, in_flight, conclusion)
    if state is None:
        return []
    project, repo_url = _repository(payload)
    sender, avatar = _sender(payload)
    name = (
        nonempty(get_opt_str(run, "name", at=at))
        or nonempty(get_opt_str(payload, "workflow.name"))
        or get_opt_str(run, "path", at=at)
        or "workflow"
    )
    sha = get_opt_str(run, "head_sha", at=at)
    url = get_opt_str(run, "html_url", at=at)
    started = get_time(run, "run_started_at", at=at) or get_time(run, "created_at", at=at)
    updated = get_time(run, "updated_at", at=at)
    ci = CiRun(
        provider=PROVIDER,
        kind=f"pipeline.{state}",
        delivery_id=delivery,
        project=project,
        project_url=repo_url,
        result=conclusion or get_opt_str(run, "status", at=at),
        workflow=name,
        pipeline_id=get_opt_int(run, "id", at=at),
        number=get_opt_int(run, "run_number", at=at),
        pipeline_url=url,
        url=url,
        branch=get_opt_str(run, "head_branch", at=at),
        commit=sha,
        commit_message=first_line(get_opt_str(run, "head_commit.message", at=at)),
        commit_url=_commit_url(repo_url, sha),
        duration=between(started, updated) if action == "completed" else None,
        triggered_by=get_opt_str(run, "triggering_actor.login", at=at)
        or get_opt_str(run, "actor.login", at=at)
        or sender,
        avatar_url=get_opt_str(run, "triggering_actor.avatar_url", at=at) or avatar,
        occurred_at=updated,
    )
    return [to_event(ci)]


def _failed_steps(job: Mapping[str, JSON], at: str) -> list[JSON]:
    """Return the names of a job's failed steps."""
    names: list[JSON] = []
    for i, item in enumerate(get_opt_list(job, "steps", at=at)):
        step_at = f"{at}.steps.{i}"
        step = as_dict(item, step_at)
        if get_opt_str(step, "conclusion", at=step_at) == "failure":
            names.append(get_opt_str(step, "name", at=step_at) or f"step {i + 1}")
    return names


def _workflow_job(delivery: str, payload: Mapping[str, JSON]) -> list[Event]:
    """Shape `workflow_job` as `job.*`."""
    action = _action(payload)
    at = "workflow_job"
    job = get_dict(payload, at)
    conclusion = get_opt_str(job, "conclusion", at=at)
    if action in ("queued", "waiting"):
        return []
    state = _action_state(at, action, {"in_progress": "started"}, conclusion)
    if state is None:
        return []
    project, repo_url = _repository(payload)
    sender, avatar = _sender(payload)
    name = get_str(job, "name", at=at)
    url = get_opt_str(job, "html_url", at=at)
    sha = get_opt_str(job, "head_sha", at=at)
    steps = _failed_steps(job, at)
    failed: tuple[FailedJob, ...] = ()
    if state == "failed":
        reason = f'failed at step "{steps[0]}"' if steps else words(conclusion)
        failed = (FailedJob(name, None, reason, url),)
    run_id = get_opt_int(job, "run_id", at=at)
    ci = CiRun(
        provider=PROVIDER,
        kind=f"job.{state}",
        delivery_id=delivery,
        project=project,
        project_url=repo_url,
        result=conclusion or get_opt_str(job, "status", at=at),
        workflow=nonempty(get_opt_str(job, "workflow_name", at=at)),
        pipeline_id=run_id,
        pipeline_url=f"{repo_url}/actions/runs/{run_id}" if repo_url and run_id else None,
        url=url,
        branch=get_opt_str(job, "head_branch", at=at),
        commit=sha,
        commit_url=_commit_url(repo_url, sha),
        job=name,
        duration=between(get_time(job, "started_at", at=at), get_time(job, "completed_at", at=at))
        if action == "completed"
        else None,
        triggered_by=sender,
        avatar_url=avatar,
        failed_jobs=failed,
        occurred_at=get_time(job, "completed_at", at=at) or get_time(job, "started_at", at=at),
        extra={
            "runner": get_opt_str(job, "runner_name", at=at),
            "failed_steps": steps[:_MAX_STEPS],
        },
    )
    return [to_event(ci)]


def _check_suite(delivery: str, payload: Mapping[str, JSON]) -> list[Event]:
    """Shape `check_suite` as `pipeline.*`: the checks one app ran on a commit."""
    action = _action(payload)
    at = "check_suite"
    suite = get_dict(payload, at)
    conclusion = get_opt_str(suite, "conclusion", at=at)
    in_flight = {"requested": "started", "rerequested": "started"}
    state = _action_state(at, action, in_flight, conclusion)
    if state is None:
        return []
    project, repo_url = _repository(payload)
    sender, avatar = _sender(payload)
    sha = get_opt_str(suite, "head_sha", at=at)
    url = f"{repo_url}/commit/{sha}/checks" if repo_url and sha else repo_url
    ci = CiRun(
        provider=PROVIDER,
        kind=f"pipeline.{state}",
        delivery_id=delivery,
        project=project,
        project_url=repo_url,
        result=conclusion or get_opt_str(suite, "status", at=at),
        workflow=get_opt_str(suite, "app.name", at=at) or "checks",
        pipeline_id=get_opt_int(suite, "id", at=at),
        pipeline_url=url,
        url=url,
        branch=get_opt_str(suite, "head_branch", at=at),
        commit=sha,
        commit_message=first_line(get_opt_str(suite, "head_commit.message", at=at)),
        commit_url=_commit_url(repo_url, sha),
        duration=between(get_time(suite, "created_at", at=at), get_time(suite, "updated_at", at=at))
        if action == "completed"
        else None,
        triggered_by=sender,
        avatar_url=avatar,
        occurred_at=get_time(suite, "updated_at", at=at),
    )
    return [to_event(ci)]


def _deployment_status(delivery: str, payload: Mapping[str, JSON]) -> list[Event]:
    """Shape `deployment_status` as `deploy.*`."""
    at = "deployment_status"
    status = get_dict(payload, at)
    state = _DEPLOY_STATES.get(get_str(status, "state", at=at))
    if state is None:
        return []
    project, repo_url = _repository(payload)
    sender, avatar = _sender(payload)
    deployment = get_dict(payload, "deployment")
    environment = get_opt_str(status, "environment", at=at) or get_opt_str(
        deployment, "environment", at="deployment"
    )
    if not environment:
        raise PayloadError("missing required value", f"{at}.environment")
    sha = get_opt_str(deployment, "sha", at="deployment")
    links = [nonempty(get_opt_str(status, key, at=at)) for key in _DEPLOY_LINKS]
    ci = CiRun(
        provider=PROVIDER,
        kind=f"deploy.{state}",
        delivery_id=delivery,
        project=project,
        project_url=repo_url,
        result=get_str(status, "state", at=at),
        pipeline_id=get_opt_int(deployment, "id", at="deployment"),
        url=next((link for link in links if link), None)
        or (f"{repo_url}/deployments" if repo_url else None),
        branch=get_opt_str(deployment, "ref", at="deployment"),
        commit=sha,
        commit_url=_commit_url(repo_url, sha),
        triggered_by=get_opt_str(deployment, "creator.login", at="deployment") or sender,
        avatar_url=avatar,
        environment=environment,
        environment_url=nonempty(get_opt_str(status, "environment_url", at=at)),
        description=nonempty(get_opt_str(status, "description", at=at)),
        occurred_at=get_time(status, "updated_at", at=at) or get_time(status, "created_at", at=at),
    )
    return [to_event(ci)]


_EVENTS = {
    "workflow_run": _workflow_run,
    "workflow_job": _workflow_job,
    "check_suite": _check_suite,
    "deployment_status": _deployment_status,
}

EVENT_NAMES: frozenset[str] = frozenset(_EVENTS)
"""Every `X-GitHub-Event` the ci service reads."""
