from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from contracts.base import Event


class UserChangedByStaffV1(Event):
    """Chamber staff changed something of a member's account; the member is told by mail.

    Resending the confirmation or a new initial password is not among the changes: the mail those
    send (user.registration_repeated.v1, user.confirmed.v1) tells the member itself."""

    SUBJECT: ClassVar[str] = "user.changed_by_staff.v1"
    STREAM: ClassVar[str] = "PORTAL_USERS"

    version: Literal[1] = 1
    user_id: UUID
    change: Literal["throttle_lifted", "deactivated", "reactivated"]
    changed_at: datetime
