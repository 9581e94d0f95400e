"""What accounts (which issues sessions) and the gateway (which resolves them) agree on."""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

# `__Host-` binds the cookie to this exact origin (Secure, Path=/, no Domain): https only.
SECURE_COOKIE = "__Host-kp_session"
PLAIN_COOKIE = "kp_session"
# A long-lived random cookie naming a browser the account has logged in from before: failed
# logins from it are throttled apart from everyone else's (OWASP's device cookies).
SECURE_DEVICE_COOKIE = "__Host-kp_device"
PLAIN_DEVICE_COOKIE = "kp_device"
RESOLVE_PATH = "/internal/v1/sessions/resolve"
# A service's answer tells the gateway what happens to the request's session, so the gateway
# keeps no table of other services' routes: `end` — end it now (accounts, cache, cookie), with
# this answer; `refresh` — it changed, resolve it afresh next time. Never passed to the browser.
SESSION_HEADER = "X-Portal-Session"
SESSION_END = "end"
SESSION_REFRESH = "refresh"


def cookie_name(public_url: str) -> str:
    return SECURE_COOKIE if public_url.startswith("https://") else PLAIN_COOKIE


def device_cookie_name(public_url: str) -> str:
    return SECURE_DEVICE_COOKIE if public_url.startswith("https://") else PLAIN_DEVICE_COOKIE


# What a session may do. A staff account's session is `staff_pending` until it has passed the
# second factor (set it up, or enter a code); only then is it `staff` and may see members' data.
MEMBER = "member"
STAFF_PENDING = "staff_pending"
STAFF = "staff"
ROLES = (MEMBER, STAFF_PENDING, STAFF)


@dataclass(frozen=True)
class SessionUser:
    """The identity header's `user` value: "<user id>:<session id>:<started, ms since epoch>:<role>",
    or "" when anonymous. The start lets a service refuse a session older than a fact of its own
    (pins: a session that began before the member linked a business) without asking accounts; the
    role lets it refuse members on staff routes and staff on members' (linking a business)."""

    user_id: UUID
    session_id: UUID
    started_at_ms: int = 0
    role: str = MEMBER

    def header(self) -> str:
        return self._header

    @functools.cached_property
    def _header(self) -> str:
        """Made once per session: the gateway's cache keeps the SessionUser (issue 12)."""
        return f"{self.user_id}:{self.session_id}:{self.started_at_ms}:{self.role}"

    @property
    def started_at(self) -> datetime:
        return datetime.fromtimestamp(self.started_at_ms / 1000, UTC)

    @property
    def is_staff(self) -> bool:
        """A staff account past its second factor."""
        return self.role == STAFF

    @property
    def is_member(self) -> bool:
        return self.role == MEMBER

    @classmethod
    def parse(cls, value: str) -> "SessionUser | None":
        """Each service reads the same session's header request after request: parsed once."""
        return _parsed(value)

    @classmethod
    def _parse(cls, value: str) -> "SessionUser | None":
        user, _, rest = value.partition(":")
        session, _, rest = rest.partition(":")
        started, _, role = rest.partition(":")
        if role and role not in ROLES:
            return None
        try:
            return cls(UUID(user), UUID(session), int(started) if started else 0, role or MEMBER)
        except ValueError:
            return None


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@functools.lru_cache(maxsize=4096)  # SessionUser is frozen: one instance may serve every request
def _parsed(value: str) -> SessionUser | None:
    return SessionUser._parse(value)
