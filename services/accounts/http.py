"""The HTTP entry points of accounts: parse, call the use case, answer."""

from datetime import date

from aiohttp import web
from pydantic import BaseModel, ValidationInfo, field_validator

from runtime.errors import json_response, parse_json
from services.accounts import domain
from services.accounts.handlers import Accounts, Registration

ACCOUNTS = web.AppKey("accounts", Accounts)

ACCEPTED = {
    "status": "accepted",
    "message": (
        "Vielen Dank! Sie erhalten umgehend eine Registrierungs-E-Mail. Bitte bestätigen Sie darin "
        "per Mausklick Ihre E-Mail-Adresse."
    ),
}


class EmailIn(BaseModel):
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


class TokenIn(BaseModel):
    token: str

    @field_validator("token")
    @classmethod
    def _token(cls, value: str) -> str:
        token = value.strip()
        if not 20 <= len(token) <= 100:
            raise domain.Invalid("Dieser Bestätigungslink ist ungültig.")
        return token


async def register(request: web.Request) -> web.Response:
    accounts = request.app[ACCOUNTS]
    today = domain.local_today(accounts.clock())
    form = await parse_json(request, RegistrationIn, {"today": today})
    await accounts.register(Registration(form.first_name, form.last_name, form.email, form.birth_date))
    return json_response(ACCEPTED, status=202)


async def resend(request: web.Request) -> web.Response:
    form = await parse_json(request, EmailIn)
    await request.app[ACCOUNTS].resend_confirmation(form.email)
    return json_response(ACCEPTED, status=202)


async def confirm(request: web.Request) -> web.Response:
    form = await parse_json(request, TokenIn)
    await request.app[ACCOUNTS].confirm(form.token)
    return json_response({
        "status": "confirmed",
        "message": (
            "Vielen Dank! Ihre E-Mail-Adresse ist bestätigt. Ein Passwort zu Ihrer Registrierung "
            "wird Ihnen per E-Mail zugesandt."
        ),
    })


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/accounts/registrations", register)
    app.router.add_post("/api/v1/accounts/registrations/resend", resend)
    app.router.add_post("/api/v1/accounts/registrations/confirm", confirm)
