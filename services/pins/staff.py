"""What the chamber's staff do in pins: look up a business of record, send it a new PIN letter,
end a link, read the audit log. Every lookup and action writes its audit line in its own
transaction; callers are checked with runtime.staff.staff_user() in http.py.
"""

import logging
from datetime import datetime
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from runtime.errors import ApiError
from services.pins import audit, contract_fields, domain
from services.pins import repository as repo
from services.pins.answers import AddressOut, BusinessLetterOut
from services.pins.context import Context, emit
from services.pins.letters import LETTER_COLUMNS, new_letter, view

log = logging.getLogger(__name__)

BUSINESS_NOT_FOUND = "Zu dieser Betriebsnummer ist kein Betrieb im Register."
BUSINESS_DELETED = "Dieser Betrieb ist im Register als gelöscht vermerkt; ihm kann kein PIN-Brief geschickt werden."
CANNOT_ISSUE = (
    "Für diesen Betrieb kann kein PIN-Brief erstellt werden, weil die Anschrift im Register unvollständig "
    "oder fehlerhaft ist: {problems} Bitte korrigieren Sie den Betrieb im Register."
)
LETTER_SENT = "Der PIN-Brief geht an die Anschrift des Betriebs im Register. Die PIN ist bis zum {until} gültig."


class StaffLetterOut(BusinessLetterOut):
    """What staff see of a letter beyond what members do: its id and when its PIN was used."""

    id: UUID
    used_at: datetime | None


class StaffLinkedAccountOut(BaseModel):
    user_id: UUID
    email: str | None  # None until pins has heard of the account's confirmation
    name: str | None
    linked_at: datetime


class FailedAttemptOut(BaseModel):
    at: datetime
    user_id: UUID
    name: str | None


class StaffBusinessOut(BaseModel):
    betriebsnummer: str
    name: str
    address: AddressOut
    email: str | None
    trade: str | None
    deleted_at: datetime | None
    imported_at: datetime
    updated_at: datetime
    linked_accounts: list[StaffLinkedAccountOut]
    letters: list[StaffLetterOut]
    failed_attempts: list[FailedAttemptOut]


class StaffLetterSentOut(BaseModel):
    message: str
    request: StaffLetterOut


class Staff:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.pool = context.pool

    async def business(self, staff_user_id: UUID, number: str) -> StaffBusinessOut:
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            business = await repo.business_of_record(conn, number)
            if business is None:
                raise ApiError(404, "business_not_found", BUSINESS_NOT_FOUND)
            accounts = await repo.linked_accounts(conn, [number])
            letters = await repo.every_letter_of(conn, number)
            failures = await repo.failures_of(conn, number)
            await audit.record(conn, staff_user_id, "business_viewed", now, betriebsnummer=number)
        return StaffBusinessOut(
            **{k: business[k] for k in ("betriebsnummer", "name", "email", "trade", "deleted_at")},
            imported_at=business["imported_at"],
            updated_at=business["updated_at"],
            address=AddressOut(street=business["street"], postal_code=business["postal_code"], city=business["city"]),
            linked_accounts=[
                StaffLinkedAccountOut(user_id=a["user_id"], email=a["email"], name=_name(a), linked_at=a["linked_at"])
                for a in accounts
            ],
            letters=[_letter(r, now) for r in letters],
            failed_attempts=[FailedAttemptOut(at=f["at"], user_id=f["user_id"], name=_name(f)) for f in failures],
        )

    async def send_letter(self, staff_user_id: UUID, number: str) -> StaffLetterSentOut:
        """A new PIN letter to the address of record, reason staff_request: not counted against
        the member's request limits (limits.py reads user_request letters only)."""
        now = self.context.clock()
        async with self.pool.acquire() as conn, conn.transaction():
            business = await repo.business_of_record(conn, number, lock=True)
            if business is None:
                raise ApiError(404, "business_not_found", BUSINESS_NOT_FOUND)
            if business["deleted_at"] is not None:
                raise ApiError(409, "business_deleted", BUSINESS_DELETED)
            if problems := contract_fields.business_problems(business):
                raise ApiError(409, "business_data_invalid", CANNOT_ISSUE.format(problems=" ".join(problems)))
            letter = new_letter(self.context, business, "staff_request", None, now, self.context.pin_valid.days)
            await repo.insert_letters(conn, [letter.row])
            await emit(conn, letter.event)
            await audit.record(conn, staff_user_id, "letter_requested", now, betriebsnummer=number)
        log.info(
            "pin letter sent by staff",
            extra={"letter_request_id": str(letter.row[0]), "staff_user_id": str(staff_user_id)},
        )
        row = dict(zip(LETTER_COLUMNS, letter.row), used_at=None, superseded_at=None, handed_over=False)
        out = _letter(row, now)
        return StaffLetterSentOut(message=LETTER_SENT.format(until=domain.local_date(out.valid_until)), request=out)

    async def audit(self, before: int | None, limit: int) -> audit.AuditOut:
        async with self.pool.acquire() as conn:
            return audit.AuditOut(entries=await audit.page(conn, before, limit))


def _name(row: asyncpg.Record) -> str | None:
    return f"{row['first_name']} {row['last_name']}" if row["first_name"] else None


def _letter(row, now: datetime) -> StaffLetterOut:
    shown = view(row, now)
    return StaffLetterOut(
        id=row["id"],
        used_at=row["used_at"],
        **{k: shown[k] for k in ("requested_at", "reason", "reason_label", "valid_until", "state", "state_label")},
    )
