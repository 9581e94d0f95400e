from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import Event


class PinUnlinkedV1(Event):
    """An account's link to a business ended: by the member ("Verknüpfung lösen"), by chamber
    staff, or because the business left the register (`import-businesses --full`)."""

    SUBJECT: ClassVar[str] = "pin.unlinked.v1"
    STREAM: ClassVar[str] = "PORTAL_PINS"

    version: Literal[1] = 1
    user_id: UUID
    betriebsnummer: str = Field(min_length=1, max_length=20)
    business_name: str = Field(min_length=1, max_length=200)
    unlinked_by: Literal["member", "staff", "register_import"]
    unlinked_at: datetime
    business_email: str | None = Field(
        default=None, description="The business's e-mail of record, told that the link ended."
    )
