import pytest

from tests.unit.gateway.sessions_helpers import SAME_ORIGIN

FORGOT = ("POST", "/api/v1/accounts/password/forgot")
RESET = ("POST", "/api/v1/accounts/password/reset")
REPEATED = {"new_password": "ein langer satz", "new_password_repeat": "ein langer satz"}


def post(gateway, path, data):
    return gateway.post(path, data=data, headers=SAME_ORIGIN, allow_redirects=False)


async def test_forgot_shows_accounts_message_and_the_spam_hint(gateway, accounts):
    html = await (await gateway.get("/passwort-vergessen")).text()
    assert "<h1>Passwort vergessen</h1>" in html and '<label for="email">E-Mail-Adresse</label>' in html
    accounts.answers[FORGOT] = (202, {"status": "accepted", "message": "Wenn es das Konto gibt, kommt eine E-Mail."})
    response = await post(gateway, "/passwort-vergessen", {"email": " anna@example.de "})
    html = await response.text()
    assert response.status == 200
    assert "Wenn es das Konto gibt, kommt eine E-Mail." in html and "Spam-Ordner" in html
    assert accounts.calls[0].json() == {"email": "anna@example.de"}


async def test_reset_link_only_shows_a_form(gateway, accounts):
    html = await (await gateway.get("/passwort-zuruecksetzen?token=t0k3n")).text()
    assert '<input type="hidden" name="token" value="t0k3n">' in html
    assert 'autocomplete="new-password"' in html
    assert accounts.calls == []
    assert (await gateway.get("/passwort-zuruecksetzen")).status == 400


async def test_reset_mismatch_never_calls_accounts(gateway, accounts):
    response = await post(
        gateway, "/passwort-zuruecksetzen", {"token": "t", "new_password": "a", "new_password_repeat": "b"}
    )
    assert response.status == 422 and "Die Passwörter stimmen nicht überein." in await response.text()
    assert accounts.calls == []


async def test_reset_success(gateway, accounts):
    accounts.answers[RESET] = (204, None)
    response = await post(gateway, "/passwort-zuruecksetzen", {"token": "t0k3n", **REPEATED})
    html = await response.text()
    assert response.status == 200
    assert "Ihr Passwort wurde geändert. Sie können sich jetzt mit Ihrem neuen Passwort anmelden." in html
    assert 'href="/login">Login</a>' in html
    assert accounts.calls[0].json() == {"token": "t0k3n", "new_password": "ein langer satz"}


@pytest.mark.parametrize(
    "status,code,forgot_link", [(410, "token_expired", True), (409, "token_used", False), (400, "token_invalid", False)]
)
async def test_reset_token_errors(gateway, accounts, status, code, forgot_link):
    accounts.answers[RESET] = (status, {"error": {"code": code, "message": f"Meldung {code}.", "fields": {}}})
    response = await post(gateway, "/passwort-zuruecksetzen", {"token": "t", **REPEATED})
    html = await response.text()
    assert response.status == status and f"Meldung {code}." in html
    assert ('<li><a href="/passwort-vergessen">Passwort vergessen</a></li>' in html) is forgot_link


async def test_reset_field_error(gateway, accounts):
    accounts.answers[RESET] = (
        422,
        {
            "error": {
                "code": "invalid_input",
                "message": "Bitte prüfen Sie Ihre Eingaben.",
                "fields": {"new_password": "Mindestens 12 Zeichen."},
            }
        },
    )
    response = await post(gateway, "/passwort-zuruecksetzen", {"token": "t", **REPEATED})
    html = await response.text()
    assert response.status == 422 and 'id="new_password-fehler">Mindestens 12 Zeichen.' in html
    assert 'name="token" value="t"' in html
