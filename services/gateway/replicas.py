"""The replicas of each service behind the gateway: spread the requests, skip the one that fails.

`PORTAL_ACCOUNTS_URL` (and the others) may name several replicas. Requests go round robin over
those that answer. A replica that cannot be reached rests — 1 s, doubling up to 30 s — and then
gets a request again; the first one it answers ends its rest. A request whose connection could
not be made was not sent, so it goes to the next replica whatever its method; one that broke off
later is tried again elsewhere only when repeating it is harmless (GET, HEAD).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from yarl import URL

from services.gateway.hop import NotSent

FIRST_REST, LONGEST_REST = 1.0, 30.0
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class _Replica:
    base: str
    resting_until: float = 0.0
    rest: float = 0.0


@dataclass
class Replicas:
    """No I/O: which replica to ask next, and what a failure or an answer changes."""

    bases: list[str]
    clock: Callable[[], float] = time.monotonic
    _replicas: list[_Replica] = field(init=False)
    _next: int = field(default=0, init=False)
    _by_base: dict[str, _Replica] = field(init=False)

    def __post_init__(self) -> None:
        if not self.bases:
            raise ValueError("a service needs at least one replica")
        self._replicas = [_Replica(base) for base in self.bases]
        self._by_base = {replica.base: replica for replica in self._replicas}

    def order(self) -> list[str]:
        """Every replica: the answering ones in turn first, resting ones last (better than a
        certain 503)."""
        if len(self._replicas) == 1:  # nothing to choose
            return self.bases
        now = self.clock()
        answering = [r for r in self._replicas if r.resting_until <= now]
        resting = [r for r in self._replicas if r.resting_until > now]
        if answering:
            start = self._next % len(answering)
            answering = answering[start:] + answering[:start]
        self._next += 1
        return [r.base for r in answering + resting]

    def failed(self, base: str) -> None:
        replica = self._find(base)
        replica.rest = min(max(replica.rest * 2, FIRST_REST), LONGEST_REST)
        replica.resting_until = self.clock() + replica.rest

    def answered(self, base: str) -> None:
        replica = self._find(base)
        replica.rest, replica.resting_until = 0.0, 0.0

    def resting(self) -> list[str]:
        now = self.clock()
        return [r.base for r in self._replicas if r.resting_until > now]

    def _find(self, base: str) -> _Replica:
        return self._by_base[base]


REPLICAS = web.AppKey("replicas", dict)  # service name -> Replicas


class exchange:  # lower case: used as `async with exchange(...)`, like the function it was
    """One request to the first replica that takes it; `path` with its query, already encoded.
    `repeatable`: may it be sent again after it broke off (default: by its method).
    Raises the last aiohttp.ClientError / TimeoutError when none could answer.

    A class rather than an asynccontextmanager: every request through the gateway enters one,
    and a generator-based context manager cost it several microseconds more (issue 12)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        replicas: Replicas,
        method: str,
        path: str,
        *,
        repeatable: bool | None = None,
        **options,
    ) -> None:
        self.session, self.replicas, self.method, self.path = session, replicas, method, path
        self.repeatable = method in IDEMPOTENT if repeatable is None else repeatable
        self.options = options
        self.response: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> aiohttp.ClientResponse:
        failure: BaseException | None = None
        for base in self.replicas.order():
            try:
                response = await self.session.request(self.method, URL(base + self.path, encoded=True), **self.options)
            except (aiohttp.ClientConnectorError, NotSent) as error:  # not sent: any method may go elsewhere
                self.replicas.failed(base)
                failure = error
                continue
            except (aiohttp.ClientError, TimeoutError) as error:
                self.replicas.failed(base)
                failure = error
                if self.repeatable:
                    continue
                raise
            self.replicas.answered(base)
            self.response = response
            return response
        assert failure is not None
        raise failure

    async def __aexit__(self, *_) -> None:
        if self.response is not None:
            self.response.release()
