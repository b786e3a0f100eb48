"""Start-up problems are one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.process import ROOT, cli, free_port, hookbot_env

pytestmark = pytest.mark.e2e


def _quiet_env(tmp_path: Path, port: int, **extra: str) -> dict[str, str]:
    """An environment whose only stderr output at WARNING is the error itself."""
    return hookbot_env(
        tmp_path, port, LOG_LEVEL="WARNING", PUBLIC_URL="https://hooks.example", **extra
    )


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`hookbot run`, bounded: a start-up error must end it well within the timeout."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    "argv",
    [("run",), ("hook", "list"), ("hook", "on", "github"), ("replay", "d1")],
    ids=["run", "hook-list", "hook-on", "replay"],
)
def test_db_in_missing_directory_is_one_line(tmp_path: Path, argv: tuple[str, ...]):
    """HOOKBOT_DB in a folder that does not exist names the variable, the folder and a fix."""
    missing = tmp_path / "no" / "such"
    env = _quiet_env(tmp_path, free_port(), HOOKBOT_DB=str(missing / "hookbot.db"))
    result = _run(env) if argv == ("run",) else cli(env, *argv, cwd=ROOT)
    assert result.returncode != 0
    line = _one_line(result.stderr)
    assert "HOOKBOT_DB" in line
    assert str(missing) in line
    assert "mkdir" in line or "create" in line
    assert not missing.exists(), "hookbot must not create folders it was not asked to"


def test_port_in_use_is_one_line(tmp_path: Path):
    """A port another process listens on (127.0.0.1) names HOOKBOT_PORT and the port."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        result = _run(_quiet_env(tmp_path, port))
    assert result.returncode != 0
    line = _one_line(result.stderr)
    assert "HOOKBOT_PORT" in line
    assert f"127.0.0.1:{port}" in line
    assert "in use" in line
