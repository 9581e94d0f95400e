"""A likely typo in the e-mail domain, pointed out before registering (the FAQ's "no e-mail")."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from services.gateway import typos

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
REGISTRATIONS = ("POST", "/api/v1/accounts/registrations")
PERSON = {"first_name": "Anna", "last_name": "Muster", "birth_date": "31.01.1980"}
SCRIPT = Path(typos.__file__).parent / "static" / "portal.js"

TYPOS = [
    ("anna@gmial.de", "anna@gmail.com"),
    ("anna@gmai.com", "anna@gmail.com"),
    ("anna@gmail.de", "anna@gmail.com"),
    ("anna@gmail.con", "anna@gmail.com"),
    ("anna@gmailcom", "anna@gmail.com"),
    ("anna@googlemial.com", "anna@googlemail.com"),
    ("anna@web.dee", "anna@web.de"),
    ("anna@wbe.de", "anna@web.de"),
    ("anna@t-onlne.de", "anna@t-online.de"),
    ("anna@tonline.de", "anna@t-online.de"),
    ("anna@gmx.dee", "anna@gmx.de"),
    ("anna@hotmial.de", "anna@hotmail.de"),
    ("anna@yaho.de", "anna@yahoo.de"),
    ("anna@outlok.de", "anna@outlook.de"),
    ("anna@freenet.dee", "anna@freenet.de"),
    ("Anna.Muster@GMIAL.DE", "Anna.Muster@gmail.com"),
    ("anna@icloud.de", "anna@icloud.com"),
    ("anna@gmial.de.", "anna@gmail.com"),
]
FINE = [
    "anna@gmail.com",
    "anna@GMX.de",
    "anna@web.de",
    "anna@gmx.at",
    "anna@gmx.net",
    "anna@mail.de",
    "anna@email.de",
    "anna@yahoo.fr",
    "anna@posteo.de",
    "anna@mailbox.org",
    "anna@example.de",
    "anna@mueller-elektro.de",
    "anna@hwk-wiesbaden.de",
    "anna@uni-mainz.de",
    "anna@hotmail.co.uk",
    "anna@web.com",
    "anna@me.de",
    "kein-at-zeichen",
    "@gmial.de",
    "",
]


@pytest.mark.parametrize(("typed", "meant"), TYPOS)
def test_a_likely_typo_gets_a_suggestion(typed, meant):
    assert typos.suggest(typed) == meant


@pytest.mark.parametrize("typed", FINE)
def test_known_and_unrelated_domains_are_left_alone(typed):
    assert typos.suggest(typed) is None


def test_every_known_domain_is_never_corrected():
    assert all(typos.suggest_domain(domain) is None for domain in typos.KNOWN_DOMAINS)


@pytest.mark.parametrize(
    ("a", "b", "edits"),
    [
        ("gmail", "gmail", 0),
        ("gmial", "gmail", 1),
        ("gmai", "gmail", 1),
        ("gmaill", "gmail", 1),
        ("gmx", "web", 3),
        ("", "de", 2),
        ("ab", "ba", 1),
    ],
)
def test_distance(a, b, edits):
    assert typos.distance(a, b) == edits


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_page_script_suggests_the_same():
    cases = [typed for typed, _ in TYPOS] + FINE + [f"x@{d}" for d in typos.KNOWN_DOMAINS]
    program = (
        f"const {{suggest}} = require({json.dumps(str(SCRIPT))});"
        f"const known = {json.dumps(list(typos.KNOWN_DOMAINS))};"
        f"console.log(JSON.stringify({json.dumps(cases)}.map(e => suggest(e, known))));"
    )
    result = subprocess.run(["node", "-e", program], capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(result.stdout) == [typos.suggest(case) for case in cases]


def register(gateway, **form):
    return gateway.post("/registrieren", headers=SAME_ORIGIN, allow_redirects=False, data={**PERSON, **form})


def button(html: str, name: str) -> str:
    return re.search(rf'<button [^>]*name="{name}"[^>]*>[^<]*</button>', html)[0]


async def test_a_typo_is_pointed_out_before_accounts_is_asked(gateway, accounts):
    response = await register(gateway, email="anna@gmial.de")
    html = await response.text()
    assert response.status == 200 and accounts.calls == []
    assert "Meinten Sie <strong>anna@gmail.com</strong>?" in html
    assert 'role="alert"' in html and '<a href="#email">Meinten Sie anna@gmail.com?</a>' in html
    correct = button(html, "email_suggestion")
    assert 'type="submit"' in correct and 'value="anna@gmail.com"' in correct
    assert ">Ja, anna@gmail.com verwenden</button>" in correct
    keep = button(html, "email_confirmed_as_typed")
    assert 'type="submit"' in keep and 'value="1"' in keep and ">Nein, die Adresse ist richtig<" in keep
    assert '<input type="hidden" name="email_typed" value="anna@gmial.de">' in html
    email = re.search(r'<input id="email"[^>]*>', html)[0]
    assert 'value="anna@gmial.de"' in email
    assert 'aria-describedby="email-hinweis email-vorschlag"' in email
    assert 'value="Anna"' in html and 'value="31.01.1980"' in html  # the rest kept
    # Both buttons are inside the one form, so either sends every field along.
    form = html[html.index('<form class="form" method="post" action="/registrieren"') : html.index("</form>")]
    assert correct in form and keep in form


async def test_the_correction_button_registers_the_corrected_address(gateway, accounts):
    accounts.answers[REGISTRATIONS] = (202, {"status": "accepted"})
    response = await register(
        gateway, email="anna@gmial.de", email_typed="anna@gmial.de", email_suggestion="anna@gmail.com"
    )
    assert response.status == 303 and "gmail.com" in response.headers["Location"]
    (call,) = accounts.calls
    assert call.json()["email"] == "anna@gmail.com"


async def test_keeping_the_address_registers_it_as_typed(gateway, accounts):
    accounts.answers[REGISTRATIONS] = (202, {"status": "accepted"})
    response = await register(gateway, email="anna@gmial.de", email_typed="anna@gmial.de", email_confirmed_as_typed="1")
    assert response.status == 303
    (call,) = accounts.calls
    assert call.json()["email"] == "anna@gmial.de"


async def test_an_address_edited_after_the_question_wins_over_the_suggestion(gateway, accounts):
    """Enter in a field submits with the form's first button: the suggestion."""
    accounts.answers[REGISTRATIONS] = (202, {"status": "accepted"})
    response = await register(
        gateway, email="anna@gmx.de", email_typed="anna@gmial.de", email_suggestion="anna@gmail.com"
    )
    assert response.status == 303
    (call,) = accounts.calls
    assert call.json()["email"] == "anna@gmx.de"


