from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import Event, Sealed


class UserConfirmedV1(Event):
    """The e-mail address is confirmed and the account active: mail the initial password."""

    SUBJECT: ClassVar[str] = "user.confirmed.v1"
    STREAM: ClassVar[str] = "PORTAL_USERS"

    version: Literal[1] = 1
    user_id: UUID
    email: str = Field(max_length=254)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    initial_password: Sealed = Field(description="The initial password, sealed to notifications.")
    initial_password_expires_at: datetime
