"""The shell adapter: format reset/preview, CLI-wide templates, logs, send-sample, --mention."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from bot.store import LogEntry, Store

ROOT = Path(__file__).resolve().parents[2]

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def hookbot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Run:
    """Run `hookbot <argv>` in this process against a fresh database; (code, out, err)."""
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in list(os.environ):
        if name.startswith(("DISCORD_", "HOOKBOT_", "PUBLIC_URL", "NGROK_", "GITHUB_", "DOCKER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOOKBOT_DB", str(tmp_path / "hookbot.db"))

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def _templates(tmp_path: Path, hook_id: str = "hook_001") -> dict[str, str]:
    async def read() -> dict[str, str]:
        store = await Store.open(str(tmp_path / "hookbot.db"))
        try:
            hook = await store.hooks.get(hook_id)
            assert hook is not None
            return dict(hook.templates)
        finally:
            await store.close()

    return asyncio.run(read())


# -- format ---------------------------------------------------------------------------


def test_format_reset_preview_changes_nothing(hookbot: Run, tmp_path: Path):
    """`format <ref> reset --preview` previews the default and keeps every template."""
    hookbot("hook", "on", "github")
    hookbot("hook", "format", "hook_001", "T {{ title }}")
    hookbot("hook", "format", "hook_001", "push", "P {{ branch }}")
    code, out, _ = hookbot("hook", "format", "hook_001", "reset", "--preview")
    assert code == 0
    assert _templates(tmp_path) == {"*": "T {{ title }}", "push": "P {{ branch }}"}
    assert out.startswith("Preview")
    assert "Push to main" in out, "the preview shows the default message"
    assert "✅" not in out


def test_format_kind_reset_preview_shows_the_fallback(hookbot: Run, tmp_path: Path):
    """Resetting a kind's template previews what replaces it: the hook's `*` template."""
    hookbot("hook", "on", "github")
    hookbot("hook", "format", "hook_001", "T {{ title }}")
    hookbot("hook", "format", "hook_001", "push", "P {{ branch }}")
    code, out, _ = hookbot("hook", "format", "hook_001", "push", "reset", "--preview")
    assert code == 0
    assert "T Push to main" in out
    assert _templates(tmp_path) == {"*": "T {{ title }}", "push": "P {{ branch }}"}


def test_format_reset_says_exactly_what_it_removed(hookbot: Run, tmp_path: Path):
    """`format <ref> reset` removes every template of the hook and names each one."""
    hookbot("hook", "on", "github")
    hookbot("hook", "format", "hook_001", "T {{ title }}")
    hookbot("hook", "format", "hook_001", "push", "P {{ branch }}")
    code, out, _ = hookbot("hook", "format", "hook_001", "reset")
    assert code == 0
    assert _templates(tmp_path) == {}
    assert "every event" in out
    assert "push" in out


def test_format_kind_reset_keeps_the_others(hookbot: Run, tmp_path: Path):
    """`format <ref> <kind> reset` removes that kind's template only, and says what remains."""
    hookbot("hook", "on", "github")
    hookbot("hook", "format", "hook_001", "T {{ title }}")
    hookbot("hook", "format", "hook_001", "push", "P {{ branch }}")
    code, out, _ = hookbot("hook", "format", "hook_001", "push", "reset")
    assert code == 0
    assert _templates(tmp_path) == {"*": "T {{ title }}"}
    assert "every event" in out, "push events now use the hook's template for every event"


def test_format_reset_with_nothing_to_remove_says_so(hookbot: Run):
    """A reset that finds no template does not claim to have changed anything."""
    hookbot("hook", "on", "github")
    code, out, _ = hookbot("hook", "format", "hook_001", "reset")
    assert code == 0
    assert "✅" not in out
    assert "no template" in out


def test_cli_wide_template_answer_and_info_agree(hookbot: Run):
    """`format github-push` from the shell names whom it applies to, and `info` lists it."""
    hookbot("hook", "on", "github")
    code, out, _ = hookbot("hook", "format", "github-push", "C {{ branch }}")
    assert code == 0
    assert "this channel" not in out
    assert "every hook made with `hookbot hook`" in out
    _, info, _ = hookbot("hook", "info", "hook_001")
    assert "Templates:      default" not in info
    assert "C {{ branch }}" in info
    code, out, _ = hookbot("hook", "format", "github-push", "reset")
    assert code == 0
    assert "✅" in out
    _, info, _ = hookbot("hook", "info", "hook_001")
    assert "C {{ branch }}" not in info


