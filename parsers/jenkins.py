"""Jenkins Notification plugin deliveries → CI events (the `ci` service's Jenkins side).

Pure: no I/O, no clock. The Notification plugin (jenkinsci/notification-plugin) POSTs a
JSON `JobState` for each phase of a build: `{name, display_name, url, build: {number,
phase, status, full_url, url, scm: {branch, commit, url, culprits}, test_summary, log,
duration, timestamp, …}}` (Gson, lower_snake names). It sends no event header: a body
whose `build` object has a `phase` is recognised as one.

Phases → kinds:

* `STARTED` → `pipeline.started`.
* `COMPLETED` and `FINALIZED` → `pipeline.success|failed|cancelled` from `build.status`
  (`SUCCESS`; `FAILURE`, `UNSTABLE`; `ABORTED`, `NOT_BUILT`). The plugin's default
  "All Events" sends both for every build, while its "Job Failed" and "Job Failed and
  First Success" choices send `FINALIZED` alone; so both phases report the end of the
  build and share one delivery id, `<name>#<number>:COMPLETED`, and the receiver's
  dedupe posts whichever arrives first.
* `QUEUED` (and the plugin's `NONE`) → nothing: the build has not started.

Authentication: the plugin cannot sign. The hook's URL token is the credential; when the
endpoint URL carries user-info (`https://user:<secret>@host/…`) the plugin sends it as
HTTP Basic auth, and then its password must equal the hook's secret.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from urllib.parse import unquote, unquote_to_bytes

from parsers._ci import (
    CiRun,
    FailedJob,
    get_time,
    nonempty,
    seconds,
    short_branch,
    to_event,
    words,
)
from parsers._headers import nonblank_header
from parsers._json import (
    as_str,
    get_dict,
    get_int,
    get_opt_dict,
    get_opt_int,
    get_opt_list,
    get_opt_str,
    get_str,
)
from parsers.errors import SignatureError, UnsupportedEventError
from parsers.event import JSON, Event

PROVIDER = "jenkins"

_TERMINAL_PHASES = frozenset({"COMPLETED", "FINALIZED"})
_SILENT_PHASES = frozenset({"QUEUED", "NONE"})
_RESULTS = {
    "SUCCESS": "success",
    "FAILURE": "failed",
    "FAILED": "failed",  # the plugin's own help example says FAILED
    "UNSTABLE": "failed",
    "ABORTED": "cancelled",
    "NOT_BUILT": "cancelled",
}
_MAX_FAILED_TESTS = 20
_MAX_LOG_LINES = 20


def is_notification(payload: Mapping[str, JSON]) -> bool:
    """Say whether a decoded body is a Notification plugin JobState (`build.phase`)."""
    build = payload.get("build")
    return isinstance(build, dict) and "phase" in build


def event_name(payload: Mapping[str, JSON]) -> str | None:
    """Return the build phase (`STARTED`, `COMPLETED`, …), or None when it is not a string."""
    build = payload.get("build")
    phase = build.get("phase") if isinstance(build, dict) else None
    return phase.upper() if isinstance(phase, str) and phase else None


def delivery_id(payload: Mapping[str, JSON]) -> str | None:
    """Return `<name>#<number>:<phase>`, with FINALIZED read as COMPLETED (module doc).

    Lenient: returns None rather than raising when a part is missing or mistyped.
    """
    name = payload.get("name")
    build = payload.get("build")
    number = build.get("number") if isinstance(build, dict) else None
    phase = event_name(payload)
    if not isinstance(name, str) or not name or phase is None:
        return None
    if isinstance(number, bool) or not isinstance(number, int):
        return None
    if phase in _TERMINAL_PHASES:
        phase = "COMPLETED"
    return f"{name}#{number}:{phase}"


def verify(headers: Mapping[str, str], secret: str) -> None:
    """Accept a Jenkins delivery unless it sends a credential that is not the secret.

    Args:
        headers: The request headers; names match case-insensitively.
        secret: The hook's secret.

    Raises:
        SignatureError: An Authorization header is sent and is not HTTP Basic whose
            password equals the secret (compared in constant time).
    """
    authorization = nonblank_header(headers, "Authorization")
    if authorization is None:
        return  # the URL token already matched: the plugin has nothing else to send
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise SignatureError(f"unsupported Authorization scheme {scheme!r}; Jenkins sends Basic")
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("Basic credentials are not base64") from exc
    _, colon, password = decoded.partition(b":")
    if not colon:
        raise SignatureError("Basic credentials carry no password")
    if not secret:
        raise SignatureError("no secret is configured")
    expected = secret.encode("utf-8")
    # The plugin sends the URL's user-info as written, so a percent-encoded password is
    # compared decoded too; both comparisons always run.
    matches = [
        hmac.compare_digest(password, expected),
        hmac.compare_digest(unquote_to_bytes(password), expected),
    ]
    if not any(matches):
        raise SignatureError("Basic auth password does not match the secret")


def basic_auth(secret: str, user: str = "jenkins") -> dict[str, str]:
    """Return the Authorization header Jenkins sends for `https://<user>:<secret>@…` URLs."""
    token = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def parse_payload(delivery: str, payload: dict[str, JSON]) -> list[Event]:
    """Turn a Notification plugin JobState into CI events.

    Args:
        delivery: The delivery id (see `delivery_id`), or "".
        payload: The decoded body.

    Returns:
        One event for STARTED, COMPLETED and FINALIZED; none for QUEUED.

    Raises:
        PayloadError: A required value is missing or has the wrong type.
        UnsupportedEventError: The phase or the build result is not one Jenkins has.
    """
    name = get_str(payload, "name")
    build = get_dict(payload, "build")
    phase = get_str(build, "phase", at="build").upper()
    number = get_int(build, "number", at="build")
    result = get_opt_str(build, "status", at="build")
    if phase in _SILENT_PHASES:
        return []
    if phase == "STARTED":
        state = "started"
    elif phase in _TERMINAL_PHASES:
        state = _RESULTS.get((result or "").upper(), "")
        if not state:
            raise UnsupportedEventError(f"Jenkins build result {result!r} is not supported")
    else:
        raise UnsupportedEventError(f"Jenkins phase {phase!r} is not supported")

    project = _job_path(get_opt_str(payload, "url")) or name
    full_url = get_opt_str(build, "full_url", at="build")
    url = full_url if full_url and full_url.startswith(("http://", "https://")) else None
    scm = get_opt_dict(build, "scm", at="build") or {}
    tests = _test_summary(build)
    extra: dict[str, JSON] = {
        "test_summary": tests,
        "failed_tests": _strings(build, "test_summary.failed_tests", _MAX_FAILED_TESTS),
        "culprits": _strings(scm, "culprits", 50, at="build.scm"),
        "log": _log_tail(get_opt_str(build, "log", at="build")),
    }
    failed: tuple[FailedJob, ...] = ()
    if state == "failed":
        failed = (FailedJob(f"{project} #{number}", None, _reason(result, tests), url),)
    duration = get_opt_int(build, "duration", at="build") if phase in _TERMINAL_PHASES else None
    run = CiRun(
        provider=PROVIDER,
        kind=f"pipeline.{state}",
        delivery_id=delivery,
        project=project,
        result=result,
        project_url=_project_url(url, get_opt_str(build, "url", at="build"), payload),
        pipeline_name=name,
        number=number,
        pipeline_id=number,
        pipeline_url=url,
        url=url,
        branch=short_branch(nonempty(get_opt_str(scm, "branch", at="build.scm"))),
        commit=nonempty(get_opt_str(scm, "commit", at="build.scm")),
        duration=seconds(duration / 1000) if duration else None,
        failed_jobs=failed,
        occurred_at=get_time(build, "timestamp", at="build"),
        extra=extra,
    )
    return [to_event(run)]


def _job_path(url: str | None) -> str | None:
    """Read a job's full name from its relative URL: `job/team/job/app/` → `team/app`."""
    if not url:
        return None
    parts = [part for part in url.strip("/").split("/") if part]
    names = [unquote(parts[i + 1]) for i in range(len(parts) - 1) if parts[i] == "job"]
    return "/".join(names) or None


