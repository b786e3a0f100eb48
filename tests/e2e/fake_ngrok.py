#!/usr/bin/env python3
"""A fake ngrok agent for pyngrok's `ngrok_path` (PROTOCOLS A9); standard library only.

pyngrok runs `<ngrok_path> start --none --log stdout --config <cfg> --authtoken <tok>`,
reads logfmt lines on stdout until "starting web service" (with the API's addr),
"client session established" and "tunnel session started", then calls the agent API:
GET /api/endpoints, POST /api/endpoints (201 with `public_url`), DELETE <uri> (204).

The "public" URL is a second local server that forwards every request to the upstream
the endpoint was created for, so a webhook sent to it really reaches hookbot.

FAKE_NGROK_MODE (or the file `mode` in FAKE_NGROK_STATE, read at each start):
  ok    start and serve until killed
  auth  log ngrok's authentication failure (ERR_NGROK_105) and exit 1
  hang  log an error and keep running without another line (pyngrok then waits)
FAKE_NGROK_STATE, a folder: each start appends its pid to `pids`, each endpoint its JSON
to `endpoints`, and `args` holds the last command line.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

STATE = Path(os.environ.get("FAKE_NGROK_STATE", "."))
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}


def log(level: str, msg: str, **fields: str) -> None:
    """Print one logfmt line, flushed (pyngrok reads stdout line by line)."""
    extra = " ".join(f'{k}="{v}"' if " " in v else f"{k}={v}" for k, v in fields.items())
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())
    sys.stdout.write(f'lvl={level} t={stamp} msg="{msg}" {extra}'.rstrip() + "\n")
    sys.stdout.flush()


def record(name: str, line: str) -> None:
    """Append a line to a state file."""
    with (STATE / name).open("a", encoding="utf-8") as file:
        file.write(line + "\n")


class Forwarder(BaseHTTPRequestHandler):
    """The public side: every request goes to the endpoint's upstream."""

    upstream = ""

    def log_message(self, format: str, *args: object) -> None:
        """Say nothing (stdout is pyngrok's)."""

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        request = urllib.request.Request(  # noqa: S310 - the upstream is local
            self.upstream + self.path, data=body, headers=headers, method=self.command
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                status, payload, reply = response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            status, payload, reply = exc.code, exc.read(), exc.headers
        except OSError:
            status, payload, reply = 502, b"upstream unreachable", None
        self.send_response(status)
        for key, value in (reply or {}).items():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward  # noqa: N815


def agent_api(public: ThreadingHTTPServer) -> type[BaseHTTPRequestHandler]:
    """The agent API handler, whose endpoints point the public server at their upstream."""
    endpoints: dict[str, dict[str, object]] = {}

    class Api(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Say nothing."""

        def _reply(self, status: int, data: object | None = None) -> None:
            payload = b"" if data is None else json.dumps(data).encode()
            self.send_response(status)
            if data is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            if self.path.startswith("/api/endpoints"):
                self._reply(200, {"endpoints": list(endpoints.values()), "uri": "/api/endpoints"})
            else:
                self._reply(404, {"error_code": 100, "msg": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            options = json.loads(self.rfile.read(length) or b"{}")
            name = str(options.get("name") or uuid.uuid4())
            upstream = str((options.get("upstream") or {}).get("url") or "")
            Forwarder.upstream = upstream.rstrip("/")
            url = f"http://127.0.0.1:{public.server_address[1]}"
            endpoint: dict[str, object] = {
                "id": f"ep_{uuid.uuid4().hex[:12]}",
                "name": name,
                "uri": f"/api/endpoints/{name}",
                "public_url": url,
                "url": url,
                "proto": "http",
                "upstream": {"url": upstream, "protocol": "http1"},
                "config": {"addr": upstream},
            }
            endpoints[name] = endpoint
            record("endpoints", json.dumps(endpoint))
            self._reply(201, endpoint)

        def do_DELETE(self) -> None:
            endpoints.pop(self.path.rsplit("/", 1)[-1], None)
            self._reply(204)

    return Api


def main() -> int:
    """Behave as the mode says (see the module docstring)."""
    STATE.mkdir(parents=True, exist_ok=True)
    mode_file = STATE / "mode"
    mode = mode_file.read_text().strip() if mode_file.exists() else ""
    mode = mode or os.environ.get("FAKE_NGROK_MODE", "ok")
    (STATE / "args").write_text(json.dumps(sys.argv[1:]))
    record("pids", str(os.getpid()))
    if sys.argv[1:3] != ["start", "--none"]:
        sys.stderr.write(f"fake ngrok: unexpected arguments {sys.argv[1:]}\n")
        return 2
    log("info", "no configuration paths supplied")
    if mode == "auth":
        log(
            "eror",
            "failed to reconnect session",
            obj="tunnels.session",
            err="authentication failed: The authtoken you specified is invalid. ERR_NGROK_105",
        )
        return 1
    if mode == "hang":
        log("eror", "session closing", obj="tunnels.session", err="failed to dial ngrok server")
        while True:
            time.sleep(3600)
    public = ThreadingHTTPServer(("127.0.0.1", 0), Forwarder)
    api = ThreadingHTTPServer(("127.0.0.1", 0), agent_api(public))
    for server in (public, api):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    log("info", "starting web service", obj="web", addr=f"127.0.0.1:{api.server_address[1]}")
    log("info", "client session established", obj="tunnels.session")
    log("info", "tunnel session started", obj="tunnels.session")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
