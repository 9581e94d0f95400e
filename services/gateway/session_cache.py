"""The gateway's memory of resolved sessions: sha256(token) → who, for a few seconds.

Bounded (the oldest entry goes first) and indexed by user, so a revocation finds a user's
entries without a scan. No I/O; the clock is a parameter."""

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from uuid import UUID

from aiohttp import web

from runtime.sessions import SessionUser

MAX_ENTRIES = 100_000


@dataclass(frozen=True, slots=True)
class Resolved:
    user: SessionUser
    must_change_password: bool


@dataclass(frozen=True, slots=True)
class _Entry:
    resolved: Resolved
    cached_at: float


SESSION = web.RequestKey("session", Resolved)  # absent when anonymous


def cache_key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class SessionCache:
    def __init__(
        self, lifetime: float, *, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.lifetime = lifetime
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._by_user: dict[UUID, set[bytes]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: bytes) -> Resolved | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() - entry.cached_at >= self.lifetime:
            self.drop(key)
            return None
        return entry.resolved

    def put(self, key: bytes, resolved: Resolved) -> None:
        if self.lifetime <= 0:
            return
        self.drop(key)
        self._entries[key] = _Entry(resolved, self.clock())
        self._by_user.setdefault(resolved.user.user_id, set()).add(key)
        while len(self._entries) > self.max_entries:
            self.drop(next(iter(self._entries)))

    def drop(self, key: bytes) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        user_id = entry.resolved.user.user_id
        keys = self._by_user.get(user_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_user[user_id]

    def drop_user(self, user_id: UUID) -> int:
        return self._drop_where(user_id, lambda _: True)

    def drop_sessions(self, user_id: UUID, session_ids: Iterable[UUID]) -> int:
        ending = set(session_ids)
        return self._drop_where(user_id, lambda session_id: session_id in ending)

    def _drop_where(self, user_id: UUID, ends: Callable[[UUID], bool]) -> int:
        keys = [key for key in self._by_user.get(user_id, ()) if ends(self._entries[key].resolved.user.session_id)]
        for key in keys:
            self.drop(key)
        return len(keys)
