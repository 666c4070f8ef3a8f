"""A minimal WFM endpoint for benchmarks: answers every request 200 after reading the body.
Runs in its own process so the dispatcher under test has its core to itself."""

from __future__ import annotations

import sys

from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text='{"status":"accepted"}', content_type="application/json")


if __name__ == "__main__":
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", accept)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
