"""The Datenschutzerklärung states the services' lifetimes in German (services/gateway/retention.py).
The gateway imports no other service, so its numbers are copies: this test holds each copy to the
setting or constant it repeats, so a lifetime changed in a service fails here until the notice
says the same."""

import re
from datetime import timedelta

from runtime import retention
from services.accounts import housekeeping as accounts
from services.accounts.settings import Settings as AccountsSettings
from services.gateway.retention import RETENTION
from services.notifications import housekeeping as notifications
from services.pins import housekeeping as pins
from services.pins.settings import LetterSettings

ACCOUNTS = AccountsSettings.model_fields
PINS = LetterSettings.model_fields
UNITS = {"Minute": "minutes", "Minuten": "minutes", "Stunde": "hours", "Stunden": "hours", "Tag": "days"}
UNITS |= {"Tage": "days", "Jahr": "days", "Jahre": "days"}


def durations(text: str) -> list[timedelta]:
    """Every "<n> <unit>" in a German sentence, in order; a year is 365 days."""
    found = []
    for number, unit in re.findall(r"(\d+) (Minuten|Minute|Stunden|Stunde|Tage|Tag|Jahre|Jahr)\b", text):
        amount = int(number) * (365 if unit.startswith("Jahr") else 1)
        found.append(timedelta(**{UNITS[unit]: amount}))
    return found


# The notice's row (by the start of its "what") → the lifetimes it names, in the order it names them.
EXPECTED: dict[str, list[timedelta]] = {
    "Nicht bestätigte Registrierungen": [timedelta(days=ACCOUNTS["unconfirmed_days"].default)],
    "Bestätigungs- und Passwort-Links": [
        timedelta(hours=ACCOUNTS["confirmation_link_hours"].default),
        timedelta(minutes=ACCOUNTS["reset_link_minutes"].default),
    ],
    "Sitzungen": [
        timedelta(minutes=ACCOUNTS["session_idle_minutes"].default),
        timedelta(hours=ACCOUNTS["session_absolute_hours"].default),
    ],
    "Vertrauenswürdige Geräte": [timedelta(days=ACCOUNTS["device_days"].default)],
    "Fehlgeschlagene Anmeldeversuche": [accounts.LOGIN_FAILURES],
    "Fehlgeschlagene PIN-Eingaben": [pins.LINK_FAILURES],
    "PIN-Briefe": [
        timedelta(days=PINS["pin_valid_days"].default),
        timedelta(days=PINS["annual_pin_valid_days"].default),
    ],
    "Inhalte der E-Mails": [notifications.MAIL_CONTENTS],
    "Versandnachweis der E-Mails": [notifications.MAIL_RECORDS],
    "Kontaktanfragen": [notifications.CONTACT_CONTENTS],
    "Nachrichten zwischen den Diensten": [retention.PUBLISHED_OUTBOX, retention.PROCESSED_EVENTS],
    # three years; the code's extra day covers a leap day
    "Protokoll der Bearbeitung": [timedelta(days=365 * (retention.STAFF_AUDIT.days // 365))],
    "Löschvermerk": [retention.TOMBSTONES],
}


def test_every_lifetime_in_the_privacy_notice_is_the_services_own() -> None:
    stated = {row.what: durations(row.how_long) for row in RETENTION}
    for start, expected in EXPECTED.items():
        (what,) = [w for w in stated if w.startswith(start)]
        assert stated[what] == expected, what


def test_every_row_with_a_number_is_checked() -> None:
    unchecked = [
        row.what
        for row in RETENTION
        if durations(row.how_long) and not any(row.what.startswith(start) for start in EXPECTED)
    ]
    assert unchecked == []


def test_durations_reads_german() -> None:
    assert durations("gültig 48 Stunden bzw. 60 Minuten, 1 Jahr, 2 Tage") == [
        timedelta(hours=48),
        timedelta(minutes=60),
        timedelta(days=365),
        timedelta(days=2),
    ]
