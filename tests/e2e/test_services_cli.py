"""Every service from the shell: `hookbot run`, hooks made with `hookbot hook`, then
`send-sample` (signed as each sender signs) and `test <ref> <kind>`, printed on the console."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.process import ROOT, cli, free_port, hookbot_env, start, stop

pytestmark = pytest.mark.e2e

# (service, sample) sent with send-sample → a line of the message it must print.
SENT = [
    ("github", "push", "🚀 Push to main: 3 commits"),
    ("gitlab", "merge_request.merge", "✅ MR !58 merged: Add Apple Pay checkout"),
    ("ci", "jenkins_failed", "— ci · pipeline.failed"),
    ("ci", "circleci_workflow_failed", "build-and-test #1291"),
    ("ci", "gitlab_stage_failed", '❌ Stage "Test" failed'),
    ("ci", "actions_run_failed", "[CI #918]"),
    ("custom", "server_alert", "CPU usage at 95%"),
]


def _wait_for(path: Path, texts: list[str], timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    content = ""
    while time.monotonic() < deadline:
        content = path.read_text(encoding="utf-8", errors="replace")
        if all(text in content for text in texts):
            break
        time.sleep(0.1)
    return content


def test_send_sample_and_test_for_every_service(tmp_path: Path) -> None:
    env = hookbot_env(tmp_path, free_port())
    out = tmp_path / "stdout.txt"
    with out.open("wb") as stdout:
        process = start(env, ROOT, stdout)
        try:
            for words in (["on", "github"], ["on", "gitlab"], ["on", "ci"], ["custom", "pulse"]):
                made = cli(env, "hook", *words, "--json", cwd=ROOT)
                assert made.returncode == 0, made.stderr
                assert json.loads(made.stdout)["setup"]
            for service, name, _ in SENT:
                sent = cli(env, "send-sample", service, name, cwd=ROOT)
                assert sent.returncode == 0, (service, name, sent.stdout, sent.stderr)
                assert sent.stdout.startswith("202 "), sent.stdout
            # Deliveries are worked on in arrival order: once the success is printed, the
            # cancelled run sent before it has been dropped.
            unselected = cli(env, "hook", "test", "ci", "pipeline.cancelled", cwd=ROOT)
            assert "jenkins_aborted" in unselected.stdout
            assert "not in its events" in unselected.stdout
            tested = cli(env, "hook", "test", "ci", "pipeline.success", cwd=ROOT)
            assert tested.returncode == 0, tested.stderr
            assert "jenkins_success" in tested.stdout
            refused = cli(env, "hook", "test", "ci", "nothing.like_it", cwd=ROOT)
            assert refused.returncode == 1
            assert "samples:" in refused.stderr
            printed = _wait_for(out, [line for *_, line in SENT] + ["ci · pipeline.success"])
        finally:
            stop(process)
    for service, name, line in SENT:
        assert line in printed, (service, name)
    assert "— ci · pipeline.success" in printed
    assert "nightly-e2e" not in printed  # the cancelled run was dropped, as it said
