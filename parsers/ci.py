"""The `ci` service: Jenkins, GitLab CI, CircleCI and GitHub Actions on one URL.

Pure: no I/O, no clock. Each delivery is attributed to its provider by what it carries,
checked in this order:

1. `X-GitHub-Event` → GitHub Actions (parsers/_ci_actions.py), signed like the github
   service (`X-Hub-Signature-256`), dedupe on `X-GitHub-Delivery`.
2. `X-Gitlab-Event` → GitLab CI (parsers/_ci_gitlab.py), `X-Gitlab-Token` equal to the
   secret, dedupe on `Idempotency-Key`, else `X-Gitlab-Event-UUID`.
3. `circleci-event-type` → CircleCI (parsers/circleci.py), `circleci-signature` v1 only,
   dedupe on the body's `id`.
4. Otherwise a JSON body whose `build` has a `phase` → the Jenkins Notification plugin
   (parsers/jenkins.py): no signature, the URL token is the credential, and Basic auth,
   when sent, must carry the secret as its password; dedupe on `<name>#<number>:<phase>`.

Anything else is not a CI delivery: `identify` answers (None, None) and `parse` raises
UnsupportedEventError (which names the Office 365 connector card when Jenkins posts one
of those: that plugin talks to Teams, not to webhooks).

Every provider's payload becomes the one CI model of parsers/_ci.py (kinds, fields, field
docs); each provider module's docstring says how its events map onto it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

from parsers import _ci_actions, _ci_gitlab, circleci, github, jenkins
from parsers._body import form_payload, loads_object
from parsers._ci import FIELD_DOCS, KINDS, PROVIDERS
from parsers._headers import header, media_type, nonblank_header
from parsers.errors import UnsupportedEventError
from parsers.event import JSON, Event
from parsers.signatures import sign_hmac_sha256

__all__ = [
    "ALIASES",
    "CONTENT_TYPES",
    "DEFAULT_SELECTION",
    "FIELD_DOCS",
    "KINDS",
    "PROVIDERS",
    "SAMPLES",
    "SERVICE",
    "SETUP_HINT",
    "detect",
    "identify",
    "parse",
    "sample_headers",
    "sign",
    "sign_as",
    "verify",
]

SERVICE = "ci"
CONTENT_TYPES: tuple[str, ...] = ("application/json", "application/x-www-form-urlencoded")
# Headers with a delivery id (Actions, GitLab CI); Jenkins and CircleCI ids are in the body.
DELIVERY_HEADERS = ("X-GitHub-Delivery", "Idempotency-Key", "X-Gitlab-Event-UUID")
IDENTIFY_HINT = (
    "no X-GitHub-Event, X-Gitlab-Event or circleci-event-type header, and no Jenkins"
    " `build.phase` in the body"
)

DEFAULT_SELECTION: tuple[str, ...] = (
    "pipeline.started",
    "pipeline.success",
    "pipeline.failed",
    "stage.failed",
    "deploy.*",
)
"""Runs starting, passing and failing, failed stages and deployments; not jobs or progress."""

ALIASES: dict[str, tuple[str, ...]] = {"build": ("pipeline",), "deploy": ("deploy",)}

SETUP_HINT = """\
One URL for all four: hookbot tells the providers apart by what they send.
• **Jenkins**: install the Notification plugin; in the job's *Job Notifications* add an \
endpoint with Format `JSON`, Protocol `HTTP`, Event `All Events` and URL {url}. The URL is \
the credential; to have a password checked too, put `jenkins:{secret}@` after `https://`.
• **GitLab CI**: *Settings → Webhooks → Add new webhook*: URL {url}, Secret token \
`{secret}`, tick *Pipeline events* and *Job events* (and *Deployment events* for deploys).
• **CircleCI**: *Project Settings → Webhooks → Add Webhook*: URL {url}, Secret token \
`{secret}`, events *Workflow Completed* and *Job Completed*.
• **GitHub Actions**: *Settings → Webhooks → Add webhook*: Payload URL {url}, Content type \
`application/json`, Secret `{secret}`, *Let me select individual events*: *Workflow runs* \
and *Workflow jobs* (and *Deployment statuses* for deploys)."""

_FORM = "application/x-www-form-urlencoded"


# --------------------------------------------------------------------------- detection


def detect(headers: Mapping[str, str]) -> str | None:
    """Return the provider a delivery's headers name, or None (then it may be Jenkins).

    Args:
        headers: The request headers; names match case-insensitively.

    Returns:
        `actions`, `gitlab` or `circleci`, or None when none of their headers is sent.
    """
    if nonblank_header(headers, _ci_actions.EVENT_HEADER):
        return _ci_actions.PROVIDER
    if nonblank_header(headers, _ci_gitlab.EVENT_HEADER):
        return _ci_gitlab.PROVIDER
    if nonblank_header(headers, circleci.EVENT_HEADER):
        return circleci.PROVIDER
    return None


def identify(headers: Mapping[str, str], body: bytes) -> tuple[str | None, str | None]:
    """Return the delivery's event name and its id for dedupe.

    The event name is qualified by the provider: `actions:workflow_run`,
    `gitlab:Pipeline Hook`, `circleci:workflow-completed`, `jenkins:COMPLETED` (`jenkins`
    alone when the phase is not a string).

    Args:
        headers: The request headers; names match case-insensitively.
        body: The raw body; read only for CircleCI (its id) and Jenkins (detection).

    Returns:
        (event name, delivery id); (None, None) when no provider is recognised. The id
        is None when the provider's id is absent.

    Raises:
        PayloadError: The body must be read and is not a JSON object.
    """
    provider = detect(headers)
    if provider == _ci_actions.PROVIDER:
        event = nonblank_header(headers, _ci_actions.EVENT_HEADER)
        return f"{provider}:{event}", nonblank_header(headers, _ci_actions.DELIVERY_HEADER)
    if provider == _ci_gitlab.PROVIDER:
        return f"{provider}:{_ci_gitlab.event_name(headers)}", _ci_gitlab.delivery_id(headers)
    if provider == circleci.PROVIDER:
        event = nonblank_header(headers, circleci.EVENT_HEADER)
        return f"{provider}:{event}", circleci.delivery_id(_decode(headers, body))
    payload = _decode(headers, body)
    if not jenkins.is_notification(payload):
        return None, None
    phase = jenkins.event_name(payload)
    event = f"{jenkins.PROVIDER}:{phase}" if phase else jenkins.PROVIDER
    return event, jenkins.delivery_id(payload)


# --------------------------------------------------------------------------- credentials


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Check the delivery's credential the way its provider sends one (module doc).

    Args:
        headers: The request headers; names match case-insensitively.
        body: The raw body bytes as received.
        secret: The hook's secret.

    Raises:
        SignatureError: The provider's signature or token is missing or wrong, a
            CircleCI header has no v1 signature, or Basic auth carries another password.
    """
    provider = detect(headers)
    if provider == _ci_actions.PROVIDER:
        github.verify(headers, body, secret)
    elif provider == _ci_gitlab.PROVIDER:
        _ci_gitlab.verify(headers, secret)
    elif provider == circleci.PROVIDER:
        circleci.verify(headers, body, secret)
    else:
        jenkins.verify(headers, secret)


