"""Intake-only server for bench/sustained.py: hookbot's receiver and inbox writer, nothing else.

Opens the database (bot.store.Store), starts the group-commit inbox writer and the real
receiver (bot.intake.http.start_server: signature check, dedupe, inbox commit, then 2xx)
with the API off, and no pipeline, outbox or Discord: stored deliveries stay pending. The
load on it gives the intake ceiling that the sustained figure is compared with.

    python bench/intake_server.py --db hookbot.db --port 8099

The database must already hold the hook (`hookbot hook on github --json` with HOOKBOT_DB).
Stops on SIGTERM or SIGINT: stops accepting, commits what is queued, closes the database.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

import uvloop

from bot.intake.http import HookCache, ServerDeps, start_server
from bot.intake.writer import GroupCommitWriter
from bot.store import Store, StoreError

MAX_BODY = 26_214_400  # hookbot's default HOOKBOT_MAX_BODY
SHUTDOWN_GRACE = 10.0


async def serve(db: str, host: str, port: int) -> None:
    """Serve the receiver on host:port until SIGTERM or SIGINT, then shut down in order."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    store = await Store.open(db)
    try:
        writer = GroupCommitWriter(store)

        async def health() -> dict[str, Any]:
            try:
                await store.ping()
                state = "ok"
            except StoreError as exc:
                state = f"error: {exc}"
            return {"status": "accepting", "db": state, "workers": {"pipeline": "off"}}

        deps = ServerDeps(
            store=store,
            writer=writer,
            hooks=HookCache(store),
            max_body=MAX_BODY,
            health=health,
            api=None,
        )
        writer.start()
        try:
            server = await start_server(deps, host, port, shutdown_timeout=SHUTDOWN_GRACE)
            try:
                await stop.wait()
            finally:
                await server.close()
        finally:
            await writer.stop()
    finally:
        await store.close()


def main() -> None:
    """Parse the arguments and serve."""
    parser = argparse.ArgumentParser(description="intake-only hookbot for bench/sustained.py")
    parser.add_argument("--db", required=True, help="database holding the hook")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    uvloop.run(serve(args.db, args.host, args.port))  # the loop `hookbot run` uses


if __name__ == "__main__":
    main()
