"""The rules of PINs and letters, without I/O: the alphabet, the printed form, a letter's state.

A PIN is 8 symbols from 32 without look-alikes (A–Z without I and O, 2–9): 32^8 = 2^40 ≈ 1.1e12.
It is printed `ABCD-EFGH` and accepted with or without the dash and spaces, in any case.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from runtime.crypto import UNAMBIGUOUS_DIGITS, UNAMBIGUOUS_UPPER, keyed_hash, random_string
from runtime.german import BERLIN, german_date
from services.pins.contract_fields import max_length

PIN_ALPHABET = UNAMBIGUOUS_UPPER + UNAMBIGUOUS_DIGITS
PIN_LENGTH = 8
PIN_SPACE = len(PIN_ALPHABET) ** PIN_LENGTH
# As many digits as the events carry (pin.requested.v1, pin.linked.v1).
BETRIEBSNUMMER = re.compile(rf"[0-9]{{1,{max_length('Betriebsnummer')}}}")
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—]+")

BETRIEBSNUMMER_FORMAT = (
    "Bitte geben Sie Ihre Betriebsnummer ein (nur Ziffern). Sie finden sie auf Ihrem Beitragsbescheid."
)
PIN_FORMAT = "Eine PIN besteht aus 8 Buchstaben und Ziffern, z. B. ABCD-EFGH. Bitte prüfen Sie Ihre Eingabe."
PIN_LOOKALIKE = (
    "Die PIN enthält kein I, O, 0 oder 1 – verwechselbare Zeichen kommen in PINs nicht vor. "
    "Bitte prüfen Sie Ihre Eingabe."
)

STATE_LABELS = {
    "requested": "Angefordert",
    "handed_over": "An die Druckerei übergeben",
    "used": "Verwendet",
    "expired": "Abgelaufen",
    "superseded": "Nicht mehr gültig (ein neuerer PIN-Brief ersetzt ihn)",
}
REASON_LABELS = {
    "user_request": "im Kundenportal angefordert",
    "annual_notice": "mit dem Beitragsbescheid",
    "staff_request": "auf Anfrage bei der Handwerkskammer",
}


class Invalid(ValueError):
    """A German sentence for a person; pydantic carries it to the field it belongs to."""


def new_pin() -> str:
    return random_string(PIN_LENGTH, PIN_ALPHABET)


def format_pin(pin: str) -> str:
    return f"{pin[:4]}-{pin[4:]}"


def normalize_pin(value: str) -> str:
    pin = _SEPARATORS.sub("", value).upper()
    if not pin:
        raise Invalid("Bitte geben Sie die PIN aus Ihrem PIN-Brief ein.")
    if len(pin) != PIN_LENGTH or not pin.isascii() or not pin.isalnum():
        raise Invalid(PIN_FORMAT)
    if any(c not in PIN_ALPHABET for c in pin):
        raise Invalid(PIN_LOOKALIKE)
    return pin


def normalize_betriebsnummer(value: str) -> str:
    number = "".join(value.split())
    if not number:
        raise Invalid("Bitte geben Sie Ihre Betriebsnummer ein.")
    if not BETRIEBSNUMMER.fullmatch(number):
        raise Invalid(BETRIEBSNUMMER_FORMAT)
    return number


def pin_hash(key: bytes, betriebsnummer: str, pin: str) -> bytes:
    """Bound to the business: the same PIN drawn for two businesses are two different secrets."""
    return keyed_hash(key, f"{betriebsnummer}:{pin}")


@dataclass(frozen=True)
class Letter:
    created_at: datetime
    valid_until: datetime
    used_at: datetime | None
    superseded_at: datetime | None
    handed_over: bool = False  # published for the print shop


USABLE = frozenset({"requested", "handed_over"})  # a PIN in these states links


def letter_state(letter: Letter, now: datetime) -> str:
    if letter.used_at is not None:
        return "used"
    if letter.superseded_at is not None:
        return "superseded"
    if letter.valid_until <= now:
        return "expired"
    return "handed_over" if letter.handed_over else "requested"


def valid_until(now: datetime, days: int) -> datetime:
    """The end (midnight, Berlin) of the last day printed on the letter: "gültig bis 12.06.2025"."""
    last = now.astimezone(BERLIN).date() + timedelta(days=days)
    return datetime.combine(last + timedelta(days=1), datetime.min.time(), BERLIN)


def last_day(until: datetime) -> date:
    return (until.astimezone(BERLIN) - timedelta(microseconds=1)).date()


def local_date(moment: datetime | date) -> str:
    return german_date(moment)


def local_time(moment: datetime) -> str:
    """Rounded up to the minute: a wait shown as 14:34 is over at 14:34."""
    rounded = moment.replace(second=0, microsecond=0)
    if rounded < moment:
        rounded += timedelta(minutes=1)
    return rounded.astimezone(BERLIN).strftime("%d.%m.%Y um %H:%M Uhr")
