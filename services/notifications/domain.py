"""The mail queue's rules: which event makes which mail, and when a failed mail is tried again.

Pure: no I/O, and time comes in as `now`.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from contracts import (
    Event,
    UserConfirmedV1,
    UserPasswordChangedV1,
    UserPasswordResetRequestedV1,
    UserRegisteredV1,
    UserRegistrationRepeatedV1,
)

REGISTRATION_CONFIRMATION = "registration_confirmation"
ALREADY_REGISTERED = "already_registered"
INITIAL_PASSWORD = "initial_password"
PASSWORD_RESET = "password_reset"
PASSWORD_CHANGED = "password_changed"

SUBJECTS = {
    REGISTRATION_CONFIRMATION: "Bitte bestätigen Sie Ihre E-Mail-Adresse",
    ALREADY_REGISTERED: "Sie sind bereits registriert",
    INITIAL_PASSWORD: "Ihr Passwort für das Kundenportal",
    PASSWORD_RESET: "Passwort zurücksetzen",
    PASSWORD_CHANGED: "Ihr Passwort wurde geändert",
}

# How a password was changed (UserPasswordChangedV1.how), as the security notice names it.
PASSWORD_ROUTES = {
    "changed": "über „Passwort ändern“",
    "reset": "über „Passwort vergessen“",
}

MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
SEND_DEADLINE = timedelta(seconds=25)  # one mail, all SMTP round trips together
# Longer than a batch of 10 at SEND_DEADLINE each: an expired lease means a dead worker.
LEASE = timedelta(minutes=5)
BERLIN = ZoneInfo("Europe/Berlin")


@dataclass(frozen=True)
class NewMail:
    source_event_id: UUID
    kind: str
    recipient: str
    context: dict[str, Any]  # template values that are no secret
    sealed: dict[str, str] = field(default_factory=dict)  # still sealed to notifications


@dataclass(frozen=True)
class QueuedMail:
    """A mail claimed for sending."""

    id: UUID
    kind: str
    recipient: str
    context: dict[str, Any]
    sealed: dict[str, str]
    attempts: int  # tries so far, this one included


@dataclass(frozen=True)
class Retry:
    at: datetime


@dataclass(frozen=True)
class Abandon:
    pass


def mail_for(event: Event) -> NewMail:
    person = {
        "first_name": getattr(event, "first_name", ""),
        "last_name": getattr(event, "last_name", ""),
    }
    if isinstance(event, UserRegisteredV1):
        return NewMail(event.event_id, REGISTRATION_CONFIRMATION, event.email,
                       {**person, "link_expires_at": event.link_expires_at.isoformat()},
                       {"confirmation_link": event.confirmation_link})
    if isinstance(event, UserRegistrationRepeatedV1):
        return NewMail(event.event_id, ALREADY_REGISTERED, event.email, person)
    if isinstance(event, UserConfirmedV1):
        expires = event.initial_password_expires_at.isoformat()
        return NewMail(event.event_id, INITIAL_PASSWORD, event.email,
                       {**person, "initial_password_expires_at": expires},
                       {"initial_password": event.initial_password})
    if isinstance(event, UserPasswordResetRequestedV1):
        return NewMail(event.event_id, PASSWORD_RESET, event.email,
                       {**person, "link_expires_at": event.link_expires_at.isoformat()},
                       {"reset_link": event.reset_link})
    if isinstance(event, UserPasswordChangedV1):
        return NewMail(event.event_id, PASSWORD_CHANGED, event.email,
                       {**person, "changed_at": event.changed_at.isoformat(), "how": event.how})
    raise ValueError(f"no mail for {event.SUBJECT}")


def retry_delay(attempts: int, first: timedelta = FIRST_RETRY) -> timedelta:
    """The wait after the `attempts`-th failed try: 30 s, 1 min, 2 min, … at most 1 h."""
    exponent = min(max(attempts - 1, 0), 20)
    return min(first * 2**exponent, LONGEST_RETRY)


def after_failure(
    attempts: int, now: datetime, *, permanent: bool = False, first_retry: timedelta = FIRST_RETRY
) -> Retry | Abandon:
    """`attempts` counts the tries made so far, the failed one included."""
    if permanent or attempts >= MAX_ATTEMPTS:
        return Abandon()
    return Retry(now + retry_delay(attempts, first_retry))


def lease_until(now: datetime) -> datetime:
    return now + LEASE


def message_id(mail_id: UUID) -> str:
    """The same for every resend of one mail, so a receiver can spot a duplicate."""
    return f"<{mail_id}@kundenportal>"


def german_datetime(value: datetime | str) -> str:
    return _in_berlin(value).strftime("%d.%m.%Y, %H:%M Uhr")


def german_date(value: datetime | str) -> str:
    return _in_berlin(value).strftime("%d.%m.%Y")


def german_time(value: datetime | str) -> str:
    return _in_berlin(value).strftime("%H:%M Uhr")


def password_route(how: str) -> str:
    """'über „Passwort ändern“' and the like; a KeyError for an unknown way (no guessing)."""
    return PASSWORD_ROUTES[how]


def _in_berlin(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:  # the contracts promise UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BERLIN)
