from typing import ClassVar, Literal

from contracts.base import UserEvent


class UserRegistrationRepeatedV1(UserEvent):
    """Someone registered an address that already belongs to a confirmed account.

    The answer to the registration is the same as for a new address (no enumeration); the owner
    of the address is told by mail instead, with the way to log in or reset the password.
    """

    SUBJECT: ClassVar[str] = "user.registration_repeated.v1"
    STREAM: ClassVar[str] = "PORTAL_USERS"

    version: Literal[1] = 1
