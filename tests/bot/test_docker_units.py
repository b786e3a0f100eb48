"""DOCKER_HOSTS, and the watcher's pure parts: restart loops, logs, inspect facts, status."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path

import pytest

from bot.config import ConfigError, DockerHost, Settings, parse_docker_hosts, watched_docker_hosts
from bot.intake.docker_streams import HostStatus
from bot.intake.docker_watch import LOOP_WINDOW, SECOND, _Memory, container_facts, log_lines

# --------------------------------------------------------------------------- DOCKER_HOSTS


def test_hosts_are_named_or_named_after_their_address() -> None:
    hosts = parse_docker_hosts(
        "local=unix:///var/run/docker.sock, prod=tcp://10.0.0.5:2376,ssh://me@box.lan,"
    )
    assert hosts == (
        DockerHost("local", "unix:///var/run/docker.sock"),
        DockerHost("prod", "tcp://10.0.0.5:2376"),
        DockerHost("box.lan", "ssh://me@box.lan"),
    )
    assert parse_docker_hosts("") == ()


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("prod=ftp://x", "needs a unix://, tcp:// or ssh:// URL"),
        ("prod=/var/run/docker.sock", "needs a unix://, tcp:// or ssh:// URL"),
        ("tcp://", "needs a unix://, tcp:// or ssh:// URL"),
        ("a b=tcp://x:1", "the name 'a b' must be letters"),
        ("a=tcp://x:1,a=tcp://y:1", "names 'a' twice"),
    ],
)
def test_bad_hosts_are_one_line_naming_the_variable(value: str, said: str) -> None:
    with pytest.raises(ConfigError, match=said) as caught:
        Settings.from_env({"DOCKER_HOSTS": value}, env_file=None)
    assert str(caught.value).startswith("DOCKER_HOSTS")
    assert "\n" not in str(caught.value)


def test_unset_means_the_local_socket_when_it_exists() -> None:
    with tempfile.TemporaryDirectory(prefix="hbs") as folder:
        path = str(Path(folder) / "docker.sock")
        assert watched_docker_hosts((), path) == ()
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(path)
        try:
            assert watched_docker_hosts((), path) == (DockerHost("local", f"unix://{path}"),)
            configured = (DockerHost("prod", "tcp://h:2376"),)
            assert watched_docker_hosts(configured, path) == configured
        finally:
            listener.close()


# --------------------------------------------------------------------------- restart loops

MINUTE = 60 * SECOND


def test_three_deaths_in_ten_minutes_open_a_loop_then_count_it() -> None:
    memory = _Memory()
    at = 1_000 * SECOND
    assert memory.count_death("c1", at, "api") is None
    assert memory.count_death("c1", at + MINUTE, "api") is None
    opened = memory.count_death("c1", at + 2 * MINUTE, "api")
    assert opened == {"deaths": 3, "since": 1000.0, "first": True, "report": True}
    counted = memory.count_death("c1", at + 3 * MINUTE, "api")
    assert counted == {"deaths": 4, "since": 1000.0, "first": False, "report": False}
    # One death a minute: ten minutes after the report (minute 2), one more with the count.
    later = [memory.count_death("c1", at + minute * MINUTE, "api") for minute in range(4, 14)]
    reported = [facts for facts in later if facts and facts["report"]]
    assert reported == [{"deaths": 13, "since": 1000.0, "first": False, "report": True}]
    assert memory.looping(at + 13 * MINUTE) == {"api": 14}


def test_a_loop_ends_after_ten_quiet_minutes() -> None:
    memory = _Memory()
    at = 1_000 * SECOND
    for n in range(3):
        memory.count_death("c1", at + n * SECOND, "api")
    assert memory.looping(at + LOOP_WINDOW + 3 * SECOND) == {}
    later = at + LOOP_WINDOW + 5 * MINUTE
    assert memory.count_death("c1", later, "api") is None  # a fresh death, not a loop


def test_deaths_spread_over_more_than_ten_minutes_are_no_loop() -> None:
    memory = _Memory()
    for n in range(5):
        assert memory.count_death("c1", n * 6 * MINUTE, "api") is None


# --------------------------------------------------------------------------- facts


def test_log_lines_keep_the_last_ten_of_at_most_4_kb() -> None:
    raw = b"".join(f"line {n}\n".encode() for n in range(30))
    assert log_lines(raw) == [f"line {n}" for n in range(20, 30)]
    long = b"x" * 5000 + b"\nend\n"
    assert log_lines(long) == ["end"]  # the cut line is dropped
    assert log_lines(b"\xff\xfebad utf-8\n") == ["\ufffd\ufffdbad utf-8"]
    assert log_lines(None) == []


def test_container_facts_reduce_inspect() -> None:
    inspect = {
        "Name": "/api",
        "RestartCount": 2,
        "Config": {"Image": "shop/api:1", "Labels": {"tier": "web", "n": 1}},
        "State": {
            "Status": "exited",
            "Running": False,
            "ExitCode": 137,
            "OOMKilled": True,
            "StartedAt": "2025-12-01T10:00:00.5Z",
            "FinishedAt": "2025-12-01T11:00:00Z",
            "Error": "",
            "Health": {"Status": "unhealthy", "FailingStreak": 4, "Log": [{"Output": "x" * 900}]},
        },
    }
    facts = container_facts(inspect)
    assert facts["name"] == "api"
    assert facts["labels"] == {"tier": "web"}
    assert (facts["exit_code"], facts["oom_killed"], facts["running"]) == (137, True, False)
    assert facts["error"] is None
    health = facts["health"]
    assert isinstance(health, dict)
    assert health["failing_streak"] == 4
    assert len(str(health["last_output"])) == 500


def test_status_line_says_state_last_event_reconnects_and_loops() -> None:
    status = HostStatus(
        "prod",
        "tcp://h:2376",
        state="connected",
        connected_since=1000.0,
        last_event_at=1090.0,
        last_event="die api",
        reconnects=1,
        loops={"api": 5},
    )
    assert status.describe(1100.0) == (
        "`prod` tcp://h:2376 · connected for 1m · last event die api 10s ago · 1 reconnect"
        " · 🔁 restart loop: api (5 deaths)"
    )
    down = HostStatus("prod", "tcp://h:2376", state="reconnecting", last_error="refused")
    assert down.describe(0) == (
        "`prod` tcp://h:2376 · reconnecting · no event yet · 0 reconnects · last error: refused"
    )
    assert down.as_json()["state"] == "reconnecting"