def _project_url(
    build_url: str | None, relative: str | None, payload: Mapping[str, JSON]
) -> str | None:
    """Return the job's web page: the build's full URL with its relative URL swapped."""
    job_url = get_opt_str(payload, "url")
    if not build_url or not relative or not job_url or not build_url.endswith(relative):
        return None
    return build_url[: len(build_url) - len(relative)] + job_url


def _test_summary(build: Mapping[str, JSON]) -> dict[str, JSON] | None:
    """Read `build.test_summary` counts, or None when no tests ran."""
    raw = get_opt_dict(build, "test_summary", at="build")
    if raw is None:
        return None
    at = "build.test_summary"
    return {key: get_opt_int(raw, key, at=at) for key in ("total", "failed", "skipped", "passed")}


def _strings(obj: Mapping[str, JSON], path: str, limit: int, *, at: str = "build") -> list[JSON]:
    """Read an optional array of strings, keeping the first `limit`."""
    where = f"{at}.{path}"
    items = get_opt_list(obj, path, at=at)
    return [as_str(item, f"{where}.{i}") for i, item in enumerate(items[:limit])]


def _log_tail(log: str | None) -> str | None:
    """Keep the last non-blank lines of the log the endpoint was set to send."""
    lines = [line for line in (log or "").splitlines() if line.strip()]
    return "\n".join(lines[-_MAX_LOG_LINES:]) or None


def _reason(result: str | None, tests: Mapping[str, JSON] | None) -> str | None:
    """Say why a build failed: its failed test count when there is one, else its result."""
    if tests is not None:
        failed, total = tests.get("failed"), tests.get("total")
        if isinstance(failed, int) and failed > 0:
            of = f" of {total}" if isinstance(total, int) and total else ""
            return f"{failed}{of} tests failed" if failed != 1 else f"1{of} test failed"
    return words(result)
