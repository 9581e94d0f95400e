"""The load driver's lean client for the hot loops (bare, `me`, peer `me`): one keep-alive HTTP/1.1
connection sending one prepared GET and reading its answer with httptools, nothing else.

The driver shares the 2 cores with what it measures. aiohttp's client (cookie jar, timeouts,
tracing per request) took about as much CPU per request as the bare handler it drove, a tax that
weighs on the faster system most: with it, a server ten times cheaper than the peer looks far less
than that. load.py prints the driver's own CPU per request, so the tax stays visible.
"""

import asyncio
from urllib.parse import urlsplit

import httptools


class _Answer(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future | None = None
        self.lost: Exception | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._end(ConnectionError(f"unparsable answer: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionError("connection closed")
        self._end(self.lost)

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(self.parser.get_status_code())

    def _end(self, error: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(error)


class LeanGet:
    """GET `path` on `base` again and again over one connection; `cookie` as the browser sends it."""

    def __init__(self, base: str, path: str, cookie: str = "") -> None:
        url = urlsplit(base)
        self._address = (url.hostname, url.port or 80)
        lines = [f"GET {path} HTTP/1.1", f"Host: {url.netloc}", "Accept: */*"]
        if cookie:
            lines.append(f"Cookie: {cookie}")
        self._request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self._answer: _Answer | None = None

    async def get(self) -> tuple[bool, int]:
        if self._answer is None or self._answer.lost is not None:
            loop = asyncio.get_running_loop()
            _, self._answer = await loop.create_connection(_Answer, *self._address)
        answer = self._answer
        answer.waiter = asyncio.get_running_loop().create_future()
        answer.transport.write(self._request)
        status = await asyncio.wait_for(answer.waiter, 30)
        return status == 200, status

    def close(self) -> None:
        if self._answer is not None and self._answer.transport is not None:
            self._answer.transport.close()


def cookie_header(jar, base: str) -> str:
    """The Cookie header an aiohttp session's jar would send to `base`."""
    from yarl import URL

    return "; ".join(f"{name}={morsel.value}" for name, morsel in jar.filter_cookies(URL(base)).items())
