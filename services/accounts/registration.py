"""Registering and confirming the e-mail address: each use case one transaction with its events."""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg

from contracts import UserConfirmedV1, UserRegisteredV1, UserRegistrationRepeatedV1
from runtime.crypto import random_token, seal
from runtime.errors import ApiError
from services.accounts import domain
from services.accounts import repository as repo
from services.accounts.context import Context, emit, emit_with

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registration:
    first_name: str
    last_name: str
    email: str
    birth_date: date


@dataclass(frozen=True)
class _Link:
    token_hash: bytes
    expires_at: datetime
    event: UserRegisteredV1


class Registrations:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.pool = context.pool
        self.clock = context.clock

    async def register(self, form: Registration) -> None:
        """Same outcome for every address, as seen from outside; the mail differs. Registering an
        unconfirmed address again changes nothing stored: the new link carries what was entered
        this time, and whoever reads the mail confirms the registration whose link they open — so
        a stranger can neither rewrite the owner's name and birth date nor squat the address."""
        now = self.clock()
        key = domain.email_key(form.email)
        user_id = uuid4()
        link = self._new_link(user_id, form, now)
        async with self.pool.acquire() as conn:
            # A new address, the usual case: the user, the link and the event in one statement.
            if await emit_with(
                conn,
                link.event,
                repo.NEW_USER,
                repo.NEW_USER_WRITTEN,
                user_id,
                form.email,
                key,
                form.first_name,
                form.last_name,
                form.birth_date,
                now,
                link.token_hash,
                link.expires_at,
            ):
                return
            # Known already (or registered a moment ago by a concurrent request): read and lock it.
            async with conn.transaction():
                user = await repo.user_by_email_for_update(conn, key)
                if user is None:  # erased between the two statements: nothing left to confirm
                    return
                if user["state"] == "pending":
                    await self.send_confirmation(conn, user["id"], now, form)
                else:
                    await self._notify_already_registered(conn, user, now)

    async def resend_confirmation(self, email: str) -> None:
        now = self.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            user = await repo.user_by_email_for_update(conn, domain.email_key(email))
            if user is not None and user["state"] == "pending":
                await self.send_confirmation(conn, user["id"], now)

    async def confirm(self, token: str) -> None:
        token_hash = self.context.link_hash(token)
        async with self.pool.acquire() as conn:
            self._check(await repo.confirmation(conn, token_hash), self.clock())
        password = domain.new_initial_password()
        password_hash = await self.context.hashing.hash(password)  # outside the transaction: no lock held
        now = self.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            row = await repo.confirmation(conn, token_hash, lock=True)
            self._check(row, now)
            expires_at = now + self.context.lifetimes.initial_password
            await repo.activate_user(
                conn,
                row["user_id"],
                password_hash,
                now,
                expires_at,
                row["first_name"],
                row["last_name"],
                row["birth_date"],
            )
            await emit(
                conn,
                UserConfirmedV1(
                    user_id=row["user_id"],
                    email=row["email"],
                    first_name=row["first_name"],
                    last_name=row["last_name"],
                    initial_password=seal(self.context.notifications_key, password),
                    initial_password_expires_at=expires_at,
                ),
            )
        log.info("user confirmed", extra={"user_id": str(row["user_id"])})

    def _check(self, row: asyncpg.Record | None, now: datetime) -> None:
        state = (
            domain.ConfirmationState(found=False)
            if row is None
            else domain.ConfirmationState(
                found=True,
                used=row["used_at"] is not None,
                expired=row["expires_at"] <= now,
                user_active=row["state"] == "active",
            )
        )
        problem = domain.confirmation_problem(state)
        if problem:
            raise ApiError(*problem)

    async def send_confirmation(
        self, conn: asyncpg.Connection, user_id: UUID, now: datetime, person: Registration | None = None
    ) -> None:
        """A new confirmation link for a pending user, within the hourly limit, for `person`: what
        was entered with this registration — or, sent again, what was entered last."""
        recent = await repo.confirmations_since(conn, user_id, now - timedelta(hours=1))
        if recent >= domain.MAX_CONFIRMATION_MAILS_PER_HOUR:
            log.info("confirmation mail limit reached", extra={"user_id": str(user_id)})
            return
        if person is None:
            last = await repo.last_registration(conn, user_id)
            person = Registration(last["first_name"], last["last_name"], last["email"], last["birth_date"])
        link = self._new_link(user_id, person, now)
        await repo.insert_confirmation(
            conn,
            link.token_hash,
            user_id,
            now,
            link.expires_at,
            person.first_name,
            person.last_name,
            person.birth_date,
        )
        await emit(conn, link.event)

    def _new_link(self, user_id: UUID, person: Registration, now: datetime) -> _Link:
        """A confirmation link for `person`: its token's keyed hash to store, and the event that
        carries the link itself, sealed for notifications."""
        token = random_token()
        expires_at = now + self.context.lifetimes.confirmation_link
        link = f"{self.context.public_url}/registrierung/bestaetigen?token={token}"
        event = UserRegisteredV1(
            user_id=user_id,
            email=person.email,
            first_name=person.first_name,
            last_name=person.last_name,
            confirmation_link=seal(self.context.notifications_key, link),
            link_expires_at=expires_at,
        )
        return _Link(self.context.link_hash(token), expires_at, event)

    async def _notify_already_registered(self, conn: asyncpg.Connection, user: asyncpg.Record, now: datetime) -> None:
        last = user["repeat_notice_at"]
        if last is not None and now - last < domain.REPEAT_NOTICE_INTERVAL:
            return  # one notice an hour: a registration form is no way to flood an inbox
        await repo.mark_repeat_notice(conn, user["id"], now)
        await emit(
            conn,
            UserRegistrationRepeatedV1(
                user_id=user["id"],
                email=user["email"],
                first_name=user["first_name"],
                last_name=user["last_name"],
            ),
        )
