"""How failed logins slow guessing down without handing attackers a lock-out button.

Per account: 5 failures in 5 minutes, then wait until the oldest of them is 5 minutes old
(allauth's anchor) — at most 60 failures an hour, within ASVS 2.2.1's 100. Per client address:
10 in a minute. A browser the account trusts (a device cookie from an earlier successful login
or a password reset) is counted apart from everyone else, so an attacker who keeps an account
throttled does not lock its owner out; and "Passwort vergessen" is never throttled by failures.
"""

from datetime import datetime, timedelta

ACCOUNT_LIMIT, ACCOUNT_WINDOW = 5, timedelta(minutes=5)
CLIENT_LIMIT, CLIENT_WINDOW = 10, timedelta(minutes=1)


def wait(account_failures: list[datetime], client_failures: list[datetime], now: datetime) -> timedelta | None:
    """How long the next attempt must wait (None: go ahead). Lists are newest first."""
    waits = [
        _window_wait(account_failures, ACCOUNT_LIMIT, ACCOUNT_WINDOW, now),
        _window_wait(client_failures, CLIENT_LIMIT, CLIENT_WINDOW, now),
    ]
    longest = max((w for w in waits if w is not None), default=None)
    return longest


def _window_wait(failures: list[datetime], limit: int, window: timedelta, now: datetime) -> timedelta | None:
    recent = [at for at in failures if now - at < window]
    if len(recent) < limit:
        return None
    return recent[limit - 1] + window - now
