"""Linking an account to its business with Betriebsnummer and PIN, and the member area.

Only the PIN used is consumed; other valid PINs of the business stay valid (a colleague may hold
one), except the member's own other requests for it, which are of no use to them any more.
"""

import logging
from datetime import datetime
from uuid import UUID

from prometheus_client import Counter

from contracts import PinLinkedV1
from runtime.errors import INVALID_INPUT, ApiError
from services.pins import attempts, domain
from services.pins import repository as repo
from services.pins.context import Context, emit
from services.pins.letters import view

log = logging.getLogger(__name__)

LINK_FAILURES = Counter("pins_link_failures_total", "Failed link attempts", ["reason"])

WRONG = "Diese PIN ist nicht korrekt. Bitte prüfen Sie die PIN aus Ihrem PIN-Brief."
EXPIRED = "Diese PIN ist abgelaufen. Bitte fordern Sie eine neue PIN an."
USED = "Diese PIN wurde bereits verwendet."
SUPERSEDED = "Diese PIN ist nicht mehr gültig. Bitte verwenden Sie die PIN aus Ihrem neuesten PIN-Brief."
THROTTLED = (
    "Zu viele falsche PIN-Eingaben. Bitte prüfen Sie die PIN in Ruhe und versuchen Sie es nach "
    "{until} erneut. Ihre PIN bleibt so lange gültig."
)
NOT_LINKED = (
    "Der Mitgliederbereich ist nur für Konten zugänglich, die mit einem Betrieb verknüpft sind. "
    "Bitte fordern Sie unter „Mein Betrieb“ eine PIN an und verknüpfen Sie Ihr Konto mit Ihrem Betrieb."
)
_PROBLEMS = {
    "used": ("pin_used", USED),
    "expired": ("pin_expired", EXPIRED),
    "superseded": ("pin_superseded", SUPERSEDED),
}


class Links:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.pool = context.pool

    async def link(self, user_id: UUID, number: str, pin: str, client: str) -> None:
        """An unknown Betriebsnummer takes the very path of a wrong PIN: the same reservation, the
        same lookup (no letter found), the same failure and answer, so nothing tells them apart."""
        now = self.context.clock()
        attempt = await attempts.reserve(
            self.context, user_id, client, number, now, code="link_throttled", message=THROTTLED
        )
        async with self.pool.acquire() as conn, conn.transaction():
            letters = await repo.letters_by_pin(conn, number, self.context.pin_hash(number, pin))
            state = _state(letters[0], now) if letters else "wrong"
            if state != "wrong":  # the right PIN, even used or expired, is no guess
                await repo.release_attempt(conn, attempt)
            if state in domain.USABLE:
                if not await repo.insert_link(conn, user_id, number, now, letters[0]["id"]):
                    return  # linked before: nothing changes, the PIN stays for a colleague
                business = await repo.business(conn, number)
                await repo.use_letter(conn, letters[0]["id"], user_id, now)
                await repo.supersede_requests(conn, user_id, number, now)
                await emit(
                    conn,
                    PinLinkedV1(
                        user_id=user_id,
                        betriebsnummer=number,
                        business_name=business["name"],
                        linked_at=now,
                        business_email=business["email"],
                    ),
                )
        if state not in domain.USABLE:
            LINK_FAILURES.labels(state).inc()
        if state == "wrong":  # its reserved attempt stays: the failure
            raise ApiError(422, "pin_wrong", INVALID_INPUT, {"pin": WRONG})
        if state in _PROBLEMS:
            code, message = _PROBLEMS[state]
            raise ApiError(422, code, INVALID_INPUT, {"pin": message})
        log.info("account linked", extra={"user_id": str(user_id), "betriebsnummer": number})

    async def mine(self, user_id: UUID) -> list[dict]:
        now = self.context.clock()
        async with self.pool.acquire() as conn:
            businesses = await repo.linked_businesses(conn, user_id)
            if not businesses:
                raise ApiError(403, "not_linked", NOT_LINKED)
            numbers = [b["betriebsnummer"] for b in businesses]
            accounts = await repo.linked_accounts(conn, numbers)
            letters = await repo.letters_of(conn, numbers)
        return [_business(b, accounts, letters, now) for b in businesses]


def _state(letter, now: datetime) -> str:
    return domain.letter_state(
        domain.Letter(
            letter["created_at"],
            letter["valid_until"],
            letter["used_at"],
            letter["superseded_at"],
            letter["handed_over"],
        ),
        now,
    )


def _business(b, accounts, letters, now: datetime) -> dict:
    number = b["betriebsnummer"]
    return {
        "betriebsnummer": number,
        "name": b["name"],
        "address": {"street": b["street"], "postal_code": b["postal_code"], "city": b["city"]},
        "email": b["email"],
        "trade": b["trade"],
        "linked_at": b["linked_at"].isoformat(),
        "linked_accounts": [
            {
                "user_id": str(a["user_id"]),
                "linked_at": a["linked_at"].isoformat(),
                "email": a["email"],
                "name": f"{a['first_name']} {a['last_name']}" if a["first_name"] else None,
            }
            for a in accounts
            if a["betriebsnummer"] == number
        ],
        "letters": [
            {k: v for k, v in view(letter, now).items() if k in _LETTER_FIELDS}
            for letter in letters
            if letter["betriebsnummer"] == number
        ],
    }


_LETTER_FIELDS = ("requested_at", "reason", "reason_label", "valid_until", "state", "state_label")
