"""README and .env.example do not present settings that nothing reads yet as working."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_row(name: str) -> str:
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("|") and name in line.split("|")[1]:
            return line
    raise AssertionError(f"README's configuration table has no row for {name}")


def _env_example_comment(name: str) -> str:
    """The comment lines just above `NAME=` in .env.example."""
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(f"{name}="))
    comment: list[str] = []
    for line in reversed(lines[:index]):
        if not line.startswith("#") or line.endswith("="):
            break
        comment.insert(0, line)
    return " ".join(comment)


@pytest.mark.parametrize(
    "name",
    [
        "HOOKBOT_DB",
        "PUBLIC_URL",
        "DISCORD_WEBHOOK_URL",
        "NGROK_AUTHTOKEN",
        "NGROK_PATH",
        "GITHUB_TOKEN",
        "GITHUB_API_BASE",
        "DOCKER_HOSTS",
    ],
)
def test_working_settings_are_not_marked(name: str):
    """Settings that work are not marked as unused."""
    assert "not yet used" not in _readme_row(name).lower()
    assert "not yet used" not in _env_example_comment(name).lower()


def test_public_url_warning_offers_the_tunnel():
    """The start-up warning about PUBLIC_URL offers NGROK_AUTHTOKEN, which now works."""
    from bot.config import Settings

    (warning,) = Settings().startup_warnings()
    assert "PUBLIC_URL" in warning
    assert "NGROK_AUTHTOKEN" in warning
