"""A burst of requests from a few senders, with when each was sent and what it got, so a fault
test can tell accepted requests from refused ones and from those a crash broke off."""

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import aiohttp

BROKEN = 0  # no answer at all: the connection broke


@dataclass
class Sent:
    key: str
    started: float
    status: int | None = None  # None while in flight


class Burst:
    """`senders` tasks each send the next key until the keys run out or `stop()`."""

    def __init__(self, send: Callable[[str], Awaitable[int]], keys: Iterable[str], senders: int = 4) -> None:
        self.sent: list[Sent] = []
        self._send = send
        self._keys = iter(keys)
        self._stop = asyncio.Event()
        self._answer = asyncio.Condition()
        self._tasks = [asyncio.create_task(self._sender()) for _ in range(senders)]

    async def _sender(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            key = next(self._keys, None)
            if key is None:
                return
            sent = Sent(key, loop.time())
            self.sent.append(sent)
            try:
                sent.status = await self._send(key)
            except aiohttp.ClientError:
                sent.status = BROKEN
            async with self._answer:
                self._answer.notify_all()

    def answered(self, status: int | None = None, *, since: float = 0.0) -> list[Sent]:
        return [s for s in self.sent if s.status is not None and s.started >= since and status in (None, s.status)]

    async def wait_answered(self, count: int, status: int | None = None, *, since: float = 0.0, timeout=30.0) -> None:
        """Until `count` requests (sent since `since`) got `status`: at once, not at the next poll,
        so a fault can strike while the other senders' requests are in flight."""
        async with asyncio.timeout(timeout), self._answer:
            await self._answer.wait_for(lambda: len(self.answered(status, since=since)) >= count)

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    def outcome(self, dead_at: float, accepted: int = 202) -> tuple[list[str], list[str], list[str]]:
        """(accepted, refused, broken off): refused were sent once the process was dead, broken off
        were in flight when it died and got no 2xx — their work may or may not have committed."""
        ok = [s.key for s in self.sent if s.status == accepted]
        refused = [s.key for s in self.sent if s.status != accepted and s.started >= dead_at]
        broken = [s.key for s in self.sent if s.status != accepted and s.started < dead_at]
        return ok, refused, broken
