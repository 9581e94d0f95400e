"""What the staff API of accounts takes and answers (api.md, issue 11)."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from services.accounts.forms import Input


class CodeIn(Input):
    code: str = Field(min_length=1, max_length=40, description="A code from the app or a recovery code")


class SecondFactorOut(BaseModel):
    enrolled: bool


class SetupOut(BaseModel):
    secret: str = Field(description="base32, for typing into the app")
    otpauth_uri: str = Field(description="otpauth://totp/…, for a QR code")


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str] = Field(description="Shown this once; each works once")


class StaffMembershipOut(BaseModel):
    betriebsnummer: str
    name: str
    linked_at: datetime


class StaffMemberOut(BaseModel):
    user_id: UUID
    email: str
    first_name: str
    last_name: str
    role: Literal["member", "staff"]
    state: Literal["pending", "active"]
    created_at: datetime
    confirmed_at: datetime | None
    last_login_at: datetime | None
    deactivated_at: datetime | None
    login_throttled: bool
    throttled_until: datetime | None
    must_change_password: bool
    memberships: list[StaffMembershipOut]


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    service: Literal["accounts", "pins"]
    staff_user_id: UUID
    action: str
    action_label: str
    user_id: UUID | None
    betriebsnummer: str | None


class AuditOut(BaseModel):
    entries: list[AuditEntryOut]
    staff: dict[str, str] = Field(description="Every staff account's id and name")
