"""Docker events parsed and rendered, compared with tests/golden/docker_*.txt.

`UPDATE_GOLDEN=1 pytest tests/formatters/test_golden_docker.py` rewrites the golden files;
read every changed one before committing it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from formatters.message import message_to_text
from formatters.render import render_default, render_user
from parsers import docker
from parsers.event import Event

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
SAMPLES = ROOT / "parsers" / "samples" / "docker"


def sample_body(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.json").read_bytes())


def parse(envelope: dict) -> Event:
    (event,) = docker.parse({}, json.dumps(envelope).encode(), {})
    return event


def sample(name: str) -> Callable[[], Event]:
    return lambda: parse(sample_body(name))


def hostile() -> Event:
    """Markdown, mentions and fences in the host name, the probe output and the logs."""
    body = sample_body("unhealthy")
    body["host"] = "**prod** @everyone"
    body["container"]["health"]["last_output"] = "<@123456789012345678> `rm -rf /` # x"
    body["logs"] = ["```", "@here ``` **bold**", "\x1b[31mred\x1b[0m"]
    return parse(body)


def reconciled_stop() -> Event:
    """A `docker stop` found after the stream was down: orange, said as found later."""
    body = sample_body("die_exit3")
    body["event"]["Actor"]["Attributes"]["exitCode"] = "137"
    body["seen"] = {"signals": [15, 9]}
    body["reconciled"] = True
    body["logs"] = []
    return parse(body)


def loop_count() -> Event:
    """A restart loop's later message: the count while it lasts."""
    body = sample_body("restart_loop")
    body["restart_loop"] = {"deaths": 17, "since": 1764604000.0, "first": False, "report": True}
    return parse(body)


CASES: dict[str, Callable[[], Event]] = {
    **{name: sample(name) for name in sorted(docker.SAMPLES)},
    "hostile": hostile,
    "reconciled_stop": reconciled_stop,
    "loop_count": loop_count,
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_render_default_matches_golden_file(name: str) -> None:
    """The default embed of each case equals tests/golden/docker_<name>.txt."""
    text = message_to_text(render_default(CASES[name]()))
    path = GOLDEN / f"docker_{name}.txt"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing {path}; run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CASES))
def test_docker_templates_ran_and_fences_stay_closed(name: str) -> None:
    event = CASES[name]()
    (embed,) = render_default(event).embeds
    assert embed.footer == f"docker · {event.kind}"
    assert embed.author is not None
    assert embed.author.startswith("Docker · ")
    assert (embed.description or "").count("```") % 2 == 0


def test_the_seed_crash_report() -> None:
    """🚨 Container Stopped: phigen-bot · Exit code: 137 (OOM-killed) · Uptime · Last logs."""
    (embed,) = render_default(CASES["die_oom"]()).embeds
    assert embed.title == "🚨 Container Stopped: phigen-bot"
    assert embed.description is not None
    assert "**Exit code:** 137 (OOM-killed)" in embed.description
    assert "**Uptime:** 2h 15m" in embed.description
    assert embed.description.endswith("MemoryError: Out of memory\n```")


def test_hostile_values_are_escaped() -> None:
    (embed,) = render_default(hostile()).embeds
    assert "@everyone" not in (embed.description or "")
    assert "<@123" not in (embed.description or "")
    assert (embed.description or "").count("```") == 2


def test_user_template_reads_docker_fields() -> None:
    event = CASES["die_oom"]()
    source = "{{ container }} died on {{ host }}: {{ exit_code }} ({{ exit_cause }})"
    source += ", up {{ uptime }}s"
    message = render_user(source, event)
    assert message.content == "phigen-bot died on local: 137 (OOM-killed), up 8100s"
