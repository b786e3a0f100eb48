"""A fake Discord that speaks the real protocol on 127.0.0.1, for end-to-end tests.

The real discord.py client (a ``commands.Bot``) logs in against it, receives gateway
events and sends messages through it. What discord.py 2.7.1 does, read from its source:

* ``Client.login`` calls ``GET /users/@me`` (``HTTPClient.static_login``) and then
  ``GET /oauth2/applications/@me`` (``Client.application_info``).
* ``Client.connect`` never asks ``/gateway`` or ``/gateway/bot`` (only
  ``AutoShardedClient`` calls ``/gateway/bot``): it opens
  ``DiscordWebSocket.DEFAULT_GATEWAY`` with the query replaced by
  ``?v=10&encoding=json&compress=zlib-stream`` (``zstd-stream`` when the
  ``zstandard`` package or ``compression.zstd`` is importable). Resumes go to the
  READY ``resume_gateway_url``; an invalidated session goes back to DEFAULT_GATEWAY.
* ``Messageable.send`` posts ``/channels/{id}/messages`` as JSON, or as
  multipart/form-data with ``payload_json`` and ``files[n]`` when files are attached;
  it always sends a ``nonce`` (random 64-bit integer as a string unless given) with
  ``enforce_nonce: true``.
* ``http.json_or_text`` only decodes JSON when Content-Type is exactly
  ``application/json``; a 429 without a ``Via`` header (or with a non-JSON body) is
  taken as a Cloudflare ban and raised, not retried.

Use :func:`pointed_at` to aim discord.py at a started :class:`FakeDiscord`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import math
import re
import secrets
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yarl
from aiohttp import BodyPartReader, WSMsgType, web

__all__ = ["FakeDiscord", "pointed_at"]

API_VERSION = 10
DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADD_REACTIONS = 1 << 6
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_APPLICATION_COMMANDS = 1 << 31
ALL_PERMISSIONS = (1 << 51) - 1
EVERYONE_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_APPLICATION_COMMANDS
)

# Gateway intents.
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Gateway opcodes.
OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE_UPDATE = 3
OP_VOICE_STATE_UPDATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_GUILD_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

ZLIB_SUFFIX = b"\x00\x00\xff\xff"
MESSAGES_BUCKET = "fake0c5e1f0a4b7d9e2c3a6b8d0f1e2a3b"
BACKLOG_LIMIT = 1000
NONCE_WINDOW = 300.0
INVALID_STATUSES = (401, 403, 429)  # what Discord's invalid-request limit counts

USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")

Json = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def json_response(
    data: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A response whose Content-Type is exactly ``application/json`` (no charset)."""
    sent = dict(headers or {})
    sent["Content-Type"] = "application/json"
    return web.Response(body=json.dumps(data).encode(), status=status, headers=sent)


def error_response(status: int, code: int, message: str, **extra: Any) -> web.Response:
    """A Discord-style JSON error body ``{"message", "code", ...}``."""
    return json_response({"message": message, "code": code, **extra}, status=status)


@dataclass
class _RateLimit:
    """A fixed-window limit on message creation in one channel."""

    limit: int
    per: float
    advertise: bool
    via: bool
    window_start: float | None = None
    count: int = 0

    def take(self, now: float) -> tuple[bool, float]:
        """Count one request; return (allowed, seconds until the window resets)."""
        if self.window_start is None or now >= self.window_start + self.per:
            self.window_start = now
            self.count = 0
        reset_after = max(self.window_start + self.per - now, 0.0)
        if self.count >= self.limit:
            return False, reset_after
        self.count += 1
        return True, reset_after

    def headers(self, reset_after: float) -> dict[str, str]:
        if not self.advertise:
            return {}
        rounded = math.ceil(reset_after * 1000) / 1000
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.limit - self.count, 0)),
            "X-RateLimit-Reset": f"{time.time() + rounded:.3f}",
            "X-RateLimit-Reset-After": f"{rounded:.3f}",
            "X-RateLimit-Bucket": MESSAGES_BUCKET,
        }


@dataclass
class _Failure:
    status: int
    code: int
    message: str
    times: int | None


@dataclass(eq=False)
class _Connection:
    """One gateway websocket."""

    ws: web.WebSocketResponse
    request: web.Request
    compress: Callable[[bytes], bytes] | None
    session: _Session | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed_by_server: bool = False

    async def send(self, payload: Json) -> None:
        text = json.dumps(payload)
        async with self.lock:
            if self.ws.closed:
                return
            with contextlib.suppress(ConnectionError, RuntimeError):
                if self.compress is None:
                    await self.ws.send_str(text)
                else:
                    await self.ws.send_bytes(self.compress(text.encode()))

    async def close(self, code: int, reason: str) -> None:
        self.closed_by_server = True
        await self.ws.close(code=code, message=reason.encode())

    def abort(self) -> None:
        self.closed_by_server = True
        transport = self.request.transport
        if transport is not None:
            transport.abort()


@dataclass(eq=False)
class _Session:
    """A gateway session: survives a dropped socket so that it can be RESUMEd."""

    session_id: str
    intents: int
    shard: list[int] | None
    sequence: int = 0
    backlog: list[Json] = field(default_factory=list)
    connection: _Connection | None = None


@dataclass
class Interaction:
    """An INTERACTION_CREATE the fake sent, and what the bot answered through REST."""

    id: str
    token: str
    payload: Json
    responses: list[Json] = field(default_factory=list)
    followups: list[Json] = field(default_factory=list)
    original: Json | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_response(self, timeout: float = 10) -> Json:
        """Wait (bounded) for the first interaction callback and return it."""
        async with asyncio.timeout(timeout):
            await self.answered.wait()
        return self.responses[0]


