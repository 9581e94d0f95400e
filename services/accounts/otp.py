"""The second factor's rules, without I/O: TOTP codes (RFC 6238 via pyotp), recovery codes, the
throttle on wrong codes, the role a session has, and the staff's shorter sessions."""

import hmac
import re
from datetime import datetime, timedelta

import pyotp

from runtime.crypto import UNAMBIGUOUS_DIGITS, UNAMBIGUOUS_UPPER, random_string
from runtime.sessions import MEMBER, STAFF, STAFF_PENDING

ISSUER = "Kundenportal Handwerkskammer"
STEP_SECONDS = 30
RECOVERY_CODES = 10
# 10 characters of an unambiguous alphabet (~50 bits each): far beyond the five guesses allowed.
RECOVERY_LENGTH = 10
FAILURE_LIMIT, FAILURE_WINDOW = 5, timedelta(minutes=15)
# Staff see every member's data: a stolen staff session is worth more, so it lives shorter.
STAFF_SESSION_ABSOLUTE = timedelta(hours=8)
STAFF_SESSION_IDLE = timedelta(minutes=30)
# The setup mail may wait over a weekend before the new colleague reads it.
STAFF_SETUP_LINK = timedelta(hours=72)

_TOTP = re.compile(r"^\d{6}$")
_SEPARATORS = re.compile(r"[\s-]")


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def step_of(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The time step `code` belongs to, the current or the previous one (a code typed as it
    changed), and only if newer than the last one accepted: a code is never good twice."""
    code = code.strip()
    if not _TOTP.match(code):
        return None
    totp, current = pyotp.TOTP(secret), step_of(now)
    for step in (current, current - 1):
        if step > last_step and hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def is_totp_format(code: str) -> bool:
    return bool(_TOTP.match(code.strip()))


def new_recovery_codes() -> list[str]:
    return [
        _grouped(random_string(RECOVERY_LENGTH, UNAMBIGUOUS_UPPER + UNAMBIGUOUS_DIGITS)) for _ in range(RECOVERY_CODES)
    ]


def normalize_recovery(code: str) -> str:
    """As typed: spaces and dashes ignored, any case."""
    return _SEPARATORS.sub("", code).upper()


def _grouped(code: str) -> str:
    return f"{code[:5]}-{code[5:]}"


def wait(failures: list[datetime], now: datetime) -> timedelta | None:
    """How long the next code must wait after wrong ones (None: go ahead): FAILURE_LIMIT in
    FAILURE_WINDOW, then until the oldest of them is out of the window."""
    recent = sorted((at for at in failures if now - at < FAILURE_WINDOW), reverse=True)
    if len(recent) < FAILURE_LIMIT:
        return None
    return recent[FAILURE_LIMIT - 1] + FAILURE_WINDOW - now


def session_role(account_role: str, second_factor_at: datetime | None) -> str:
    if account_role != "staff":
        return MEMBER
    return STAFF if second_factor_at is not None else STAFF_PENDING
