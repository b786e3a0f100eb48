"""The one CI model: what every CI provider's delivery becomes (DESIGN.md "Services", `ci`).

Pure: no I/O, no clock. The provider modules (jenkins, circleci, _ci_gitlab, _ci_actions)
read their own payloads and describe each thing that happened as a `CiRun`; `to_event`
turns it into the Event every template, filter and alert rule reads, so that a failed
Jenkins build and a failed GitLab pipeline carry the same names.

Kinds (`KINDS`):

* `pipeline.started|running|success|failed|cancelled`: one run of the whole thing (a
  Jenkins build, a CircleCI workflow, a GitLab pipeline, a GitHub Actions workflow run or
  check suite). `started` is the first notice that a run began; `running` is any later
  progress report (off by default: providers send several per run).
* `stage.success|failed`: a stage of a staged pipeline finished (GitLab CI only; see
  parsers/_ci_gitlab.py for when it is derived).
* `job.started|success|failed|cancelled`: one job of a run.
* `deploy.success|failed`: a deployment to an environment finished.

Every event carries the fields `provider`, `project`, `branch`, `commit`, `stage`, `job`,
`duration` (whole seconds), `url`, `triggered_by` and `failed_jobs` (a list of `{name,
stage, reason, url}`), and the rest of `FIELD_DOCS["*"]`: a value the provider does not
send is null, never missing, so templates and alert rules can read every common name.
The fields `FIELD_DOCS` lists under an event name are that event's, and those marked with
a provider (Jenkins' `test_summary`, GitLab's `allow_failure`, …) come only from it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

from parsers import _text
from parsers._json import get_opt_str, get_opt_value, join
from parsers.errors import PayloadError
from parsers.event import JSON, Event

SERVICE = "ci"

PROVIDERS: dict[str, str] = {
    "jenkins": "Jenkins",
    "circleci": "CircleCI",
    "gitlab": "GitLab CI",
    "actions": "GitHub Actions",
}
"""Provider id (Event.provider) → the name people know it by."""

STATES: dict[str, tuple[str, ...]] = {
    "pipeline": ("started", "running", "success", "failed", "cancelled"),
    "stage": ("success", "failed"),
    "job": ("started", "success", "failed", "cancelled"),
    "deploy": ("success", "failed"),
}

KINDS: tuple[str, ...] = tuple(
    f"{thing}.{state}" for thing, states in STATES.items() for state in states
)
"""Every kind of the CI model."""

# Event.status for each state: the words formatters colour and digests count.
_STATUS = {
    "started": "running",
    "running": "running",
    "success": "success",
    "failed": "failed",
    "cancelled": "cancelled",
}

# How titles say each state.
_VERB = {
    "started": "started",
    "running": "running",
    "success": "passed",
    "failed": "failed",
    "cancelled": "cancelled",
}


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True, slots=True)
class FailedJob:
    """A job that failed, and why, as the provider says it."""

    name: str
    stage: str | None = None
    reason: str | None = None
    url: str | None = None

    def to_json(self) -> dict[str, JSON]:
        """Return the job as the JSON object templates read (`failed_jobs[]`)."""
        return {"name": self.name, "stage": self.stage, "reason": self.reason, "url": self.url}


@dataclass(frozen=True, slots=True, kw_only=True)
class CiRun:
    """One thing a CI provider reported, in the model's words; `to_event` shapes it.

    `workflow` names the definition a run comes from when a project has several (a
    CircleCI or Actions workflow, a check suite's app): titles and subjects use it.
    `pipeline_name` is the run's own name when the provider gives one.
    """

    provider: str
    kind: str
    delivery_id: str
    project: str
    result: str | None = None
    project_url: str | None = None
    workflow: str | None = None
    pipeline_name: str | None = None
    pipeline_id: int | str | None = None
    number: int | None = None
    pipeline_url: str | None = None
    pipeline_status: str | None = None
    url: str | None = None
    branch: str | None = None
    tag: str | None = None
    commit: str | None = None
    commit_message: str | None = None
    commit_url: str | None = None
    stage: str | None = None
    next_stage: str | None = None
    job: str | None = None
    duration: int | None = None
    triggered_by: str | None = None
    avatar_url: str | None = None
    failed_jobs: tuple[FailedJob, ...] = ()
    environment: str | None = None
    environment_url: str | None = None
    description: str | None = None
    occurred_at: datetime | None = None
    extra: Mapping[str, JSON] = field(default_factory=dict)


def status_of(kind: str) -> str:
    """Return the Event.status of a kind: `running`, `success`, `failed` or `cancelled`."""
    return _STATUS[kind.split(".", 1)[1]]


def to_event(run: CiRun) -> Event:
    """Build the Event of a CiRun, with the fields every CI kind carries.

    Args:
        run: What the provider reported.

    Returns:
        The Event (service `ci`, provider set).

    Raises:
        ValueError: The kind is not one of `KINDS` (a bug in a provider module).
    """
    if run.kind not in KINDS:
        raise ValueError(f"not a CI kind: {run.kind!r}")
    thing = run.kind.split(".", 1)[0]
    status = status_of(run.kind)
    pipeline: dict[str, JSON] = {
        "name": run.pipeline_name or run.workflow,
        "id": run.pipeline_id,
        "number": run.number,
        "status": status if thing == "pipeline" else run.pipeline_status,
        "url": run.pipeline_url,
    }
    fields: dict[str, JSON] = {
        "provider": run.provider,
        "project": run.project,
        "project_url": run.project_url,
        "workflow": run.workflow,
        "pipeline": pipeline,
        "branch": run.branch,
        "tag": run.tag,
        "commit": run.commit,
        "commit_message": run.commit_message,
        "commit_url": run.commit_url,
        "stage": run.stage,
        "job": run.job,
        "duration": run.duration,
        "url": run.url,
        "triggered_by": run.triggered_by,
        "failed_jobs": [job.to_json() for job in run.failed_jobs],
        "result": run.result,
        "triggered_by_avatar_url": run.avatar_url,
    }
    if thing == "stage":
        fields["next_stage"] = run.next_stage
    if thing == "deploy":
        fields["environment"] = run.environment
        fields["environment_url"] = run.environment_url
        fields["description"] = run.description
    fields.update(run.extra)
    return Event(
        service=SERVICE,
        provider=run.provider,
        kind=run.kind,
        source=run.project,
        delivery_id=run.delivery_id,
        occurred_at=run.occurred_at,
        title=_title(run),
        actor=run.triggered_by,
        url=run.url,
        status=status,
        branch=run.branch,
        subject=_subject(run),
        fields=MappingProxyType(fields),
    )


def _title(run: CiRun) -> str:
    """Say the event in one line: `Pipeline failed: octo/app › CI #12 on main`."""
    thing, state = run.kind.split(".", 1)
    where = run.project + (f" › {run.workflow}" if run.workflow else "")
    ref = run.branch or run.tag
    on = f" on {ref}" if ref else ""
    if thing == "pipeline":
        number = f" #{run.number}" if run.number is not None else ""
        text = f"Pipeline {_VERB[state]}: {where}{number}{on}"
    elif thing == "deploy":
        verb = "succeeded" if state == "success" else "failed"
        text = f"Deploy to {run.environment or 'an environment'} {verb}: {where}{on}"
    else:
        name = (run.stage if thing == "stage" else run.job) or thing
        text = f'{thing.capitalize()} "{name}" {_VERB[state]}: {where}{on}'
    return _text.one_line(text)


def _subject(run: CiRun) -> str:
    """Name what the event is about, for alert state: a pipeline per branch, its stages, jobs.

    A pipeline's subject is its project (and workflow) on its branch, so an alert rule
    such as `pipeline.status == 'failed'` fires when the branch breaks and again only
    after it was green.
    """
    base = f"ci:{run.provider}:{run.project}" + (f"/{run.workflow}" if run.workflow else "")
    thing = run.kind.split(".", 1)[0]
    if thing == "deploy":
        return f"{base}#deploy:{run.environment or '?'}"
    ref = run.branch or run.tag or run.commit
    at = f"{base}@{ref}" if ref else base
    if thing == "stage":
        return f"{at}#stage:{run.stage or '?'}"
    if thing == "job":
        return f"{at}#job:{run.job or '?'}"
    return at


# --------------------------------------------------------------------------- helpers


def first_line(text: str | None) -> str | None:
    """Return the first non-blank line of a (commit) message, or None."""
    return _text.first_line(text) or None


def words(value: str | None) -> str | None:
    """Say a provider's code word in words: `script_failure` → `script failure`."""
    if not value:
        return None
    return value.replace("_", " ").replace("-", " ").strip().lower() or None


def nonempty(value: str | None) -> str | None:
    """Return the string, or None when it is empty or blank."""
    return value if value and value.strip() else None


def get_opt_number(obj: Mapping[str, JSON], path: str, *, at: str = "") -> float | None:
    """Return the number (integer or not) at `path`, or None when it is missing or null.

    Raises:
        PayloadError: The value is present and not a number (booleans are not).
    """
    value = get_opt_value(obj, path, at=at)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PayloadError("expected a number", join(at, path))
    return float(value)


def seconds(value: float | None) -> int | None:
    """Round a duration to whole seconds; None for a missing or negative one."""
    if value is None or value < 0:
        return None
    return round(value)


_SPACED_OFFSET = re.compile(r"\s+(?:UTC|([+-]\d{2}:?\d{2}))$")


def get_time(obj: Mapping[str, JSON], path: str, *, at: str = "") -> datetime | None:
    """Read a timestamp string as an aware UTC datetime, or None when absent or unreadable.

    Accepts ISO 8601 and GitLab's `2016-08-12 15:23:28 UTC` and `2021-04-28 21:50:00
    +0200`. A string that is none of these gives None rather than refusing the delivery:
    a timestamp only dates the message.

    Raises:
        PayloadError: The value is present and not a string.
    """
    text = get_opt_str(obj, path, at=at)
    if not text:
        return None
    text = _SPACED_OFFSET.sub(lambda m: m[1] or "+00:00", text.strip())
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date, or one UTC cannot hold (year 9999-12)
        return None


def between(start: datetime | None, end: datetime | None) -> int | None:
    """Return whole seconds from start to end, or None when either is unknown."""
    if start is None or end is None or end < start:
        return None
    return round((end - start).total_seconds())


def short_branch(ref: str | None) -> str | None:
    """Turn `refs/heads/main`, `origin/main` or `refs/remotes/origin/main` into `main`."""
    if not ref:
        return None
    for prefix in ("refs/heads/", "refs/remotes/origin/", "origin/"):
        if ref.startswith(prefix):
            return ref[len(prefix) :] or None
    return ref


# --------------------------------------------------------------------------- field docs

_COMMON_DOCS = {
    "provider": "Who sent it: `jenkins`, `circleci`, `gitlab` or `actions`.",
    "project": "Project: repository path, CircleCI `org/project` or Jenkins job path.",
    "project_url": "Project web page, when known.",
    "workflow": "Workflow (CircleCI, Actions) or check suite app the run comes from.",
    "pipeline.name": "The run's name (workflow name, GitLab pipeline name), when known.",
    "pipeline.id": "The provider's id of the run.",
    "pipeline.number": "Run number people see (build #, pipeline iid, run number).",
    "pipeline.status": "`running`, `success`, `failed` or `cancelled`; null when unknown.",
    "pipeline.url": "Web page of the run.",
    "branch": "Branch built; null for tags and when the provider does not say.",
    "tag": "Tag built, when the run is for a tag.",
    "commit": "Commit SHA built.",
    "commit_message": "First line of the commit message, when sent.",
    "commit_url": "Commit web page, when known.",
    "stage": "Stage: the job's, the stage that finished, or the failing one.",
    "job": "Job name: the job's own, or the first failing job of a failed pipeline.",
    "duration": "Seconds it took, once finished (null while running).",
    "url": "Web page of what the event is about (run, job, stage's pipeline, deploy).",
    "triggered_by": "Who started it (login or name), when the provider says.",
    "failed_jobs": "Jobs that failed (allowed failures excluded).",
    "failed_jobs[].name": "Job name.",
    "failed_jobs[].stage": "Its stage, when the provider has stages.",
    "failed_jobs[].reason": "Why, in the provider's words (`script failure`, `failed at step …`).",
    "failed_jobs[].url": "Job web page.",
    "result": "The provider's own status word (`SUCCESS`, `UNSTABLE`, `timed_out`, …).",
    "triggered_by_avatar_url": "Avatar of who triggered it, when sent.",
}

FIELD_DOCS: dict[str, dict[str, str]] = {
    "*": _COMMON_DOCS,
    "pipeline": {
        "test_summary": "Jenkins: `{total, failed, skipped, passed}` when tests ran.",
        "failed_tests": "Jenkins: names of the failed tests (at most 20).",
        "culprits": "Jenkins: ids of the users whose changes are in the build.",
        "log": "Jenkins: the last lines of the build log, when the endpoint sends them.",
    },
    "stage": {"next_stage": "The stage that runs next, when there is one."},
    "job": {
        "allow_failure": "GitLab: true when the job may fail without failing the pipeline.",
        "failure_reason": "GitLab: why a failed job failed, even when it was allowed to.",
        "runner": "Runner that ran the job, when sent.",
        "failed_steps": "GitHub Actions: names of the steps that failed.",
    },
    "deploy": {
        "environment": "Environment deployed to (`production`, `staging`, …).",
        "environment_url": "Address of the deployed environment, when set.",
        "description": "What the deployment said about itself (GitHub), when anything.",
    },
}
"""Field path → one-line description, per event name (`*`: fields every kind carries)."""
