"""The load driver's lean client for the loops it measures: one keep-alive HTTP/1.1 connection
sending prepared requests and reading their answers with httptools, nothing else.

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


class Lean:
    """Requests to `base`, one after the other, over one keep-alive connection; `cookie` and
    `origin` as the browser sends them."""

    def __init__(self, base: str, cookie: str = "", origin: str = "") -> None:
        url = urlsplit(base)
        self._address = (url.hostname, url.port or 80)
        self._head = f"Host: {url.netloc}\r\nAccept: */*\r\n"
        if cookie:
            self._head += f"Cookie: {cookie}\r\n"
        if origin:
            self._head += f"Origin: {origin}\r\n"
        self._answer: _Answer | None = None

    def prepare(self, method: str, path: str, body: bytes = b"", content_type: str = "application/json") -> bytes:
        head = f"{method} {path} HTTP/1.1\r\n{self._head}"
        if body:
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        return (head + "\r\n").encode() + body

    async def send(self, request: bytes) -> int:
        """The answer's status, once it came whole."""
        if self._answer is None or self._answer.lost is not None:
            loop = asyncio.get_running_loop()
            _, self._answer = await loop.create_connection(_Answer, *self._address)
        answer = self._answer
        answer.waiter = asyncio.get_running_loop().create_future()
        answer.transport.write(request)
        return await asyncio.wait_for(answer.waiter, 30)

    def close(self) -> None:
        if self._answer is not None and self._answer.transport is not None:
            self._answer.transport.close()


class LeanGet(Lean):
    """GET `path` again and again."""

    def __init__(self, base: str, path: str, cookie: str = "") -> None:
        super().__init__(base, cookie)
        self._request = self.prepare("GET", path)

    async def get(self) -> tuple[bool, int]:
        status = await self.send(self._request)
        return status == 200, status


def cookie_header(jar, base: str) -> str:
    """The Cookie header an aiohttp session's jar would send to `base`."""
    from yarl import URL

    return "; ".join(f"{name}={morsel.value}" for name, morsel in jar.filter_cookies(URL(base)).items())
