"""The German pages. Each view parses the form, calls accounts through `upstream`, and shows
accounts' own messages (the same as the API's) at the top or next to their field."""

import re
from urllib.parse import urlencode

from aiohttp import web

from services.gateway import typos, upstream
from services.gateway.rendering import message_page, render
from services.gateway.upstream import ACCOUNTS_API

REGISTRATION_FIELDS = ("first_name", "last_name", "email", "birth_date")
TYPO_FIELDS = ("email_suggestion", "email_typed", "email_confirmed_as_typed", "email_confirmed_for")
_GERMAN_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
SENT_PAGE = "/registrieren/gesendet"
TOKEN_MISSING = (
    "Der Bestätigungslink ist unvollständig. Bitte öffnen Sie den Link aus Ihrer "
    "Registrierungs-E-Mail erneut oder kopieren Sie ihn vollständig in die Adresszeile."
)


def add_routes(app: web.Application) -> None:
    app.router.add_routes(
        [
            web.get("/", start),
            web.get("/registrieren", registration_form),
            web.post("/registrieren", register),
            web.get(SENT_PAGE, registration_sent),
            web.post("/registrieren/erneut-senden", resend),
            web.get("/registrierung/bestaetigen", confirmation_form),
            web.post("/registrierung/bestaetigen", confirm),
            web.get("/hilfe", help_page),
        ]
    )


def iso_date(value: str) -> str:
    """TT.MM.JJJJ typed where the browser has no date picker becomes YYYY-MM-DD; anything else
    goes to accounts unchanged, which answers with its own German message."""
    found = _GERMAN_DATE.fullmatch(value)
    return f"{found[3]}-{int(found[2]):02d}-{int(found[1]):02d}" if found else value


async def _form(request: web.Request, *names: str) -> dict[str, str]:
    form = await request.post()
    return {name: str(form.get(name, "")).strip() for name in names}


async def start(request: web.Request) -> web.Response:
    return render(request, "start.html")


async def registration_form(request: web.Request) -> web.Response:
    return _register_page(request, values={}, errors={}, message=None)


def _register_page(request: web.Request, status: int = 200, **context) -> web.Response:
    context.setdefault("suggestion", None)
    context.setdefault("confirmed_email", None)
    context.setdefault("mail_domains", " ".join(typos.KNOWN_DOMAINS))
    return render(request, "register.html", status, **context)


def typed_email(form: dict[str, str]) -> tuple[str, bool]:
    """The address to register, and whether it is settled (no typo check any more).

    The "Meinten Sie …?" buttons: `email_suggestion` takes the suggested address, unless the
    field was edited meanwhile (Enter in a field submits with the first button: the
    suggestion); `email_confirmed_as_typed=1` keeps the address as typed; `email_confirmed_for`
    (after accounts refused another field) keeps an address confirmed before."""
    email = form["email"]
    if form["email_suggestion"] and email == form["email_typed"]:
        return form["email_suggestion"], True
    settled = form["email_confirmed_as_typed"] == "1" or (email != "" and form["email_confirmed_for"] == email)
    return email, settled


async def register(request: web.Request) -> web.StreamResponse:
    form = await _form(request, *REGISTRATION_FIELDS, *TYPO_FIELDS)
    email, settled = typed_email(form)
    values = {name: form[name] for name in REGISTRATION_FIELDS} | {"email": email}
    suggestion = None if settled else typos.suggest(email)
    if suggestion is not None:
        # Not sent to accounts yet: a confirmation mail to a mistyped domain never arrives.
        return _register_page(request, values=values, errors={}, message=None, suggestion=suggestion)
    payload = dict(values, birth_date=iso_date(values["birth_date"]))
    answer = await upstream.post_json(request, "accounts", ACCOUNTS_API + "/registrations", payload)
    if answer.ok:
        raise web.HTTPSeeOther(f"{SENT_PAGE}?{urlencode({'email': values['email']})}")
    return _register_page(
        request,
        answer.status,
        values=payload,
        errors=answer.fields,
        message=answer.message,
        confirmed_email=email if settled else None,
    )


async def registration_sent(request: web.Request) -> web.Response:
    return render(
        request,
        "register_sent.html",
        email=request.query.get("email", ""),
        resent="erneut" in request.query,
        errors={},
        message=None,
    )


async def resend(request: web.Request) -> web.StreamResponse:
    values = await _form(request, "email")
    answer = await upstream.post_json(request, "accounts", ACCOUNTS_API + "/registrations/resend", values)
    if answer.ok:
        raise web.HTTPSeeOther(f"{SENT_PAGE}?{urlencode({'email': values['email'], 'erneut': '1'})}")
    return render(
        request,
        "register_sent.html",
        answer.status,
        email=values["email"],
        resent=False,
        errors=answer.fields,
        message=answer.message,
    )


async def confirmation_form(request: web.Request) -> web.Response:
    # Only a form: mail scanners fetch links, so the GET itself must change nothing.
    token = request.query.get("token", "").strip()
    if not token:
        return message_page(request, 400, "E-Mail-Adresse bestätigen", TOKEN_MISSING)
    return render(request, "confirm.html", token=token, message=None)


async def confirm(request: web.Request) -> web.Response:
    token = (await _form(request, "token"))["token"]
    if not token:
        return message_page(request, 400, "E-Mail-Adresse bestätigen", TOKEN_MISSING)
    answer = await upstream.post_json(request, "accounts", ACCOUNTS_API + "/registrations/confirm", {"token": token})
    if answer.ok:
        return render(request, "confirmed.html")
    if answer.status == 503:
        return render(request, "confirm.html", 503, token=token, message=answer.message)
    links = [("/registrieren", "erneut registrieren")] if answer.code == "token_expired" else []
    return message_page(
        request,
        answer.status,
        "E-Mail-Adresse bestätigen",
        answer.message,
        links=links + [("/hilfe", "Häufig gestellte Fragen")],
    )


async def help_page(request: web.Request) -> web.Response:
    return render(request, "help.html")
