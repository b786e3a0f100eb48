"""GitLab CI webhook deliveries (pipeline, job, deployment hooks) → CI events.

Pure: no I/O, no clock. This reads GitLab's payloads for the `ci` service on its own;
the `gitlab` service (parsers/gitlab.py) keeps GitLab's own kinds for the same hooks.
Routing is by the body's `object_kind` (`pipeline`, `build`, `deployment`), else by
`X-Gitlab-Event`; other hooks (push, merge request, …) are unsupported here.

Pipeline hook (`object_attributes.status`):

* `success` → `pipeline.success`; `failed` → `pipeline.failed`, whose `failed_jobs` are
  the failed jobs of `builds` that were not allowed to fail (with `failure_reason`), and
  whose `stage` and `job` name the first of them; `canceled`, `skipped` →
  `pipeline.cancelled`.
* `running` → `pipeline.started` while no job has finished yet, else `pipeline.running`.
  GitLab reports a pipeline on every status change and a pipeline goes back and forth
  between `pending` and `running` between stages, so "no job finished" is what marks the
  first report of a run.
* `pending`, `created`, `preparing`, `waiting_for_resource`, `manual` →
  `pipeline.running` once a job has started; nothing before (the run has not started).
  `scheduled` and `canceling` → nothing.

Stages (`stage.success|failed`) are derived from a pipeline hook only where that is
exact and happens once: at a non-final report where stage S has finished (every job of S
settled, at least one ran), the next stage T exists, and no job of T or of any later
stage has started yet. That is GitLab's report between two stages (the pipeline turns
`pending` while T's jobs wait for a runner). The report that follows, with a job of T
running, no longer qualifies, so a stage is never reported twice. When a runner picks
T's first job before GitLab builds the report, or when `needs:` lets later stages start
early, the stage is not reported rather than guessed; the last stage is never reported
(the pipeline's own event says it). The stage's duration runs from its first job's start
to its last job's finish, and `next_stage` is T.

Job hook (`build_status`): `running` → `job.started`; `success` → `job.success`;
`failed` → `job.failed` (in `failed_jobs` unless allowed to fail); `canceled` →
`job.cancelled`; `created`, `pending`, `manual`, `skipped`, … → nothing.

Deployment hook (`status`): `success` → `deploy.success`; `failed` → `deploy.failed`;
`running`, `canceled`, … → nothing.

Authentication: `X-Gitlab-Token` must equal the hook's secret (constant time). Dedupe on
`Idempotency-Key`, else `X-Gitlab-Event-UUID`.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from parsers._ci import (
    CiRun,
    FailedJob,
    between,
    first_line,
    get_opt_number,
    get_time,
    nonempty,
    seconds,
    to_event,
    words,
)
from parsers._headers import header, nonblank_header
from parsers._json import (
    as_dict,
    as_str,
    get_dict,
    get_int,
    get_opt_bool,
    get_opt_int,
    get_opt_list,
    get_opt_str,
    get_str,
)
from parsers.errors import SignatureError, UnsupportedEventError
from parsers.event import JSON, Event

PROVIDER = "gitlab"
EVENT_HEADER = "X-Gitlab-Event"
TOKEN_HEADER = "X-Gitlab-Token"  # noqa: S105  # a header name

_HOOKS = {"Pipeline Hook": "pipeline", "Job Hook": "build", "Deployment Hook": "deployment"}
_FINISHED = frozenset({"success", "failed", "canceled"})
# Jobs that will not run (any more) without someone's action: their stage is settled.
_SETTLED = _FINISHED | {"skipped", "manual"}
_WAITING = frozenset({"created", "pending", "preparing", "waiting_for_resource", "manual"})
_QUIET = frozenset({"scheduled", "canceling"})
_PIPELINE_END = {
    "success": "success",
    "failed": "failed",
    "canceled": "cancelled",
    "skipped": "cancelled",
}
_JOB_STATES = {
    "running": "started",
    "success": "success",
    "failed": "failed",
    "canceled": "cancelled",
}
_QUIET_JOBS = frozenset(
    {"created", "pending", "preparing", "waiting_for_resource", "scheduled", "manual", "skipped"}
)
# The pipeline status a job hook reports in `commit.status`, in the model's words.
_PIPELINE_STATUS = {
    "running": "running",
    "pending": "running",
    "success": "success",
    "failed": "failed",
    "canceled": "cancelled",
}


def event_name(headers: Mapping[str, str]) -> str | None:
    """Return `X-Gitlab-Event` (`Pipeline Hook`, …), or None when absent or blank."""
    return nonblank_header(headers, EVENT_HEADER)


def delivery_id(headers: Mapping[str, str]) -> str | None:
    """Return `Idempotency-Key` (stable across retries), else `X-Gitlab-Event-UUID`."""
    return nonblank_header(headers, "Idempotency-Key") or nonblank_header(
        headers, "X-Gitlab-Event-UUID"
    )


def verify(headers: Mapping[str, str], secret: str) -> None:
    """Check that `X-Gitlab-Token` equals the hook's secret, in constant time.

    Raises:
        SignatureError: The token is missing, the secret is empty, or they differ.
    """
    token = header(headers, TOKEN_HEADER)
    if not token:
        raise SignatureError(f"missing {TOKEN_HEADER} header")
    if not secret:
        raise SignatureError("no secret is configured")
    if not hmac.compare_digest(token.encode("utf-8"), secret.encode("utf-8")):
        raise SignatureError(f"{TOKEN_HEADER} does not match the secret")


def sign(secret: str) -> dict[str, str]:
    """Return the header GitLab sends: the secret token itself."""
    return {TOKEN_HEADER: secret}


def parse_payload(event: str | None, delivery: str, payload: dict[str, JSON]) -> list[Event]:
    """Turn a GitLab pipeline, job or deployment hook into CI events.

    Args:
        event: The `X-Gitlab-Event` value, used when the body has no `object_kind`.
        delivery: The delivery id, or "".
        payload: The decoded body.

    Returns:
        The events (none for statuses the model does not report).

    Raises:
        PayloadError: A required value is missing or has the wrong type.
        UnsupportedEventError: Not a pipeline, job or deployment hook, or an unknown status.
    """
    kind = get_opt_str(payload, "object_kind") or _HOOKS.get(event or "")
    if kind == "pipeline":
        return _pipeline(delivery, payload)
    if kind == "build":
        return _job(delivery, payload)
    if kind == "deployment":
        return _deployment(delivery, payload)
    raise UnsupportedEventError(
        f"GitLab {kind or event or 'delivery'!r} is not a CI event (pipeline, job, deployment)"
    )


# --------------------------------------------------------------------------- shared


@dataclass(frozen=True, slots=True)
class _Project:
    """The project a hook is about."""

    path: str
    url: str | None

    def page(self, suffix: str) -> str | None:
        """Return a page of the project (`/-/jobs/12`), when its address is known."""
        return f"{self.url}{suffix}" if self.url else None


def _project(payload: Mapping[str, JSON]) -> _Project:
    """Read the project's path and web page (`project_name` in job hooks' older shape)."""
    path = get_opt_str(payload, "project.path_with_namespace") or get_str(payload, "project_name")
    return _Project(path, get_opt_str(payload, "project.web_url"))


def _user(payload: Mapping[str, JSON]) -> tuple[str | None, str | None]:
    """Return who triggered it (username, else name) and their avatar."""
    name = get_opt_str(payload, "user.username") or get_opt_str(payload, "user.name")
    return name, get_opt_str(payload, "user.avatar_url")


def _ref(ref: str | None, is_tag: bool | None) -> tuple[str | None, str | None]:
    """Split a ref into (branch, tag)."""
    return (None, ref) if is_tag else (ref, None)


@dataclass(frozen=True, slots=True)
class _Build:
    """One job of a pipeline hook's `builds`."""

    id: int
    name: str
    stage: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    allow_failure: bool
    reason: str | None

    @property
    def started(self) -> bool:
        """True once the job ran or runs."""
        return self.started_at is not None or self.status in _FINISHED | {"running"}

    def failed(self, project: _Project) -> FailedJob | None:
        """Return the job as a failure, unless it passed or was allowed to fail."""
        if self.status != "failed" or self.allow_failure:
            return None
        return FailedJob(self.name, self.stage, self.reason, project.page(f"/-/jobs/{self.id}"))


