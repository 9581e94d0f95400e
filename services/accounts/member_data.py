"""The member's data: "Meine Daten herunterladen" (accounts' part of the export) and
"Konto löschen" (the account goes, and user.deleted.v1 tells the other services to erase theirs)."""

import logging
from datetime import date, datetime
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from contracts import SessionRevokeV1, UserDeletedV1
from runtime.errors import INVALID_INPUT, ApiError
from runtime.sessions import SessionUser
from services.accounts import attempts, policy
from services.accounts import repository as repo
from services.accounts.context import Context, emit
from services.accounts.forms import Input, MembershipOut
from services.accounts.repository import erasure
from services.accounts.sessions import Sessions

log = logging.getLogger(__name__)

WRONG_PASSWORD = "Das Passwort ist nicht korrekt."
STAFF_CANNOT_DELETE = (
    "Ein Mitarbeiterkonto kann sich nicht selbst löschen. Bitte wenden Sie sich an eine Kollegin, einen "
    "Kollegen oder den Betrieb des Kundenportals."
)


class DeleteIn(Input):
    password: str


class SessionOut(BaseModel):
    id: UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


class AccountOut(BaseModel):
    email: str
    first_name: str
    last_name: str
    birth_date: date | None  # staff accounts have none
    state: str
    created_at: datetime
    confirmed_at: datetime | None
    password_changed_at: datetime | None
    password_expires_at: datetime | None


class AccountsExportOut(BaseModel):
    account: AccountOut
    sessions: list[SessionOut]
    trusted_devices: int
    memberships: list[MembershipOut]
    failed_logins: list[datetime]


class MemberData:
    def __init__(self, context: Context, sessions: Sessions) -> None:
        self.context = context
        self.pool = context.pool
        self.sessions = sessions

    async def export(self, user: SessionUser) -> AccountsExportOut:
        async with self.pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            row = await erasure.export_user(conn, user.user_id)
            sessions = await erasure.export_sessions(conn, user.user_id)
            devices = await erasure.count_devices(conn, user.user_id)
            links = await repo.memberships(conn, user.user_id)
            failures = await erasure.failure_times(conn, row["email_key"])
        return AccountsExportOut(
            account=AccountOut(**{k: v for k, v in row.items() if k != "email_key"}),
            sessions=[SessionOut(**dict(r)) for r in sessions],
            trusted_devices=devices,
            memberships=[
                MembershipOut(betriebsnummer=r["betriebsnummer"], name=r["business_name"], linked_at=r["linked_at"])
                for r in links
            ],
            failed_logins=[r["at"] for r in failures],
        )

    async def delete(self, user: SessionUser, password: str, client: str, device_token: str | None) -> None:
        """The password is checked like a login (attempts.py: same lanes and limits), so a
        stolen session cannot erase an account. The user, every session and the event commit
        together: a deletion is never half done, and the others always hear of it."""
        async with self.pool.acquire() as conn:
            row = await repo.user_by_id(conn, user.user_id)
        if row["role"] == "staff":  # a staff account ends by ops, who also ends its access elsewhere
            raise ApiError(409, "staff_account", STAFF_CANNOT_DELETE)
        device = await self.sessions.trusted_device(user.user_id, device_token)
        if not await attempts.check(
            self.context, row["email_key"], client, device, row["password_hash"], policy.normalize(password)
        ):
            raise ApiError(422, "invalid_input", INVALID_INPUT, {"password": WRONG_PASSWORD})
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            if await repo.user_by_id(conn, user.user_id, lock=True) is None:
                return  # deleted meanwhile by a second click
            await erase(conn, user.user_id, row["email_key"], now, "member")
        log.info("account deleted", extra={"user_id": str(user.user_id)})


async def erase(conn: asyncpg.Connection, user_id: UUID, email_key: str, now: datetime, by: str) -> None:
    """The account, every session and the event in the caller's transaction: a deletion is never
    half done, and the other services always hear of it."""
    await erasure.erase_user(conn, user_id, email_key)
    # "logout": every session ends as if signed out (the member's own deletion; staff's too)
    await emit(conn, SessionRevokeV1(user_id=user_id, all_sessions=True, reason="logout"))
    await emit(conn, UserDeletedV1(user_id=user_id, deleted_at=now, deleted_by=by))
