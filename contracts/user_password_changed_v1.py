from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from contracts.base import UserEvent


class UserPasswordChangedV1(UserEvent):
    """The password of an account was changed or reset: tell the owner ("Ihr Passwort wurde
    geändert"), so a change they did not make does not go unnoticed."""

    SUBJECT: ClassVar[str] = "user.password_changed.v1"
    STREAM: ClassVar[str] = "PORTAL_USERS"

    version: Literal[1] = 1
    changed_at: datetime
    how: Literal["changed", "reset"] = Field(description="'Passwort ändern' or 'Passwort vergessen'.")