def _builds(payload: Mapping[str, JSON]) -> list[_Build]:
    """Read the pipeline's jobs, oldest first."""
    builds: list[_Build] = []
    for i, item in enumerate(get_opt_list(payload, "builds")):
        at = f"builds.{i}"
        raw = as_dict(item, at)
        builds.append(
            _Build(
                id=get_int(raw, "id", at=at),
                name=get_str(raw, "name", at=at),
                stage=get_str(raw, "stage", at=at),
                status=get_str(raw, "status", at=at),
                started_at=get_time(raw, "started_at", at=at),
                finished_at=get_time(raw, "finished_at", at=at),
                allow_failure=bool(get_opt_bool(raw, "allow_failure", at=at)),
                reason=words(get_opt_str(raw, "failure_reason", at=at)),
            )
        )
    return sorted(builds, key=lambda build: build.id)


def _stages(attrs: Mapping[str, JSON], builds: list[_Build]) -> list[str]:
    """Return the stage names in pipeline order (`stages`, else the jobs' own order)."""
    at = "object_attributes.stages"
    order = [as_str(item, f"{at}.{i}") for i, item in enumerate(get_opt_list(attrs, "stages"))]
    for build in builds:
        if build.stage not in order:
            order.append(build.stage)
    return order


# --------------------------------------------------------------------------- pipeline


