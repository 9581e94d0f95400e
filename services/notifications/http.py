"""HTTP routes of notifications beyond health, readiness and metrics: the contact form, the
member's part of the data export, and the mails to an address as chamber staff see them."""

from aiohttp import web
from pydantic import BaseModel, ConfigDict, field_validator

from runtime import service
from runtime.api import Accepted, Endpoint, add_endpoints, answer, parse_query
from runtime.errors import ApiError, parse_json
from runtime.sessions import SessionUser
from runtime.staff import EmailQuery, staff_user
from runtime.web import current_identity
from services.notifications import contact, handlers, mail_log, member_data, repository

SUPPORT_EMAIL = web.AppKey("support_email", str)
SUPPORT_PHONE = web.AppKey("support_phone", str)
CLOCK = web.AppKey("clock", handlers.Clock)
LIMITS = web.AppKey("contact_limits", contact.Limits)
NOT_LOGGED_IN = "Bitte melden Sie sich an."
EMAIL_NEEDED = "Bitte geben Sie die E-Mail-Adresse an, nach der Sie suchen."


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    email: str
    betriebsnummer: str = ""
    betriebsname: str = ""
    message: str

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return contact.clean_name(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return contact.clean_contact_email(value)

    @field_validator("betriebsnummer")
    @classmethod
    def _betriebsnummer(cls, value: str) -> str:
        return contact.clean_betriebsnummer(value)

    @field_validator("betriebsname")
    @classmethod
    def _betriebsname(cls, value: str) -> str:
        return contact.clean_betriebsname(value)

    @field_validator("message")
    @classmethod
    def _message(cls, value: str) -> str:
        return contact.clean_message(value)

    def request(self) -> contact.ContactRequest:
        return contact.ContactRequest(self.name, self.email, self.betriebsnummer, self.betriebsname, self.message)


def add_routes(
    app: web.Application,
    *,
    support_email: str,
    support_phone: str,
    clock: handlers.Clock,
    limits: contact.Limits = contact.Limits(),
) -> None:
    app[SUPPORT_EMAIL] = support_email
    app[SUPPORT_PHONE] = support_phone
    app[CLOCK] = clock
    app[LIMITS] = limits
    add_endpoints(app, ENDPOINTS)


async def contact_form(request: web.Request) -> web.Response:
    form = await parse_json(request, ContactIn)
    who = current_identity(request)
    refused = await handlers.accept_contact(
        request.app[service.POOL],
        form.request(),
        SessionUser.parse(who.user),
        who.client,
        request.app[SUPPORT_EMAIL],
        request.app[CLOCK](),
        request.app[LIMITS],
    )
    if refused is None:
        return answer(Accepted(status="accepted", message=contact.ACCEPTED), 202)
    headers = {"Retry-After": str(int(refused.wait.total_seconds()) + 1)}
    if refused.everyone:
        busy = contact.busy_message(request.app[SUPPORT_EMAIL], request.app[SUPPORT_PHONE])
        raise ApiError(429, contact.BUSY_CODE, busy, headers=headers)
    raise ApiError(429, contact.TOO_MANY_CODE, contact.TOO_MANY, headers=headers)


async def export(request: web.Request) -> web.Response:
    user = SessionUser.parse(current_identity(request).user)
    if user is None:
        raise ApiError(401, "unauthenticated", NOT_LOGGED_IN)
    return answer(await member_data.export(request.app[service.POOL], user.user_id))


async def staff_mails(request: web.Request) -> web.Response:
    staff_user(request)
    email = parse_query(request, EmailQuery, EMAIL_NEEDED).email.strip()
    if not email:
        raise ApiError(422, "invalid_input", EMAIL_NEEDED, {"email": EMAIL_NEEDED})
    rows = await repository.mails_to(request.app[service.POOL], email, mail_log.LIMIT)
    return answer(mail_log.seen(rows))


ENDPOINTS = (
    Endpoint(
        "POST",
        "/api/v1/notifications/contact",
        contact_form,
        "Noch Fragen? Kontaktieren Sie uns: a message to the chamber's support",
        ContactIn,
        Accepted,
        202,
    ),
    Endpoint(
        "GET",
        "/api/v1/notifications/me/export",
        export,
        "Notifications' part of 'Meine Daten herunterladen': the mails to the member, never their contents",
        answer=member_data.NotificationsExportOut,
        session=True,
    ),
    Endpoint(
        "GET",
        "/api/v1/notifications/staff/mails",
        staff_mails,
        "Staff only: the mails to ?email=ADDRESS (any case), newest first, with what became of each; no contents",
        answer=mail_log.MailsOut,
        session=True,
        query=EmailQuery,
    ),
)
