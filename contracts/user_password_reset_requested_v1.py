from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from contracts.base import Sealed, UserEvent


class UserPasswordResetRequestedV1(UserEvent):
    """A member asked for "Passwort vergessen": mail the single-use reset link."""

    SUBJECT: ClassVar[str] = "user.password_reset_requested.v1"
    STREAM: ClassVar[str] = "PORTAL_USERS"

    version: Literal[1] = 1
    reset_link: Sealed = Field(description="The reset URL, sealed to notifications.")
    link_expires_at: datetime
    purpose: Literal["reset", "staff_setup"] = Field(
        default="reset",
        description="reset: Passwort vergessen; staff_setup: a new staff account sets its first password.",
    )
