from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import Event, Sealed


class UserRegisteredV1(Event):
    """A person registered (or registered again while still unconfirmed): mail the link."""

    SUBJECT: ClassVar[str] = "user.registered.v1"
    STREAM: ClassVar[str] = "PORTAL_USERS"

    version: Literal[1] = 1
    user_id: UUID
    email: str = Field(max_length=254)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    confirmation_link: Sealed = Field(description="The confirmation URL, sealed to notifications.")
    link_expires_at: datetime
