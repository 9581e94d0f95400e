from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import Event


class UserDeletedV1(Event):
    """The member deleted their account ("Konto löschen"), or staff erased it: every service erases or anonymises
    what it holds about that person. Names no e-mail address and no name on purpose: the stream
    keeps events for weeks, and the person is to be gone from it too."""

    SUBJECT: ClassVar[str] = "user.deleted.v1"
    STREAM: ClassVar[str] = "PORTAL_USERS"

    version: Literal[1] = 1
    user_id: UUID
    deleted_at: datetime
    deleted_by: Literal["member", "staff"] = Field(default="member", description="Who erased the account.")
