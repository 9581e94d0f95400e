from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contracts.base import Event, PostalAddress, Sealed


class PinRequestedV1(Event):
    """A PIN letter must be printed and posted to the business address of record.

    The print shop subscribes to this subject; it is the only reader of `pin`.
    """

    SUBJECT: ClassVar[str] = "pin.requested.v1"
    STREAM: ClassVar[str] = "PORTAL_PINS"

    version: Literal[1] = 1
    request_id: UUID = Field(description="One letter per request id; print it once.")
    reason: Literal["user_request", "annual_notice", "staff_request"] = Field(
        description="Why the letter goes out. More reasons may come: print every reason alike.",
        json_schema_extra={"x-open-enum": True},
    )
    betriebsnummer: str = Field(min_length=1, max_length=20)
    business_name: str = Field(min_length=1, max_length=200)
    address: PostalAddress
    pin: Sealed = Field(description="The PIN, sealed to the print shop's public key.")
    valid_until: date
    requested_by_user_id: UUID | None = Field(
        default=None, description="The member who asked for it; none for the yearly issue."
    )
