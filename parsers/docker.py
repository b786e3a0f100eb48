"""Turn Docker Engine events (with the facts the watcher attached) into Events.

Pure: no I/O, no clock. Docker events do not arrive over HTTP: bot/intake/docker_watch.py
reads each host's `/events` stream and stores one delivery per event and hook, whose body
is an *envelope*:

    {"host": "prod",                     the DOCKER_HOSTS name of the Engine
     "event": {...},                     the Engine event object, as streamed
     "container": {...},                 facts from inspecting the container (optional)
     "logs": ["...", ...],               its last log lines (optional, at most 10)
     "image": {...},                     facts from inspecting the image (optional)
     "seen": {"oom": true, "signals": [15, 9]},   what the watcher saw before a death
     "restart_loop": {"deaths": 3, "since": 1700000000.5, "first": true, "report": true},
     "reconciled": true}                 a death found by listing containers, not streamed

A bare Engine event (the shape of ../shared/corpus/docker) parses too, as host `docker`.

Kinds (`KINDS`) are the Engine's `<Type>.<Action>`, health in the action string split on
its colon (`health_status: unhealthy` → `container.health_status.unhealthy`), plus three
derived ones:

* `container.die` is a death with a non-zero exit code (a crash, a kill, an OOM kill);
  a clean exit (code 0) is `container.exit`, so the default selection can leave it out.
* `container.restart_loop` is a death the watcher counted as the third (or later) within
  ten minutes; it replaces that death's `die`. While the loop lasts, one death in ten
  minutes is reported with the count (`report` false: the delivery yields no event).
* `image.build` is a `tag` of an image the watcher saw as new (created just before the
  tag, never reported): the Engine reports no build start.

Exit causes are in words (`exit_cause`): OOM-killed only from an `oom` event or
`State.OOMKilled` with exit code 137, never from 137 alone; 128+n is the signal n
(SIGKILL, SIGTERM, …), said as `docker kill` / `docker stop` when the watcher saw the
signal being sent; 125–127 are docker-run errors.

Other Engine events (create, destroy, exec_*, network, volume, …) raise
UnsupportedEventError: the watcher does not ask for them, and they are recorded as ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType

import orjson

from parsers.errors import PayloadError, SignatureError, UnsupportedEventError
from parsers.event import JSON, Event

__all__ = [
    "ALIASES",
    "ATTRIBUTE_EVENTS",
    "CONTENT_TYPES",
    "DEFAULT_SELECTION",
    "FIELD_DOCS",
    "HTTP",
    "KINDS",
    "MAX_LOG_BYTES",
    "MAX_LOG_LINES",
    "SAMPLES",
    "SERVICE",
    "SETUP_HINT",
    "delivery_id",
    "exit_cause",
    "human_size",
    "identify",
    "kind_of",
    "parse",
    "sample_headers",
    "sign",
    "time_nanos",
    "verify",
]

SERVICE = "docker"
HTTP = False
"""Docker events are read from each host's Engine stream, never received over HTTP."""
CONTENT_TYPES: tuple[str, ...] = ("application/json",)

MAX_LOG_LINES = 10
"""Log lines shown with a death (the watcher fetches this many)."""
MAX_LOG_BYTES = 4096
"""Bytes of log the watcher keeps (the end of the tail), whatever the lines' length."""
MAX_LOG_LINE = 300  # characters of one log line shown
_MAX_TEXT = 256  # characters of a name, image or label value kept
_MAX_LABELS = 50
_MAX_HEALTH_OUTPUT = 500
_SIGNAL_BASE = 128

CONTAINER_ACTIONS: tuple[str, ...] = ("start", "stop", "die", "kill", "oom", "restart")
IMAGE_ACTIONS: tuple[str, ...] = ("pull", "push", "tag", "delete")

