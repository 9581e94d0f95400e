"""Failed links slow guessing down until it is hopeless, and never lock the real member out.

Counted are wrong PINs, any PIN for an unknown Betriebsnummer and a letter asked for an unknown
one, each reserved before it is checked (attempts.py), so attempts that arrive all at once are
counted as strictly as one after the other; a PIN that is right but used or expired is no guess
and does not count. Defaults, all configurable:
- per member (account): 5 failures an hour, 20 a day, over all businesses;
- per client address: 20 an hour, 100 a day (accounts are cheap, addresses less so);
- per business: from 50 failures in a day on, the business is "under attack": it is logged and
  counted (`pins_businesses_under_attack_total`), and then a member who already failed for that
  business today must wait a day. The business itself is never refused outright: the real
  member's first attempt of the day is always checked, and a correct PIN always links. No
  PIN is ever invalidated by failures.

The arithmetic, against 32^8 ≈ 1.1e12 PINs with at most 4 valid at once per business (2 letters
on request in 30 days, each valid 30 days, plus the yearly one valid 60 days):
- one account: ≤ 20 × 365 = 7,300 guesses a year → 7,300 × 4 / 1.1e12 ≈ 2.7e-8 per year;
- one address: ≤ 100 × 365 = 36,500 a year → ≈ 1.3e-7 per year;
- one business under attack by A confirmed accounts: ≤ (50 + A) a day; A = 1,000 →
  1,050 × 365 × 4 / 1.1e12 ≈ 1.4e-6 per year;
- the whole register, by a botnet of 10,000 addresses: ≤ 3.65e8 guesses a year, each hitting one
  business's ≤ 4 PINs → ≈ 1.3e-3 expected successes a year (one in ~750 years).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


@dataclass(frozen=True)
class LinkLimits:
    member_hour: int = 5
    member_day: int = 20
    client_hour: int = 20
    client_day: int = 100
    business_day: int = 50


@dataclass(frozen=True)
class Failures:
    member: list[tuple[datetime, str]]  # newest first: when, for which Betriebsnummer
    client: list[datetime]  # newest first
    business: int  # the business's failures in the last day


def under_attack(failures: Failures, limits: LinkLimits) -> bool:
    return failures.business >= limits.business_day


def wait(failures: Failures, betriebsnummer: str, now: datetime, limits: LinkLimits) -> timedelta | None:
    """How long the member must wait before the next attempt (None: check it now)."""
    member = [at for at, _ in failures.member]
    here = [at for at, number in failures.member if number == betriebsnummer]
    waits = [
        window_wait(member, limits.member_hour, HOUR, now),
        window_wait(member, limits.member_day, DAY, now),
        window_wait(failures.client, limits.client_hour, HOUR, now),
        window_wait(failures.client, limits.client_day, DAY, now),
    ]
    if under_attack(failures, limits):
        waits.append(window_wait(here, 1, DAY, now))
    return max((w for w in waits if w is not None), default=None)


def window_wait(failures: list[datetime], limit: int, window: timedelta, now: datetime) -> timedelta | None:
    recent = [at for at in failures if now - at < window]
    if len(recent) < limit:
        return None
    return recent[limit - 1] + window - now
