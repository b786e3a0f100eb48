"""Settings: defaults, parsing, one-line errors naming the variable, .env, warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings


def test_config_empty_environment_gives_defaults():
    """No configuration at all gives DESIGN.md's defaults (console mode)."""
    settings = Settings.from_env({}, env_file=None)
    assert settings == Settings()
    assert settings.discord_token is None
    assert (settings.hookbot_host, settings.hookbot_port) == ("127.0.0.1", 8080)
    assert settings.hookbot_max_body == 26_214_400


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HOOKBOT_PORT", "eighty"),
        ("HOOKBOT_PORT", "70000"),
        ("HOOKBOT_MAX_BODY", "-1"),
        ("HOOKBOT_RETENTION_DAYS", "3"),
        ("LOG_LEVEL", "LOUD"),
        ("PUBLIC_URL", "hooks.example.com"),
        ("DISCORD_WEBHOOK_URL", "https://example.com/not-a-webhook"),
    ],
)
def test_config_invalid_value_names_the_variable(name: str, value: str):
    """Each invalid value raises ConfigError whose one-line message names the variable."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value}, env_file=None)
    message = str(caught.value)
    assert name in message
    assert "\n" not in message


def test_config_env_file_is_read_and_environment_wins(tmp_path: Path):
    """Values come from .env, and the real environment overrides them."""
    env_file = tmp_path / ".env"
    env_file.write_text("HOOKBOT_PORT=9000\nPUBLIC_URL=https://a.example\n")
    settings = Settings.from_env({"HOOKBOT_PORT": "9100"}, env_file=env_file)
    assert settings.hookbot_port == 9100
    assert settings.public_url == "https://a.example"


def test_config_warns_when_github_cannot_reach_the_receiver():
    """No PUBLIC_URL and no tunnel → a warning; PUBLIC_URL set → none."""
    assert any("PUBLIC_URL" in w for w in Settings().startup_warnings())
    assert Settings(public_url="https://hooks.example").startup_warnings() == []
    assert Settings(ngrok_authtoken="x").startup_warnings() == []


def test_config_docker_hosts_split_on_commas():
    """DOCKER_HOSTS is a comma-separated list."""
    settings = Settings.from_env({"DOCKER_HOSTS": "unix:///a.sock, tcp://b:2375 ,"}, env_file=None)
    assert [(h.name, h.url) for h in settings.docker_hosts] == [
        ("local", "unix:///a.sock"),
        ("b", "tcp://b:2375"),
    ]


def test_config_env_example_lists_every_setting():
    """.env.example has a line for every Settings field."""
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    for name in Settings.__dataclass_fields__:
        assert f"\n{name.upper()}=" in example, name
