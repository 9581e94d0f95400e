"""How many PIN letters may be asked for, so nobody can flood a business (or the print shop).

Only letters members ask for count (`user_request`); the yearly letters do not. Defaults:
- per business 1 letter in 7 days and 2 in 30 days: a letter takes a few days in the post
  (ELSTER allows up to 14); asking again before it could arrive only adds paper. A stranger who
  asks for a business's letter gains nothing: it goes to the business's address of record, and
  the real member can use that PIN — which is why the refusal says a letter is on its way.
- per member 3 letters in 30 days, over all businesses: one person, a few businesses at most.
At most 26 letters a year reach one business on request, whoever asks.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

WEEK, MONTH = timedelta(days=7), timedelta(days=30)


@dataclass(frozen=True)
class RequestLimits:
    per_business_week: int = 1
    per_business_month: int = 2
    per_member_month: int = 3


@dataclass(frozen=True)
class Refusal:
    who: str  # "business" or "member"
    next_allowed: datetime
    last_requested: datetime


def refusal(
    business_letters: list[datetime], member_letters: list[datetime], now: datetime, limits: RequestLimits
) -> Refusal | None:
    """Why no new letter may be asked for now, or None. Lists are newest first."""
    business = max(
        (
            at
            for at in (
                next_allowed(business_letters, limits.per_business_week, WEEK, now),
                next_allowed(business_letters, limits.per_business_month, MONTH, now),
            )
            if at is not None
        ),
        default=None,
    )
    if business is not None:
        return Refusal("business", business, business_letters[0])
    member = next_allowed(member_letters, limits.per_member_month, MONTH, now)
    if member is not None:
        return Refusal("member", member, member_letters[0])
    return None


def next_allowed(times: list[datetime], limit: int, window: timedelta, now: datetime) -> datetime | None:
    """When the window holds fewer than `limit` again (None: it does now). Newest first."""
    recent = [at for at in times if now - at < window]
    if len(recent) < limit:
        return None
    return recent[limit - 1] + window
