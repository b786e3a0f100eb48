"""A fake Docker Engine API on a unix socket, for the real docker-py client.

What docker-py 7.2.0 needs, read from its source and verified here (PROTOCOLS B2):

* an unversioned ``GET /version`` answering ``{"ApiVersion": …}`` (version negotiation);
  every later call goes to ``/v<ApiVersion>/…``;
* ``GET /events`` as a *chunked* response (``_stream_helper`` only streams chunked
  bodies), NDJSON, held open; the Engine replays its buffered events from ``since``
  (inclusive, nanoseconds) and ends at ``until``. When dockerd stops, the stream ends
  cleanly: docker-py's generator just stops (``drop_streams``);
* ``GET /containers/{id}/logs`` multiplexed (8-byte frame headers) for a container whose
  ``Config.Tty`` is false: docker-py inspects the container first to know.

The fake keeps the Engine's event buffer (the last 256 events, forgotten by ``forget``
as a daemon restart does), containers with their State, and images. It runs its aiohttp
server on its own thread and loop, so docker-py's blocking calls (from any thread) are
served whatever the test's loop is doing; the simulation methods are thread-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

__all__ = ["FakeContainer", "FakeDocker", "FakeImage", "rfc3339"]

API_VERSION = "1.41"
EVENTS_KEPT = 256  # moby's eventsLimit
_ids = itertools.count(1)


def rfc3339(nanos: int) -> str:
    """Unix nanoseconds → the Engine's RFC 3339 with nine fraction digits (0: Go's zero)."""
    if nanos <= 0:
        return "0001-01-01T00:00:00Z"
    whole = datetime.fromtimestamp(nanos // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{whole}.{nanos % 1_000_000_000:09d}Z"


def _new_id(seed: str) -> str:
    return hashlib.sha256(f"{seed}-{next(_ids)}".encode()).hexdigest()


@dataclass
class FakeContainer:
    """One container as the fake Engine keeps it."""

    id: str
    name: str
    image: str
    labels: dict[str, str] = field(default_factory=dict)
    status: str = "created"
    exit_code: int = 0
    oom_killed: bool = False
    started_at: int = 0
    finished_at: int = 0
    restart_count: int = 0
    health: dict[str, Any] | None = None
    logs: list[tuple[int, bytes]] = field(default_factory=list)  # (1 stdout | 2 stderr, line)

    def inspect(self) -> dict[str, Any]:
        """The container as `GET /containers/{id}/json` answers."""
        state: dict[str, Any] = {
            "Status": self.status,
            "Running": self.status == "running",
            "Paused": False,
            "Restarting": self.status == "restarting",
            "OOMKilled": self.oom_killed,
            "Dead": False,
            "Pid": 4242 if self.status == "running" else 0,
            "ExitCode": self.exit_code,
            "Error": "",
            "StartedAt": rfc3339(self.started_at),
            "FinishedAt": rfc3339(self.finished_at),
        }
        if self.health is not None:
            state["Health"] = self.health
        return {
            "Id": self.id,
            "Created": rfc3339(self.started_at or time.time_ns()),
            "Name": "/" + self.name,
            "RestartCount": self.restart_count,
            "Image": "sha256:" + hashlib.sha256(self.image.encode()).hexdigest(),
            "State": state,
            "Config": {"Tty": False, "Image": self.image, "Labels": dict(self.labels)},
        }

    def summary(self) -> dict[str, Any]:
        """The container as `GET /containers/json` lists it."""
        return {
            "Id": self.id,
            "Names": ["/" + self.name],
            "Image": self.image,
            "State": self.status,
            "Status": f"Exited ({self.exit_code})" if self.status == "exited" else "Up",
            "Labels": dict(self.labels),
        }


@dataclass
class FakeImage:
    """One image as the fake Engine keeps it."""

    id: str
    tags: list[str]
    size: int
    layers: int
    created: int
    history: list[str] = field(default_factory=list)  # layer image ids, newest first

    def inspect(self) -> dict[str, Any]:
        """The image as `GET /images/{name}/json` answers."""
        return {
            "Id": self.id,
            "RepoTags": list(self.tags),
            "Created": rfc3339(self.created),
            "Size": self.size,
            "RootFS": {
                "Type": "layers",
                "Layers": [f"sha256:{n:064x}" for n in range(self.layers)],
            },
            "Config": {"Labels": {}},
        }


def _matches(event: Mapping[str, Any], filters: Mapping[str, list[str]]) -> bool:
    """Apply the `type` and `event` filters as the Engine does (health by its prefix)."""
    types = filters.get("type")
    if types and event["Type"] not in types:
        return False
    names = filters.get("event")
    action = str(event["Action"])
    return not names or action in names or action.split(":", 1)[0] in names


def _since(text: str | None) -> int:
    """Engine `since`/`until`: `seconds[.nanos]` → nanoseconds (0 when absent)."""
    if not text:
        return 0
    seconds, _, fraction = text.partition(".")
    return int(seconds) * 1_000_000_000 + int((fraction or "0")[:9].ljust(9, "0"))


class FakeDocker:
    """The fake Engine (see the module docstring). Use `with FakeDocker(path) as engine:`."""

    def __init__(self, socket_path: Path | str) -> None:
        self.path = str(socket_path)
        self.containers: dict[str, FakeContainer] = {}
        self.images: dict[str, FakeImage] = {}
        self.buffer: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, query) of each call
        self.inspect_delay = 0.0  # seconds each container inspect takes
        self._lock = threading.Lock()
        self._streams: list[asyncio.Queue[dict[str, Any] | None]] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._last_time = 0

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> FakeDocker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Serve on the socket (from a thread of its own)."""
        self._thread.start()
        self._wait(self._start())

    def stop(self) -> None:
        """End every stream and stop serving."""
        self._wait(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def down(self) -> None:
        """dockerd stops: streams end quietly, connections close, new ones are refused."""
        self._wait(self._stop())

    def up(self, *, forget: bool = True) -> None:
        """dockerd is back; by default it forgot its events (as after a restart)."""
        if forget:
            self.forget()
        self._wait(self._start())

    def _wait(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _start(self) -> None:
        app = web.Application()
        for prefix in ("", f"/v{API_VERSION}"):
            app.router.add_get(f"{prefix}/version", self._version)
            app.router.add_get(f"{prefix}/_ping", self._ping)
            app.router.add_get(f"{prefix}/info", self._info)
            app.router.add_get(f"{prefix}/events", self._events)
            app.router.add_get(f"{prefix}/containers/json", self._list)
            app.router.add_get(f"{prefix}/containers/{{id}}/json", self._inspect)
            app.router.add_get(f"{prefix}/containers/{{id}}/logs", self._logs)
            app.router.add_get(f"{prefix}/images/{{name:.+}}/json", self._image)
            app.router.add_get(f"{prefix}/images/{{name:.+}}/history", self._history)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        Path(self.path).unlink(missing_ok=True)
        await web.UnixSite(self._runner, self.path).start()

    async def _stop(self) -> None:
        self._end_streams()
        await asyncio.sleep(0)  # let the streams write their end
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        Path(self.path).unlink(missing_ok=True)

    # -- simulation (thread-safe) --------------------------------------------------------

    def now(self) -> int:
        """The fake daemon's clock, strictly increasing (nanoseconds)."""
        with self._lock:
            self._last_time = max(time.time_ns(), self._last_time + 1)
            return self._last_time

    def emit(self, kind: str, action: str, ident: str, attributes: Mapping[str, str]) -> dict:
        """Record an event in the buffer and send it to every open stream."""
        at = self.now()
        event = {
            "status": action,
            "id": ident,
            "from": attributes.get("image", ""),
            "Type": kind,
            "Action": action,
            "Actor": {"ID": ident, "Attributes": dict(attributes)},
            "scope": "local",
            "time": at // 1_000_000_000,
            "timeNano": at,
        }
        with self._lock:
            self.buffer = [*self.buffer[-(EVENTS_KEPT - 1) :], event]
            for queue in self._streams:
                self._loop.call_soon_threadsafe(queue.put_nowait, event)
        return event

    def _attributes(self, box: FakeContainer, **extra: str) -> dict[str, str]:
        return {**box.labels, "image": box.image, "name": box.name, **extra}

    def run(
        self,
        name: str,
        image: str = "bb:local",
        *,
        labels: Mapping[str, str] | None = None,
        logs: Iterable[str] = (),
        events: bool = True,
    ) -> FakeContainer:
        """Create and start a container (`create` and `start` events)."""
        box = FakeContainer(_new_id(name), name, image, dict(labels or {}))
        box.logs = [(1, line.encode()) for line in logs]
        self.containers[box.id] = box
        if events:
            self.emit("container", "create", box.id, self._attributes(box))
        self.start_container(name, events=events)
        return box

    def find(self, name: str) -> FakeContainer:
        """The container of that name."""
        return next(box for box in self.containers.values() if box.name == name)

    def start_container(self, name: str, *, events: bool = True) -> None:
        """(Re)start a container: `start`."""
        box = self.find(name)
        box.status, box.started_at = "running", self.now()
        if events:
            self.emit("container", "start", box.id, self._attributes(box))

    def die(
        self,
        name: str,
        code: int,
        *,
        oom: bool = False,
        signals: Iterable[int] = (),
        logs: Iterable[str] = (),
        events: bool = True,
        restart: bool = False,
    ) -> dict[str, Any] | None:
        """A container's main process ends: kill(s), oom(s), then die with its code.

        `events=False` changes the State only (a death the Engine never streams, as in
        the gap of a daemon restart). `restart` starts it again (restart policy).
        """
        box = self.find(name)
        box.logs += [(2, line.encode()) for line in logs]
        if events:
            for signal in signals:
                self.emit("container", "kill", box.id, self._attributes(box, signal=str(signal)))
            if oom:
                for _ in range(2):  # the kernel may OOM-kill more than once (PROTOCOLS A6)
                    self.emit("container", "oom", box.id, self._attributes(box))
        box.status, box.exit_code, box.oom_killed = "exited", code, oom
        box.finished_at = self.now()
        event = None
        if events:
            event = self.emit("container", "die", box.id, self._attributes(box, exitCode=str(code)))
        if restart:
            box.restart_count += 1
            box.status, box.exit_code, box.started_at = "running", 0, self.now()
            if events:
                self.emit("container", "start", box.id, self._attributes(box))
        return event

    def set_health(self, name: str, status: str, output: str = "") -> None:
        """A health check flips: `health_status: <status>` (plus the probe noise)."""
        box = self.find(name)
        streak = (box.health or {}).get("FailingStreak", 0)
        streak = streak + 1 if status == "unhealthy" else 0
        box.health = {
            "Status": status,
            "FailingStreak": streak,
            "Log": [{"ExitCode": 1 if status == "unhealthy" else 0, "Output": output}],
        }
        for action in ("exec_create: sh -c probe", "exec_start: sh -c probe", "exec_die"):
            self.emit("container", action, box.id, self._attributes(box))
        self.emit("container", f"health_status: {status}", box.id, self._attributes(box))

    def add_image(
        self, tag: str, *, size: int = 2_000_000, layers: int = 3, age: float = 0.0
    ) -> FakeImage:
        """Store an image (no event)."""
        image = FakeImage(
            "sha256:" + _new_id(tag), [tag], size, layers, self.now() - int(age * 1e9)
        )
        self.images[image.id] = image
        return image

    def tag(self, image: FakeImage, tag: str) -> None:
        """`docker tag`: a `tag` event for the image."""
        if tag not in image.tags:
            image.tags.append(tag)
        self.emit("image", "tag", image.id, {"name": tag})

    def drop_streams(self) -> None:
        """End every open event stream cleanly (what dockerd stopping looks like)."""
        self._loop.call_soon_threadsafe(self._end_streams)

    def forget(self) -> None:
        """Lose the event buffer (a daemon restart)."""
        with self._lock:
            self.buffer = []

    def _end_streams(self) -> None:
        with self._lock:
            streams, self._streams = self._streams, []
        for queue in streams:
            queue.put_nowait(None)

    def calls(self, suffix: str) -> list[dict[str, str]]:
        """The queries of the calls whose path ends in `suffix`."""
        return [query for path, query in self.requests if path.endswith(suffix)]

    @property
    def open_streams(self) -> int:
        """How many event streams are open now."""
        with self._lock:
            return len(self._streams)

    # -- handlers ------------------------------------------------------------------------

    def _note(self, request: web.Request) -> None:
        self.requests.append((request.path, dict(request.query)))

    async def _version(self, request: web.Request) -> web.Response:
        self._note(request)
        return web.json_response(
            {"ApiVersion": API_VERSION, "MinAPIVersion": "1.12", "Version": "20.10.24-fake"}
        )

    async def _ping(self, request: web.Request) -> web.Response:
        self._note(request)
        return web.Response(text="OK")

    async def _info(self, request: web.Request) -> web.Response:
        self._note(request)
        return web.json_response(
            {"ServerVersion": "20.10.24-fake", "SystemTime": rfc3339(self.now())}
        )

    async def _events(self, request: web.Request) -> web.StreamResponse:
        self._note(request)
        since = _since(request.query.get("since"))
        until = _since(request.query.get("until"))
        filters = json.loads(request.query.get("filters") or "{}")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        with self._lock:
            replay = [e for e in self.buffer if e["timeNano"] >= since]
            if not until:
                self._streams.append(queue)
        try:
            for event in replay:
                if until and event["timeNano"] > until:
                    break
                if _matches(event, filters):
                    await response.write(json.dumps(event).encode() + b"\n")
            while not until:
                event = await queue.get()
                if event is None:
                    break
                if _matches(event, filters):
                    await response.write(json.dumps(event).encode() + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            return response
        finally:
            with self._lock:
                if queue in self._streams:
                    self._streams.remove(queue)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    def _container(self, request: web.Request) -> FakeContainer | None:
        ident = request.match_info["id"]
        for box in self.containers.values():
            if box.id.startswith(ident) or box.name == ident:
                return box
        return None

    async def _list(self, request: web.Request) -> web.Response:
        self._note(request)
        everyone = request.query.get("all") in ("1", "true", "True")
        return web.json_response(
            [
                box.summary()
                for box in list(self.containers.values())
                if everyone or box.status == "running"
            ]
        )

    async def _inspect(self, request: web.Request) -> web.Response:
        self._note(request)
        if self.inspect_delay:
            await asyncio.sleep(self.inspect_delay)
        box = self._container(request)
        if box is None:
            message = f"No such container: {request.match_info['id']}"
            return web.json_response({"message": message}, status=404)
        return web.json_response(box.inspect())

    async def _logs(self, request: web.Request) -> web.Response:
        self._note(request)
        box = self._container(request)
        if box is None:
            return web.json_response({"message": "No such container"}, status=404)
        tail = request.query.get("tail", "all")
        lines = box.logs if tail == "all" else box.logs[-int(tail) :] if int(tail) else []
        body = b"".join(
            bytes([stream, 0, 0, 0]) + len(line + b"\n").to_bytes(4, "big") + line + b"\n"
            for stream, line in lines
        )
        return web.Response(body=body, content_type="application/vnd.docker.multiplexed-stream")

    def _image_named(self, name: str) -> FakeImage | None:
        for image in self.images.values():
            if image.id == name or name in image.tags or image.id.startswith(name):
                return image
        return None

    async def _image(self, request: web.Request) -> web.Response:
        self._note(request)
        image = self._image_named(request.match_info["name"])
        if image is None:
            return web.json_response({"message": "No such image"}, status=404)
        return web.json_response(image.inspect())

    async def _history(self, request: web.Request) -> web.Response:
        self._note(request)
        image = self._image_named(request.match_info["name"])
        if image is None:
            return web.json_response({"message": "No such image"}, status=404)
        layers = [image.id, *image.history]
        return web.json_response([{"Id": layer, "Created": 0, "Size": 0} for layer in layers])
