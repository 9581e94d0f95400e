"""PIN letters: asked for by a member, or sent with the Beitragsbescheid; and the member's list.

A letter goes only to the address of record, never to one the member types. A new letter never
cancels an earlier one: each PIN stays valid until used or expired.

Asking for a letter tells whether a Betriebsnummer is in the register (a member who mistyped it
would otherwise wait days for a letter that never comes), but no more: the business's name and
address stay behind the PIN, as the seed promises ("Ihre Betriebsdaten sind zusätzlich durch eine
PIN geschützt"). An unknown number costs an attempt as a wrong PIN does (attempts.py), and the
throttle answers before the register is looked at, so the register cannot be read out faster
than PINs can be guessed, and a throttled member learns nothing about any number.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg

from contracts import PinRequestedV1, PostalAddress
from runtime.crypto import seal
from runtime.errors import INVALID_INPUT, ApiError
from services.pins import attempts, contract_fields, domain, limits
from services.pins import repository as repo
from services.pins.context import Context, emit

log = logging.getLogger(__name__)

UNKNOWN = "Diese Betriebsnummer ist uns nicht bekannt. Sie finden sie auf Ihrem Beitragsbescheid."
ALREADY_LINKED = "Ihr Konto ist bereits mit diesem Betrieb verknüpft. Sie brauchen keine neue PIN."
THROTTLED = (
    "Zu viele fehlgeschlagene Versuche mit Betriebsnummer oder PIN. Einen PIN-Brief können Sie nach "
    "{until} wieder anfordern. Ihre Betriebsnummer finden Sie auf Ihrem Beitragsbescheid."
)
CANNOT_ISSUE = (
    "Für diesen Betrieb können wir gerade keinen PIN-Brief erstellen, weil die bei uns hinterlegte "
    "Anschrift unvollständig oder fehlerhaft ist. Bitte kontaktieren Sie uns, damit wir sie korrigieren."
)


LETTER_COLUMNS = ("id", "betriebsnummer", "reason", "requested_by", "pin_hash", "created_at", "valid_until")


@dataclass(frozen=True)
class NewLetter:
    row: tuple  # for pin_letters
    event: PinRequestedV1


def new_letter(
    context: Context, business, reason: str, requested_by: UUID | None, now: datetime, days: int
) -> NewLetter:
    pin, letter_id = domain.new_pin(), uuid4()
    until = domain.valid_until(now, days)
    number = business["betriebsnummer"]
    event = PinRequestedV1(
        event_id=letter_id,
        request_id=letter_id,
        reason=reason,
        betriebsnummer=number,
        business_name=business["name"],
        address=PostalAddress(street=business["street"], postal_code=business["postal_code"], city=business["city"]),
        pin=seal(context.printshop_key, domain.format_pin(pin)),
        valid_until=domain.last_day(until),
        requested_by_user_id=requested_by,
    )
    row = (letter_id, number, reason, requested_by, context.pin_hash(number, pin), now, until)
    return NewLetter(row, event)


def view(row, now: datetime) -> dict:
    state = domain.letter_state(
        domain.Letter(row["created_at"], row["valid_until"], row["used_at"], row["superseded_at"], row["handed_over"]),
        now,
    )
    return {
        "request_id": str(row["id"]),
        "betriebsnummer": row["betriebsnummer"],
        "reason": row["reason"],
        "requested_at": row["created_at"].isoformat(),
        "valid_until": domain.last_day(row["valid_until"]).isoformat(),
        "state": state,
        "state_label": domain.STATE_LABELS[state],
        "reason_label": domain.REASON_LABELS[row["reason"]],
    }


class Letters:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.pool = context.pool

    async def request(self, user_id: UUID, number: str, client: str) -> dict:
        """The new letter as the member sees it."""
        now = self.context.clock()
        attempt = await attempts.reserve(
            self.context, user_id, client, number, now, code="request_throttled", message=THROTTLED
        )
        async with self.pool.acquire() as conn:
            if not await repo.release_if_known(conn, attempt, number):
                raise ApiError(422, "unknown_betriebsnummer", INVALID_INPUT, {"betriebsnummer": UNKNOWN})
            async with conn.transaction():
                business = await repo.business(conn, number, lock=True)
                if business is None:  # deleted by a register import a moment ago
                    raise ApiError(422, "unknown_betriebsnummer", INVALID_INPUT, {"betriebsnummer": UNKNOWN})
                if await repo.is_linked(conn, user_id, number):
                    raise ApiError(409, "already_linked", ALREADY_LINKED)
                if problems := contract_fields.business_problems(business):
                    log.warning(
                        "no pin letter fits the business's data", extra={"betriebsnummer": number, "problems": problems}
                    )
                    raise ApiError(409, "business_data_invalid", CANNOT_ISSUE)
                await repo.lock_member(conn, user_id)
                await self._check_limits(conn, user_id, number, now)
                letter = new_letter(self.context, business, "user_request", user_id, now, self.context.pin_valid.days)
                await repo.insert_letters(conn, [letter.row])
                await emit(conn, letter.event)
        log.info("pin letter requested", extra={"letter_request_id": str(letter.row[0]), "user_id": str(user_id)})
        return view(dict(zip(LETTER_COLUMNS, letter.row), used_at=None, superseded_at=None, handed_over=False), now)

    async def _check_limits(self, conn: asyncpg.Connection, user_id: UUID, number: str, now: datetime) -> None:
        since = now - limits.MONTH
        refusal = limits.refusal(
            await repo.requests_since(conn, since, number=number),
            await repo.requests_since(conn, since, user_id=user_id),
            now,
            self.context.request_limits,
        )
        if refusal is None:
            return
        retry = str(int((refusal.next_allowed - now).total_seconds()) + 1)
        raise ApiError(429, "pin_request_limit", limit_message(refusal), headers={"Retry-After": retry})

    async def mine(self, user_id: UUID) -> list[dict]:
        now = self.context.clock()
        async with self.pool.acquire() as conn:
            rows = await repo.letters_requested_by(conn, user_id)
        return [view(r, now) for r in rows]


def limit_message(refusal: limits.Refusal) -> str:
    last, next_at = domain.local_date(refusal.last_requested), domain.local_time(refusal.next_allowed)
    if refusal.who == "business":
        return (
            f"Für diesen Betrieb ist bereits ein PIN-Brief unterwegs (angefordert am {last}). Er geht an "
            "die Anschrift des Betriebs, die bei uns hinterlegt ist – bitte rechnen Sie mit einigen Tagen "
            f"Postlaufzeit. Einen weiteren PIN-Brief können Sie ab dem {next_at} anfordern."
        )
    return (
        f"Sie haben in den letzten 30 Tagen bereits mehrere PIN-Briefe angefordert; der letzte (vom {last}) "
        f"ist noch unterwegs. Einen weiteren PIN-Brief können Sie ab dem {next_at} anfordern."
    )