KINDS: tuple[str, ...] = (
    "container.start",
    "container.stop",
    "container.die",
    "container.exit",
    "container.kill",
    "container.oom",
    "container.restart",
    "container.restart_loop",
    "container.health_status.unhealthy",
    "container.health_status.healthy",
    "image.pull",
    "image.push",
    "image.tag",
    "image.delete",
    "image.build",
)
"""Every kind a Docker hook can receive."""

DEFAULT_SELECTION: tuple[str, ...] = (
    "container.die",
    "container.oom",
    "container.health_status.unhealthy",
    "container.restart_loop",
    "image.build",
)
"""Crashes (non-zero exits), OOM kills, unhealthy containers, restart loops and builds."""

ALIASES: dict[str, tuple[str, ...]] = {
    "start": ("container.start",),
    "stop": ("container.stop",),
    "die": ("container.die",),
    "exit": ("container.exit",),
    "kill": ("container.kill",),
    "oom": ("container.oom",),
    "restart": ("container.restart", "container.restart_loop"),
    "health": ("container.health_status.*",),
    "unhealthy": ("container.health_status.unhealthy",),
    "healthy": ("container.health_status.healthy",),
    "error": (
        "container.die",
        "container.oom",
        "container.health_status.unhealthy",
        "container.restart_loop",
    ),
    "build": ("image.build",),
    "pull": ("image.pull",),
    "push": ("image.push",),
    "tag": ("image.tag",),
}
"""Short words for `--events` (the seed's `build, start, stop, error`)."""

# Signal numbers as Linux numbers them (x86 and arm), for exit codes 128+n.
SIGNALS: Mapping[int, str] = MappingProxyType(
    {
        1: "SIGHUP",
        2: "SIGINT",
        3: "SIGQUIT",
        4: "SIGILL",
        5: "SIGTRAP",
        6: "SIGABRT",
        7: "SIGBUS",
        8: "SIGFPE",
        9: "SIGKILL",
        10: "SIGUSR1",
        11: "SIGSEGV",
        12: "SIGUSR2",
        13: "SIGPIPE",
        14: "SIGALRM",
        15: "SIGTERM",
    }
)
_SIGKILL, _SIGTERM = 9, 15
_OOM_EXIT = _SIGNAL_BASE + _SIGKILL

_RUN_ERRORS = {
    125: "docker run error: the daemon could not run the container",
    126: "command cannot be invoked (not executable)",
    127: "command not found",
}

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_BLANKS = re.compile(r"\s+")


# --------------------------------------------------------------------------- edges


def sign(body: bytes, secret: str) -> dict[str, str]:
    """Return no headers: Docker events are not signed (they are read, not received).

    Args:
        body: Unused.
        secret: Unused.

    Returns:
        An empty dict.
    """
    del body, secret
    return {}


