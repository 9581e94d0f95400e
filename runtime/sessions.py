"""What accounts (which issues sessions) and the gateway (which resolves them) agree on."""

from dataclasses import dataclass
from uuid import UUID

# `__Host-` binds the cookie to this exact origin (Secure, Path=/, no Domain): https only.
SECURE_COOKIE = "__Host-kp_session"
PLAIN_COOKIE = "kp_session"
# A long-lived random cookie naming a browser the account has logged in from before: failed
# logins from it are throttled apart from everyone else's (OWASP's device cookies).
SECURE_DEVICE_COOKIE = "__Host-kp_device"
PLAIN_DEVICE_COOKIE = "kp_device"
RESOLVE_PATH = "/internal/v1/sessions/resolve"


def cookie_name(public_url: str) -> str:
    return SECURE_COOKIE if public_url.startswith("https://") else PLAIN_COOKIE


def device_cookie_name(public_url: str) -> str:
    return SECURE_DEVICE_COOKIE if public_url.startswith("https://") else PLAIN_DEVICE_COOKIE


@dataclass(frozen=True)
class SessionUser:
    """The identity header's `user` value: "<user id>:<session id>", or "" when anonymous."""

    user_id: UUID
    session_id: UUID

    def header(self) -> str:
        return f"{self.user_id}:{self.session_id}"

    @classmethod
    def parse(cls, value: str) -> "SessionUser | None":
        user, _, session = value.partition(":")
        try:
            return cls(UUID(user), UUID(session))
        except ValueError:
            return None
