"""How failed password checks slow guessing down without handing attackers a lock-out button.

What counts. Every check of a password (a login, the current password of "Passwort ändern") is
reserved before the password is hashed: under an advisory lock on the account and one on the
client address, one statement counts what these rules look at and inserts the reservation. A
check the rules refuse deletes its row again and answers 429 with Retry-After, having hashed
nothing; until then it counts like a check under way, which can make another check wait but
never lets one through (every rule only tightens with more rows). A wrong password leaves the
reservation in place as the failure; a right one removes it, so success never counts as a
failure. A check still running counts like a failure: N parallel wrong attempts are checked at
most as often as the rules allow one after the other.

Lanes. An account's attempts are counted per lane: every browser the account trusts (a device
cookie from an earlier successful login or a password reset) is a lane of its own; all other
attempts, from anywhere, share the untrusted lane. A stranger fills only the untrusted lane, so
an owner with a device cookie is never locked out; "Passwort vergessen" is never throttled by
failures, and a reset clears them and trusts the browser it was done in.

Per lane:
- 5 in 5 minutes, then wait until the oldest of them is 5 minutes old (allauth's anchor): at most
  60 an hour, within ASVS 2.2.1's 100.
- 100 in a day (NIST SP 800-63B 5.2.2: at most 100 consecutive failures): guessing as fast as
  allowed reaches it after 1 h 40 min and then waits until the oldest is a day old. A success in
  between does not reset it (stricter than "consecutive"; members never get near it). A year of
  guessing is at most 36,500 attempts per lane against passwords of at least 12 characters
  outside the breached list.

Per client address (the gateway's `client`: the right-most untrusted X-Forwarded-For hop, IPv6
grouped by /64): 10 attempts in a minute make the address busy. Behind one address may sit a
whole office, a carrier's NAT or a proxy, with an attacker among the members, so a busy address
only slows down what looks like an attack. An attempt from a busy address is refused only when
both hold:
- it carries no device cookie the account trusts, and
- the account's untrusted lane saw a failure (or a check under way) within the last hour — a
  failure "from elsewhere": from no browser the account trusts.
The refusal lasts until either stops holding. So a member who typed the right password from the
attacker's address logs in when the account was not under attack, and always with a device
cookie; the attacker spraying wrong logins from the address gets at most one guess per account
an hour while it stays busy (24 a day, below the daily cap).
"""

from datetime import datetime, timedelta

ACCOUNT_LIMIT, ACCOUNT_WINDOW = 5, timedelta(minutes=5)
DAILY_LIMIT, DAY = 100, timedelta(days=1)
CLIENT_LIMIT, CLIENT_WINDOW = 10, timedelta(minutes=1)
QUIET = timedelta(hours=1)  # an account without untrusted failures this long is not under attack


def wait(lane: list[datetime], client: list[datetime], now: datetime, *, trusted: bool) -> timedelta | None:
    """How long the next attempt must wait (None: go ahead). `lane`: this lane's failures of the
    last day, `client`: the address's of the last minute, newest first, checks under way included."""
    waits = [
        _window_wait(lane, ACCOUNT_LIMIT, ACCOUNT_WINDOW, now),
        _window_wait(lane, DAILY_LIMIT, DAY, now),
        None if trusted else _busy_address_wait(lane, client, now),
    ]
    return max((w for w in waits if w is not None), default=None)


def retry_after(wait: timedelta) -> str:
    """Whole seconds, rounded up: a client that waits exactly this long is let through."""
    return str(int(wait.total_seconds()) + 1)


def _busy_address_wait(untrusted_lane: list[datetime], client: list[datetime], now: datetime) -> timedelta | None:
    busy = _window_wait(client, CLIENT_LIMIT, CLIENT_WINDOW, now)
    under_attack = _window_wait(untrusted_lane, 1, QUIET, now)
    if busy is None or under_attack is None:
        return None
    return min(busy, under_attack)


def _window_wait(failures: list[datetime], limit: int, window: timedelta, now: datetime) -> timedelta | None:
    recent = [at for at in failures if now - at < window]
    if len(recent) < limit:
        return None
    return recent[limit - 1] + window - now