def _pipeline(delivery: str, payload: Mapping[str, JSON]) -> list[Event]:
    """Shape a pipeline hook: the pipeline's own event, and a stage's when derived."""
    at = "object_attributes"
    attrs = get_dict(payload, at)
    status = get_str(attrs, "status", at=at)
    builds = _builds(payload)
    stages = _stages(attrs, builds)
    project = _project(payload)
    state = _pipeline_state(status, builds)
    if state is None:
        return []
    failed: tuple[FailedJob, ...] = ()
    if state != "success":  # a passed pipeline's failed jobs were retried or did not count
        found = (b.failed(project) for b in sorted(builds, key=lambda b: stages.index(b.stage)))
        failed = tuple(job for job in found if job is not None)
    pipeline_id = get_int(attrs, "id", at=at)
    url = get_opt_str(attrs, "url", at=at) or project.page(f"/-/pipelines/{pipeline_id}")
    branch, tag = _ref(get_opt_str(attrs, "ref", at=at), get_opt_bool(attrs, "tag", at=at))
    triggered_by, avatar = _user(payload)
    finished = state in ("success", "failed", "cancelled")
    base = CiRun(
        provider=PROVIDER,
        kind=f"pipeline.{state}",
        delivery_id=delivery,
        project=project.path,
        project_url=project.url,
        result=status,
        pipeline_name=nonempty(get_opt_str(attrs, "name", at=at)),
        pipeline_id=pipeline_id,
        number=get_opt_int(attrs, "iid", at=at),
        pipeline_url=url,
        url=url,
        branch=branch,
        tag=tag,
        commit=get_opt_str(attrs, "sha", at=at),
        commit_message=first_line(get_opt_str(payload, "commit.message")),
        commit_url=get_opt_str(payload, "commit.url"),
        stage=_pipeline_stage(state, failed, builds, stages),
        job=failed[0].name if failed and state == "failed" else None,
        duration=seconds(get_opt_number(attrs, "duration", at=at)) if finished else None,
        triggered_by=triggered_by,
        avatar_url=avatar,
        failed_jobs=failed,
        occurred_at=(get_time(attrs, "finished_at", at=at) if finished else _latest(builds))
        or get_time(attrs, "created_at", at=at),
    )
    events = [to_event(base)]
    if not finished:
        stage = _finished_stage(builds, stages, project)
        if stage is not None:
            events.append(to_event(stage.run(base)))
    return events


