"""Launch the fake ngrok agent (tests/e2e/fake_ngrok.py) as an executable for NGROK_PATH."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

FAKE_AGENT = Path(__file__).with_name("fake_ngrok.py")


@dataclass(frozen=True)
class FakeAgent:
    """An executable that runs the fake agent, and the folder where it records its runs."""

    path: Path
    state: Path

    def set_mode(self, mode: str) -> None:
        """Behave as `mode` (ok, auth, hang) from the next start on."""
        (self.state / "mode").write_text(mode)

    def pids(self) -> list[int]:
        """Every agent process started so far, oldest first."""
        file = self.state / "pids"
        return [int(line) for line in file.read_text().split()] if file.exists() else []

    def args(self) -> str:
        """The command line of the last start."""
        return (self.state / "args").read_text()


def fake_agent(folder: Path, mode: str = "ok") -> FakeAgent:
    """Write `folder/ngrok`: this interpreter running the fake agent in `mode`."""
    state = folder / "ngrok-state"
    state.mkdir(parents=True, exist_ok=True)
    path = folder / "ngrok"
    path.write_text(
        f"#!{sys.executable}\n"
        "import os, runpy\n"
        f"os.environ['FAKE_NGROK_STATE'] = {str(state)!r}\n"
        f"runpy.run_path({str(FAKE_AGENT)!r}, run_name='__main__')\n"
    )
    os.chmod(path, 0o755)  # noqa: S103 - an executable of the test's own
    agent = FakeAgent(path, state)
    agent.set_mode(mode)
    return agent


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
