"""The contact form's rules, without I/O: what a valid message is, which mails it makes, and how
often one sender, one address and everyone together may write.

The form is no relay: its text goes to the chamber's support, and a copy only to the address of
the signed-in member's own account, which the member confirmed. An address someone merely typed
in gets nothing — not even a receipt with fixed text: that would still let anyone make the
chamber mail any stranger (backscatter that costs the domain its reputation), and it would tell
nothing the page's answer does not. The answer is the same in every case, so it tells nobody
whether or where a copy went.

Pure: time comes in as `now`. The message is the sender's own text, kept as plain text; the
HTML mail escapes it.
"""

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from runtime.validation import CONTROL_CHARACTERS, CONTROL_MESSAGE, clean_email
from services.notifications.domain import CONTACT_COPY, CONTACT_REQUEST, SUBJECTS, NewMail, Recipient

ACCEPTED = "Vielen Dank für Ihre Nachricht. Wir melden uns schnellstmöglich."
TOO_MANY_CODE = "contact_limit"
TOO_MANY = (
    "Sie haben uns in der letzten Stunde schon mehrere Nachrichten gesandt. Bitte "
    "versuchen Sie es später erneut oder rufen Sie uns an."
)
BUSY_CODE = "contact_busy"

WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Limits:
    """Requests per `WINDOW`: from one client, naming one address (the one support answers to),
    and from everyone together — each request is a mail to support and perhaps a copy, and the
    chamber's domain must not look like a spam source, whoever floods the form."""

    per_client: int = 5
    per_address: int = 5
    # Far above what a chamber's support hears in an hour, even in the week of the yearly
    # Beitragsbescheid; at most twice as many mails an hour leave through the form.
    per_hour: int = 100


@dataclass(frozen=True)
class TooMany:
    wait: timedelta
    everyone: bool  # the cap for everyone together, not this sender's own limit


def busy_message(support_email: str, support_phone: str) -> str:
    return (
        "Über das Kontaktformular erreichen uns gerade sehr viele Nachrichten. Bitte rufen Sie "
        f"uns an unter {support_phone} oder schreiben Sie eine E-Mail an {support_email}."
    )


NAME_MAX = 100
BUSINESS_NAME_MAX = 200
BETRIEBSNUMMER_MAX = 20
MESSAGE_MIN = 10
MESSAGE_MAX = 5000


@dataclass(frozen=True)
class ContactRequest:
    name: str
    email: str
    betriebsnummer: str  # "" when not given
    betriebsname: str
    message: str


def address_key(email: str) -> str:
    return email.strip().lower()


def _refuse_control(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError(CONTROL_MESSAGE)
    return value


def _line(value: str) -> str:
    return " ".join(unicodedata.normalize("NFC", _refuse_control(value)).split())


def clean_name(value: str) -> str:
    name = _line(value)
    if not name:
        raise ValueError("Bitte geben Sie Ihren Namen ein.")
    if len(name) > NAME_MAX:
        raise ValueError(f"Bitte kürzen Sie den Namen auf höchstens {NAME_MAX} Zeichen.")
    return name


def clean_contact_email(value: str) -> str:
    return clean_email(_refuse_control(value))


def clean_betriebsnummer(value: str) -> str:
    number = "".join(_refuse_control(value).split())
    if not number.isascii() or (number and not number.isdigit()):
        raise ValueError("Die Betriebsnummer besteht nur aus Ziffern. Sie finden sie auf Ihrem Beitragsbescheid.")
    if len(number) > BETRIEBSNUMMER_MAX:
        raise ValueError(f"Die Betriebsnummer hat höchstens {BETRIEBSNUMMER_MAX} Ziffern.")
    return number


def clean_betriebsname(value: str) -> str:
    name = _line(value)
    if len(name) > BUSINESS_NAME_MAX:
        raise ValueError(f"Bitte kürzen Sie den Namen des Betriebs auf höchstens {BUSINESS_NAME_MAX} Zeichen.")
    return name


def clean_message(value: str) -> str:
    text = unicodedata.normalize("NFC", _refuse_control(value)).replace("\r\n", "\n").replace("\r", "\n")
    text = text.strip()
    if len(text) < MESSAGE_MIN:
        raise ValueError(f"Bitte schreiben Sie uns Ihr Anliegen in mindestens {MESSAGE_MIN} Zeichen.")
    if len(text) > MESSAGE_MAX:
        raise ValueError(f"Bitte kürzen Sie Ihre Nachricht auf höchstens {MESSAGE_MAX} Zeichen.")
    return text


def request_subject(betriebsnummer: str) -> str:
    subject = SUBJECTS[CONTACT_REQUEST]
    return f"{subject} – Betriebsnummer {betriebsnummer}" if betriebsnummer else subject


def mails_for_contact(
    request: ContactRequest, source_id: UUID, support_email: str, now: datetime, member: Recipient | None
) -> list[NewMail]:
    """The request to the chamber's support (answering it goes to the address typed in) and, for
    a signed-in `member`, the copy to their account's address, whatever address they typed. All
    carry `source_id`, one per request, which the queue keeps unique per kind."""
    context = {
        "name": request.name,
        "email": request.email,
        "betriebsnummer": request.betriebsnummer,
        "betriebsname": request.betriebsname,
        "message": request.message,
        "sent_at": now.isoformat(),
    }
    mails = [
        NewMail(
            source_id,
            CONTACT_REQUEST,
            support_email,
            {
                **context,
                "subject": request_subject(request.betriebsnummer),
                "reply_to": request.email,
                "account_email": member.email if member is not None else "",
            },
            made_at=now,
        )
    ]
    if member is not None:
        mails.append(
            NewMail(
                source_id,
                CONTACT_COPY,
                member.email,
                {
                    **context,
                    "first_name": member.first_name,
                    "last_name": member.last_name,
                },
                made_at=now,
            )
        )
    return mails


def _wait(times: list[datetime], limit: int, now: datetime) -> timedelta | None:
    recent = sorted(t for t in times if t > now - WINDOW)
    if len(recent) < limit:
        return None
    return recent[len(recent) - limit] + WINDOW - now


def wait_before_next(
    by_client: list[datetime], by_address: list[datetime], now: datetime, limits: Limits = Limits()
) -> timedelta | None:
    """None if one more request is allowed; else how long until it is. The lists are the times
    of the requests in the last `WINDOW` from this client and naming this address."""
    waits = [
        wait
        for times, limit in ((by_client, limits.per_client), (by_address, limits.per_address))
        if (wait := _wait(times, limit, now)) is not None
    ]
    return max(waits) if waits else None


def wait_for_everyone(latest: list[datetime], now: datetime, limits: Limits = Limits()) -> timedelta | None:
    """The same for all requests together; `latest` needs only the newest `limits.per_hour`."""
    return _wait(latest, limits.per_hour, now)
