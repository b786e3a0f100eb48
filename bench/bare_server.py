"""Baseline for bench/ingest.py: the least an aiohttp server can do with a webhook POST.

Reads the whole body and answers 202, with no access log, no checks and no storage, so the
ratio hookbot / bare shows what verification, the inbox commit and the pipeline cost.

    python bench/bare_server.py --port 8099
"""

from __future__ import annotations

import argparse

from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=202)


def main() -> None:
    parser = argparse.ArgumentParser(description="bare aiohttp baseline for bench/ingest.py")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app.router.add_post("/{tail:.*}", accept)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None, backlog=1024)


if __name__ == "__main__":
    main()
