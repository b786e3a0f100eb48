"""Settings from the environment and an optional .env file (one frozen dataclass)."""

from __future__ import annotations

import errno
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from bot.delivery.guard import IPNetwork, parse_allow

log = logging.getLogger(__name__)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MIN_API_TOKEN = 16  # a management API bearer token shorter than this is refused


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
class DockerHost:
    """A Docker Engine to watch: its name in commands and messages, and its URL."""

    name: str
    url: str


DOCKER_SCHEMES = ("unix://", "tcp://", "ssh://", "http://", "https://")
_HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


def parse_docker_hosts(text: str) -> tuple[DockerHost, ...]:
    """Read DOCKER_HOSTS: `name=url,…`; a bare URL is named `local` (a socket) or its host.

    Raises:
        ConfigError: a URL of another scheme, a malformed or repeated name (one line).
    """
    hosts: list[DockerHost] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, equals, url = item.partition("=")
        if not equals or "://" in name:
            name, url = "", item
        name, url = name.strip(), url.strip()
        if not url.startswith(DOCKER_SCHEMES) or url.endswith("://"):
            raise ConfigError(
                f"DOCKER_HOSTS: {item!r} needs a unix://, tcp:// or ssh:// URL, "
                "e.g. local=unix:///var/run/docker.sock,prod=tcp://10.0.0.5:2376"
            )
        if not name:
            name = "local" if url.startswith("unix://") else (urlsplit(url).hostname or "")
        if not _HOST_NAME.fullmatch(name):
            raise ConfigError(
                f"DOCKER_HOSTS: the name {name!r} must be letters, digits, `.`, `_` or `-` "
                "(at most 40), e.g. prod=tcp://10.0.0.5:2376"
            )
        if any(h.name == name for h in hosts):
            raise ConfigError(f"DOCKER_HOSTS names {name!r} twice; give each host its own name")
        hosts.append(DockerHost(name, url))
    return tuple(hosts)


LOCAL_DOCKER_SOCKET = "/var/run/docker.sock"


def watched_docker_hosts(
    hosts: tuple[DockerHost, ...], socket_path: str = LOCAL_DOCKER_SOCKET
) -> tuple[DockerHost, ...]:
    """The hosts to watch: DOCKER_HOSTS, else the local socket when it exists, else none."""
    if hosts:
        return hosts
    return (DockerHost("local", f"unix://{socket_path}"),) if Path(socket_path).is_socket() else ()


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
    ngrok_path: str | None = None
    hookbot_admin_role: str | None = None
    hookbot_max_body: int = 26_214_400
    hookbot_retention_days: int = 14
    github_token: str | None = None
    github_api_base: str | None = None
    docker_hosts: tuple[DockerHost, ...] = ()
    hookbot_api_token: str | None = None
    hookbot_forward_allow: tuple[IPNetwork, ...] = ()  # networks forwards may reach anyway
    log_level: str | None = None  # unset: INFO for `hookbot run`, WARNING for the other commands

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
        level = (text("LOG_LEVEL") or "").upper() or None
        if level is not None and level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
        webhook_url = url("DISCORD_WEBHOOK_URL")
        if webhook_url is not None and "/webhooks/" not in webhook_url:
            raise ConfigError(
                "DISCORD_WEBHOOK_URL must end in /webhooks/<id>/<token>, got " + repr(webhook_url)
            )
        hosts = parse_docker_hosts(text("DOCKER_HOSTS") or "")
        api_token = text("HOOKBOT_API_TOKEN")
        if api_token is not None and len(api_token) < MIN_API_TOKEN:
            raise ConfigError(
                f"HOOKBOT_API_TOKEN must be at least {MIN_API_TOKEN} characters "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        try:
            forward_allow = parse_allow(text("HOOKBOT_FORWARD_ALLOW") or "")
        except ValueError as exc:
            raise ConfigError(f"HOOKBOT_FORWARD_ALLOW: {exc}") from None
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
            ngrok_path=text("NGROK_PATH"),
            hookbot_admin_role=text("HOOKBOT_ADMIN_ROLE"),
            hookbot_max_body=integer("HOOKBOT_MAX_BODY", 26_214_400, 1024),
            hookbot_retention_days=integer("HOOKBOT_RETENTION_DAYS", 14, 7),
            github_token=text("GITHUB_TOKEN"),
            github_api_base=url("GITHUB_API_BASE"),
            docker_hosts=hosts,
            hookbot_api_token=api_token,
            hookbot_forward_allow=forward_allow,
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
                f"{self.base_url}, which GitHub cannot reach; set PUBLIC_URL, or "
                "NGROK_AUTHTOKEN for an ngrok tunnel"
            )
        if self.public_url is not None and self.ngrok_authtoken is not None:
            warnings.append("PUBLIC_URL is set: no ngrok tunnel is opened (NGROK_AUTHTOKEN unused)")
        return warnings
