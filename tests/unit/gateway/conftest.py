import asyncio
import json
import socket
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from services.gateway.app import create_app
from services.gateway.settings import Settings
from tests.support.identity import PRIVATE_KEY

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


@dataclass
class Call:
    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class FakeService:
    """Stands in for accounts: records every call, answers what a test put in `answers`."""

    answers: dict[tuple[str, str], tuple[int, object]] = field(default_factory=dict)
    # Raw Set-Cookie headers for a route; routes not named here set `portal_session=abc`.
    set_cookies: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    # Further headers of a route's answer (X-Portal-Session, say).
    headers: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""
    default_cookie: bool = True  # pins sets no cookie at all

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.calls.append(Call(request.method, request.path_qs, dict(request.headers), await request.read()))
        if request.path.endswith("/slow"):
            await self.release.wait()
        if request.path.endswith("/empty"):
            return web.Response(status=204)
        if request.path.endswith("/big"):
            return web.Response(body=b"x" * (300 * 1024), content_type="application/octet-stream")
        route = (request.method, request.path)
        status, body = self.answers.get(route, (200, {"ok": True}))
        response = web.Response(status=status) if status == 204 else web.json_response(body, status=status)
        response.headers["X-Internal-Detail"] = "secret"
        response.headers.update(self.headers.get(route, {}))
        if route in self.set_cookies:
            for cookie in self.set_cookies[route]:
                response.headers.add("Set-Cookie", cookie)
        elif self.default_cookie:
            response.set_cookie("portal_session", "abc", httponly=True)
        return response

    def calls_to(self, method: str, path: str) -> list[Call]:
        return [c for c in self.calls if (c.method, c.path_qs.partition("?")[0]) == (method, path)]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def make_settings(**overrides) -> Settings:
    values = {
        "nats_url": "nats://127.0.0.1:4222",
        "public_url": "https://portal.example",
        "identity_private_key": PRIVATE_KEY,
        "accounts_url": closed_port_url(),
        "pins_url": closed_port_url(),
        "notifications_url": closed_port_url(),
        "upstream_timeout": 2,
    }
    return Settings(**(values | overrides))


async def _serve(fake: FakeService):
    server = TestServer(fake.app())
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    fake.release.set()
    await server.close()


@pytest.fixture
async def accounts():
    async for fake in _serve(FakeService()):
        yield fake


@pytest.fixture
async def pins():
    """Stands in for pins: its default answer is the 200 of any route, without a cookie."""
    async for fake in _serve(FakeService(default_cookie=False)):
        yield fake


@pytest.fixture
async def notifications():
    """Stands in for notifications (the contact form): no cookie."""
    async for fake in _serve(FakeService(default_cookie=False)):
        yield fake


@pytest.fixture
async def start_gateway():
    clients: list[TestClient] = []

    async def start(cache=None, **overrides) -> TestClient:
        app = create_app(make_settings(**overrides), messaging=False, cache=cache)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def gateway(accounts, start_gateway) -> TestClient:
    return await start_gateway(accounts_url=accounts.url)


@pytest.fixture
async def portal(accounts, pins, start_gateway) -> TestClient:
    """The gateway in front of fake accounts and fake pins."""
    return await start_gateway(accounts_url=accounts.url, pins_url=pins.url)


@pytest.fixture
async def contact_portal(accounts, notifications, start_gateway) -> TestClient:
    """The gateway in front of fake accounts and fake notifications."""
    return await start_gateway(accounts_url=accounts.url, notifications_url=notifications.url)
