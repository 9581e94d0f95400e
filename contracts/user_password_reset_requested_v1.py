from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import Event, Sealed


class UserPasswordResetRequestedV1(Event):
    """A member asked for "Passwort vergessen": mail the single-use reset link."""

    SUBJECT: ClassVar[str] = "user.password_reset_requested.v1"
    STREAM: ClassVar[str] = "PORTAL_USERS"

    version: Literal[1] = 1
    user_id: UUID
    email: str = Field(max_length=254)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    reset_link: Sealed = Field(description="The reset URL, sealed to notifications.")
    link_expires_at: datetime