def _latest(builds: list[_Build]) -> datetime | None:
    """Return when the last job started or finished: when a running pipeline last moved."""
    times = [t for b in builds for t in (b.started_at, b.finished_at) if t is not None]
    return max(times, default=None)


def _pipeline_state(status: str, builds: list[_Build]) -> str | None:
    """Map a pipeline status onto a model state (module doc); None when not reported."""
    end = _PIPELINE_END.get(status)
    if end is not None:
        return end
    if status == "running":
        return "running" if any(b.status in _FINISHED for b in builds) else "started"
    if status in _WAITING:
        return "running" if any(b.started for b in builds) else None
    if status in _QUIET:
        return None
    raise UnsupportedEventError(f"GitLab pipeline status {status!r} is not supported")


def _pipeline_stage(
    state: str, failed: tuple[FailedJob, ...], builds: list[_Build], stages: list[str]
) -> str | None:
    """Return the stage a pipeline event names: the failing one, or the one in progress."""
    if state == "failed":
        return failed[0].stage if failed else None
    if state in ("success", "cancelled"):
        return None
    return _current_stage(builds, stages)


def _current_stage(builds: list[_Build], stages: list[str]) -> str | None:
    """Return the first stage with a job running or waiting to run."""
    for name in stages:
        if any(b.stage == name and b.status not in _SETTLED for b in builds):
            return name
    return None


@dataclass(frozen=True, slots=True)
class _StageEnd:
    """A stage that has just finished, with the stage that runs next."""

    name: str
    next: str
    failed: tuple[FailedJob, ...]
    duration: int | None

    def run(self, pipeline: CiRun) -> CiRun:
        """Return the stage's CiRun, sharing the pipeline's project, commit and links."""
        state = "failed" if self.failed else "success"
        return CiRun(
            provider=pipeline.provider,
            kind=f"stage.{state}",
            delivery_id=pipeline.delivery_id,
            project=pipeline.project,
            project_url=pipeline.project_url,
            result=state,
            pipeline_name=pipeline.pipeline_name,
            pipeline_id=pipeline.pipeline_id,
            number=pipeline.number,
            pipeline_url=pipeline.pipeline_url,
            pipeline_status="running",
            url=pipeline.url,
            branch=pipeline.branch,
            tag=pipeline.tag,
            commit=pipeline.commit,
            commit_message=pipeline.commit_message,
            commit_url=pipeline.commit_url,
            stage=self.name,
            next_stage=self.next,
            job=self.failed[0].name if self.failed else None,
            duration=self.duration,
            triggered_by=pipeline.triggered_by,
            avatar_url=pipeline.avatar_url,
            failed_jobs=self.failed,
            occurred_at=pipeline.occurred_at,
        )


def _finished_stage(builds: list[_Build], stages: list[str], project: _Project) -> _StageEnd | None:
    """Return the stage this report is the end of, when that is exact (module doc)."""
    by_stage = {name: [b for b in builds if b.stage == name] for name in stages}
    names = [name for name in stages if by_stage[name]]
    for i, name in enumerate(names[:-1]):
        jobs = by_stage[name]
        if any(b.status not in _SETTLED for b in jobs):
            return None  # this stage is still going: none after it has finished
        if any(b.started for later in names[i + 1 :] for b in by_stage[later]):
            continue  # a later stage began, so this one ended at an earlier report
        following = by_stage[names[i + 1]]
        ran = [b for b in jobs if b.status in _FINISHED]
        if not ran or all(b.status in _SETTLED for b in following):
            return None
        failed = tuple(job for job in (b.failed(project) for b in jobs) if job is not None)
        starts = [b.started_at for b in ran if b.started_at is not None]
        ends = [b.finished_at for b in ran if b.finished_at is not None]
        span = between(min(starts), max(ends)) if starts and ends else None
        return _StageEnd(name, names[i + 1], failed, span)
    return None