def sign_as(provider: str, body: bytes, secret: str) -> dict[str, str]:
    """Return the credential headers `provider` sends with `body`.

    Args:
        provider: `actions`, `gitlab`, `circleci` or `jenkins`.
        body: The exact body bytes.
        secret: The hook's secret.

    Returns:
        The headers (none for Jenkins, whose credential is the URL).

    Raises:
        ValueError: The provider is not one of the four.
    """
    if provider == _ci_actions.PROVIDER:
        return {"X-Hub-Signature-256": sign_hmac_sha256(body, secret)}
    if provider == _ci_gitlab.PROVIDER:
        return _ci_gitlab.sign(secret)
    if provider == circleci.PROVIDER:
        return circleci.sign(body, secret)
    if provider == jenkins.PROVIDER:
        return {}
    raise ValueError(f"unknown CI provider {provider!r}")


def sign(body: bytes, secret: str) -> dict[str, str]:
    """Return the credential headers of the provider whose payload `body` is.

    The provider is read from the body's shape: GitLab's `object_kind`, CircleCI's
    `happened_at` and `type`, Jenkins' `build.phase`, else GitHub.

    Args:
        body: The exact body bytes (a JSON object).
        secret: The hook's secret.

    Returns:
        The headers a genuine sender adds.

    Raises:
        PayloadError: The body is not a JSON object.
    """
    return sign_as(_provider_of_body(loads_object(body)), body, secret)


