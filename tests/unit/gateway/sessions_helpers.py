from uuid import UUID, uuid4

from runtime.sessions import RESOLVE_PATH, SECURE_COOKIE, SessionUser
from services.gateway.session_cache import SessionCache

RESOLVE = ("POST", RESOLVE_PATH)
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{SECURE_COOKIE}={token}"}


def signed_in(accounts, *, must_change: bool = False, user_id: UUID | None = None) -> SessionUser:
    """Accounts resolves every cookie to a fresh session of `user_id`."""
    user = SessionUser(user_id or uuid4(), uuid4(), 1_700_000_000_000)
    accounts.answers[RESOLVE] = (
        200,
        {
            "user_id": str(user.user_id),
            "session_id": str(user.session_id),
            "started_at_ms": user.started_at_ms,
            "must_change_password": must_change,
            "expires_at": "2030-01-01T00:00:00+00:00",
        },
    )
    return user


def new_cache(clock: Clock, lifetime: float = 10, **kwargs) -> SessionCache:
    return SessionCache(lifetime, clock=clock, **kwargs)
