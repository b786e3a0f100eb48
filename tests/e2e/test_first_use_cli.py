"""What a new user hit in the shell, through the real CLI: `on --events`, reuse by target,
`replay`, `logs` without a ref (`--failed`, `--page`), and no log lines around the answer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.store import Hook, LogEntry, NewDelivery, Rejection, Store
from tests.e2e.process import ROOT, cli, free_port, hookbot_env

pytestmark = pytest.mark.e2e


def _env(tmp_path: Path) -> dict[str, str]:
    """A CLI environment as a new user has it: LOG_LEVEL unset."""
    env = hookbot_env(tmp_path, free_port())
    env.pop("LOG_LEVEL")
    return env


def _hook(env: dict[str, str], *words: str) -> str:
    result = cli(env, "hook", *words, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _stored(env: dict[str, str], hook_id: str) -> Hook:
    async def read() -> Hook:
        store = await Store.open(env["HOOKBOT_DB"])
        try:
            hook = await store.hooks.get(hook_id)
        finally:
            await store.close()
        assert hook is not None
        return hook

    return asyncio.run(read())


def _seed(
    env: dict[str, str],
    deliveries: list[NewDelivery],
    rejections: list[Rejection],
    lines: list[LogEntry] | None = None,
) -> None:
    async def write() -> None:
        store = await Store.open(env["HOOKBOT_DB"])
        try:
            await store.log.add(lines or [])
            await store.inbox.write_batch(deliveries, rejections)
        finally:
            await store.close()

    asyncio.run(write())


def _info_row(info: str, name: str) -> str:
    (line,) = [line for line in info.splitlines() if line.startswith(f"{name}:")]
    return line.removeprefix(f"{name}:").strip()


def test_cli_on_with_events_sets_the_selection_in_either_order(tmp_path: Path):
    """The seed's `on github --events push,pr,release`: a selection, not a target named --events."""
    env = _env(tmp_path)
    created = json.loads(_hook(env, "on", "github", "--events", "push,pr,release", "--json"))
    hook = _stored(env, created["id"])
    assert hook.target is None
    assert hook.events == ("push", "pull_request", "release")
    other = json.loads(_hook(env, "github", "on", "--events", "push", "--new", "--json"))
    assert other["id"] != created["id"]
    assert _stored(env, other["id"]).events == ("push",)
    info = _hook(env, "info", created["id"])
    assert _info_row(info, "Events") == "push, pull_request (all actions), release (all actions)"
    bad = cli(env, "hook", "on", "github", "--events", "pushes", cwd=ROOT)
    assert bad.returncode == 1
    assert "pushes" in bad.stderr
    assert "hook_003" not in _hook(env, "list"), "a refused selection creates no hook"


def test_cli_on_reuses_a_hook_only_for_the_same_target(tmp_path: Path):
    """`on github octo/b` makes a new hook next to octo/a's; `on github octo/a` shows octo/a's."""
    env = _env(tmp_path)
    first = json.loads(_hook(env, "on", "github", "octo/a", "--json"))
    second = json.loads(_hook(env, "on", "github", "octo/b", "--json"))
    again = json.loads(_hook(env, "on", "github", "octo/a", "--json"))
    assert (first["created"], second["created"], again["created"]) == (True, True, False)
    assert first["id"] != second["id"]
    assert again["id"] == first["id"]
    assert _info_row(_hook(env, "info", second["id"]), "Target") == "octo/b"
    listed = _hook(env, "list")
    assert "octo/a" in listed
    assert "octo/b" in listed


def test_cli_hook_replay_runs_a_stored_delivery_again(tmp_path: Path):
    """`hookbot hook replay <delivery>` (in help and the grammar) replays; so does `replay`."""
    env = _env(tmp_path)
    created = json.loads(_hook(env, "on", "github", "--json"))
    headers = {"x-github-event": "push", "content-type": "application/json"}
    _seed(env, [NewDelivery(created["id"], "github", "d-1", "push", headers, b"{}", 1.0)], [])
    answer = _hook(env, "replay", "d-1")
    assert answer.startswith(f"✅ Replaying d-1 through {created['id']} as replay-")
    assert "replay" in _hook(env, "help")
    top = cli(env, "replay", "d-1", cwd=ROOT)
    assert top.returncode == 0, top.stderr
    missing = cli(env, "hook", "replay", "nope", cwd=ROOT)
    assert missing.returncode == 1
    assert "unknown verb" not in missing.stderr
    assert "no stored delivery" in missing.stderr


def test_cli_logs_without_a_ref_with_failed_and_pages(tmp_path: Path):
    """`logs` needs no ref; `--failed` keeps failures; `--page 2` shows the older lines."""
    env = _env(tmp_path)
    created = json.loads(_hook(env, "on", "github", "--json"))
    hook_id = created["id"]
    _seed(
        env,
        [],
        [Rejection(hook_id, f"bad signature {n}", 2.0 + n) for n in range(60)],
        [LogEntry(1.0, "accepted", hook_id, "good-1", "push")],
    )

    def rows(*words: str) -> list[str]:
        return _hook(env, "logs", *words).splitlines()[1:]  # without the header

    newest = rows()
    assert len(newest) == 50
    assert "bad signature 59" in newest[-1]
    failed = rows("--failed")
    assert failed
    assert all("rejected" in row for row in failed)
    older = rows("--page", "2")
    assert "bad signature 9" in older[-1]
    assert "bad signature 10" in newest[0]
    assert "good-1" in "\n".join(older), "the oldest line is on the last page"
    assert not any("good-1" in row for row in failed)


def test_cli_answers_without_log_lines_unless_log_level_says_so(tmp_path: Path):
    """A fresh database is migrated quietly; LOG_LEVEL=INFO brings the log lines back."""
    env = _env(tmp_path)
    quiet = cli(env, "hook", "list", cwd=ROOT)
    assert quiet.returncode == 0
    assert quiet.stderr == ""
    assert quiet.stdout.startswith("No hooks yet")
    loud_env = {**_env(tmp_path / "loud"), "LOG_LEVEL": "INFO"}
    (tmp_path / "loud").mkdir()
    loud = cli(loud_env, "hook", "list", cwd=ROOT)
    assert loud.returncode == 0
    assert "database migrated" in loud.stderr
