"""What accounts accepts: one pydantic model per request body, with the German message of each rule.

The same models validate the requests and describe them (the public API's document)."""

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, ValidationInfo, field_validator

from services.accounts import domain


class Input(BaseModel):
    @field_validator("*", mode="before")
    @classmethod
    def _no_control_characters(cls, value: object) -> object:
        return domain.refuse_control_characters(value) if isinstance(value, str) else value


class EmailIn(Input):
    email: str

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return domain.clean_email(value)


class RegistrationIn(EmailIn):
    first_name: str
    last_name: str
    birth_date: date

    @field_validator("first_name", "last_name")
    @classmethod
    def _name(cls, value: str) -> str:
        return domain.clean_name(value)

    @field_validator("birth_date", mode="before")
    @classmethod
    def _birth_date(cls, value: object, info: ValidationInfo) -> date:
        if not isinstance(value, str):
            raise domain.Invalid("Bitte geben Sie Ihr Geburtsdatum ein (TT.MM.JJJJ).")
        return domain.parse_birth_date(value, info.context["today"])


class TokenIn(Input):
    token: str

    @field_validator("token")
    @classmethod
    def _token(cls, value: str) -> str:
        token = value.strip()
        if not 20 <= len(token) <= 100:
            raise domain.Invalid("Dieser Link ist ungültig. Bitte übernehmen Sie ihn vollständig aus der E-Mail.")
        return token


class LoginIn(EmailIn):
    password: str

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        if not value.strip():
            raise domain.Invalid("Bitte geben Sie Ihr Passwort ein.")
        if len(value) > 1024:
            raise domain.Invalid("Diese Eingabe ist zu lang.")
        return value


class NewPasswordIn(Input):
    new_password: str

    @field_validator("new_password")
    @classmethod
    def _new(cls, value: str) -> str:
        if len(value) > 1024:
            raise domain.Invalid("Bitte wählen Sie ein Passwort mit höchstens 128 Zeichen.")
        return value


class ChangeIn(NewPasswordIn):
    current_password: str


class ResetIn(TokenIn, NewPasswordIn):
    pass


# --- what accounts answers -------------------------------------------------------------------


class NewSessionOut(BaseModel):
    must_change_password: bool  # the initial password must be replaced before anything else
    expires_at: datetime  # at the latest; 30 idle minutes end it sooner
    role: str = "member"  # member | staff_pending (a staff account, second factor still to come)


class MembershipOut(BaseModel):
    betriebsnummer: str
    name: str
    linked_at: datetime


class ProfileOut(BaseModel):
    user_id: UUID
    email: str
    first_name: str
    last_name: str
    must_change_password: bool
    businesses: list[MembershipOut]
