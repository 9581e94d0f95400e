"""The rules of an account, without I/O: what a valid registration is, when links expire."""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from runtime.crypto import random_string
from runtime.german import BERLIN
from runtime.validation import CONTROL_CHARACTERS, CONTROL_MESSAGE, Invalid, clean_email  # noqa: F401 (rules here)

ADULT_AGE = 18
OLDEST_AGE = 120
INITIAL_PASSWORD_LENGTH = 14
MAX_CONFIRMATION_MAILS_PER_HOUR = 5
REPEAT_NOTICE_INTERVAL = timedelta(hours=1)
MAX_RESET_MAILS_PER_HOUR = 5
# A session's last use is written at most this often (the gateway caches for seconds anyway).
SESSION_TOUCH_INTERVAL = timedelta(minutes=1)

_NAME = re.compile(r"^[^\W\d_]+(?:(?:[ .'’-]|\. )[^\W\d_]+)*\.?$")
# Every field of accounts is a single line: tab and line breaks, which a message may hold and
# parse_json lets pass, are refused here too (an address with a line break is a mail header).
_LINE_BREAKS = re.compile(r"[\t\n\r]")


def refuse_control_characters(value: str) -> str:
    if CONTROL_CHARACTERS.search(value) or _LINE_BREAKS.search(value):
        raise Invalid(CONTROL_MESSAGE)
    return value


def clean_name(value: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", refuse_control_characters(value)).split())
    if not name:
        raise Invalid("Bitte füllen Sie dieses Feld aus.")
    if len(name) > 100:
        raise Invalid("Bitte kürzen Sie den Namen auf höchstens 100 Zeichen.")
    if not _NAME.match(name):
        raise Invalid("Bitte verwenden Sie nur Buchstaben, Leerzeichen, Bindestrich, Punkt oder Apostroph.")
    return name


def email_key(email: str) -> str:
    """How addresses are matched: case does not matter (the e-mail is the user name)."""
    return email.strip().lower()


def parse_birth_date(value: str, today: date) -> date:
    text = value.strip()
    born: date | None = None
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            born = datetime.strptime(text, pattern).date()
            break
        except ValueError:
            continue
    if born is None:
        raise Invalid("Bitte geben Sie Ihr Geburtsdatum ein (TT.MM.JJJJ).")
    if born > today:
        raise Invalid("Das Geburtsdatum liegt in der Zukunft. Bitte prüfen Sie Ihre Eingabe.")
    if age_on(born, today) < ADULT_AGE:
        raise Invalid("Für die Registrierung müssen Sie mindestens 18 Jahre alt sein.")
    if age_on(born, today) > OLDEST_AGE:
        raise Invalid("Bitte prüfen Sie Ihr Geburtsdatum.")
    return born


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def local_today(now: datetime) -> date:
    return now.astimezone(BERLIN).date()


def new_initial_password() -> str:
    """Typed by hand from a mail: no look-alikes (l/I/1, O/0), 14 of 56 symbols ≈ 81 bits."""
    return random_string(INITIAL_PASSWORD_LENGTH)


@dataclass(frozen=True)
class ConfirmationState:
    found: bool
    used: bool = False
    expired: bool = False
    user_active: bool = False


def confirmation_problem(state: ConfirmationState) -> tuple[int, str, str] | None:
    """Why a confirmation link cannot be used (status, code, German message), or None."""
    if not state.found:
        return (
            400,
            "token_invalid",
            (
                "Dieser Bestätigungslink ist ungültig. Bitte prüfen Sie, ob Sie den Link vollständig "
                "aus der E-Mail übernommen haben."
            ),
        )
    if state.used or state.user_active:
        return (
            409,
            "token_used",
            (
                "Ihre E-Mail-Adresse ist bereits bestätigt. Das Passwort zu Ihrer Registrierung "
                "wurde Ihnen per E-Mail zugesandt."
            ),
        )
    if state.expired:
        return (
            410,
            "token_expired",
            (
                "Dieser Bestätigungslink ist abgelaufen. Bitte registrieren Sie sich erneut mit "
                "derselben E-Mail-Adresse – Sie erhalten dann einen neuen Link."
            ),
        )
    return None


def reset_problem(state: ConfirmationState) -> tuple[int, str, str] | None:
    """Why a reset link cannot be used (status, code, German message), or None."""
    if not state.found:
        return (
            400,
            "token_invalid",
            (
                "Dieser Link zum Zurücksetzen ist ungültig. Bitte prüfen Sie, ob Sie den Link vollständig "
                "aus der E-Mail übernommen haben."
            ),
        )
    if state.used:
        return (
            409,
            "token_used",
            (
                "Dieser Link wurde bereits verwendet. Wenn Sie Ihr Passwort erneut zurücksetzen möchten, "
                "nutzen Sie bitte noch einmal „Passwort vergessen“."
            ),
        )
    if state.expired:
        return (
            410,
            "token_expired",
            ("Dieser Link zum Zurücksetzen ist abgelaufen. Bitte nutzen Sie noch einmal „Passwort vergessen“."),
        )
    return None
