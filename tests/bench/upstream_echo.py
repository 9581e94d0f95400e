"""A trivial service for the gateway benchmark: answers every request at once with 200 and a
small JSON body, so the measured CPU is the gateway's and not a real service's."""

import sys

from aiohttp import web


async def answer(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "message": "Vielen Dank!"})


app = web.Application()
app.router.add_route("*", "/{tail:.*}", answer)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
