"""parsers.docker: Engine events (and the watcher's facts) → Events; the shared corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from parsers import SERVICES, docker
from parsers.errors import PayloadError, SignatureError, UnsupportedEventError
from parsers.event import Event

ROOT = Path(__file__).resolve().parents[2]
SAMPLES_DIR = ROOT / "parsers" / "samples" / "docker"
CORPUS = ROOT.parent / "shared" / "corpus" / "docker" / "events"
CID = "0fdb48addc82871eb34eb23a847cfd033dedd1a0a37bef2e6d9eb3870fc7ff37"
T = 1_764_594_000_412_345_678  # 2025-12-01T13:00:00.412345678Z


def engine_event(action: str, attributes: dict[str, str], *, kind: str = "container") -> dict:
    return {
        "status": action,
        "id": CID,
        "Type": kind,
        "Action": action,
        "Actor": {"ID": CID, "Attributes": attributes},
        "scope": "local",
        "time": T // 1_000_000_000,
        "timeNano": T,
    }


def parse(envelope: dict[str, Any]) -> list[Event]:
    return docker.parse({}, json.dumps(envelope).encode(), {})


def one(envelope: dict[str, Any]) -> Event:
    (event,) = parse(envelope)
    return event


def die(code: str, **envelope: Any) -> dict[str, Any]:
    return {
        "host": "prod",
        "event": engine_event("die", {"exitCode": code, "image": "bb:local", "name": "t"}),
        **envelope,
    }


# --------------------------------------------------------------------------- registry


def test_docker_is_registered_without_http() -> None:
    spec = SERVICES["docker"]
    assert spec.http is False
    assert spec.kinds == docker.KINDS
    assert set(spec.default_selection) <= set(spec.kinds)
    with pytest.raises(SignatureError):
        spec.verify({}, b"{}", "secret", {})


@pytest.mark.parametrize("name", sorted(docker.SAMPLES))
def test_each_sample_parses_to_its_kind(name: str) -> None:
    body = (SAMPLES_DIR / f"{name}.json").read_bytes()
    (event,) = docker.parse(docker.sample_headers(name), body, {})
    assert event.kind == docker.SAMPLES[name]
    assert event.service == event.provider == "docker"
    assert event.delivery_id == docker.identify({}, body)[1]
    documented = set(docker.FIELD_DOCS["*"]) | set(docker.FIELD_DOCS[event.kind.split(".")[0]])
    tops = {path.split(".")[0] for path in documented}
    assert set(event.fields) <= tops, set(event.fields) - tops


def test_samples_cover_every_default_kind_and_files_match_the_table() -> None:
    assert {p.stem for p in SAMPLES_DIR.glob("*.json")} == set(docker.SAMPLES)
    assert set(docker.DEFAULT_SELECTION) <= set(docker.SAMPLES.values())


def test_the_seed_crash_report_facts() -> None:
    event = one(json.loads((SAMPLES_DIR / "die_oom.json").read_bytes()))
    assert event.title == "Container phigen-bot stopped: exit code 137 (OOM-killed)"
    assert event.fields["exit_code"] == 137
    assert event.fields["oom"] is True
    assert event.fields["uptime"] == 2 * 3600 + 15 * 60
    assert event.fields["logs"][-1] == "MemoryError: Out of memory"
    assert event.subject == "docker:local/phigen-bot"
    assert event.source == "local/phigen-bot"
    assert event.status == "failure"


# --------------------------------------------------------------------------- exit causes


@pytest.mark.parametrize(
    ("code", "oom", "signals", "words"),
    [
        (137, True, (), "OOM-killed"),
        (137, False, (), "SIGKILL"),
        (137, False, (9,), "SIGKILL, sent by docker kill"),
        (137, False, (15, 9), "SIGKILL, sent by docker stop when SIGTERM was not obeyed"),
        (143, False, (), "SIGTERM"),
        (143, False, (15,), "SIGTERM, sent by docker stop"),
        (139, False, (), "SIGSEGV"),
        (130, False, (2,), "SIGINT, sent by docker kill"),
        (125, False, (), "docker run error: the daemon could not run the container"),
        (126, False, (), "command cannot be invoked (not executable)"),
        (127, False, (), "command not found"),
        (0, False, (), "exited normally"),
        (3, False, (), "error"),
        (1, True, (), "error; a process in it was OOM-killed"),
    ],
)
def test_exit_cause_in_words(code: int, oom: bool, signals: tuple[int, ...], words: str) -> None:
    assert docker.exit_cause(code, oom=oom, signals=signals) == words


def test_137_alone_is_not_oom() -> None:
    event = one(die("137"))
    assert event.kind == "container.die"
    assert event.fields["oom"] is False
    assert event.fields["exit_cause"] == "SIGKILL"
    assert event.fields["signal"] == 9
    assert event.fields["signal_name"] == "SIGKILL"


def test_oom_from_the_oom_event_or_state_with_137() -> None:
    seen = one(die("137", seen={"oom": True}))
    assert seen.fields["exit_cause"] == "OOM-killed"
    state = one(
        die(
            "137",
            container={"oom_killed": True, "finished_at": "2025-12-01T13:00:00.401Z"},
        )
    )
    assert state.fields["oom"] is True
    # State.OOMKilled of a later run (FinishedAt after the event) does not count.
    later = one(
        die(
            "137",
            container={"oom_killed": True, "finished_at": "2025-12-01T13:05:00Z"},
        )
    )
    assert later.fields["oom"] is False


def test_a_stop_is_told_apart_from_a_crash() -> None:
    event = one(die("137", seen={"signals": [15, 9]}))
    assert event.status == "stopped"
    assert event.fields["stopped_by_user"] is True
    assert "docker stop" in event.fields["exit_cause"]


def test_clean_exit_is_its_own_kind_and_outside_the_default() -> None:
    event = one(die("0"))
    assert event.kind == "container.exit"
    assert event.status == "success"
    assert "container.exit" not in docker.DEFAULT_SELECTION
    assert "container.die" in docker.DEFAULT_SELECTION


# --------------------------------------------------------------------------- uptime, logs


def test_uptime_from_state_of_the_same_run() -> None:
    facts = {
        "started_at": "2025-12-01T10:45:00.000000001Z",
        "finished_at": "2025-12-01T13:00:00.400000000Z",
    }
    assert one(die("1", container=facts)).fields["uptime"] == 8100


def test_uptime_prefers_the_start_the_watcher_saw() -> None:
    """A restarted container's StartedAt is its new run; the seen start is this run's."""
    facts = {
        "started_at": "2025-12-01T13:00:01Z",  # already running again
        "finished_at": "2025-12-01T13:00:00.400000000Z",
    }
    seen = {"started": 1_764_594_000_400_000_000 - 75 * 1_000_000_000}
    assert one(die("1", container=facts, seen=seen)).fields["uptime"] == 75
    assert one(die("1", container=facts)).fields["uptime"] is None


def test_no_facts_means_no_uptime_and_no_logs() -> None:
    """A removed container (`--rm`) could not be inspected: the event alone still reports."""
    event = one(die("2"))
    assert event.fields["uptime"] is None
    assert event.fields["logs"] == []
    assert event.title == "Container t stopped: exit code 2 (error)"


def test_logs_are_bounded_and_safe_in_a_code_block() -> None:
    lines = [f"line {n}" for n in range(30)]
    lines[-1] = "\x1b[31mred\x1b[0m ```fence``` \x07bell"
    lines[-2] = "x" * 5000
    event = one(die("1", logs=lines))
    logs = event.fields["logs"]
    assert len(logs) == docker.MAX_LOG_LINES
    assert logs[0] == "line 20"
    assert "``" not in logs[-1]
    assert "\x1b" not in logs[-1]
    assert "\x07" not in logs[-1]
    assert logs[-1].replace("\u200b", "") == "red ```fence``` bell"
    assert len(logs[-2]) <= docker.MAX_LOG_LINE


# --------------------------------------------------------------------------- kinds


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("health_status: unhealthy", "container.health_status.unhealthy"),
        ("health_status: healthy", "container.health_status.healthy"),
        ("oom", "container.oom"),
        ("start", "container.start"),
        ("stop", "container.stop"),
        ("restart", "container.restart"),
        ("kill", "container.kill"),
    ],
)
def test_container_actions(action: str, kind: str) -> None:
    assert one({"host": "h", "event": engine_event(action, {"name": "web"})}).kind == kind


@pytest.mark.parametrize(
    "action", ["health_status: starting", "exec_start: sh -c true", "create", "destroy", "attach"]
)
def test_noise_is_unsupported(action: str) -> None:
    with pytest.raises(UnsupportedEventError):
        parse({"host": "h", "event": engine_event(action, {"name": "web"})})


def test_health_facts_of_a_later_flip_are_not_used() -> None:
    event = engine_event("health_status: unhealthy", {"name": "web"})
    later = {"health": {"status": "healthy", "failing_streak": 0, "last_output": "ok"}}
    fields = one({"host": "h", "event": event, "container": later}).fields
    assert (fields["failing_streak"], fields["health_output"]) == (None, None)
    same = {"health": {"status": "unhealthy", "failing_streak": 3, "last_output": "refused"}}
    fields = one({"host": "h", "event": event, "container": same}).fields
    assert (fields["failing_streak"], fields["health_output"]) == (3, "refused")


def test_restart_loop_reports_then_counts_silently() -> None:
    loop = {"deaths": 3, "since": T / 1e9 - 200, "first": True, "report": True}
    event = one(die("1", restart_loop=loop))
    assert event.kind == "container.restart_loop"
    assert event.fields["restart_loop"] == {"deaths": 3, "seconds": 200, "first": True}
    assert event.title == "Container t is in a restart loop: 3 deaths in 3m"
    assert parse(die("1", restart_loop={**loop, "first": False, "report": False})) == []


def test_image_build_only_for_a_new_image() -> None:
    tag = engine_event("tag", {"name": "shop/api:1.9"}, kind="image")
    tag["Actor"]["ID"] = "sha256:" + CID
    facts = {"size": 2_000_000, "layers": 3, "new": True}
    built = one({"host": "h", "event": tag, "image": facts})
    assert built.kind == "image.build"
    assert built.title == "Image shop/api:1.9 built (2MB, 3 layers)"
    plain = one({"host": "h", "event": tag, "image": {**facts, "new": False}})
    assert plain.kind == "image.tag"


def test_labels_come_from_the_event_attributes() -> None:
    attributes = {
        "exitCode": "1",
        "name": "api",
        "com.docker.compose.project": "shop",
        "tier": "web",
    }
    event = one({"host": "h", "event": engine_event("die", attributes)})
    assert event.fields["label"] == {"com.docker.compose.project": "shop", "tier": "web"}


# --------------------------------------------------------------------------- ids


def test_delivery_id_is_host_actor_action_time() -> None:
    event = engine_event("start", {"name": "web"})
    assert docker.delivery_id("prod", event, None) == f"prod:{CID}:start:{T}"


def test_a_death_streamed_and_reconciled_share_one_id() -> None:
    """The reconciled copy only knows FinishedAt: the streamed die uses it too."""
    finished = "2025-12-01T13:00:00.400000001Z"
    streamed = engine_event("die", {"exitCode": "1"})
    reconciled = dict(streamed, time=T // 10**9, timeNano=1_764_594_000_400_000_001)
    facts = {"finished_at": finished}
    assert docker.delivery_id("h", streamed, facts) == docker.delivery_id("h", reconciled, facts)
    # A later death (FinishedAt past the event) keeps the event's own time.
    later = {"finished_at": "2025-12-01T13:09:00Z"}
    assert docker.delivery_id("h", streamed, later) == f"h:{CID}:die:{T}"


def test_identify_names_the_type_and_garbage_gives_nothing() -> None:
    body = json.dumps({"host": "h", "event": engine_event("oom", {})}).encode()
    assert docker.identify({}, body) == ("container", f"h:{CID}:oom:{T}")
    assert docker.identify({}, b"not json") == (None, None)
    with pytest.raises(PayloadError):
        docker.parse({}, b"[1, 2]", {})
    with pytest.raises(PayloadError):
        docker.parse({}, b'{"event": {"Type": "container"}}', {})


# --------------------------------------------------------------------------- corpus

CORPUS_KINDS = {
    "container.die.json": "container.exit",
    "container.die.api-v1.23-legacy-fields.json": "container.exit",
    "container.die.cli-golden.json": "container.die",
    "container.die.exitcode-137.transcribed.json": "container.die",
    "container.die.exitcode-143.transcribed.json": "container.die",
    "container.kill.signal-15.transcribed.json": "container.kill",
    "container.kill.signal-9.transcribed.json": "container.kill",
    "container.start.json": "container.start",
    "container.start.api-v1.23-legacy-fields.json": "container.start",
    "container.start.cli-golden.json": "container.start",
    "container.stop.transcribed.json": "container.stop",
    "image.pull.json": "image.pull",
    "image.pull.api-v1.23-legacy-fields.json": "image.pull",
}


def _corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.glob("*.json") if not p.name.endswith(".headers.json"))


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus/docker is absent")
@pytest.mark.parametrize("path", _corpus_files(), ids=lambda p: p.name)
def test_corpus_events_parse_or_are_refused_cleanly(path: Path) -> None:
    body = path.read_bytes()
    expected = CORPUS_KINDS.get(path.name)
    if expected is None:
        with pytest.raises(UnsupportedEventError):
            docker.parse({}, body, {})
        return
    (event,) = docker.parse({}, body, {})
    assert event.kind == expected
    assert docker.identify({}, body)[1] == event.delivery_id


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus/docker is absent")
def test_corpus_exit_codes_give_signals_not_oom() -> None:
    (killed,) = docker.parse(
        {}, (CORPUS / "container.die.exitcode-137.transcribed.json").read_bytes(), {}
    )
    (termed,) = docker.parse(
        {}, (CORPUS / "container.die.exitcode-143.transcribed.json").read_bytes(), {}
    )
    assert (killed.fields["exit_cause"], killed.fields["oom"]) == ("SIGKILL", False)
    assert termed.fields["exit_cause"] == "SIGTERM"
    (pulled,) = docker.parse({}, (CORPUS / "image.pull.json").read_bytes(), {})
    assert pulled.fields["image"] == "alpine:latest"
