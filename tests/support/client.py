"""A browser-like client of the gateway: same-origin requests, cookies kept, no redirects."""

import secrets
from typing import Any

import aiohttp
import asyncpg


def new_email(tag: str = "kp") -> str:
    return f"{tag}-{secrets.token_hex(5)}@example.de"


class Client:
    def __init__(self, base_url: str, *, origin: str | None = None) -> None:
        """`origin`: the public URL when `base_url` is one gateway replica behind it."""
        self.base_url = base_url
        self.session = aiohttp.ClientSession(
            headers={"Origin": origin or base_url}, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.session.close()

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(method, self.base_url + path, json=body, allow_redirects=False) as response:
            data = await response.json() if response.content_type == "application/json" else None
            return response.status, data

    async def page(
        self, method: str, path: str, form: dict | None = None
    ) -> tuple[int, str, aiohttp.typedefs.LooseHeaders]:
        async with self.session.request(method, self.base_url + path, data=form, allow_redirects=False) as response:
            return response.status, await response.text(), response.headers


async def query(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Read a service's tables to check what was (not) stored; tests only."""
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()
