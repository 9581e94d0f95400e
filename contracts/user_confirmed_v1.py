from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from contracts.base import Sealed, UserEvent


class UserConfirmedV1(UserEvent):
    """The e-mail address is confirmed and the account active: mail the initial password (or staff
    sent a confirmed account a new one: `reissued_by_staff`)."""

    SUBJECT: ClassVar[str] = "user.confirmed.v1"
    STREAM: ClassVar[str] = "PORTAL_USERS"

    version: Literal[1] = 1
    initial_password: Sealed = Field(description="The initial password, sealed to notifications.")
    initial_password_expires_at: datetime
    reissued_by_staff: bool = Field(
        default=False,
        description="Chamber staff sent this account a new initial password; the account was confirmed before.",
    )
