"""Logging in and out, and what a session cookie stands for."""

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from contracts import SessionRevokeV1
from runtime.crypto import random_token
from runtime.errors import ApiError
from runtime.german import SUPPORT_EMAIL, SUPPORT_PHONE
from runtime.sessions import MEMBER, STAFF_PENDING, SessionUser, epoch_ms
from services.accounts import attempts, domain, otp, policy
from services.accounts import repository as repo
from services.accounts.context import Context, emit
from services.accounts.forms import MembershipOut, ProfileOut

log = logging.getLogger(__name__)

LOGIN_FAILED = (
    "E-Mail-Adresse oder Passwort ist nicht korrekt. Bitte prüfen Sie Ihre Eingaben und tippen "
    "Sie das Passwort am besten von Hand ein."
)
INITIAL_EXPIRED = (
    "Das Passwort aus der E-Mail ist abgelaufen. Bitte nutzen Sie „Passwort vergessen“, um ein "
    "neues Passwort zu vergeben."
)
DEACTIVATED = (
    "Ihr Konto ist derzeit gesperrt. Bitte wenden Sie sich an die Handwerkskammer: "
    f"{SUPPORT_EMAIL}, Telefon {SUPPORT_PHONE}."
)


@dataclass(frozen=True)
class NewSession:
    token: str
    session_id: UUID
    expires_at: datetime
    must_change_password: bool
    device_token: str | None  # a new device cookie, when this browser was not trusted yet
    role: str = MEMBER


@dataclass(frozen=True)
class Resolved:
    user: SessionUser
    must_change_password: bool
    expires_at: datetime
    role: str = MEMBER


class Sessions:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.pool = context.pool

    async def trusted_device(self, user_id: UUID | None, device_token: str | None) -> bytes | None:
        if user_id is None or not device_token:
            return None
        device = self.context.cookie_hash(device_token)
        async with self.pool.acquire() as conn:
            return device if await repo.device_trusted(conn, device, user_id) else None

    async def login(self, email: str, password: str, client: str, device_token: str | None) -> NewSession:
        key = domain.email_key(email)
        device_hash = self.context.cookie_hash(device_token) if device_token else None
        now = self.context.clock()
        async with self.pool.acquire() as conn:
            # the user and the check's reservation in one round trip, in the lane of the device
            # cookie when the account trusts it (as trusted_device)
            found = await repo.reserve_login(conn, key, client, device_hash, now, *attempts.limits(now))
            device = found["device"]
            await attempts.admit(
                conn, found["attempt"], found["lane"], found["address"], now, trusted=device is not None
            )
        user = found if found["id"] is not None else None
        stored_hash = user["password_hash"] if user is not None and user["state"] == "active" else None
        attempt = await attempts.verify_reserved(
            self.context, found["attempt"], device is not None, stored_hash, policy.normalize(password)
        )
        if attempt is None:
            raise ApiError(401, "login_failed", LOGIN_FAILED)
        now = self.context.clock()
        refused = None
        if user["deactivated_at"] is not None:  # said only to who knows the password
            refused = ApiError(403, "account_deactivated", DEACTIVATED)
        elif user["password_is_initial"] and user["password_expires_at"] <= now:
            refused = ApiError(401, "initial_password_expired", INITIAL_EXPIRED)
        if refused is not None:
            await repo.drop_attempt(self.pool, attempt)  # the right password: no failure
            raise refused
        staff = user["role"] == "staff"
        try:
            session = await self.start(user["id"], now, trusted_device=device, staff=staff, attempt=attempt)
        except Exception:
            # The reservation was to go with the session: a right password is no failure, also when
            # its session could not be written (a member retrying through an outage must not lock
            # themselves out). When Postgres is away altogether, this fails too and the row stays.
            with contextlib.suppress(Exception):
                await repo.drop_attempt(self.pool, attempt)
            raise
        log.info("logged in", extra={"user_id": str(user["id"]), "session_id": str(session.session_id)})
        return NewSession(
            session.token,
            session.session_id,
            session.expires_at,
            user["password_is_initial"],
            session.device_token,
            STAFF_PENDING if staff else MEMBER,
        )

    async def start(
        self,
        user_id: UUID,
        now: datetime,
        *,
        trusted_device: bytes | None,
        staff: bool = False,
        attempt: int | None = None,
    ) -> NewSession:
        """A new session (a new token at every login: no fixation) and a device cookie to trust:
        `trusted_device`, the keyed hash of the browser's cookie when the account trusts it already,
        else a new one; `attempt`: the login's reservation (attempts.verify_reserved), dropped with it."""
        token, session_id = random_token(), uuid4()
        expires_at = now + self.absolute(staff)
        new_device = None if trusted_device is not None else random_token()
        device_hash = trusted_device if new_device is None else self.context.cookie_hash(new_device)
        async with self.pool.acquire() as conn:
            await repo.start_session(
                conn, session_id, self.context.cookie_hash(token), device_hash, user_id, now, expires_at, attempt
            )
        return NewSession(token, session_id, expires_at, False, new_device)

    def absolute(self, staff: bool):
        lifetime = self.context.lifetimes.session_absolute
        return min(lifetime, otp.STAFF_SESSION_ABSOLUTE) if staff else lifetime

    def idle(self, role: str):
        lifetime = self.context.lifetimes.session_idle
        return min(lifetime, otp.STAFF_SESSION_IDLE) if role == "staff" else lifetime

    async def resolve(self, token: str) -> Resolved | None:
        now = self.context.clock()
        async with self.pool.acquire() as conn:
            row = await repo.session_by_token(conn, self.context.cookie_hash(token))
            if row is None:
                return None
            if row["expires_at"] <= now or row["last_seen_at"] + self.idle(row["role"]) <= now:
                await repo.delete_session(conn, row["id"])
                return None
            if now - row["last_seen_at"] > domain.SESSION_TOUCH_INTERVAL:
                await repo.touch_session(conn, row["id"], now)
        role = otp.session_role(row["role"], row["second_factor_at"])
        user = SessionUser(row["user_id"], row["id"], epoch_ms(row["created_at"]), role)
        return Resolved(user, row["password_is_initial"], row["expires_at"], role)

    async def alive(self, user: SessionUser) -> bool:
        """Accounts answers for its sessions itself, without waiting on any gateway's cache."""
        async with self.pool.acquire() as conn:
            row = await repo.session_times(conn, user.session_id, user.user_id)
        return self._alive(row)

    def _alive(self, row: asyncpg.Record | None) -> bool:
        now = self.context.clock()
        return row is not None and row["expires_at"] > now and row["last_seen_at"] + self.idle(row["role"]) > now

    async def logout(self, user: SessionUser) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            if await repo.delete_session(conn, user.session_id, user.user_id):
                await emit(
                    conn,
                    SessionRevokeV1(
                        user_id=user.user_id,
                        all_sessions=False,
                        session_ids=[user.session_id],
                        reason="logout",
                    ),
                )

    async def profile(self, user: SessionUser) -> ProfileOut | None:
        """The member's profile, None when the session is not alive (one query for both)."""
        async with self.pool.acquire() as conn:
            row = await repo.profile_in_session(conn, user.session_id, user.user_id)
        if not self._alive(row):
            return None
        return ProfileOut(
            user_id=row["id"],
            email=row["email"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            must_change_password=row["password_is_initial"],
            businesses=[
                MembershipOut(betriebsnummer=number, name=name, linked_at=linked_at)
                for number, name, linked_at in row["memberships"]
            ],
        )
