"""Settings from the environment and an optional .env file (one frozen dataclass)."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

log = logging.getLogger(__name__)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(Exception):
    """A setting has an invalid value; the message names the variable."""


class StartupError(Exception):
    """A valid setting cannot be used on this machine now; one line naming it and the fix."""


def check_database_path(path: str) -> None:
    """Refuse a HOOKBOT_DB that SQLite cannot create, before opening it.

    Raises:
        StartupError: the folder is missing or not a folder, or the path is a folder.
    """
    if path == ":memory:":
        return
    target = Path(path).expanduser()
    folder = target.parent
    if target.is_dir():
        raise StartupError(f"HOOKBOT_DB={path} is a directory; give a file path inside it")
    if not folder.exists():
        raise StartupError(
            f"HOOKBOT_DB={path}: the directory {folder} does not exist; create it "
            f"(mkdir -p {folder}) or set HOOKBOT_DB to a file in an existing directory"
        )
    if not folder.is_dir():
        raise StartupError(f"HOOKBOT_DB={path}: {folder} is not a directory")


def listen_error(host: str, port: int, exc: OSError) -> StartupError:
    """Explain why the receiver cannot listen on host:port, in one line naming the settings."""
    where = f"cannot listen on {host}:{port} (HOOKBOT_HOST, HOOKBOT_PORT)"
    if exc.errno == errno.EADDRINUSE:
        fix = (
            "the port is already in use; stop the other process (is hookbot already running?) "
            "or set HOOKBOT_PORT to a free port"
        )
    elif exc.errno == errno.EACCES:
        fix = "permission denied; ports below 1024 need privileges: set HOOKBOT_PORT above 1023"
    elif exc.errno == errno.EADDRNOTAVAIL:
        fix = "this machine has no such address; set HOOKBOT_HOST to one of its addresses"
    else:
        fix = f"{exc.strerror or exc}; check HOOKBOT_HOST and HOOKBOT_PORT"
    return StartupError(f"{where}: {fix}")


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of DESIGN.md's Configuration table; field name = env var, lowercased."""

    discord_token: str | None = None
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    discord_webhook_url: str | None = None
    hookbot_db: str = "./hookbot.db"
    hookbot_host: str = "127.0.0.1"
    hookbot_port: int = 8080
    public_url: str | None = None
    ngrok_authtoken: str | None = None
    hookbot_admin_role: str | None = None
    hookbot_max_body: int = 26_214_400
    hookbot_retention_days: int = 14
    github_token: str | None = None
    github_api_base: str | None = None
    docker_hosts: tuple[str, ...] = ()
    log_level: str = "INFO"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
    ) -> Settings:
        """Read settings from `environ` (default os.environ) over an optional .env file.

        Raises:
            ConfigError: a value is invalid; the message names the variable.
        """
        values: dict[str, str] = {}
        if env_file is not None and env_file.is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)

        def text(name: str) -> str | None:
            value = values.get(name, "").strip()
            return value or None

        def integer(name: str, default: int, minimum: int) -> int:
            raw = text(name)
            if raw is None:
                return default
            try:
                number = int(raw)
            except ValueError:
                raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
            if number < minimum:
                raise ConfigError(f"{name} must be at least {minimum}, got {number}")
            return number

        def url(name: str) -> str | None:
            raw = text(name)
            if raw is not None and not raw.startswith(("http://", "https://", "ws://", "wss://")):
                raise ConfigError(f"{name} must be an http(s) or ws(s) URL, got {raw!r}")
            return raw.rstrip("/") if raw else None

        port = integer("HOOKBOT_PORT", 8080, 0)
        if port > 65535:
            raise ConfigError(f"HOOKBOT_PORT must be at most 65535, got {port}")
        level = (text("LOG_LEVEL") or "INFO").upper()
        if level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        webhook_url = url("DISCORD_WEBHOOK_URL")
        if webhook_url is not None and "/webhooks/" not in webhook_url:
            raise ConfigError(
                "DISCORD_WEBHOOK_URL must end in /webhooks/<id>/<token>, got " + repr(webhook_url)
            )
        hosts = tuple(h.strip() for h in (text("DOCKER_HOSTS") or "").split(",") if h.strip())
        return cls(
            discord_token=text("DISCORD_TOKEN"),
            discord_api_base=url("DISCORD_API_BASE"),
            discord_gateway_url=url("DISCORD_GATEWAY_URL"),
            discord_webhook_url=webhook_url,
            hookbot_db=text("HOOKBOT_DB") or "./hookbot.db",
            hookbot_host=text("HOOKBOT_HOST") or "127.0.0.1",
            hookbot_port=port,
            public_url=url("PUBLIC_URL"),
            ngrok_authtoken=text("NGROK_AUTHTOKEN"),
            hookbot_admin_role=text("HOOKBOT_ADMIN_ROLE"),
            hookbot_max_body=integer("HOOKBOT_MAX_BODY", 26_214_400, 1024),
            hookbot_retention_days=integer("HOOKBOT_RETENTION_DAYS", 14, 7),
            github_token=text("GITHUB_TOKEN"),
            github_api_base=url("GITHUB_API_BASE"),
            docker_hosts=hosts,
            log_level=level,
        )

    @property
    def base_url(self) -> str:
        """The base of webhook URLs shown to users: PUBLIC_URL or the local address."""
        return self.public_url or f"http://{self.hookbot_host}:{self.hookbot_port}"

    def startup_warnings(self) -> list[str]:
        """Return the warnings start-up should log about this configuration."""
        warnings = []
        if self.public_url is None and self.ngrok_authtoken is None:
            warnings.append(
                "PUBLIC_URL is unset and no tunnel is configured: webhook URLs point at "
                f"{self.base_url}, which GitHub cannot reach; set PUBLIC_URL"
            )
        return warnings
