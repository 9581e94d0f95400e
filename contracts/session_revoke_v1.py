from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import Event


class SessionRevokeV1(Event):
    """Tells every gateway replica to drop cached sessions. The cut-off itself is already
    committed in accounts; this only shortens how long a cache may still honour a session."""

    SUBJECT: ClassVar[str] = "session.revoke.v1"
    STREAM: ClassVar[str] = "PORTAL_SESSIONS"

    version: Literal[1] = 1
    user_id: UUID
    all_sessions: bool = Field(description="True: every session of the user ends.")
    session_ids: list[UUID] = Field(
        default_factory=list, description="Public ids of the sessions that end, when not all."
    )
    except_session_id: UUID | None = Field(
        default=None, description="With all_sessions: the one session that stays (password change)."
    )
    reason: Literal["logout", "password_changed", "password_reset", "business_linked", "expired", "staff"]