def verify(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Refuse every HTTP delivery: Docker events only come from the Engine stream.

    Raises:
        SignatureError: Always.
    """
    del headers, body, secret
    raise SignatureError("docker events are read from the Docker Engine, not posted")


def _nanos(event: Mapping[str, JSON]) -> int:
    """Return an event's time in nanoseconds (`timeNano`, else `time` in seconds)."""
    nano = event.get("timeNano")
    if isinstance(nano, int) and not isinstance(nano, bool):
        return nano
    seconds = event.get("time")
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return int(seconds * 1_000_000_000)
    return 0


def time_nanos(text: JSON) -> int | None:
    """Read an Engine RFC 3339 time (nanosecond fraction) as Unix nanoseconds.

    Go's zero time (`0001-01-01T00:00:00Z`, "never") and malformed text give None.
    """
    if not isinstance(text, str) or len(text) > 64 or text.startswith("0001-"):
        return None
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if match is None:
        return None
    zone = "+00:00" if match[3] == "Z" else match[3]
    try:
        whole = datetime.fromisoformat(match[1] + zone)
    except ValueError:
        return None
    fraction = (match[2] or "0")[:9].ljust(9, "0")
    return int(whole.timestamp()) * 1_000_000_000 + int(fraction)


def _actor(event: Mapping[str, JSON]) -> tuple[str, dict[str, JSON]]:
    """Return the actor's id and attributes (the legacy `id`/`from` when there is no Actor)."""
    actor = event.get("Actor")
    ident: JSON = None
    attributes: dict[str, JSON] = {}
    if isinstance(actor, dict):
        ident = actor.get("ID")
        found = actor.get("Attributes")
        if isinstance(found, dict):
            attributes = found
    if not isinstance(ident, str) or not ident:
        ident = event.get("id")
    if not attributes and isinstance(event.get("from"), str):
        attributes = {"image": event["from"]}
    return (ident if isinstance(ident, str) else ""), attributes


def _type_action(event: Mapping[str, JSON]) -> tuple[str, str]:
    """Return the event's Type and Action (legacy events: `status`, and a container)."""
    kind = event.get("Type")
    action = event.get("Action")
    if not isinstance(action, str) or not action:
        action = event.get("status")
    if not isinstance(kind, str) or not kind:
        kind = "container"
    if not isinstance(action, str) or not action:
        raise PayloadError("the Docker event has no Action", "Action")
    return kind, action.strip()


def delivery_id(host: str, event: Mapping[str, JSON], container: Mapping[str, JSON] | None) -> str:
    """Return the dedupe id of one event on one host: host, actor id, action and time.

    The time is the event's `timeNano`, except for a death: a death found by
    reconciliation only has the container's `State.FinishedAt`, so a `die` whose inspect
    shows a FinishedAt no later than the event (the same death) uses that time too, and
    the streamed and the reconciled copies of one death share one id.

    Args:
        host: The DOCKER_HOSTS name.
        event: The Engine event object.
        container: The facts the watcher attached (`finished_at`), if any.

    Returns:
        `<host>:<id>:<action>:<nanoseconds>`.
    """
    _, action = _type_action(event)
    ident, _ = _actor(event)
    nanos = _nanos(event)
    if action == "die" and container is not None:
        finished = time_nanos(container.get("finished_at"))
        if finished is not None and finished <= nanos:
            nanos = finished
    return f"{host}:{ident}:{action}:{nanos}"


def _decode(body: bytes) -> dict[str, JSON]:
    """Decode a body into an envelope (a bare Engine event is wrapped)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"body is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise PayloadError("a Docker event is a JSON object")
    if isinstance(value.get("event"), dict):
        return value
    return {"host": SERVICE, "event": value}


def _host(envelope: Mapping[str, JSON]) -> str:
    host = envelope.get("host")
    return host if isinstance(host, str) and host else SERVICE


def identify(headers: Mapping[str, str], body: bytes) -> tuple[str | None, str | None]:
    """Return the event name (the Engine's Type) and the delivery id of a stored event.

    Args:
        headers: Unused (stored events carry none that matter).
        body: The envelope the watcher stored, or a bare Engine event.

    Returns:
        `(Type, delivery id)`; `(None, None)` when the body is not a Docker event.
    """
    del headers
    try:
        envelope = _decode(body)
        event = envelope["event"]
        assert isinstance(event, dict)  # noqa: S101 - _decode guarantees it
        kind, _ = _type_action(event)
        container = envelope.get("container")
        facts = container if isinstance(container, dict) else None
        return kind, delivery_id(_host(envelope), event, facts)
    except PayloadError:
        return None, None


# --------------------------------------------------------------------------- words


def exit_cause(code: int, *, oom: bool = False, signals: Sequence[int] = ()) -> str:
    """Say in words why a container's main process ended with `code`.

    Args:
        code: The exit code (`die`'s exitCode, or State.ExitCode).
        oom: An `oom` event was seen for the container, or State.OOMKilled is true.
        signals: Signals the watcher saw being sent to it just before (`kill` events).

    Returns:
        `OOM-killed` (only when `oom` and the code is 137), `SIGKILL, sent by docker kill`,
        `SIGTERM`, `command not found`, `exited normally`, `error`, …
    """
    if oom and code == _OOM_EXIT:
        return "OOM-killed"
    if code == 0:
        cause = "exited normally"
    elif code in _RUN_ERRORS:
        cause = _RUN_ERRORS[code]
    elif _SIGNAL_BASE < code < _SIGNAL_BASE + 65:
        number = code - _SIGNAL_BASE
        name = SIGNALS.get(number, f"signal {number}")
        if number == _SIGKILL and _SIGTERM in signals:
            cause = "SIGKILL, sent by docker stop when SIGTERM was not obeyed"
        elif number == _SIGKILL and _SIGKILL in signals:
            cause = "SIGKILL, sent by docker kill"
        elif number == _SIGTERM and _SIGTERM in signals:
            cause = "SIGTERM, sent by docker stop"
        elif number in signals:
            cause = f"{name}, sent by docker kill"
        else:
            cause = name
    else:
        cause = "error"
    if oom:
        cause += "; a process in it was OOM-killed"
    return cause


def human_size(size: int) -> str:
    """Return a byte count as Docker prints it: `1.98MB`, `152MB`, `512B`."""
    amount = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if amount < 1000 or unit == "TB":
            if unit == "B":
                return f"{int(amount)}B"
            return f"{amount:.4g}{unit}"
        amount /= 1000
    return f"{size}B"  # pragma: no cover - the loop always returns


def _line(text: str, limit: int = _MAX_TEXT) -> str:
    """One line of safe text: escapes and controls removed, blanks collapsed, cut."""
    collapsed = _BLANKS.sub(" ", _CONTROLS.sub("", _ANSI.sub("", text[: limit * 4]))).strip()
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 1] + "…"


def _log_line(text: str) -> str:
    """A log line fit for a code block: no escapes or controls, no run of backticks."""
    clean = _CONTROLS.sub("", _ANSI.sub("", text[: MAX_LOG_LINE * 4])).rstrip()
    clean = clean.replace("\t", "    ").replace("`", "`\u200b")
    return clean if len(clean) <= MAX_LOG_LINE else clean[: MAX_LOG_LINE - 1] + "…"


def _logs(value: JSON) -> list[JSON]:
    if not isinstance(value, list):
        return []
    lines = [_log_line(item) for item in value[-MAX_LOG_LINES:] if isinstance(item, str)]
    return [line for line in lines if line.strip()]


def _text(value: JSON, limit: int = _MAX_TEXT) -> str | None:
    if isinstance(value, str):
        text = _line(value, limit)
        return text or None
    return None


def _int(value: JSON) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,10}", value.strip()):
        return int(value)
    return None


def _labels(attributes: Mapping[str, JSON], container: Mapping[str, JSON]) -> dict[str, JSON]:
    """Labels from the inspect facts, else the event's attributes minus the Engine's own."""
    found = container.get("labels")
    source: Mapping[str, JSON] = (
        found
        if isinstance(found, dict)
        else {
            k: v
            for k, v in attributes.items()
            if k not in ("name", "image", "exitCode", "signal", "execDuration")
        }
    )
    labels: dict[str, JSON] = {}
    for key, value in list(source.items())[:_MAX_LABELS]:
        if isinstance(value, str) and len(key) <= _MAX_TEXT:
            labels[key] = value[:_MAX_TEXT]
    return labels


# --------------------------------------------------------------------------- parsing


def kind_of(event: Mapping[str, JSON], envelope: Mapping[str, JSON] | None = None) -> str:
    """Return the kind of an Engine event (with its envelope's facts, when given).

    Raises:
        PayloadError: The event has no Action.
        UnsupportedEventError: An action hookbot does not report (create, exec_*, …).
    """
    facts: Mapping[str, JSON] = envelope or {}
    kind, action = _type_action(event)
    if kind == "container" and action.startswith("health_status"):
        status = action.partition(":")[2].strip()
        if status in ("healthy", "unhealthy"):
            return f"container.health_status.{status}"
        raise UnsupportedEventError(f"docker health status {status!r} is not reported")
    if kind == "container" and action in CONTAINER_ACTIONS:
        if action == "die":
            if isinstance(facts.get("restart_loop"), dict):
                return "container.restart_loop"
            _, attributes = _actor(event)
            code = _int(attributes.get("exitCode"))
            return "container.exit" if code == 0 else "container.die"
        return f"container.{action}"
    if kind == "image" and action in IMAGE_ACTIONS:
        image = facts.get("image")
        if action == "tag" and isinstance(image, dict) and image.get("new") is True:
            return "image.build"
        return f"image.{action}"
    raise UnsupportedEventError(f"docker {kind} {action!r} events are not reported")


def _occurred(nanos: int) -> datetime | None:
    if nanos <= 0:
        return None
    try:
        return datetime.fromtimestamp(nanos / 1_000_000_000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _seconds_between(start: JSON, end: JSON) -> int | None:
    first, last = time_nanos(start), time_nanos(end)
    if first is None or last is None or last < first:
        return None
    return (last - first) // 1_000_000_000


def _mapping(value: JSON) -> Mapping[str, JSON]:
    return value if isinstance(value, dict) else {}


def _signals(seen: Mapping[str, JSON]) -> list[int]:
    value = seen.get("signals")
    items = value if isinstance(value, list) else []
    return [n for n in items if isinstance(n, int) and not isinstance(n, bool)]


def _death_fields(
    event: Mapping[str, JSON], envelope: Mapping[str, JSON], fields: dict[str, JSON]
) -> int:
    """Add what a death carries (exit code and cause, uptime, logs); return the code.

    The inspect facts describe this death when their FinishedAt is no later than the
    event (else the container died again since, and they are not used). Uptime runs
    from the start the watcher saw (`seen.started`, nanoseconds), else State.StartedAt.
    """
    _, attributes = _actor(event)
    facts = _mapping(envelope.get("container"))
    seen = _mapping(envelope.get("seen"))
    nanos = _nanos(event)
    finished = time_nanos(facts.get("finished_at"))
    same_run = finished is not None and finished <= nanos
    code = _int(attributes.get("exitCode"))
    if code is None and same_run:
        code = _int(facts.get("exit_code"))
    signals = _signals(seen)
    oom = seen.get("oom") is True or (same_run and facts.get("oom_killed") is True)
    end = finished if same_run and finished is not None else nanos
    started = _int(seen.get("started"))
    if started is None and same_run:
        started = time_nanos(facts.get("started_at"))
    if code is None:
        fields["exit_code"] = None
        fields["exit_cause"] = "unknown"
    else:
        fields["exit_code"] = code
        fields["exit_cause"] = exit_cause(code, oom=oom, signals=signals)
    fields["oom"] = oom and code == _OOM_EXIT
    by_signal = code is not None and _SIGNAL_BASE < code < _SIGNAL_BASE + 65
    fields["signal"] = code - _SIGNAL_BASE if by_signal and code is not None else None
    fields["signal_name"] = _signal_name(fields["signal"])
    fields["stopped_by_user"] = bool(signals)
    fields["uptime"] = (end - started) // 1_000_000_000 if started and end >= started else None
    fields["started_at"] = _iso(started) if started else None
    fields["error"] = _text(facts.get("error"), 500) if same_run else None
    fields["logs"] = _logs(envelope.get("logs"))
    return -1 if code is None else code


def _signal_name(number: JSON) -> str | None:
    if not isinstance(number, int) or isinstance(number, bool):
        return None
    return SIGNALS.get(number, f"signal {number}")


def _iso(nanos: int) -> str | None:
    moment = _occurred(nanos)
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _container_fields(
    kind: str, event: Mapping[str, JSON], envelope: Mapping[str, JSON], host: str
) -> tuple[dict[str, JSON], str, str | None]:
    """Return a container event's fields, its title and its status."""
    ident, attributes = _actor(event)
    facts = _mapping(envelope.get("container"))
    name = _text(attributes.get("name")) or _text(facts.get("name")) or ident[:12] or "?"
    action = kind.split(".", 1)[1]
    fields: dict[str, JSON] = {
        "host": host,
        "container": name,
        "container_id": ident[:12],
        "image": _text(attributes.get("image")) or _text(facts.get("image")) or "",
        "action": action,
        "label": _labels(attributes, facts),
        "reconciled": envelope.get("reconciled") is True,
        "restart_count": _int(facts.get("restart_count")),
    }
    status: str | None
    if kind in ("container.die", "container.exit", "container.restart_loop"):
        code = _death_fields(event, envelope, fields)
        status = "success" if code == 0 else ("stopped" if fields["stopped_by_user"] else "failure")
        if kind == "container.restart_loop":
            loop = _mapping(envelope.get("restart_loop"))
            deaths = _int(loop.get("deaths")) or 0
            since = loop.get("since")
            spent = (
                max(_nanos(event) // 1_000_000_000 - int(since), 0)
                if isinstance(since, int | float) and not isinstance(since, bool)
                else 0
            )
            fields["restart_loop"] = {
                "deaths": deaths,
                "seconds": spent,
                "first": loop.get("first") is True,
            }
            status = "failure"
            title = f"Container {name} is in a restart loop: {deaths} deaths in {_span(spent)}"
        elif code == 0:
            title = f"Container {name} exited normally (exit code 0)"
        elif code < 0:
            title = f"Container {name} stopped"
        else:
            title = f"Container {name} stopped: exit code {code} ({fields['exit_cause']})"
    elif kind == "container.oom":
        status = "failure"
        title = f"Container {name} ran out of memory (a process was OOM-killed)"
        fields["logs"] = _logs(envelope.get("logs"))
    elif kind.startswith("container.health_status."):
        health = kind.rsplit(".", 1)[1]
        details = _mapping(facts.get("health"))
        if details.get("status") != health:
            details = {}  # inspected after the next flip: not this status's probe
        fields["health"] = health
        fields["failing_streak"] = _int(details.get("failing_streak"))
        fields["health_output"] = _text(details.get("last_output"), _MAX_HEALTH_OUTPUT)
        fields["logs"] = _logs(envelope.get("logs")) if health == "unhealthy" else []
        status = "failure" if health == "unhealthy" else "success"
        title = f"Container {name} is {health}"
    elif kind == "container.kill":
        number = _int(attributes.get("signal"))
        fields["signal"] = number
        fields["signal_name"] = _signal_name(number)
        status = "warning"
        title = f"Container {name} was sent {fields['signal_name'] or 'a signal'}"
    else:
        verb = {"start": "started", "stop": "stopped", "restart": "restarted"}.get(action, action)
        status = "stopped" if action == "stop" else "running"
        title = f"Container {name} {verb}"
    return fields, title, status


def _span(seconds: int) -> str:
    """Say a short span: `45s`, `4m`, `1h 5m` (rounded down to whole minutes past 1m)."""
    seconds = max(seconds, 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m"


def _image_fields(
    kind: str, event: Mapping[str, JSON], envelope: Mapping[str, JSON], host: str
) -> tuple[dict[str, JSON], str, str | None]:
    """Return an image event's fields, its title and its status."""
    ident, attributes = _actor(event)
    facts = _mapping(envelope.get("image"))
    name = _text(attributes.get("name")) or ""
    if not _tagged(name) and ident and not ident.startswith("sha256:"):
        name = _text(ident) or name  # a pull's id is the reference pulled: `postgres:16`
    if not name:
        name = ident[:19] or "?"
    elif not _tagged(name) and not name.startswith("sha256:"):
        name += ":latest"
    image_id = _text(facts.get("id")) or (ident if ident.startswith("sha256:") else "")
    size = _int(facts.get("size"))
    layers = _int(facts.get("layers"))
    found_tags = facts.get("tags")
    tags: list[JSON] = []
    for tag in found_tags[:20] if isinstance(found_tags, list) else []:
        if isinstance(tag, str):
            tags.append(tag[:_MAX_TEXT])
    fields: dict[str, JSON] = {
        "host": host,
        "image": name,
        "image_id": image_id.removeprefix("sha256:")[:12],
        "action": kind.split(".", 1)[1],
        "size": size,
        "size_text": human_size(size) if size is not None else None,
        "layers": layers,
        "tags": tags,
        "build_seconds": _int(facts.get("build_seconds")),
        "label": _labels(attributes, {"labels": facts["labels"]} if "labels" in facts else {}),
    }
    words = {
        "pull": "pulled",
        "push": "pushed",
        "tag": "tagged",
        "delete": "deleted",
        "build": "built",
    }
    title = f"Image {name} {words.get(kind.split('.', 1)[1], 'changed')}"
    if kind == "image.build" and size is not None:
        title += f" ({human_size(size)}" + (f", {layers} layers)" if layers else ")")
    return fields, title, "success"


def _tagged(reference: str) -> bool:
    """Say whether an image reference names a tag or digest (`nginx:1.27`, `x@sha256:…`)."""
    return "@" in reference or ":" in reference.rsplit("/", 1)[-1]


def parse(headers: Mapping[str, str], body: bytes, options: Mapping[str, JSON]) -> list[Event]:
    """Turn one stored Docker event into its Event (none for a death counted in a loop).

    Args:
        headers: Unused.
        body: The envelope the watcher stored, or a bare Engine event.
        options: Unused (the watcher applies the hook's container glob).

    Returns:
        One Event; an empty list for a death the watcher counted in a restart loop
        without reporting it (`restart_loop.report` false).

    Raises:
        PayloadError: The body is not an Engine event.
        UnsupportedEventError: An event hookbot does not report.
    """
    del headers, options
    envelope = _decode(body)
    event = envelope["event"]
    assert isinstance(event, dict)  # noqa: S101 - _decode guarantees it
    host = _host(envelope)
    kind = kind_of(event, envelope)
    loop = envelope.get("restart_loop")
    if isinstance(loop, dict) and loop.get("report") is False:
        return []
    container_value = envelope.get("container")
    facts = container_value if isinstance(container_value, dict) else None
    if kind.startswith("container."):
        fields, title, status = _container_fields(kind, event, envelope, host)
        subject = f"docker:{host}/{fields['container']}"
        source = f"{host}/{fields['container']}"
    else:
        fields, title, status = _image_fields(kind, event, envelope, host)
        subject = f"docker:{host}/{fields['image']}"
        source = f"{host}/{fields['image']}"
    return [
        Event(
            service=SERVICE,
            provider=SERVICE,
            kind=kind,
            source=source,
            delivery_id=delivery_id(host, event, facts),
            occurred_at=_occurred(_nanos(event)),
            title=title,
            status=status,
            subject=subject,
            fields=MappingProxyType(fields),
        )
    ]


# --------------------------------------------------------------------------- registry data

_COMMON_DOCS: dict[str, str] = {
    "host": "The Docker host's name in DOCKER_HOSTS (`local` for the local socket).",
    "action": "The kind after `container.` / `image.`: the Engine's action (`die`, `oom`, "
    "`pull`, `health_status.unhealthy`, …) or a derived one (`exit`, `restart_loop`, `build`).",
    "image": "Image name (`nginx:1.27`; a container's image as it was started).",
    "label": "Labels as a mapping name → value: `label['com.docker.compose.project']`.",
    "label.<name>": "One label's value by its name, dots allowed: "
    "`filter <ref> label.com.docker.compose.project=shop`.",
}

FIELD_DOCS: dict[str, dict[str, str]] = {
    "*": _COMMON_DOCS,
    "container": {
        "container": "Container name (without the leading slash).",
        "container_id": "Container id, first 12 characters.",
        "restart_count": "How many times Docker restarted it (State.RestartCount), when known.",
        "reconciled": "True when the death was found by listing containers after the "
        "stream was down (the Engine had forgotten its event).",
        "exit_code": "die, exit, restart_loop: the main process's exit code.",
        "exit_cause": "die, exit, restart_loop: the exit code in words: `OOM-killed`, "
        "`SIGKILL, sent by docker kill`, `SIGTERM`, `command not found`, `error`, …",
        "oom": "die, restart_loop: true when it was OOM-killed (an `oom` event or "
        "State.OOMKilled, with exit code 137; never from 137 alone).",
        "signal": "die: the signal that ended it (exit code 128+n); kill: the signal sent.",
        "signal_name": "die, kill: that signal's name (`SIGKILL`, `SIGTERM`, …).",
        "stopped_by_user": "die: true when a `kill` (docker stop / docker kill) was seen "
        "just before.",
        "uptime": "die, exit: seconds it ran (State.StartedAt to FinishedAt), when known.",
        "started_at": "die, exit: when the run that ended started (RFC 3339), when known.",
        "error": "die: the Engine's State.Error (why it could not start), when any.",
        "logs": "die, oom, unhealthy: its last log lines (at most 10), oldest first; "
        "empty when it was removed.",
        "health": "health_status: `healthy` or `unhealthy`.",
        "failing_streak": "health_status: failed probes in a row, when known.",
        "health_output": "health_status: the last probe's output, when known.",
        "restart_loop.deaths": "restart_loop: deaths counted since the loop began.",
        "restart_loop.seconds": "restart_loop: seconds since the first of those deaths.",
        "restart_loop.first": "restart_loop: true for the message that opens the loop; "
        "later ones carry the count (one per 10 minutes while it lasts).",
    },
    "image": {
        "image_id": "Image id, first 12 characters (without `sha256:`), when known.",
        "size": "build, pull, tag: image size in bytes, when known.",
        "size_text": "The size as Docker prints it (`152MB`), when known.",
        "layers": "build, pull, tag: how many layers it has, when known.",
        "tags": "Every tag of the image, when known.",
        "build_seconds": "build: seconds from its first intermediate container to the tag, "
        "when the build's containers were seen (classic builder).",
    },
}
"""Field path → one-line description, per event name (`*`: every Docker event)."""

ATTRIBUTE_EVENTS: dict[str, tuple[str, ...]] = {"branch": ()}
"""No Docker event has a branch; every one has a status (the default: all)."""

SETUP_HINT = """\
Nothing to paste anywhere: hookbot reads the Docker Engine's event stream itself, from \
every host of DOCKER_HOSTS (`name=unix:///var/run/docker.sock,prod=tcp://10.0.0.5:2376`; \
unset: the local socket). Events: {events}."""
"""What the `on` answer says, filled in with `str.format(url=…, secret=…, events=…)`."""

SAMPLES: dict[str, str] = {
    "die_oom": "container.die",
    "die_exit3": "container.die",
    "exit": "container.exit",
    "oom": "container.oom",
    "unhealthy": "container.health_status.unhealthy",
    "healthy": "container.health_status.healthy",
    "restart_loop": "container.restart_loop",
    "start": "container.start",
    "kill": "container.kill",
    "build": "image.build",
    "pull": "image.pull",
}
"""Sample name → the kind its envelope (`parsers/samples/docker/<name>.json`) produces."""


def sample_headers(name: str) -> dict[str, str]:
    """Return the headers stored with a bundled sample: only its content type.

    Raises:
        KeyError: There is no such sample.
    """
    if name not in SAMPLES:
        raise KeyError(f"no docker sample named {name!r}; samples: {', '.join(SAMPLES)}")
    return {"Content-Type": "application/json"}
