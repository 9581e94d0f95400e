"""The use cases of accounts. Each runs in one transaction and writes its events to the outbox."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import uuid4

import asyncpg

from contracts import UserConfirmedV1, UserRegisteredV1, UserRegistrationRepeatedV1
from runtime.crypto import keyed_hash, random_token, seal
from runtime.errors import ApiError
from runtime.outbox import enqueue
from services.accounts import domain
from services.accounts import repository as repo
from services.accounts.passwords import Hashing

log = logging.getLogger(__name__)
SCHEMA = "accounts"


@dataclass(frozen=True)
class Registration:
    first_name: str
    last_name: str
    email: str
    birth_date: date


@dataclass
class Accounts:
    pool: asyncpg.Pool
    clock: Callable[[], datetime]
    token_key: bytes
    notifications_key: str
    public_url: str
    hashing: Hashing
    confirmation_lifetime: timedelta
    initial_password_lifetime: timedelta

    async def register(self, form: Registration) -> None:
        """Same outcome for every address, as seen from outside; the mail differs."""
        now = self.clock()
        key = domain.email_key(form.email)
        async with self.pool.acquire() as conn, conn.transaction():
            user = await repo.user_by_email_for_update(conn, key)
            if user is None:
                user_id = uuid4()
                created = await repo.insert_pending_user(
                    conn, user_id, form.email, key, form.first_name, form.last_name, form.birth_date, now
                )
                if not created:  # a concurrent registration won; it sent the mail
                    return
                await self._send_confirmation(conn, user_id, form.email, form.first_name, form.last_name, now)
            elif user["state"] == "pending":
                await repo.update_pending_user(
                    conn, user["id"], form.email, form.first_name, form.last_name, form.birth_date
                )
                await self._send_confirmation(conn, user["id"], form.email, form.first_name, form.last_name, now)
            else:
                await self._notify_already_registered(conn, user, now)

    async def resend_confirmation(self, email: str) -> None:
        now = self.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            user = await repo.user_by_email_for_update(conn, domain.email_key(email))
            if user is not None and user["state"] == "pending":
                await self._send_confirmation(
                    conn, user["id"], user["email"], user["first_name"], user["last_name"], now
                )

    async def confirm(self, token: str) -> None:
        token_hash = keyed_hash(self.token_key, token)
        async with self.pool.acquire() as conn:
            self._check(await repo.confirmation(conn, token_hash), self.clock())
        password = domain.new_initial_password()
        password_hash = await self.hashing.hash(password)  # outside the transaction: no lock held
        now = self.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            row = await repo.confirmation(conn, token_hash, lock=True)
            self._check(row, now)
            expires_at = now + self.initial_password_lifetime
            await repo.activate_user(conn, row["user_id"], password_hash, now, expires_at)
            await enqueue(conn, UserConfirmedV1(
                user_id=row["user_id"], email=row["email"], first_name=row["first_name"],
                last_name=row["last_name"], initial_password=seal(self.notifications_key, password),
                initial_password_expires_at=expires_at,
            ), SCHEMA)
        log.info("user confirmed", extra={"user_id": str(row["user_id"])})

    def _check(self, row: asyncpg.Record | None, now: datetime) -> None:
        state = domain.ConfirmationState(found=False) if row is None else domain.ConfirmationState(
            found=True, used=row["used_at"] is not None, expired=row["expires_at"] <= now,
            user_active=row["state"] == "active",
        )
        problem = domain.confirmation_problem(state)
        if problem:
            raise ApiError(*problem)

    async def _send_confirmation(
        self, conn: asyncpg.Connection, user_id, email: str, first_name: str, last_name: str, now: datetime
    ) -> None:
        recent = await repo.confirmations_since(conn, user_id, now - timedelta(hours=1))
        if recent >= domain.MAX_CONFIRMATION_MAILS_PER_HOUR:
            log.info("confirmation mail limit reached", extra={"user_id": str(user_id)})
            return
        token = random_token()
        expires_at = now + self.confirmation_lifetime
        await repo.insert_confirmation(conn, keyed_hash(self.token_key, token), user_id, now, expires_at)
        link = f"{self.public_url}/registrierung/bestaetigen?token={token}"
        await enqueue(conn, UserRegisteredV1(
            user_id=user_id, email=email, first_name=first_name, last_name=last_name,
            confirmation_link=seal(self.notifications_key, link), link_expires_at=expires_at,
        ), SCHEMA)

    async def _notify_already_registered(self, conn: asyncpg.Connection, user: asyncpg.Record, now: datetime) -> None:
        last = user["repeat_notice_at"]
        if last is not None and now - last < domain.REPEAT_NOTICE_INTERVAL:
            return  # one notice an hour: a registration form is no way to flood an inbox
        await repo.mark_repeat_notice(conn, user["id"], now)
        await enqueue(conn, UserRegistrationRepeatedV1(
            user_id=user["id"], email=user["email"], first_name=user["first_name"], last_name=user["last_name"],
        ), SCHEMA)