def _zlib_stream() -> Callable[[bytes], bytes]:
    """One zlib context per connection; every message ends in a Z_SYNC_FLUSH (00 00 ff ff)."""
    compressor = zlib.compressobj()

    def compress(data: bytes) -> bytes:
        return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)

    return compress


def _zstd_stream() -> Callable[[bytes], bytes] | None:
    """A zstd stream (one frame, flushed per message), if the zstandard package is present."""
    try:
        zstandard: Any = importlib.import_module("zstandard")
    except ImportError:
        return None
    compressor = zstandard.ZstdCompressor().compressobj()
    flush_block = zstandard.COMPRESSOBJ_FLUSH_BLOCK

    def compress(data: bytes) -> bytes:
        return bytes(compressor.compress(data) + compressor.flush(flush_block))

    return compress


def _strip_len(value: Any) -> int:
    return len(str(value).strip()) if value is not None else 0


class _FormErrors:
    """Builds Discord's nested ``{"errors": {...: {"_errors": [...]}}}`` for 50035."""

    def __init__(self) -> None:
        self.tree: Json = {}

    def add(self, path: list[str], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(part, {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_length(self, path: list[str], value: Any, limit: int) -> None:
        if value is not None and len(str(value)) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def response(self) -> web.Response | None:
        if not self.tree:
            return None
        return error_response(400, 50035, "Invalid Form Body", errors=self.tree)


class FakeDiscord:
    """Discord REST (``/api/v10``) and gateway (``/gateway``) on one aiohttp server.

    One guild with one text channel; users ``owner`` (guild owner), ``admin`` (a role
    with Administrator and Manage Guild), ``member`` (no extra permissions) and the
    bot (its role has Mention Everyone, so unsafe ``allowed_mentions`` show up in
    ``mentions``/``mention_everyone`` of recorded messages). The application id equals
    the bot user id, as for real bots.

    Records: ``messages`` (messages the bot created in guild channels), ``dms``
    (messages the bot sent to DM channels), ``requests`` ((method, path) of every REST
    call), ``unhandled`` (REST calls the fake does not know), ``identifies`` and
    ``gateway_queries`` (what the client sent when connecting), ``responses_429``, and
    ``invalid_responses``: the 401, 403 and 429 answers by (status, route), the ones
    Discord's invalid-request limit counts (10,000 per 10 minutes bans the IP; 429s with
    ``X-RateLimit-Scope: shared`` do not count); ``nonce_replays``: sends answered with
    the message an earlier send with the same enforced nonce created (nothing recorded).
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        heartbeat_interval_ms: int = 41_250,
        allow_privileged_intents: bool = True,
        echo_bot_messages: bool = True,
    ) -> None:
        self.token = token or f"fake.{secrets.token_urlsafe(24)}"
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.allow_privileged_intents = allow_privileged_intents
        self.echo_bot_messages = echo_bot_messages
        self._last_snowflake = 0

        self.application_id = self._snowflake()
        self.bot_user: Json = self._user(self.application_id, "hookbot", bot=True)
        self.users: dict[str, Json] = {
            "owner": self._user(self._snowflake(), "owner"),
            "admin": self._user(self._snowflake(), "admin"),
            "member": self._user(self._snowflake(), "member"),
        }
        self.guild_id = self._snowflake()
        self.channel_id = self._snowflake()
        self.admin_role_id = self._snowflake()
        self.bot_role_id = self._snowflake()
        self.roles: list[Json] = [
            self._role(self.guild_id, "@everyone", EVERYONE_PERMISSIONS, position=0),
            self._role(self.admin_role_id, "Admin", ADMINISTRATOR | MANAGE_GUILD, position=2),
            {
                **self._role(
                    self.bot_role_id, "hookbot", EVERYONE_PERMISSIONS | MENTION_EVERYONE, position=1
                ),
                "managed": True,
                "tags": {"bot_id": str(self.application_id)},
            },
        ]
        self._member_roles: dict[str, list[str]] = {
            self.bot_user["id"]: [str(self.bot_role_id)],
            self.users["owner"]["id"]: [],
            self.users["admin"]["id"]: [str(self.admin_role_id)],
            self.users["member"]["id"]: [],
        }
        self._joined_at = _now_iso()
        self._tasks: set[asyncio.Task[None]] = set()
        self.channels: dict[str, Json] = {}
        self.add_text_channel("general", channel_id=self.channel_id, announce=False)

        self.messages: list[dict[str, Any]] = []
        self.dms: list[dict[str, Any]] = []
        self.user_messages: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self.unhandled: list[tuple[str, str]] = []
        self.identifies: list[Json] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.commands: dict[str, list[Json]] = {}
        self.interactions: dict[str, Interaction] = {}
        self.responses_429 = 0
        self.invalid_responses: Counter[tuple[int, str]] = Counter()
        self.nonce_replays = 0
        self.heartbeats = 0
        self.dms_refused = False

        self._stored: dict[str, Json] = {}
        self._nonces: dict[str, tuple[float, Json]] = {}
        self._limits: dict[str, _RateLimit] = {}
        self._failures: dict[str, _Failure] = {}
        self._unreachable = False
        self._unreachable_mode = "reset"
        self._sessions: dict[str, _Session] = {}
        self._connections: set[_Connection] = set()
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        api = f"/api/v{API_VERSION}"
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/users/@me", self._get_me),
            ("GET", "/users/{user_id}", self._get_user),
            ("POST", "/users/@me/channels", self._create_dm),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/applications/@me", self._get_application),
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("GET", "/applications/{app_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/commands", self._put_commands),
            ("GET", "/applications/{app_id}/guilds/{guild_id}/commands", self._get_commands),
            ("PUT", "/applications/{app_id}/guilds/{guild_id}/commands", self._put_commands),
            ("GET", "/guilds/{guild_id}", self._get_guild),
            ("GET", "/guilds/{guild_id}/channels", self._get_guild_channels),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member),
            ("GET", "/channels/{channel_id}", self._get_channel),
            ("POST", "/channels/{channel_id}/typing", self._typing),
            ("POST", "/channels/{channel_id}/messages", self._create_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._callback),
            ("POST", "/webhooks/{app_id}/{token}", self._followup),
            ("GET", "/webhooks/{app_id}/{token}/messages/@original", self._get_original),
            ("PATCH", "/webhooks/{app_id}/{token}/messages/@original", self._edit_original),
            ("DELETE", "/webhooks/{app_id}/{token}/messages/@original", self._delete_original),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, api + path, handler)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Close every gateway socket and the server."""
        for connection in list(self._connections):
            with contextlib.suppress(Exception):
                await connection.close(1001, "going away")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_base(self) -> str:
        """Value for ``discord.http.Route.BASE``."""
        return f"http://127.0.0.1:{self.port}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        """Value for ``DiscordWebSocket.DEFAULT_GATEWAY`` (discord.py sets the query)."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- controls ----------------------------------------------------------------

    def rate_limit(
        self,
        channel_id: int | str,
        *,
        limit: int,
        per: float,
        advertise: bool = True,
        via: bool = True,
    ) -> None:
        """Limit message creation in a channel to ``limit`` per ``per`` seconds.

        With ``advertise`` every message POST carries ``X-RateLimit-*`` headers (so
        discord.py waits pre-emptively); without, the limit is hidden like Discord's
        per-channel limit and only 429s tell. Over the limit: 429 with
        ``{"message", "retry_after", "global": false}``, ``Retry-After`` and
        ``Via: 1.1 google``; ``via=False`` imitates a Cloudflare ban (no Via, text body).
        """
        self._limits[str(channel_id)] = _RateLimit(limit, per, advertise, via)

    def fail_channel(
        self,
        channel_id: int | str,
        status: int,
        code: int,
        message: str,
        *,
        times: int | None = None,
    ) -> None:
        """Answer every request on the channel with ``status`` and a JSON error.

        ``times`` limits the failure to that many requests (then the channel works again).
        """
        self._failures[str(channel_id)] = _Failure(status, code, message, times)

    def heal_channel(self, channel_id: int | str) -> None:
        """Undo :meth:`fail_channel`."""
        self._failures.pop(str(channel_id), None)

    def set_unreachable(self, flag: bool, *, mode: str = "reset") -> None:
        """Simulate an outage (``flag``) or end it.

        ``mode="reset"`` aborts the TCP connection of every REST request (aiohttp
        raises ``ServerDisconnectedError``/``ClientOSError``); ``mode="503"`` answers
        503 with a text body (discord.py raises ``DiscordServerError``). Gateway
        sockets are aborted and new ones refused, so discord.py keeps trying to
        reconnect and RESUMEs once the outage is over.
        """
        if mode not in ("reset", "503"):
            raise ValueError(f"unknown mode {mode!r}")
        self._unreachable = flag
        self._unreachable_mode = mode
        if flag:
            for connection in list(self._connections):
                connection.abort()

    def refuse_dms(self, flag: bool = True) -> None:
        """Answer DM sends with 403 50007 "Cannot send messages to this user"."""
        self.dms_refused = flag

    def add_text_channel(
        self, name: str, *, channel_id: int | None = None, announce: bool = True
    ) -> int:
        """Add a guild text channel (dispatching CHANNEL_CREATE if ``announce``)."""
        cid = channel_id or self._snowflake()
        channel: Json = {
            "id": str(cid),
            "type": 0,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": len(self.channels),
            "permission_overwrites": [],
            "nsfw": False,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "flags": 0,
        }
        self.channels[str(cid)] = channel
        if announce:
            self._schedule(self._dispatch_all("CHANNEL_CREATE", channel))
        return cid

    async def drop_gateway(self, *, code: int = 4000) -> None:
        """Close every gateway socket with ``code``; discord.py reconnects and RESUMEs."""
        for connection in list(self._connections):
            await connection.close(code, "dropped by test")

    async def wait_for_messages(self, n: int, timeout: float = 10) -> list[dict[str, Any]]:
        """Wait (bounded) until the bot created at least ``n`` guild messages."""
        return await self._wait_for(self.messages, n, timeout)

    async def wait_for_dms(self, n: int, timeout: float = 10) -> list[dict[str, Any]]:
        """Wait (bounded) until the bot sent at least ``n`` DMs."""
        return await self._wait_for(self.dms, n, timeout)

    async def wait_for_session(self, timeout: float = 10) -> None:
        """Wait (bounded) until a gateway session is connected (after READY or RESUMED)."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(
                lambda: any(s.connection is not None for s in self._sessions.values())
            )

    async def send_user_message(
        self,
        content: str,
        *,
        author: str = "admin",
        channel_id: int | str | None = None,
        guild: bool = True,
    ) -> dict[str, Any]:
        """Dispatch MESSAGE_CREATE as if ``author`` typed ``content`` (guild channel or DM)."""
        if not self._sessions:
            raise RuntimeError("no gateway session: is the bot logged in?")
        user = self.users[author]
        if guild:
            channel = self.channels[str(channel_id or self.channel_id)]
        else:
            channel = self._dm_channel(user)
        message = self._message_object(channel, user, {"content": content}, [])
        self.user_messages.append(message)
        await self._dispatch_message(message)
        return message

    async def dispatch_interaction(
        self,
        name: str,
        *,
        options: list[Json] | None = None,
        author: str = "admin",
        channel_id: int | str | None = None,
    ) -> Interaction:
        """Dispatch INTERACTION_CREATE for the slash command ``name`` in a guild channel.

        The bot's answers (``/interactions/{id}/{token}/callback``, followups, the
        ``@original`` message) are recorded on the returned :class:`Interaction`.
        """
        if not self._sessions:
            raise RuntimeError("no gateway session: is the bot logged in?")
        user = self.users[author]
        channel = self.channels[str(channel_id or self.channel_id)]
        synced = self.commands.get("global", []) + self.commands.get(str(self.guild_id), [])
        command = next((c for c in synced if c.get("name") == name), None)
        interaction_id = str(self._snowflake())
        token = f"interaction.{secrets.token_urlsafe(24)}"
        payload: Json = {
            "id": interaction_id,
            "application_id": str(self.application_id),
            "type": 2,
            "data": {
                "id": command["id"] if command else str(self._snowflake()),
                "name": name,
                "type": 1,
                "options": options or [],
                "guild_id": str(self.guild_id),
            },
            "guild_id": str(self.guild_id),
            "guild": {"id": str(self.guild_id), "locale": "en-US", "features": []},
            "channel_id": channel["id"],
            "channel": channel,
            "member": {
                **self._member(user),
                "permissions": str(self._permissions(user["id"])),
            },
            "token": token,
            "version": 1,
            "app_permissions": str(self._permissions(self.bot_user["id"])),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        interaction = Interaction(interaction_id, token, payload)
        self.interactions[token] = interaction
        await self._dispatch_all("INTERACTION_CREATE", payload)
        return interaction

    # -- objects -----------------------------------------------------------------

    def _snowflake(self) -> int:
        value = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        value = max(value, self._last_snowflake + 1)
        self._last_snowflake = value
        return value

    @staticmethod
    def _user(uid: int, name: str, *, bot: bool = False) -> Json:
        user: Json = {
            "id": str(uid),
            "username": name,
            "global_name": None if bot else name.title(),
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
        }
        if bot:
            user.update(bot=True, verified=True, mfa_enabled=True, email=None)
        return user

    @staticmethod
    def _role(rid: int, name: str, permissions: int, *, position: int) -> Json:
        return {
            "id": str(rid),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def _member(self, user: Json, *, with_user: bool = True) -> Json:
        member: Json = {
            "roles": self._member_roles.get(user["id"], []),
            "nick": None,
            "avatar": None,
            "banner": None,
            "joined_at": self._joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            member["user"] = user
        return member

    def _permissions(self, user_id: str) -> int:
        if user_id == self.users["owner"]["id"]:
            return ALL_PERMISSIONS
        by_id = {role["id"]: int(role["permissions"]) for role in self.roles}
        value = by_id[str(self.guild_id)]
        for role_id in self._member_roles.get(user_id, []):
            value |= by_id.get(role_id, 0)
        return ALL_PERMISSIONS if value & ADMINISTRATOR else value

    def _all_users(self) -> list[Json]:
        return [self.bot_user, *self.users.values()]

    def _guild(self) -> Json:
        members = [self._member(user) for user in self._all_users()]
        return {
            "id": str(self.guild_id),
            "name": "Hookbot Test Guild",
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": self.users["owner"]["id"],
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": self.roles,
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(self.channel_id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "incidents_data": None,
            "joined_at": self._joined_at,
            "large": False,
            "unavailable": False,
            "member_count": len(members),
            "voice_states": [],
            "members": members,
            "channels": [c for c in self.channels.values() if c.get("guild_id")],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _dm_channel(self, user: Json) -> Json:
        for channel in self.channels.values():
            if channel["type"] == 1 and channel["recipients"][0]["id"] == user["id"]:
                return channel
        channel = {
            "id": str(self._snowflake()),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [user],
        }
        self.channels[channel["id"]] = channel
        return channel

    def _application(self) -> Json:
        return {
            "id": str(self.application_id),
            "name": "hookbot",
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": secrets.token_hex(32),
            "owner": self.users["owner"],
            "team": None,
            "flags": 0,
            "bot": self.bot_user,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": 1,
        }

    def _mentions(
        self, content: str, allowed: Json | None, author_id: str
    ) -> tuple[list[Json], list[str], bool]:
        """Compute ``mentions``, ``mention_roles``, ``mention_everyone`` like Discord."""
        parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse", []))
        explicit_users = set((allowed or {}).get("users") or [])
        explicit_roles = set((allowed or {}).get("roles") or [])
        known = {user["id"]: user for user in self._all_users()}
        users = [
            uid
            for uid in dict.fromkeys(USER_MENTION.findall(content))
            if uid in known and ("users" in parse or uid in explicit_users)
        ]
        role_ids = {role["id"] for role in self.roles}
        roles = [
            rid
            for rid in dict.fromkeys(ROLE_MENTION.findall(content))
            if rid in role_ids and ("roles" in parse or rid in explicit_roles)
        ]
        everyone = (
            ("@everyone" in content or "@here" in content)
            and "everyone" in parse
            and bool(self._permissions(author_id) & MENTION_EVERYONE)
        )
        return [known[uid] for uid in users], roles, everyone

    def _message_object(
        self,
        channel: Json,
        author: Json,
        payload: Json,
        attachments: list[Json],
        *,
        message_type: int = 0,
        extra: Json | None = None,
    ) -> Json:
        content = payload.get("content") or ""
        mentions, roles, everyone = self._mentions(
            content, payload.get("allowed_mentions"), author["id"]
        )
        in_guild = "guild_id" in channel
        if in_guild:
            mentions = [
                {**user, "member": self._member(user, with_user=False)} for user in mentions
            ]
        else:
            roles, everyone = [], False
        message: Json = {
            "id": str(self._snowflake()),
            "channel_id": channel["id"],
            "author": author,
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "mention_everyone": everyone,
            "mentions": mentions,
            "mention_roles": roles,
            "attachments": attachments,
            "embeds": [{"type": "rich", **embed} for embed in payload.get("embeds") or []],
            "components": payload.get("components") or [],
            "pinned": False,
            "type": message_type,
            "flags": int(payload.get("flags") or 0),
        }
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        if payload.get("message_reference"):
            message["message_reference"] = payload["message_reference"]
        if in_guild:
            message["guild_id"] = channel["guild_id"]
            message["member"] = self._member(author, with_user=False)
        message.update(extra or {})
        channel["last_message_id"] = message["id"]
        self._stored[message["id"]] = message
        return message

    # -- gateway -----------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.gateway_queries.append(query)
        compress: Callable[[bytes], bytes] | None = None
        wanted = query.get("compress")
        if wanted == "zlib-stream":
            compress = _zlib_stream()
        elif wanted == "zstd-stream":
            compress = _zstd_stream()
            if compress is None:
                return error_response(400, 0, "zstd-stream needs the zstandard package here")
        elif wanted:
            return error_response(400, 0, f"unknown compression {wanted!r}")
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        connection = _Connection(ws, request, compress)
        self._connections.add(connection)
        try:
            if query.get("encoding", "json") != "json":
                await connection.close(4002, "only encoding=json is supported")
                return ws
            await connection.send(
                self._frame(OP_HELLO, {"heartbeat_interval": self.heartbeat_interval_ms})
            )
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                try:
                    payload = json.loads(message.data)
                except ValueError:
                    await connection.close(4002, "Error while decoding payload.")
                    break
                await self._on_payload(connection, payload)
        finally:
            self._connections.discard(connection)
            await self._detach(connection)
        return ws

    async def _detach(self, connection: _Connection) -> None:
        session = connection.session
        if session is None or session.connection is not connection:
            return
        session.connection = None
        # A client that closes with 1000/1001 ends its session (it cannot be resumed).
        if not connection.closed_by_server and connection.ws.close_code in (1000, 1001):
            self._sessions.pop(session.session_id, None)
        async with self._changed:
            self._changed.notify_all()

    @staticmethod
    def _frame(op: int, data: Any) -> Json:
        return {"op": op, "d": data, "s": None, "t": None}

    async def _on_payload(self, connection: _Connection, payload: Json) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == OP_HEARTBEAT:
            self.heartbeats += 1
            await connection.send(self._frame(OP_HEARTBEAT_ACK, None))
        elif op == OP_IDENTIFY:
            await self._identify(connection, data or {})
        elif op == OP_RESUME:
            await self._resume(connection, data or {})
        elif op == OP_REQUEST_GUILD_MEMBERS:
            await self._chunk(connection, data or {})
        elif op in (OP_PRESENCE_UPDATE, OP_VOICE_STATE_UPDATE):
            return
        else:
            await connection.close(4001, "Unknown opcode.")

    async def _identify(self, connection: _Connection, data: Json) -> None:
        self.identifies.append(data)
        if data.get("token") != self.token:
            await connection.close(4004, "Authentication failed.")
            return
        if connection.session is not None:
            await connection.close(4005, "Already authenticated.")
            return
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS and not self.allow_privileged_intents:
            await connection.close(4014, "Disallowed intent(s).")
            return
        session = _Session(secrets.token_hex(16), intents, data.get("shard"))
        self._sessions[session.session_id] = session
        self._attach(connection, session)
        ready: Json = {
            "v": API_VERSION,
            "user": self.bot_user,
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "session_id": session.session_id,
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        await self._dispatch(session, "READY", ready)
        await self._dispatch(session, "GUILD_CREATE", self._guild())
        async with self._changed:
            self._changed.notify_all()

    async def _resume(self, connection: _Connection, data: Json) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.token:
            await connection.send(self._frame(OP_INVALID_SESSION, False))
            return
        previous = session.connection
        if previous is not None and previous is not connection:
            previous.session = None
            await previous.close(4000, "session resumed elsewhere")
        self._attach(connection, session)
        seen = int(data.get("seq") or 0)
        for event in list(session.backlog):
            if event["s"] > seen:
                await connection.send(event)
        await self._dispatch(session, "RESUMED", {})
        async with self._changed:
            self._changed.notify_all()

    @staticmethod
    def _attach(connection: _Connection, session: _Session) -> None:
        connection.session = session
        session.connection = connection

    async def _chunk(self, connection: _Connection, data: Json) -> None:
        if connection.session is None:
            return
        chunk: Json = {
            "guild_id": str(self.guild_id),
            "members": [self._member(user) for user in self._all_users()],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._dispatch(connection.session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _dispatch(self, session: _Session, event: str, data: Json) -> None:
        session.sequence += 1
        payload = {"op": OP_DISPATCH, "d": data, "s": session.sequence, "t": event}
        session.backlog.append(payload)
        del session.backlog[:-BACKLOG_LIMIT]
        if session.connection is not None:
            await session.connection.send(payload)

    async def _dispatch_all(self, event: str, data: Json) -> None:
        for session in list(self._sessions.values()):
            await self._dispatch(session, event, data)

    async def _dispatch_message(self, message: Json) -> None:
        """MESSAGE_CREATE to every session, honouring intents and Message Content."""
        in_guild = "guild_id" in message
        mentioned = any(user["id"] == self.bot_user["id"] for user in message["mentions"])
        for session in list(self._sessions.values()):
            needed = INTENT_GUILD_MESSAGES if in_guild else INTENT_DIRECT_MESSAGES
            if not session.intents & needed:
                continue
            data = message
            own = message["author"]["id"] == self.bot_user["id"]
            privileged = session.intents & INTENT_MESSAGE_CONTENT
            if in_guild and not (own or mentioned or privileged):
                data = {**message, "content": "", "embeds": [], "attachments": [], "components": []}
            await self._dispatch(session, "MESSAGE_CREATE", data)

    def _schedule(self, coroutine: Coroutine[Any, Any, None]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coroutine.close()
            return
        task = loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- REST plumbing -----------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await self._answer(request, handler)
        if response.status in INVALID_STATUSES and (
            response.headers.get("X-RateLimit-Scope") != "shared"
        ):
            resource = request.match_info.route.resource
            route = resource.canonical if resource is not None else request.path
            self.invalid_responses[(response.status, route)] += 1
        return response

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        prefix = f"/api/v{API_VERSION}"
        path = request.path.removeprefix(prefix)
        if request.path.startswith(prefix):
            self.requests.append((request.method, path))
        if self._unreachable:
            if self._unreachable_mode == "503" and request.path.startswith(prefix):
                return web.Response(
                    status=503, text="upstream connect error", content_type="text/plain"
                )
            if request.transport is not None:
                request.transport.abort()
            # The response is never written: the client sees the connection drop.
            raise web.HTTPServiceUnavailable
        if not request.path.startswith(prefix):
            return await handler(request)
        public = path.startswith(("/interactions/", "/webhooks/")) or path == "/gateway"
        if not public and request.headers.get("Authorization") != f"Bot {self.token}":
            return error_response(401, 0, "401: Unauthorized")
        try:
            return await handler(request)
        except web.HTTPNotFound:
            self.unhandled.append((request.method, path))
            return error_response(404, 0, "404: Not Found")
        except web.HTTPMethodNotAllowed:
            self.unhandled.append((request.method, path))
            return error_response(405, 0, "405: Method Not Allowed")

    def _channel_or_error(self, request: web.Request) -> tuple[Json | None, web.Response | None]:
        channel_id = request.match_info["channel_id"]
        failure = self._failures.get(channel_id)
        if failure is not None:
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.pop(channel_id, None)
            return None, error_response(failure.status, failure.code, failure.message)
        channel = self.channels.get(channel_id)
        if channel is None:
            return None, error_response(404, 10003, "Unknown Channel")
        return channel, None

    def _limit(self, channel_id: str) -> tuple[web.Response | None, dict[str, str]]:
        limit = self._limits.get(channel_id)
        if limit is None:
            return None, {}
        allowed, reset_after = limit.take(time.monotonic())
        headers = limit.headers(reset_after)
        if allowed:
            return None, headers
        self.responses_429 += 1
        if not limit.via:
            response = web.Response(status=429, text="error code: 1015", content_type="text/plain")
            response.headers["Retry-After"] = str(math.ceil(reset_after))
            return response, {}
        rounded = math.ceil(reset_after * 1000) / 1000
        headers.update(
            {
                "Retry-After": str(max(math.ceil(reset_after), 1)),
                "Via": "1.1 google",
                "X-RateLimit-Scope": "user",
            }
        )
        body = {"message": "You are being rate limited.", "retry_after": rounded, "global": False}
        return json_response(body, status=429, headers=headers), {}

    @staticmethod
    async def _read_payload(request: web.Request) -> tuple[Json, list[Json]]:
        """JSON body, or multipart ``payload_json`` plus ``files[n]`` (as attachments)."""
        if not request.content_type.startswith("multipart/"):
            if not request.can_read_body:
                return {}, []
            body = await request.json()
            return (body if isinstance(body, dict) else {}), []
        payload: Json = {}
        files: list[Json] = []
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            name = part.name or ""
            data = await part.read()
            if name == "payload_json":
                payload = json.loads(bytes(data))
            elif name.startswith("files["):
                files.append(
                    {
                        "field": name,
                        "filename": part.filename or name,
                        "size": len(data),
                        "content_type": part.headers.get("Content-Type"),
                        "data": bytes(data),
                    }
                )
        return payload, files

    def _attachments(self, payload: Json, files: list[Json], channel_id: str) -> list[Json]:
        described = {
            str(item.get("id")): item
            for item in payload.get("attachments") or []
            if isinstance(item, dict)
        }
        attachments = []
        for index, upload in enumerate(files):
            aid = str(self._snowflake())
            meta = described.get(str(index), {})
            filename = meta.get("filename") or upload["filename"]
            url = f"http://127.0.0.1:{self.port}/attachments/{channel_id}/{aid}/{filename}"
            attachments.append(
                {
                    "id": aid,
                    "filename": filename,
                    "description": meta.get("description"),
                    "size": upload["size"],
                    "url": url,
                    "proxy_url": url,
                    "content_type": upload["content_type"],
                    "flags": 0,
                }
            )
        return attachments

    @staticmethod
    def _validate(payload: Json, files: list[Json]) -> web.Response | None:
        """Discord's checks: empty message, 2000/limits of embeds, nonce, allowed_mentions."""
        content = payload.get("content")
        empty = not any(
            (
                content,
                payload.get("embeds"),
                payload.get("components"),
                payload.get("sticker_ids"),
                payload.get("poll"),
                files,
            )
        )
        if empty:
            return error_response(400, 50006, "Cannot send an empty message")
        errors = _FormErrors()
        errors.max_length(["content"], content, 2000)
        nonce = payload.get("nonce")
        if nonce is not None:
            errors.max_length(["nonce"], nonce, 25)
        embeds = payload.get("embeds") or []
        if len(embeds) > 10:
            errors.add(["embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
        total = 0
        for index, embed in enumerate(embeds):
            where = ["embeds", str(index)]
            fields = embed.get("fields") or []
            author = (embed.get("author") or {}).get("name")
            footer = (embed.get("footer") or {}).get("text")
            errors.max_length([*where, "title"], embed.get("title"), 256)
            errors.max_length([*where, "description"], embed.get("description"), 4096)
            errors.max_length([*where, "author", "name"], author, 256)
            errors.max_length([*where, "footer", "text"], footer, 2048)
            if len(fields) > 25:
                errors.add(
                    [*where, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
            for position, item in enumerate(fields):
                at = [*where, "fields", str(position)]
                errors.max_length([*at, "name"], item.get("name"), 256)
                errors.max_length([*at, "value"], item.get("value"), 1024)
                total += _strip_len(item.get("name")) + _strip_len(item.get("value"))
            total += sum(
                _strip_len(v)
                for v in (embed.get("title"), embed.get("description"), author, footer)
            )
        if total > 6000:
            errors.add(
                ["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
            )
        allowed = payload.get("allowed_mentions") or {}
        for kind in ("users", "roles"):
            if kind in (allowed.get("parse") or []) and allowed.get(kind):
                errors.add(
                    ["allowed_mentions"],
                    "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                    f'parse:["{kind}"] and {kind}: [ids...] are mutually exclusive.',
                )
        return errors.response()

    # -- REST handlers -----------------------------------------------------------

    async def _get_me(self, request: web.Request) -> web.Response:
        return json_response(self.bot_user)

    async def _get_user(self, request: web.Request) -> web.Response:
        uid = request.match_info["user_id"]
        for user in self._all_users():
            if user["id"] == uid:
                return json_response(user)
        return error_response(404, 10013, "Unknown User")

    async def _get_application(self, request: web.Request) -> web.Response:
        return json_response(self._application())

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url})

    async def _get_gateway_bot(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 86_400_000, "max_concurrency": 1}
        return json_response({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})

    def _commands_key(self, request: web.Request) -> str:
        return request.match_info.get("guild_id", "global")

    async def _get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.commands.get(self._commands_key(request), []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        if request.match_info["app_id"] != str(self.application_id):
            return error_response(403, 50001, "Missing Access")
        body = await request.json()
        key = self._commands_key(request)
        previous = {c["name"]: c for c in self.commands.get(key, [])}
        stored = []
        for command in body:
            known = previous.get(command["name"])
            stored.append(
                {
                    "type": 1,
                    "description": "",
                    "options": [],
                    "default_member_permissions": None,
                    "nsfw": False,
                    **command,
                    "id": known["id"] if known else str(self._snowflake()),
                    "application_id": str(self.application_id),
                    "version": str(self._snowflake()),
                    **({"guild_id": key} if key != "global" else {}),
                }
            )
        self.commands[key] = stored
        return json_response(stored)

    async def _get_guild(self, request: web.Request) -> web.Response:
        if request.match_info["guild_id"] != str(self.guild_id):
            return error_response(404, 10004, "Unknown Guild")
        guild = self._guild()
        for key in ("members", "channels", "threads", "presences", "voice_states"):
            guild.pop(key)
        return json_response(guild)

    async def _get_guild_channels(self, request: web.Request) -> web.Response:
        if request.match_info["guild_id"] != str(self.guild_id):
            return error_response(404, 10004, "Unknown Guild")
        return json_response([c for c in self.channels.values() if c.get("guild_id")])

    async def _get_member(self, request: web.Request) -> web.Response:
        uid = request.match_info["user_id"]
        for user in self._all_users():
            if user["id"] == uid:
                return json_response(self._member(user))
        return error_response(404, 10007, "Unknown Member")

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel, failure = self._channel_or_error(request)
        return failure or json_response(channel)

    async def _typing(self, request: web.Request) -> web.Response:
        _, failure = self._channel_or_error(request)
        return failure or web.Response(status=204)

    async def _create_dm(self, request: web.Request) -> web.Response:
        body = await request.json()
        recipient = str(body.get("recipient_id"))
        for user in self.users.values():
            if user["id"] == recipient:
                return json_response(self._dm_channel(user))
        return error_response(400, 50035, "Invalid Form Body")

    async def _create_message(self, request: web.Request) -> web.Response:
        channel, failure = self._channel_or_error(request)
        if failure is not None or channel is None:
            return failure or error_response(404, 10003, "Unknown Channel")
        limited, headers = self._limit(channel["id"])
        if limited is not None:
            return limited
        payload, files = await self._read_payload(request)
        invalid = self._validate(payload, files)
        if invalid is not None:
            return invalid
        is_dm = channel["type"] == 1
        if is_dm and self.dms_refused:
            return error_response(403, 50007, "Cannot send messages to this user")
        nonce = payload.get("nonce")
        if nonce is not None and payload.get("enforce_nonce"):
            seen = self._nonces.get(str(nonce))
            if seen is not None and time.monotonic() - seen[0] < NONCE_WINDOW:
                self.nonce_replays += 1
                return json_response(seen[1], headers=headers)
        attachments = self._attachments(payload, files, channel["id"])
        message = self._message_object(channel, self.bot_user, payload, attachments)
        if nonce is not None:
            self._nonces[str(nonce)] = (time.monotonic(), message)
        record = {
            **message,
            "allowed_mentions": payload.get("allowed_mentions"),
            "enforce_nonce": payload.get("enforce_nonce"),
            "files": files,
            "multipart": bool(files) or request.content_type.startswith("multipart/"),
            "payload": payload,
        }
        (self.dms if is_dm else self.messages).append(record)
        async with self._changed:
            self._changed.notify_all()
        if self.echo_bot_messages:
            await self._dispatch_message(message)
        return json_response(message, headers=headers)

    async def _get_message(self, request: web.Request) -> web.Response:
        channel, failure = self._channel_or_error(request)
        if failure is not None or channel is None:
            return failure or error_response(404, 10003, "Unknown Channel")
        message = self._stored.get(request.match_info["message_id"])
        if message is None or message["channel_id"] != channel["id"]:
            return error_response(404, 10008, "Unknown Message")
        return json_response(message)

    async def _edit_message(self, request: web.Request) -> web.Response:
        channel, failure = self._channel_or_error(request)
        if failure is not None or channel is None:
            return failure or error_response(404, 10003, "Unknown Channel")
        message = self._stored.get(request.match_info["message_id"])
        if message is None or message["channel_id"] != channel["id"]:
            return error_response(404, 10008, "Unknown Message")
        if message["author"]["id"] != self.bot_user["id"]:
            return error_response(403, 50005, "Cannot edit a message authored by another user")
        payload, files = await self._read_payload(request)
        errors = _FormErrors()
        errors.max_length(["content"], payload.get("content"), 2000)
        if (invalid := errors.response()) is not None:
            return invalid
        if "content" in payload:
            message["content"] = payload["content"] or ""
        if "components" in payload:
            message["components"] = payload["components"] or []
        if payload.get("flags") is not None:
            message["flags"] = int(payload["flags"])
        if "embeds" in payload:
            message["embeds"] = [{"type": "rich", **e} for e in payload["embeds"] or []]
        if files:
            message["attachments"] = self._attachments(payload, files, channel["id"])
        message["edited_timestamp"] = _now_iso()
        for record in (*self.messages, *self.dms):
            if record["id"] == message["id"]:
                record.update(message)
        await self._dispatch_all("MESSAGE_UPDATE", message)
        return json_response(message)

    async def _delete_message(self, request: web.Request) -> web.Response:
        channel, failure = self._channel_or_error(request)
        if failure is not None or channel is None:
            return failure or error_response(404, 10003, "Unknown Channel")
        message = self._stored.pop(request.match_info["message_id"], None)
        if message is None:
            return error_response(404, 10008, "Unknown Message")
        event = {"id": message["id"], "channel_id": channel["id"]}
        if "guild_id" in channel:
            event["guild_id"] = channel["guild_id"]
        await self._dispatch_all("MESSAGE_DELETE", event)
        return web.Response(status=204)

    # -- interactions ------------------------------------------------------------

    def _interaction(self, request: web.Request) -> Interaction | None:
        return self.interactions.get(request.match_info["token"])

    async def _callback(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request)
        if interaction is None or interaction.id != request.match_info["interaction_id"]:
            return error_response(404, 10062, "Unknown interaction")
        if interaction.responses:
            return error_response(400, 40060, "Interaction has already been acknowledged.")
        body, files = await self._read_payload(request)
        interaction.responses.append(body)
        interaction.answered.set()
        kind = int(body.get("type", 0))
        data = body.get("data") or {}
        resource: Json = {"type": kind}
        info: Json = {"id": interaction.id, "type": 2}
        if kind in (4, 5):
            channel = self.channels[interaction.payload["channel_id"]]
            flags = int(data.get("flags") or 0) | (128 if kind == 5 else 0)
            attachments = self._attachments(data, files, channel["id"])
            metadata = {
                "id": interaction.id,
                "type": 2,
                "user": interaction.payload["member"]["user"],
                "authorizing_integration_owners": {"0": str(self.guild_id)},
            }
            message = self._message_object(
                channel,
                self.bot_user,
                {**data, "flags": flags},
                attachments,
                message_type=20,
                extra={"interaction_metadata": metadata, "webhook_id": str(self.application_id)},
            )
            interaction.original = message
            resource["message"] = message
            info.update(
                response_message_id=message["id"],
                response_message_loading=kind == 5,
                response_message_ephemeral=bool(flags & 64),
            )
        if request.query.get("with_response") in ("1", "true", "True"):
            return json_response({"interaction": info, "resource": resource})
        return web.Response(status=204)

    async def _followup(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request)
        if interaction is None:
            return error_response(404, 10015, "Unknown Webhook")
        payload, files = await self._read_payload(request)
        if (invalid := self._validate(payload, files)) is not None:
            return invalid
        channel = self.channels[interaction.payload["channel_id"]]
        attachments = self._attachments(payload, files, channel["id"])
        message = self._message_object(
            channel,
            self.bot_user,
            payload,
            attachments,
            extra={"webhook_id": str(self.application_id)},
        )
        interaction.followups.append(message)
        return json_response(message)

    async def _get_original(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request)
        if interaction is None or interaction.original is None:
            return error_response(404, 10008, "Unknown Message")
        return json_response(interaction.original)

    async def _edit_original(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request)
        if interaction is None or interaction.original is None:
            return error_response(404, 10008, "Unknown Message")
        payload, _ = await self._read_payload(request)
        original = interaction.original
        for key in ("content", "components"):
            if key in payload:
                original[key] = payload[key] or ("" if key == "content" else [])
        if "embeds" in payload:
            original["embeds"] = [{"type": "rich", **e} for e in payload["embeds"] or []]
        original["flags"] = int(original.get("flags", 0)) & ~128
        original["edited_timestamp"] = _now_iso()
        return json_response(original)

    async def _delete_original(self, request: web.Request) -> web.Response:
        interaction = self._interaction(request)
        if interaction is None or interaction.original is None:
            return error_response(404, 10008, "Unknown Message")
        interaction.original = None
        return web.Response(status=204)

    # -- helpers -----------------------------------------------------------------

    async def _wait_for(self, items: list[dict[str, Any]], n: int, timeout: float) -> list[Json]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(items) >= n)
        return list(items)


@contextlib.contextmanager
def pointed_at(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at ``fake``; restore afterwards."""
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = fake.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        Route.BASE = old_base
        DiscordWebSocket.DEFAULT_GATEWAY = old_gateway
