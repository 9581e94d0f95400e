"""What pins answers its members: the shapes of the JSON, also the public API's document."""

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel

from runtime.api import Accepted

LetterState = Literal["requested", "handed_over", "used", "expired", "superseded"]
Reason = Literal["user_request", "annual_notice", "staff_request"]


class LetterOut(BaseModel):
    """A PIN letter the member asked for."""

    request_id: UUID
    betriebsnummer: str
    reason: Reason
    reason_label: str  # in German, as the member reads it
    requested_at: datetime
    valid_until: date  # the last day the PIN links
    state: LetterState
    state_label: str


class RequestedOut(Accepted):
    request: LetterOut


class RequestsOut(BaseModel):
    requests: list[LetterOut]


class AddressOut(BaseModel):
    street: str
    postal_code: str
    city: str


class LinkedAccountOut(BaseModel):
    user_id: UUID
    linked_at: datetime
    email: str | None  # None until notifications of the account reached pins
    name: str | None


class BusinessLetterOut(BaseModel):
    """A PIN letter of the business, whoever asked for it (no one's name)."""

    requested_at: datetime
    reason: Reason
    reason_label: str
    valid_until: date
    state: LetterState
    state_label: str


class BusinessOut(BaseModel):
    betriebsnummer: str
    name: str
    address: AddressOut
    email: str | None
    trade: str | None
    linked_at: datetime
    linked_accounts: list[LinkedAccountOut]
    letters: list[BusinessLetterOut]


class BusinessesOut(BaseModel):
    businesses: list[BusinessOut]