# --------------------------------------------------------------------------- job


def _job(delivery: str, payload: Mapping[str, JSON]) -> list[Event]:
    """Shape a job hook as `job.*`."""
    status = get_str(payload, "build_status")
    state = _JOB_STATES.get(status)
    if state is None:
        if status in _QUIET_JOBS or status == "canceling":
            return []
        raise UnsupportedEventError(f"GitLab job status {status!r} is not supported")
    project = _project(payload)
    job_id = get_int(payload, "build_id")
    name = get_str(payload, "build_name")
    stage = get_opt_str(payload, "build_stage")
    url = project.page(f"/-/jobs/{job_id}")
    allowed = bool(get_opt_bool(payload, "build_allow_failure"))
    reason = words(get_opt_str(payload, "build_failure_reason"))
    failed = (FailedJob(name, stage, reason, url),) if state == "failed" and not allowed else ()
    pipeline_id = get_opt_int(payload, "pipeline_id")
    sha = get_opt_str(payload, "sha")
    branch, tag = _ref(get_opt_str(payload, "ref"), get_opt_bool(payload, "tag"))
    triggered_by, avatar = _user(payload)
    pipeline_status = get_opt_str(payload, "commit.status")
    run = CiRun(
        provider=PROVIDER,
        kind=f"job.{state}",
        delivery_id=delivery,
        project=project.path,
        project_url=project.url,
        result=status,
        pipeline_id=pipeline_id,
        pipeline_url=project.page(f"/-/pipelines/{pipeline_id}") if pipeline_id else None,
        pipeline_status=_PIPELINE_STATUS.get(pipeline_status or ""),
        url=url,
        branch=branch,
        tag=tag,
        commit=sha,
        commit_message=first_line(get_opt_str(payload, "commit.message")),
        commit_url=project.page(f"/-/commit/{sha}") if sha else None,
        stage=stage,
        job=name,
        duration=seconds(get_opt_number(payload, "build_duration")),
        triggered_by=triggered_by,
        avatar_url=avatar,
        failed_jobs=failed,
        occurred_at=get_time(payload, "build_finished_at")
        or get_time(payload, "build_started_at")
        or get_time(payload, "build_created_at"),
        extra={
            "allow_failure": allowed,
            "runner": get_opt_str(payload, "runner.description"),
            "failure_reason": reason if state == "failed" else None,
        },
    )
    return [to_event(run)]


# --------------------------------------------------------------------------- deployment


def _deployment(delivery: str, payload: Mapping[str, JSON]) -> list[Event]:
    """Shape a deployment hook as `deploy.*`."""
    status = get_str(payload, "status")
    if status not in ("success", "failed"):
        return []
    project = _project(payload)
    environment = get_str(payload, "environment")
    commit_url = get_opt_str(payload, "commit_url")
    sha = commit_url.rstrip("/").rsplit("/", 1)[-1] if commit_url else None
    triggered_by, avatar = _user(payload)
    raw_deployable = payload.get("deployable_url")
    deployable = as_str(raw_deployable, "deployable_url") if raw_deployable is not None else None
    run = CiRun(
        provider=PROVIDER,
        kind=f"deploy.{status}",
        delivery_id=delivery,
        project=project.path,
        project_url=project.url,
        result=status,
        pipeline_id=get_opt_int(payload, "deployment_id"),
        url=deployable or project.page("/-/environments"),
        branch=nonempty(get_opt_str(payload, "ref")),
        commit=sha or get_opt_str(payload, "short_sha"),
        commit_message=first_line(get_opt_str(payload, "commit_title")),
        commit_url=commit_url,
        triggered_by=triggered_by,
        avatar_url=avatar,
        environment=environment,
        environment_url=nonempty(get_opt_str(payload, "environment_external_url")),
        occurred_at=get_time(payload, "status_changed_at"),
    )
    return [to_event(run)]
