"""The README's retention table states the numbers the housekeeping uses."""

import re
from datetime import timedelta
from pathlib import Path

from runtime import retention
from services.accounts import audit as accounts_audit
from services.accounts import housekeeping as accounts
from services.accounts import otp
from services.accounts.settings import Settings as AccountsSettings
from services.notifications import contact
from services.notifications import housekeeping as notifications
from services.pins import audit as pins_audit
from services.pins import housekeeping as pins

README = Path(__file__).resolve().parents[2] / "README.md"
ACCOUNTS = AccountsSettings.model_fields

EXPECTED = {
    "never-confirmed registrations": timedelta(days=ACCOUNTS["unconfirmed_days"].default),
    "confirmation and reset links": accounts.SPENT_LINKS,
    "sessions": timedelta(hours=ACCOUNTS["session_absolute_hours"].default),
    "devices (trusted browsers)": timedelta(days=ACCOUNTS["device_days"].default),
    "failed logins": accounts.LOGIN_FAILURES,
    "failed PIN attempts": pins.LINK_FAILURES,
    "sent mails' contents (the rendered data and sealed secrets)": notifications.MAIL_CONTENTS,
    "contact requests (the message and its copy)": notifications.CONTACT_CONTENTS,
    "mails' records (kind, recipient, state, when, the server's answer)": notifications.MAIL_RECORDS,
    "the contact form's throttle rows (client address, keyed address)": contact.WINDOW,
    "erased people's tombstones (user id, when; no address, no name)": retention.TOMBSTONES,
    "staff audit lines (who, what, on which account id or Betriebsnummer, when; no address, no name)": (
        retention.STAFF_AUDIT
    ),
    "wrong second-factor codes (staff account, when)": otp.FAILURE_WINDOW,
    "processed-event markers": retention.PROCESSED_EVENTS,
    "published outbox rows": retention.PUBLISHED_OUTBOX,
    "dead letters": retention.RESOLVED_DEAD_LETTERS,
}


def table() -> dict[str, str]:
    """`what` → `how long`, from the README's "Retention" section."""
    section = README.read_text(encoding="utf-8").split("\n## Retention\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): cells[2].strip() for cells in rows[1:]}


def duration(text: str) -> timedelta:
    number, unit = re.search(r"(\d+) (day|hour|minute)s?", text).groups()
    return timedelta(**{unit + "s": int(number)})


def test_every_row_states_the_lifetime_in_the_code() -> None:
    rows = table()
    assert rows.keys() == EXPECTED.keys()
    assert {what: duration(how_long) for what, how_long in rows.items()} == EXPECTED


def test_the_services_use_the_shared_lifetimes() -> None:
    assert notifications.TOMBSTONES == pins.TOMBSTONES == retention.TOMBSTONES
    assert accounts_audit.RETENTION == pins_audit.AUDIT_KEPT == retention.STAFF_AUDIT
