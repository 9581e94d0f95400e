"""Passwort ändern, Passwort vergessen, and the reset link: every other session ends."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from contracts import SessionRevokeV1, UserPasswordChangedV1, UserPasswordResetRequestedV1
from runtime.crypto import random_token, seal
from runtime.errors import INVALID_INPUT, ApiError
from runtime.sessions import SessionUser
from services.accounts import attempts, domain, policy
from services.accounts import repository as repo
from services.accounts.context import Context, emit
from services.accounts.registration import Registrations
from services.accounts.sessions import Sessions

log = logging.getLogger(__name__)

WRONG_CURRENT = "Das aktuelle Passwort ist nicht korrekt."
SAME_AGAIN = "Bitte wählen Sie ein neues Passwort, das sich vom bisherigen unterscheidet."


@dataclass(frozen=True)
class ResetDone:
    device_token: str | None  # this browser is trusted from now on (see throttle.py)


class Passwords:
    def __init__(self, context: Context, sessions: Sessions, registrations: Registrations) -> None:
        self.context = context
        self.pool = context.pool
        self.sessions = sessions
        self.registrations = registrations

    async def change(self, user: SessionUser, current: str, new: str, client: str, device_token: str | None) -> None:
        """The current password is checked like a login (same lanes and limits, see throttle.py):
        a stolen session is no way around them."""
        async with self.pool.acquire() as conn:
            row = await repo.user_by_id(conn, user.user_id)
        device = await self.sessions.trusted_device(user.user_id, device_token)
        current, new = policy.normalize(current), policy.normalize(new)
        if not await attempts.check(self.context, row["email_key"], client, device, row["password_hash"], current):
            raise ApiError(422, "invalid_input", INVALID_INPUT, {"current_password": WRONG_CURRENT})
        if new == current:
            raise ApiError(422, "invalid_input", INVALID_INPUT, {"new_password": SAME_AGAIN})
        self._check_policy(new, row)
        password_hash = await self.context.hashing.hash(new)
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.set_password(conn, user.user_id, password_hash, now)
            await repo.delete_sessions_of(conn, user.user_id, keep=user.session_id)
            await emit(
                conn,
                SessionRevokeV1(
                    user_id=user.user_id,
                    all_sessions=True,
                    except_session_id=user.session_id,
                    reason="password_changed",
                ),
            )
            await emit(conn, _changed(user.user_id, row, now, "changed"))
        log.info("password changed", extra={"user_id": str(user.user_id)})

    async def forgot(self, email: str) -> None:
        """The same answer for every address; the mail depends on the account's state."""
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            user = await repo.user_by_email_for_update(conn, domain.email_key(email))
            if user is None:
                return
            if user["state"] == "pending":  # not confirmed yet: the confirmation mail again
                await self.registrations.send_confirmation(conn, user["id"], now)
                return
            if await repo.resets_since(conn, user["id"], now - timedelta(hours=1)) >= domain.MAX_RESET_MAILS_PER_HOUR:
                return
            token = random_token()
            expires_at = now + self.context.lifetimes.reset_link
            await repo.insert_reset(conn, self.context.link_hash(token), user["id"], now, expires_at)
            link = f"{self.context.public_url}/passwort-zuruecksetzen?token={token}"
            await emit(
                conn,
                UserPasswordResetRequestedV1(
                    user_id=user["id"],
                    email=user["email"],
                    first_name=user["first_name"],
                    last_name=user["last_name"],
                    reset_link=seal(self.context.notifications_key, link),
                    link_expires_at=expires_at,
                ),
            )

    async def reset(self, token: str, new: str, device_token: str | None) -> ResetDone:
        token_hash = self.context.link_hash(token)
        async with self.pool.acquire() as conn:
            row = await repo.reset(conn, token_hash)
        self._check_link(row, self.context.clock())
        new = policy.normalize(new)
        self._check_policy(new, row)
        password_hash = await self.context.hashing.hash(new)
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            row = await repo.reset(conn, token_hash, lock=True)
            self._check_link(row, now)
            await repo.set_password(conn, row["user_id"], password_hash, now)
            await repo.use_resets(conn, row["user_id"], now)
            await repo.delete_sessions_of(conn, row["user_id"])
            await repo.clear_failures(conn, row["email_key"])
            await emit(conn, SessionRevokeV1(user_id=row["user_id"], all_sessions=True, reason="password_reset"))
            await emit(conn, _changed(row["user_id"], row, now, "reset"))
            device = (
                device_token
                if device_token
                and await repo.device_trusted(conn, self.context.cookie_hash(device_token), row["user_id"])
                else random_token()
            )
            await repo.save_device(conn, self.context.cookie_hash(device), row["user_id"], now)
        log.info("password reset", extra={"user_id": str(row["user_id"])})
        return ResetDone(None if device == device_token else device)

    def _check_link(self, row, now) -> None:
        state = (
            domain.ConfirmationState(found=False)
            if row is None
            else domain.ConfirmationState(
                found=True,
                used=row["used_at"] is not None,
                expired=row["expires_at"] <= now,
            )
        )
        problem = domain.reset_problem(state)
        if problem:
            raise ApiError(*problem)

    @staticmethod
    def _check_policy(password: str, row) -> None:
        problem = policy.problem(password, email=row["email"], first_name=row["first_name"], last_name=row["last_name"])
        if problem:
            raise ApiError(422, "invalid_input", INVALID_INPUT, {"new_password": problem})


def _changed(user_id, row, now, how: str) -> UserPasswordChangedV1:
    return UserPasswordChangedV1(
        user_id=user_id,
        email=row["email"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        changed_at=now,
        how=how,
    )
