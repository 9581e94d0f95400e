"""What chamber staff see of the mails to one address ("my mail never came"): which mail, what
became of it and the mail server's answer, in German; never a mail's contents or secrets.

Pure: rows in, the answer out.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from services.notifications import domain, news, schedule

LIMIT = 100  # newest first; older ones are rarely what a caller on the phone means

KIND_LABELS = {
    domain.REGISTRATION_CONFIRMATION: "Bestätigung der E-Mail-Adresse",
    domain.ALREADY_REGISTERED: "Hinweis: bereits registriert",
    domain.INITIAL_PASSWORD: "Vorläufiges Passwort",
    domain.PASSWORD_RESET: "Passwort zurücksetzen",
    domain.PASSWORD_CHANGED: "Hinweis: Passwort geändert",
    domain.PIN_LETTER_ON_ITS_WAY: "PIN-Brief unterwegs",
    domain.BUSINESS_LINKED: "An den Betrieb: neue Verknüpfung",
    domain.MEMBER_LINKED: "Verknüpfung mit dem Betrieb",
    domain.CONTACT_REQUEST: "Kontaktanfrage an die Handwerkskammer",
    domain.CONTACT_COPY: "Kopie der Kontaktanfrage",
    news.MEMBER_UNLINKED: "Verknüpfung gelöst",
    news.BUSINESS_UNLINKED: "An den Betrieb: Verknüpfung beendet",
    news.THROTTLE_LIFTED: "Anmeldesperre aufgehoben",
    news.ACCOUNT_DEACTIVATED: "Konto gesperrt",
    news.ACCOUNT_REACTIVATED: "Konto wieder freigeschaltet",
    news.STAFF_SETUP: "Einladung Mitarbeiterkonto",
    news.ACCOUNT_ERASED: "Konto gelöscht",
}

QUEUED = "queued"
RETRYING = "retrying"
SENT = "sent"
STATE_LABELS = {
    SENT: "Versandt",
    RETRYING: "Wird erneut versucht",
    schedule.FAILED: "Fehlgeschlagen",
    schedule.EXPIRED: "Abgelaufen",
    QUEUED: "In Warteschlange",
}


class MailSeen(BaseModel):
    id: UUID
    kind: str
    kind_label: str
    state: str  # queued | retrying | sent | failed | expired
    state_label: str
    attempts: int
    last_error: str | None  # the mail server's answer to the last try
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None  # only while it waits for another try


class MailsOut(BaseModel):
    mails: list[MailSeen]


def state_of(queue_state: str, attempts: int) -> str:
    """The queue's own states, as staff ask about them: a mail that failed before and waits (or
    is being sent right now) is being retried."""
    if queue_state in (QUEUED, "processing"):
        return RETRYING if attempts > (0 if queue_state == QUEUED else 1) else QUEUED
    return queue_state


def seen(rows: Iterable[Mapping[str, Any]]) -> MailsOut:
    mails = []
    for row in rows:
        state = state_of(row["state"], row["attempts"])
        mails.append(
            MailSeen(
                id=row["id"],
                kind=row["kind"],
                kind_label=KIND_LABELS.get(row["kind"], row["kind"]),
                state=state,
                state_label=STATE_LABELS[state],
                attempts=row["attempts"],
                last_error=row["last_error"],
                created_at=row["created_at"],
                sent_at=row["sent_at"],
                next_attempt_at=row["next_attempt_at"] if state in (QUEUED, RETRYING) else None,
            )
        )
    return MailsOut(mails=mails)