def _provider_of_body(payload: Mapping[str, JSON]) -> str:
    """Guess a payload's provider from its shape (for `sign`)."""
    if "object_kind" in payload:
        return _ci_gitlab.PROVIDER
    if "happened_at" in payload and "type" in payload:
        return circleci.PROVIDER
    if jenkins.is_notification(payload):
        return jenkins.PROVIDER
    return _ci_actions.PROVIDER


# --------------------------------------------------------------------------- parsing


def parse(
    headers: Mapping[str, str], body: bytes, options: Mapping[str, JSON] | None = None
) -> list[Event]:
    """Decode a delivery, attribute it to its provider and turn it into CI events.

    Args:
        headers: The request headers; names match case-insensitively.
        body: The raw body bytes.
        options: The hook's options; the ci service has none and ignores them.

    Returns:
        The delivery's events: usually one; a GitLab pipeline report may add the stage
        that just finished; none for states the model does not report (queued jobs …).

    Raises:
        PayloadError: The body is not a JSON object, or a value is missing or mistyped.
        UnsupportedEventError: Not a CI delivery, or an event or status no provider
            documents.
    """
    del options
    payload = _decode(headers, body)
    provider = detect(headers)
    if provider == _ci_actions.PROVIDER:
        event = nonblank_header(headers, _ci_actions.EVENT_HEADER) or ""
        delivery = nonblank_header(headers, _ci_actions.DELIVERY_HEADER) or ""
        return _ci_actions.parse_payload(event, delivery, payload)
    if provider == _ci_gitlab.PROVIDER:
        event_name = _ci_gitlab.event_name(headers)
        return _ci_gitlab.parse_payload(event_name, _ci_gitlab.delivery_id(headers) or "", payload)
    if provider == circleci.PROVIDER:
        event = nonblank_header(headers, circleci.EVENT_HEADER) or ""
        return circleci.parse_payload(event, circleci.delivery_id(payload) or "", payload)
    if jenkins.is_notification(payload):
        return jenkins.parse_payload(jenkins.delivery_id(payload) or "", payload)
    raise UnsupportedEventError(_not_ci(payload))


def _not_ci(payload: Mapping[str, JSON]) -> str:
    """Say why a body is not a CI delivery, naming Jenkins' Teams cards when it is one."""
    card = payload.get("@type") == "MessageCard" or (
        payload.get("type") == "message" and "attachments" in payload
    )
    if card:
        return (
            "this is an Office 365 connector card (what Jenkins sends to Teams); use the "
            "Jenkins Notification plugin with this URL instead"
        )
    return (
        "no CI provider recognised: expected X-GitHub-Event, X-Gitlab-Event, "
        "circleci-event-type, or a Jenkins Notification plugin body with build.phase"
    )


def _decode(headers: Mapping[str, str], body: bytes) -> dict[str, JSON]:
    """Decode the JSON object of a delivery (a form's `payload` field for GitHub forms)."""
    media = media_type(header(headers, "Content-Type"))
    if media != _FORM:
        return loads_object(body)
    return loads_object(form_payload(body))


# --------------------------------------------------------------------------- samples

