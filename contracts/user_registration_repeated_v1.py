from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import Event


class UserRegistrationRepeatedV1(Event):
    """Someone registered an address that already belongs to a confirmed account.

    The answer to the registration is the same as for a new address (no enumeration); the owner
    of the address is told by mail instead, with the way to log in or reset the password.
    """

    SUBJECT: ClassVar[str] = "user.registration_repeated.v1"
    STREAM: ClassVar[str] = "PORTAL_USERS"

    version: Literal[1] = 1
    user_id: UUID
    email: str = Field(max_length=254)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
