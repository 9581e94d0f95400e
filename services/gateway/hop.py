"""The gateway's client for its hop to the services: HTTP/1.1 over pooled keep-alive connections,
answers parsed by httptools (llhttp, the parser uvicorn uses).

aiohttp's client does far more than this hop needs (cookies, redirects, proxies, auth, tracing,
compression, timeout objects per request): issue 12's profile put it at a quarter of the
gateway's CPU per forwarded request, and with this client the gateway spends about 40 % less
per request (tests/bench/load). The hop is always plain HTTP to a service we run, whose answers
carry a length or come chunked, so a small client on a well-kept parser does.

`Hop.request` gives a `HopResponse` read whole (the services' answers are small; `max_body`
bounds them). Failures keep the distinction the replicas need (services/gateway/replicas.py):
`NotSent` — no byte of the request left, any method may go to another replica; `Broken` — the
request went out and no whole answer came back; TimeoutError — no answer in time.
"""

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httptools
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

Address = tuple[str, int]


class NotSent(aiohttp.ClientConnectionError):
    """The connection to the service could not be made: nothing was sent."""


class Broken(aiohttp.ClientConnectionError):
    """The request went out (perhaps only in part) and no whole answer came back."""


class _Body:
    """`response.content.iter_any()` as aiohttp's client offers it: here the whole body at once."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def iter_any(self) -> AsyncIterator[bytes]:
        if self._body:
            yield self._body


class HopResponse:
    """What the proxy and the pages read of an answer: the part of aiohttp.ClientResponse they use."""

    def __init__(self, status: int, reason: str, headers: CIMultiDict, body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = CIMultiDictProxy(headers)
        self.content = _Body(body)
        self._body = body

    @property
    def content_length(self) -> int:
        return len(self._body)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "application/octet-stream").partition(";")[0].strip().lower()

    async def read(self) -> bytes:
        return self._body

    async def json(self) -> Any:
        return json.loads(self._body)

    def release(self) -> None:
        """Nothing to give back: the connection returned to the pool with the whole answer."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time, its answer parsed as it arrives."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.answer: asyncio.Future | None = None
        self.head_only = False
        self.reusable = True
        self.closed = False
        self.idle_since = 0.0
        self._reset()

    def _reset(self) -> None:
        self.reason, self.headers, self.body, self.size = "", CIMultiDict(), [], 0

    def send(self, request: bytes, head_only: bool) -> asyncio.Future:
        self._reset()
        self.head_only = head_only
        self.answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.answer

    # asyncio.Protocol
    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self.answer is None or self.answer.done():
            self._fail(Broken("an answer nobody asked for"))  # the connection is out of step
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(Broken(f"unreadable answer: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(Broken("the service closed the connection"))

    # httptools' callbacks
    def on_status(self, status: bytes) -> None:
        self.reason += status.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.add(name.decode("latin-1"), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        if self.head_only:  # an answer to HEAD has no body, whatever its length says
            self.reusable = False  # the parser would wait for one: this connection is done
            self._complete()

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.size > self.max_body:
            self._fail(Broken(f"answer larger than {self.max_body} bytes"))
            return
        self.body.append(body)

    def on_message_complete(self) -> None:
        if not self.head_only:
            self.reusable = self.parser.should_keep_alive()
            self._complete()

    def _complete(self) -> None:
        if self.answer is not None and not self.answer.done():
            status = self.parser.get_status_code()
            self.answer.set_result(HopResponse(status, self.reason, self.headers, b"".join(self.body)))

    def _fail(self, error: Exception) -> None:
        self.reusable = False
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(error)
        if self.transport is not None:
            self.transport.close()


class Hop:
    """Keep-alive connections per service address: at most `limit_per_host` requests in flight
    to one address (the others wait), idle connections kept for `keepalive` seconds — less than
    aiohttp's server keeps them (75 s), so the service never closes one as it is being reused."""

    def __init__(
        self,
        *,
        limit_per_host: int = 100,
        timeout: float = 30.0,
        connect_timeout: float = 2.0,
        keepalive: float = 30.0,
        max_body: int = 16 * 1024 * 1024,
        clock=time.monotonic,
    ) -> None:
        self.limit = limit_per_host
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self.max_body = max_body
        self.clock = clock
        self._idle: dict[Address, deque[_Connection]] = {}
        self._slots: dict[Address, asyncio.Semaphore] = {}
        self.closed = False

    async def request(
        self, method: str, url: URL, *, headers: dict[str, str] | None = None, data: bytes | None = None, **_: Any
    ) -> HopResponse:
        """`url` with its path and query as they go out (encoded); further keyword arguments
        aiohttp's `request` takes (allow_redirects …) mean nothing here: the hop never redirects."""
        if self.closed:
            raise NotSent("the gateway is shutting down")
        address = (url.host or "127.0.0.1", url.port or 80)
        request = _request_bytes(method, url, address, headers or {}, data or b"")
        slots = self._slots.get(address) or self._slots.setdefault(address, asyncio.Semaphore(self.limit))
        async with asyncio.timeout(self.timeout), slots:
            connection = await self._connection(address)
            try:
                response = await connection.send(request, head_only=method == "HEAD")
            except BaseException:
                connection.reusable = False
                raise
            finally:
                self._put_back(address, connection)
        return response

    async def _connection(self, address: Address) -> _Connection:
        idle = self._idle.get(address)
        now = self.clock()
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be stale
            if not connection.closed and now - connection.idle_since < self.keepalive:
                return connection
            connection.transport.close()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, connection = await asyncio.get_running_loop().create_connection(
                    lambda: _Connection(self.max_body), *address
                )
        except (OSError, TimeoutError) as error:
            raise NotSent(f"cannot connect to {address[0]}:{address[1]}: {error!r}") from error
        return connection

    def _put_back(self, address: Address, connection: _Connection) -> None:
        if connection.reusable and not connection.closed and not self.closed:
            connection.idle_since = self.clock()
            self._idle.setdefault(address, deque()).append(connection)
        elif connection.transport is not None:
            connection.transport.close()

    async def close(self) -> None:
        self.closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.transport.close()
        self._idle.clear()


def _request_bytes(method: str, url: URL, address: Address, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {url.raw_path_qs} HTTP/1.1", f"Host: {address[0]}:{address[1]}"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ValueError(f"header {name!r} would split the request")  # never a second request
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    # as aiohttp's server decoded them (UTF-8, undecodable bytes kept as surrogates): the same bytes
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
    return head + body if body else head
