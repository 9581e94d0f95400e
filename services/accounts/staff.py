"""What the chamber's staff do with a member's account (api.md): look it up, resend the
confirmation, send a new initial password, lift the login throttle, deactivate, reactivate,
erase. Each action commits with its audit line and its event, or not at all."""

import logging
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from contracts import SessionRevokeV1, UserChangedByStaffV1, UserConfirmedV1
from runtime import staff_audit
from runtime.crypto import seal
from runtime.errors import ApiError
from runtime.sessions import SessionUser
from services.accounts import audit, domain, throttle
from services.accounts import repository as repo
from services.accounts.context import Context, emit
from services.accounts.member_data import erase
from services.accounts.registration import Registrations
from services.accounts.repository import staff as staff_repo
from services.accounts.staff_forms import AuditEntryOut, AuditOut, StaffMemberOut, StaffMembershipOut

log = logging.getLogger(__name__)

NOT_FOUND = "Zu dieser Angabe gibt es kein Konto im Kundenportal."
NOT_PENDING = "Dieses Konto ist bereits bestätigt; eine Bestätigungs-E-Mail ist nicht nötig."
NOT_ACTIVE = "Dieses Konto ist noch nicht bestätigt. Bitte senden Sie die Bestätigungs-E-Mail erneut."
STAFF_ACCOUNT = (
    "Mitarbeiterkonten können hier nicht gesperrt oder gelöscht werden. Bitte wenden Sie sich an den Betrieb "
    "des Kundenportals."
)
ALREADY_DEACTIVATED = "Dieses Konto ist bereits gesperrt."
NOT_DEACTIVATED = "Dieses Konto ist nicht gesperrt."


