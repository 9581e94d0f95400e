"""The gateway's hop to the services (services/gateway/hop.py) against a real aiohttp server on a
real socket: what it sends, what it reads back, keep-alive, its limits and how it fails."""

import asyncio
import socket

import pytest
from aiohttp import web
from yarl import URL

from services.gateway.hop import Broken, Hop, NotSent
from tests.support.wait import until


class Server:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.peers: set[int] = set()
        self.in_flight = self.most_in_flight = 0
        self.release = asyncio.Event()
        self.release.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.peers.add(request.transport.get_extra_info("peername")[1])
        self.requests.append((request.method, request.raw_path, dict(request.headers), await request.read()))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        tail = request.match_info["tail"]
        if tail == "chunked":
            response = web.StreamResponse(headers={"X-Kind": "chunked"})
            await response.prepare(request)
            for part in (b'{"a": ', b"1}"):
                await response.write(part)
            await response.write_eof()
            return response
        if tail == "empty":
            return web.Response(status=204, headers={"X-Portal-Session": "refresh"})
        if tail == "big":
            return web.Response(body=b"x" * 5000)
        if tail == "cut":
            request.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
            request.transport.close()
            return web.Response()  # goes nowhere: the connection is closed
        response = web.json_response({"path": request.raw_path}, status=201 if request.method == "POST" else 200)
        response.headers.add("Set-Cookie", "a=1")
        response.headers.add("Set-Cookie", "b=2")
        return response


@pytest.fixture
async def server():
    state = Server()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", state.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    yield state
    await runner.cleanup()


@pytest.fixture
async def hop():
    client = Hop(limit_per_host=4, timeout=5, max_body=1000)
    yield client
    await client.close()


def url(server: Server, path: str) -> URL:
    return URL(server.url + path, encoded=True)


async def test_a_get_and_a_post_go_out_as_sent_and_their_answers_come_back_whole(server, hop) -> None:
    got = await hop.request("GET", url(server, "/api/v1/x?a=%20b"), headers={"X-Portal-User": "u:s:1:member"})
    assert (got.status, got.reason, got.content_type) == (200, "OK", "application/json")
    assert await got.json() == {"path": "/api/v1/x?a=%20b"}
    assert got.headers.getall("Set-Cookie") == ["a=1", "b=2"]
    posted = await hop.request(
        "POST", url(server, "/api/v1/y"), headers={"Content-Type": "application/json"}, data=b"{}"
    )
    assert posted.status == 201
    (method, path, headers, body), (method2, _, headers2, body2) = server.requests
    assert (method, path, body, headers["X-Portal-User"]) == ("GET", "/api/v1/x?a=%20b", b"", "u:s:1:member")
    assert (method2, body2, headers2["Content-Length"]) == ("POST", b"{}", "2")


async def test_chunked_and_empty_answers(server, hop) -> None:
    chunked = await hop.request("GET", url(server, "/chunked"))
    assert (await chunked.read(), chunked.headers["X-Kind"]) == (b'{"a": 1}', "chunked")
    assert [part async for part in chunked.content.iter_any()] == [b'{"a": 1}']
    empty = await hop.request("DELETE", url(server, "/empty"))
    assert (empty.status, await empty.read(), empty.headers["X-Portal-Session"]) == (204, b"", "refresh")
    head = await hop.request("HEAD", url(server, "/x"))
    assert head.status == 200 and await head.read() == b""


async def test_one_connection_serves_request_after_request(server, hop) -> None:
    for _ in range(5):
        assert (await hop.request("GET", url(server, "/x"))).status == 200
    assert len(server.peers) == 1


async def test_no_more_requests_in_flight_than_the_limit(server, hop) -> None:
    server.release.clear()
    calls = [asyncio.create_task(hop.request("GET", url(server, "/x"))) for _ in range(10)]
    address = (url(server, "/").host, url(server, "/").port)

    def queued() -> bool:  # four at the server, the other six waiting for a slot at the hop
        slots = hop._slots.get(address)
        return server.in_flight == 4 and slots is not None and len(slots._waiters or ()) == 6

    await until(queued, "four requests in flight, six waiting")
    server.release.set()
    assert [r.status for r in await asyncio.gather(*calls)] == [200] * 10
    assert server.most_in_flight == 4 and len(server.peers) == 4


async def test_nothing_listening_is_not_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hop = Hop()
    with pytest.raises(NotSent):
        await hop.request("POST", URL(f"http://127.0.0.1:{port}/x"), data=b"{}")


async def test_an_answer_broken_off_or_too_large_is_broken_and_its_connection_not_reused(server, hop) -> None:
    with pytest.raises(Broken):
        await hop.request("GET", url(server, "/cut"))
    with pytest.raises(Broken):
        await hop.request("GET", url(server, "/big"))
    assert (await hop.request("GET", url(server, "/x"))).status == 200  # on a new connection
    assert len(server.peers) >= 2


async def test_no_answer_in_time_is_a_timeout(server) -> None:
    hop = Hop(timeout=0.2)
    server.release.clear()
    with pytest.raises(TimeoutError):
        await hop.request("GET", url(server, "/x"))
    server.release.set()
    await hop.close()


async def test_a_header_cannot_split_the_request(server, hop) -> None:
    with pytest.raises(ValueError):
        await hop.request("GET", url(server, "/x"), headers={"X-A": "1\r\nX-Portal-User: forged"})
    assert server.requests == []


async def test_an_idle_connection_past_its_keepalive_is_not_reused(server) -> None:
    now = [0.0]
    hop = Hop(keepalive=30, clock=lambda: now[0])
    await hop.request("GET", url(server, "/x"))
    now[0] = 31.0
    await hop.request("GET", url(server, "/x"))
    assert len(server.peers) == 2
    await hop.close()


async def test_a_closed_hop_sends_nothing(server) -> None:
    hop = Hop()
    await hop.close()
    with pytest.raises(NotSent):
        await hop.request("GET", url(server, "/x"))
    assert server.requests == []
