"""The contact form's rules, without I/O: what a valid message is, which two mails it makes, and
how often one sender or one address may write.

Pure: time comes in as `now`. The message is the sender's own text, kept as plain text; the
HTML mail escapes it.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from runtime.validation import EMAIL_PROBLEM, clean_email  # noqa: F401 (the form's rule, used by http.py)
from services.notifications.domain import CONTACT_COPY, CONTACT_REQUEST, SUBJECTS, NewMail

ACCEPTED = ("Vielen Dank für Ihre Nachricht. Wir melden uns schnellstmöglich. "
            "Eine Kopie haben wir Ihnen per E-Mail gesandt.")
TOO_MANY_CODE = "contact_limit"
TOO_MANY = ("Sie haben uns in der letzten Stunde schon mehrere Nachrichten gesandt. Bitte "
            "versuchen Sie es später erneut oder rufen Sie uns an.")

WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Limits:
    """Requests per `WINDOW`. Every request sends a copy to the address typed in: the
    per-address limit keeps the form from being used to flood someone else's mailbox."""

    per_client: int = 5
    per_address: int = 5


NAME_MAX = 100
BUSINESS_NAME_MAX = 200
BETRIEBSNUMMER_MAX = 20
MESSAGE_MIN = 10
MESSAGE_MAX = 5000

# Control characters other than line breaks and tabs have no place in a message to a person.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class ContactRequest:
    name: str
    email: str
    betriebsnummer: str  # "" when not given
    betriebsname: str
    message: str


def address_key(email: str) -> str:
    return email.strip().lower()


def _line(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", value).split())


def clean_name(value: str) -> str:
    name = _line(value)
    if not name:
        raise ValueError("Bitte geben Sie Ihren Namen ein.")
    if len(name) > NAME_MAX:
        raise ValueError(f"Bitte kürzen Sie den Namen auf höchstens {NAME_MAX} Zeichen.")
    return name


def clean_betriebsnummer(value: str) -> str:
    number = "".join(value.split())
    if not number.isascii() or (number and not number.isdigit()):
        raise ValueError("Die Betriebsnummer besteht nur aus Ziffern. Sie finden sie auf Ihrem "
                         "Beitragsbescheid.")
    if len(number) > BETRIEBSNUMMER_MAX:
        raise ValueError(f"Die Betriebsnummer hat höchstens {BETRIEBSNUMMER_MAX} Ziffern.")
    return number


def clean_betriebsname(value: str) -> str:
    name = _line(value)
    if len(name) > BUSINESS_NAME_MAX:
        raise ValueError(f"Bitte kürzen Sie den Namen des Betriebs auf höchstens {BUSINESS_NAME_MAX} Zeichen.")
    return name


def clean_message(value: str) -> str:
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text).strip()
    if len(text) < MESSAGE_MIN:
        raise ValueError(f"Bitte schreiben Sie uns Ihr Anliegen in mindestens {MESSAGE_MIN} Zeichen.")
    if len(text) > MESSAGE_MAX:
        raise ValueError(f"Bitte kürzen Sie Ihre Nachricht auf höchstens {MESSAGE_MAX} Zeichen.")
    return text


def request_subject(betriebsnummer: str) -> str:
    subject = SUBJECTS[CONTACT_REQUEST]
    return f"{subject} – Betriebsnummer {betriebsnummer}" if betriebsnummer else subject


def mails_for_contact(request: ContactRequest, source_id: UUID, support_email: str,
                      now: datetime) -> list[NewMail]:
    """The request to the chamber's support (answering it goes to the sender) and the copy to
    the sender. Both carry `source_id`, one per request, which the queue keeps unique per kind."""
    context = {
        "name": request.name,
        "email": request.email,
        "betriebsnummer": request.betriebsnummer,
        "betriebsname": request.betriebsname,
        "message": request.message,
        "sent_at": now.isoformat(),
    }
    return [
        NewMail(source_id, CONTACT_REQUEST, support_email,
                {**context, "subject": request_subject(request.betriebsnummer),
                 "reply_to": request.email}),
        NewMail(source_id, CONTACT_COPY, request.email, context),
    ]


def wait_before_next(by_client: list[datetime], by_address: list[datetime], now: datetime,
                     limits: Limits = Limits()) -> timedelta | None:
    """None if one more request is allowed; else how long until it is. The lists are the times
    of the requests in the last `WINDOW` from this client and to this address."""
    waits = []
    for times, limit in ((by_client, limits.per_client), (by_address, limits.per_address)):
        recent = sorted(t for t in times if t > now - WINDOW)
        if len(recent) >= limit:
            waits.append(recent[len(recent) - limit] + WINDOW - now)
    return max(waits) if waits else None