# Sample name → (provider, the provider's event name, the kind it shows).
_SAMPLES: dict[str, tuple[str, str, str]] = {
    "jenkins_started": ("jenkins", "STARTED", "pipeline.started"),
    "jenkins_success": ("jenkins", "COMPLETED", "pipeline.success"),
    "jenkins_failed": ("jenkins", "FINALIZED", "pipeline.failed"),
    "jenkins_aborted": ("jenkins", "COMPLETED", "pipeline.cancelled"),
    "circleci_workflow_success": ("circleci", "workflow-completed", "pipeline.success"),
    "circleci_workflow_failed": ("circleci", "workflow-completed", "pipeline.failed"),
    "circleci_job_success": ("circleci", "job-completed", "job.success"),
    "circleci_job_failed": ("circleci", "job-completed", "job.failed"),
    "gitlab_pipeline_started": ("gitlab", "Pipeline Hook", "pipeline.started"),
    "gitlab_stage_passed": ("gitlab", "Pipeline Hook", "stage.success"),
    "gitlab_stage_failed": ("gitlab", "Pipeline Hook", "stage.failed"),
    "gitlab_pipeline_failed": ("gitlab", "Pipeline Hook", "pipeline.failed"),
    "gitlab_job_started": ("gitlab", "Job Hook", "job.started"),
    "gitlab_job_failed": ("gitlab", "Job Hook", "job.failed"),
    "gitlab_job_cancelled": ("gitlab", "Job Hook", "job.cancelled"),
    "gitlab_deploy": ("gitlab", "Deployment Hook", "deploy.success"),
    "actions_run_started": ("actions", "workflow_run", "pipeline.started"),
    "actions_run_running": ("actions", "workflow_run", "pipeline.running"),
    "actions_run_failed": ("actions", "workflow_run", "pipeline.failed"),
    "actions_job_failed": ("actions", "workflow_job", "job.failed"),
    "actions_check_suite_passed": ("actions", "check_suite", "pipeline.success"),
    "actions_deploy_failed": ("actions", "deployment_status", "deploy.failed"),
}

SAMPLES: dict[str, str] = {name: kind for name, (_, _, kind) in _SAMPLES.items()}
"""Sample name → the kind it shows; bodies in parsers/samples/ci/<name>.json."""


def _sample_id(name: str, what: str) -> str:
    """Return a stable UUID for a sample's delivery headers."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://hookbot.invalid/ci/{name}/{what}"))


def _jenkins_headers(name: str, event: str) -> dict[str, str]:
    del name, event
    return {"Content-Type": "application/json;charset=UTF-8"}


def _circleci_headers(name: str, event: str) -> dict[str, str]:
    del name
    return {
        "content-type": "application/json",
        "user-agent": "CircleCI-Webhook/1.0",
        circleci.EVENT_HEADER: event,
    }


def _gitlab_headers(name: str, event: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitLab/17.5.1",
        _ci_gitlab.EVENT_HEADER: event,
        "X-Gitlab-Instance": "https://gitlab.example.com",
        "X-Gitlab-Webhook-UUID": _sample_id("gitlab", "webhook"),
        "X-Gitlab-Event-UUID": _sample_id(name, "event"),
        "Idempotency-Key": _sample_id(name, "idempotency"),
    }


def _actions_headers(name: str, event: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/8f3c2a1",
        _ci_actions.EVENT_HEADER: event,
        _ci_actions.DELIVERY_HEADER: _sample_id(name, "delivery"),
        "X-GitHub-Hook-ID": "481516234",
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        "X-GitHub-Hook-Installation-Target-ID": "1296269",
    }


_SAMPLE_HEADERS: dict[str, Callable[[str, str], dict[str, str]]] = {
    jenkins.PROVIDER: _jenkins_headers,
    circleci.PROVIDER: _circleci_headers,
    _ci_gitlab.PROVIDER: _gitlab_headers,
    _ci_actions.PROVIDER: _actions_headers,
}


def sample_headers(name: str) -> dict[str, str]:
    """Return the unsigned headers a real sender sends with sample `name`.

    Args:
        name: A key of `SAMPLES`.

    Returns:
        The headers (add `sign(body, secret)` for a delivery that verifies).

    Raises:
        KeyError: There is no such sample.
    """
    provider, event, _ = _SAMPLES[name]
    return _SAMPLE_HEADERS[provider](name, event)


def sample_provider(name: str) -> str:
    """Return the provider of sample `name` (for `sign_as`).

    Raises:
        KeyError: There is no such sample.
    """
    return _SAMPLES[name][0]
