from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from contracts.base import Sealed, UserEvent


class UserRegisteredV1(UserEvent):
    """A person registered (or registered again while still unconfirmed): mail the link."""

    SUBJECT: ClassVar[str] = "user.registered.v1"
    STREAM: ClassVar[str] = "PORTAL_USERS"

    version: Literal[1] = 1
    confirmation_link: Sealed = Field(description="The confirmation URL, sealed to notifications.")
    link_expires_at: datetime
