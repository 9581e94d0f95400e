from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import Event


class PinLinkedV1(Event):
    """A member linked the account to a business with Betriebsnummer and PIN."""

    SUBJECT: ClassVar[str] = "pin.linked.v1"
    STREAM: ClassVar[str] = "PORTAL_PINS"

    version: Literal[1] = 1
    user_id: UUID
    betriebsnummer: str = Field(min_length=1, max_length=20)
    business_name: str = Field(min_length=1, max_length=200)
    linked_at: datetime
    business_email: str | None = Field(
        default=None, description="The business's e-mail of record, told about the new link."
    )
