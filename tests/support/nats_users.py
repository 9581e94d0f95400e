"""Talking to a NatsServer with users (deploy/nats/accounts.conf) as one of them, and seeing
what the server refused."""

import nats
import pytest

from deploy.infra import NatsServer
from tests.support.wait import until


class Client:
    """A nats-py connection as one user, recording the server's -ERRs (permission violations)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.nc: nats.NATS | None = None

    async def connect(self, server: NatsServer, user: str, **options) -> "Client":
        async def on_error(error: Exception) -> None:
            self.errors.append(str(error).lower())

        self.nc = await server.connect(user, error_cb=on_error, allow_reconnect=False, **options)
        return self

    async def violation(self, kind: str, subject: str, timeout: float = 3) -> None:
        """Wait for the server's 'Permissions Violation for <kind> to "<subject>"'."""
        expected = f'permissions violation for {kind} to "{subject.lower()}"'

        async def seen() -> bool:
            return any(expected in e for e in self.errors)

        await until(seen, f"{expected!r} among {self.errors}", timeout)

    async def close(self) -> None:
        if self.nc and not self.nc.is_closed:
            await self.nc.close()


class Users:
    """Clients of one server by user name; `await users.client("pins")`; closed by `close()`."""

    def __init__(self, server: NatsServer) -> None:
        self.server = server
        self.clients: list[Client] = []

    @property
    def passwords(self):
        return self.server.passwords

    async def client(self, user: str, **options) -> Client:
        client = await Client().connect(self.server, user, **options)
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        self.clients.clear()


async def request_refused(client: Client, subject: str, body: bytes = b"{}") -> None:
    """A request the server drops for want of permission: no answer, and the -ERR says why."""
    with pytest.raises(nats.errors.TimeoutError):
        await client.nc.request(subject, body, timeout=0.25)
    await client.violation("publish", subject)


async def subscription_refused(client: Client, subject: str) -> None:
    await client.nc.subscribe(subject)
    await client.nc.flush()
    await client.violation("subscription", subject)