class Staff:
    def __init__(self, context: Context, registrations: Registrations) -> None:
        self.context = context
        self.pool = context.pool
        self.registrations = registrations

    async def member(self, staff: SessionUser, email: str | None = None, user_id: UUID | None = None) -> StaffMemberOut:
        """A member's account, found by e-mail (the search) or by id (their page); each view is audited."""
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            if email is not None:
                row = await staff_repo.member_by_email(conn, domain.email_key(email))
            else:
                row = await staff_repo.member_by_id(conn, user_id, lock=False)
            if row is None:
                raise ApiError(404, "member_not_found", NOT_FOUND)
            links = await repo.memberships(conn, row["id"])
            failures = await staff_repo.failures_by_lane(conn, row["email_key"], now - throttle.DAY)
            await staff_audit.record(conn, now, staff.user_id, "member_viewed", user_id=row["id"])
        wait = throttled_for(failures, now)
        return StaffMemberOut(
            user_id=row["id"],
            email=row["email"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            role=row["role"],
            state=row["state"],
            created_at=row["created_at"],
            confirmed_at=row["confirmed_at"],
            last_login_at=row["last_login_at"],
            deactivated_at=row["deactivated_at"],
            login_throttled=wait is not None,
            throttled_until=now + wait if wait is not None else None,
            must_change_password=row["password_is_initial"],
            memberships=[
                StaffMembershipOut(
                    betriebsnummer=r["betriebsnummer"], name=r["business_name"], linked_at=r["linked_at"]
                )
                for r in links
            ],
        )

    async def resend_confirmation(self, staff: SessionUser, user_id: UUID) -> None:
        """The self-service resend's link and event (user.registered.v1), within its hourly limit."""
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._target(conn, user_id)
            if row["state"] != "pending":
                raise ApiError(409, "not_pending", NOT_PENDING)
            await self.registrations.send_confirmation(conn, user_id, now)
            await staff_audit.record(conn, now, staff.user_id, "confirmation_resent", user_id=user_id)

    async def new_initial_password(self, staff: SessionUser, user_id: UUID) -> None:
        password = domain.new_initial_password()
        password_hash = await self.context.hashing.hash(password)  # outside the transaction: no lock held
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._target(conn, user_id)
            if row["state"] != "active":
                raise ApiError(409, "not_active", NOT_ACTIVE)
            expires_at = now + self.context.lifetimes.initial_password
            await staff_repo.reissue_initial_password(conn, user_id, password_hash, expires_at)
            await self._end_sessions(conn, user_id)
            await emit(
                conn,
                UserConfirmedV1(
                    user_id=user_id,
                    email=row["email"],
                    first_name=row["first_name"],
                    last_name=row["last_name"],
                    initial_password=seal(self.context.notifications_key, password),
                    initial_password_expires_at=expires_at,
                    reissued_by_staff=True,
                ),
            )
            await staff_audit.record(conn, now, staff.user_id, "initial_password_sent", user_id=user_id)

    async def lift_throttle(self, staff: SessionUser, user_id: UUID) -> None:
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._target(conn, user_id)
            await repo.clear_failures(conn, row["email_key"])
            await emit(conn, UserChangedByStaffV1(user_id=user_id, change="throttle_lifted", changed_at=now))
            await staff_audit.record(conn, now, staff.user_id, "throttle_lifted", user_id=user_id)

    async def deactivate(self, staff: SessionUser, user_id: UUID) -> None:
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._member_target(conn, user_id)
            if row["deactivated_at"] is not None:
                raise ApiError(409, "already_deactivated", ALREADY_DEACTIVATED)
            await staff_repo.set_deactivated(conn, user_id, now)
            await self._end_sessions(conn, user_id)
            await emit(conn, UserChangedByStaffV1(user_id=user_id, change="deactivated", changed_at=now))
            await staff_audit.record(conn, now, staff.user_id, "deactivated", user_id=user_id)
        log.info("account deactivated by staff", extra={"user_id": str(user_id)})

    async def reactivate(self, staff: SessionUser, user_id: UUID) -> None:
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._member_target(conn, user_id)
            if row["deactivated_at"] is None:
                raise ApiError(409, "not_deactivated", NOT_DEACTIVATED)
            await staff_repo.set_deactivated(conn, user_id, None)
            await emit(conn, UserChangedByStaffV1(user_id=user_id, change="reactivated", changed_at=now))
            await staff_audit.record(conn, now, staff.user_id, "reactivated", user_id=user_id)

    async def erase(self, staff: SessionUser, user_id: UUID) -> None:
        """As "Konto löschen", without the member's password; the audit keeps the id alone."""
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._member_target(conn, user_id)
            await erase(conn, user_id, row["email_key"], now, "staff")
            await staff_audit.record(conn, now, staff.user_id, "erased", user_id=user_id)
        log.info("account erased by staff", extra={"user_id": str(user_id)})

    async def audit_page(self, before: int | None, limit: int) -> AuditOut:
        async with self.pool.acquire() as conn:
            rows = await staff_audit.entries(conn, before, limit)
            staff = await staff_repo.staff_names(conn)
        return AuditOut(
            entries=[AuditEntryOut(**dict(r), service="accounts", action_label=audit.label(r["action"])) for r in rows],
            staff={str(r["id"]): f"{r['first_name']} {r['last_name']}" for r in staff},
        )

    async def _target(self, conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record:
        row = await staff_repo.member_by_id(conn, user_id)
        if row is None:
            raise ApiError(404, "member_not_found", NOT_FOUND)
        return row

    async def _member_target(self, conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record:
        """Staff accounts are not blocked or erased from the staff area, not even one's own."""
        row = await self._target(conn, user_id)
        if row["role"] == "staff":
            raise ApiError(409, "staff_account", STAFF_ACCOUNT)
        return row

    async def _end_sessions(self, conn: asyncpg.Connection, user_id: UUID) -> None:
        await repo.delete_sessions_of(conn, user_id)
        await emit(conn, SessionRevokeV1(user_id=user_id, all_sessions=True, reason="staff"))


def throttled_for(failures: list[tuple[bytes | None, datetime]], now: datetime) -> timedelta | None:
    """The longest wait of any lane (each trusted browser, and the one strangers share): the
    member is stuck in the browser they use, whichever it is. The busy-address rule is left out:
    it belongs to an address, not to the account."""
    lanes: dict[bytes | None, list[datetime]] = {}
    for device, at in sorted(failures, key=lambda f: f[1], reverse=True):
        lanes.setdefault(device, []).append(at)
    waits = [throttle.wait(lane, [], now, trusted=True) for lane in lanes.values()]
    return max((w for w in waits if w is not None), default=None)
