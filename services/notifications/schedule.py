"""When the mail queue does what: how long a mail is worth sending, which goes first, when a
failed one is tried again, and how long a worker's claim on a mail lasts.

Pure: no I/O, and time comes in as `now`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.notifications.domain import (
    ALREADY_REGISTERED,
    BUSINESS_LINKED,
    CONTACT_COPY,
    CONTACT_REQUEST,
    INITIAL_PASSWORD,
    MEMBER_LINKED,
    PASSWORD_CHANGED,
    PASSWORD_RESET,
    PIN_LETTER_ON_ITS_WAY,
    REGISTRATION_CONFIRMATION,
    NewMail,
)
from services.notifications.news import (
    ACCOUNT_DEACTIVATED,
    ACCOUNT_ERASED,
    ACCOUNT_REACTIVATED,
    BUSINESS_UNLINKED,
    MEMBER_UNLINKED,
    STAFF_SETUP,
    THROTTLE_LIFTED,
)

# A claim on a mail lasts LEASE and the worker that holds it renews it every HEARTBEAT while it
# lives, however long its batch takes; a dead worker's mails are free again within LEASE. Three
# renewals may fail in a row (a slow database) before a live worker loses a claim.
LEASE = timedelta(seconds=20)
HEARTBEAT = timedelta(seconds=5)
SEND_DEADLINE = timedelta(seconds=25)  # one mail, all SMTP round trips together
# A mail whose claim expired this often killed or hung its workers each time it was sent.
MAX_TAKEOVERS = 5

FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
# A mail whose next retry would come after its purpose ends gets one more try this long before.
LAST_CHANCE = timedelta(minutes=5)

# How long a mail is worth sending when its event names no end, counted from the event. Late is
# better than never for these: a security notice or a question to support still matters after a
# long outage; a note that what the member just did worked matters for a week or so.
LIFETIMES = {
    ALREADY_REGISTERED: timedelta(days=7),
    PASSWORD_CHANGED: timedelta(days=14),
    BUSINESS_LINKED: timedelta(days=14),
    MEMBER_LINKED: timedelta(days=7),
    CONTACT_REQUEST: timedelta(days=30),
    CONTACT_COPY: timedelta(days=7),
    # Who lost access, or whose account staff changed, should hear it even after an outage.
    MEMBER_UNLINKED: timedelta(days=14),
    BUSINESS_UNLINKED: timedelta(days=14),
    THROTTLE_LIFTED: timedelta(days=2),  # "you can log in again" is stale once they tried
    ACCOUNT_DEACTIVATED: timedelta(days=14),
    ACCOUNT_REACTIVATED: timedelta(days=7),
    # The last word to an erased person: its row holds their address until settled, so not long.
    ACCOUNT_ERASED: timedelta(days=3),
}

# Which mails go first when a backlog drains (0 first; then the oldest first): the reset link
# lives an hour; without the confirmation link or the initial password a member cannot get in;
# then what someone waits for or should know soon; then what only informs.
URGENCY = {
    PASSWORD_RESET: 0,
    REGISTRATION_CONFIRMATION: 1,
    INITIAL_PASSWORD: 1,
    CONTACT_REQUEST: 2,
    ALREADY_REGISTERED: 2,
    PASSWORD_CHANGED: 2,
    BUSINESS_LINKED: 2,
    PIN_LETTER_ON_ITS_WAY: 3,
    MEMBER_LINKED: 3,
    CONTACT_COPY: 3,
    STAFF_SETUP: 1,  # like the confirmation link: without it a new colleague cannot get in
    THROTTLE_LIFTED: 1,  # someone is on the phone with support, waiting to log in
    ACCOUNT_REACTIVATED: 2,
    ACCOUNT_DEACTIVATED: 2,
    MEMBER_UNLINKED: 2,
    BUSINESS_UNLINKED: 2,
    ACCOUNT_ERASED: 2,
}


def useful_until(mail: NewMail) -> datetime:
    """When a mail's purpose ends: the end its event names (the link, the initial password, the
    PIN), else its kind's lifetime from the event."""
    if mail.expires_at is not None:
        return mail.expires_at
    return mail.made_at + LIFETIMES[mail.kind]


def urgency(kind: str) -> int:
    return URGENCY[kind]


@dataclass(frozen=True)
class Retry:
    at: datetime
    server: bool  # the server failed, not this mail: the first mail that goes out brings it forward


@dataclass(frozen=True)
class GiveUp:
    state: str  # FAILED or EXPIRED, as the queue records it


FAILED = "failed"  # refused for good (5xx), or it cannot be built
EXPIRED = "expired"  # its purpose ended before it could be sent


def retry_delay(attempts: int, first: timedelta = FIRST_RETRY) -> timedelta:
    """The wait after the `attempts`-th failed try: 30 s, 1 min, 2 min, … at most 1 h."""
    exponent = min(max(attempts - 1, 0), 20)
    return min(first * 2**exponent, LONGEST_RETRY)


def after_failure(
    attempts: int,
    now: datetime,
    useful: datetime,
    *,
    permanent: bool = False,
    server: bool = False,
    first_retry: timedelta = FIRST_RETRY,
) -> Retry | GiveUp:
    """`attempts` counts the tries made so far, the failed one included; `useful` is the mail's
    useful_until. A passing failure is retried as long as the mail is useful, however often."""
    if permanent:
        return GiveUp(FAILED)
    if now >= useful:
        return GiveUp(EXPIRED)
    at = now + retry_delay(attempts, first_retry)
    last_chance = useful - LAST_CHANCE
    if at > last_chance > now:
        at = last_chance
    return Retry(at, server)