async def test_an_edit_to_another_typo_is_asked_about_again(gateway, accounts):
    response = await register(
        gateway, email="anna@web.dee", email_typed="anna@gmial.de", email_suggestion="anna@gmail.com"
    )
    html = await response.text()
    assert accounts.calls == [] and "Meinten Sie <strong>anna@web.de</strong>?" in html


async def test_a_plain_address_goes_straight_to_accounts(gateway, accounts):
    accounts.answers[REGISTRATIONS] = (202, {"status": "accepted"})
    response = await register(gateway, email="anna@example.de")
    assert response.status == 303 and len(accounts.calls) == 1


async def test_the_registration_form_carries_the_domains_for_the_script(gateway):
    html = await (await gateway.get("/registrieren")).text()
    domains = re.search(r'data-mail-domains="([^"]*)"', html)[1].split()
    assert domains == list(typos.KNOWN_DOMAINS)
    assert "email_suggestion" not in html and "Meinten Sie" not in html


async def test_the_script_is_served_from_self(gateway):
    response = await gateway.get("/static/portal.js")
    body = await response.text()
    assert response.status == 200 and "javascript" in response.content_type
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "Passwort anzeigen" in body and "Passwort verbergen" in body
    assert "aria-pressed" in body and "aria-controls" in body and "innerHTML" not in body
