"""How the portal speaks of time and whom it names for help: one definition for every service.

Members read dates as TT.MM.JJJJ in Wiesbaden's time; the chamber's support contact is the one
the seed names ("Noch Fragen? Kontaktieren Sie uns!"), overridable per service by settings.
"""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")
SUPPORT_EMAIL = "kundenportal@hwk-wiesbaden.de"
SUPPORT_PHONE = "0611 136-444"


def in_berlin(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:  # the services and the contracts speak UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BERLIN)


def german_date(value: date | datetime | str) -> str:
    """A moment as its day in Wiesbaden; a plain day (`2025-03-31`) as that day."""
    if isinstance(value, str) and len(value) == 10:
        value = date.fromisoformat(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.strftime("%d.%m.%Y")
    return in_berlin(value).strftime("%d.%m.%Y")


def german_datetime(value: datetime | str) -> str:
    return in_berlin(value).strftime("%d.%m.%Y, %H:%M Uhr")


def german_time(value: datetime | str) -> str:
    return in_berlin(value).strftime("%H:%M Uhr")


def local_today(now: datetime) -> date:
    return now.astimezone(BERLIN).date()
