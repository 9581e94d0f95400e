"""The records the mail rules speak of: a mail to queue, a mail claimed for sending, and who a
user id is. Plain data, shared by the rules (`domain`, `news`) and the SQL."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class NewMail:
    source_event_id: UUID
    kind: str
    recipient: str
    context: dict[str, Any]  # template values that are no secret
    sealed: dict[str, str] = field(default_factory=dict)  # still sealed to notifications
    made_at: datetime = field(kw_only=True)  # when its event happened
    # When what it carries stops working (a link, the initial password, a PIN), if it says.
    expires_at: datetime | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class QueuedMail:
    """A mail claimed for sending."""

    id: UUID
    kind: str
    recipient: str
    context: dict[str, Any]
    sealed: dict[str, str]
    attempts: int  # tries so far, this one included
    useful_until: datetime
    takeovers: int = 0  # claims taken over from a worker whose lease ran out
    request_id: str | None = None  # the request that caused it (X-Request-Id), for the logs


@dataclass(frozen=True)
class Recipient:
    """A row of the recipients projection: who a user id is, as of `updated_at`."""

    user_id: UUID
    email: str
    first_name: str
    last_name: str
    updated_at: datetime