def test_format_does_not_import_the_server_or_discord():
    """`hookbot hook …` stays quick: the CLI module leaves aiohttp's server and discord.py
    to `hookbot run`."""
    probe = (
        "import sys, bot.cli; "
        "print(sorted(m for m in ('discord', 'aiohttp.web', 'bot.app') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_latest_delivery_lookup_does_not_sort_the_inbox(tmp_path: Path):
    """A hook's newest delivery (format's preview, test) is found through an index, not by
    reading and sorting every stored payload of the hook."""

    async def migrate() -> None:
        store = await Store.open(str(tmp_path / "hookbot.db"))
        await store.close()

    asyncio.run(migrate())
    with sqlite3.connect(tmp_path / "hookbot.db") as conn:
        plan = " ".join(
            str(row[3])
            for row in conn.execute(
                "EXPLAIN QUERY PLAN SELECT * FROM inbox WHERE hook_id = ? ORDER BY id DESC LIMIT 1",
                ("hook_001",),
            )
        )
    assert "TEMP B-TREE" not in plan
    assert "USING INDEX" in plan


# -- logs, send-sample, --mention -------------------------------------------------------


def _add_log(tmp_path: Path, entries: list[LogEntry]) -> None:
    async def add() -> None:
        store = await Store.open(str(tmp_path / "hookbot.db"))
        try:
            await store.log.add(entries)
        finally:
            await store.close()

    asyncio.run(add())


def test_logs_columns_align_and_sent_rows_have_a_kind(hookbot: Run, tmp_path: Path):
    """Long delivery ids keep the columns aligned; a `sent` line shows its delivery's kind."""
    hookbot("hook", "on", "github")
    long_id = "replay-" + "0123456789abcdef" * 3
    _add_log(
        tmp_path,
        [
            LogEntry(1.0, "queued", "hook_001", "d-short", "push", "Push to main"),
            LogEntry(2.0, "queued", "hook_001", long_id, "pull_request.opened", "PR #1"),
            LogEntry(3.0, "sent", "hook_001", "d-short", None, None),
            LogEntry(4.0, "sent", "hook_001", long_id, None, None),
        ],
    )
    code, out, _ = hookbot("hook", "logs")
    assert code == 0
    lines = [line for line in out.splitlines() if "hook_001" in line]
    assert len(lines) == 4
    starts = {
        line.index(" queued ") if " queued " in line else line.index(" sent ") for line in lines
    }
    assert len(starts) == 1, out
    sent = [line for line in lines if " sent " in line]
    assert "push" in sent[0]
    assert "pull_request.opened" in sent[1]


def test_send_sample_unknown_name_lists_the_samples(hookbot: Run):
    """`send-sample github <unknown>` answers with the names it knows."""
    code, _, err = hookbot("send-sample", "github", "pushh")
    assert code == 1
    assert "pushh" in err
    for name in ("push", "pull_request", "workflow_run"):
        assert re.search(rf"\b{name}\b", err.replace("pushh", "")), err


def test_mention_by_name_in_the_shell_says_to_use_the_role_id(hookbot: Run):
    """`--mention @oncall` from the shell explains that the shell needs the role's id."""
    hookbot("hook", "on", "github")
    rule = "workflow.conclusion == 'failure'"
    code, _, err = hookbot("hook", "alert-if", "github", rule, "--mention", "@oncall")
    assert code == 1
    assert "id" in err
    assert "Copy Role ID" in err
    code, out, _ = hookbot("hook", "alert-if", "github", rule, "--mention", "123456789012345678")
    assert code == 0, out


def test_readme_mention_examples_work_where_they_are_shown():
    """The README shows `--mention <name>` only for Discord, and a role id for the shell."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for line in readme.splitlines():
        if "--mention" in line and "hookbot hook" in line:
            assert re.search(r"--mention (\d+|ROLE_ID)\b", line), line
    assert re.search(r"hookbot hook alert-if .*--mention (\d+|ROLE_ID)", readme)
