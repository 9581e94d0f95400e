"""Registration end to end through the gateway: real NATS, Postgres, SMTP and processes."""

import asyncio
from datetime import date

import pytest

from tests.support.client import Client, new_email, query
from tests.support.mail import extract_password, extract_token_link

pytestmark = pytest.mark.integration

PERSON = {"first_name": "Erika", "last_name": "Mustermann", "birth_date": "1979-05-04"}


def token_of(link: str) -> str:
    return link.split("token=", 1)[1]


async def register(client: Client, email: str, **overrides) -> tuple[int, dict]:
    return await client.api("POST", "/api/v1/accounts/registrations", {**PERSON, "email": email, **overrides})


async def confirmation_mail(mail, email: str, since: int = 0):
    return await mail.wait_for(lambda m: m.to == email and "token=" in m.text, timeout=30, since=since)


async def test_register_confirm_and_receive_the_initial_password(portal) -> None:
    email = new_email()
    async with Client(portal.gateway_url) as client:
        status, body = await register(client, email)
        assert status == 202 and "Registrierungs-E-Mail" in body["message"]

        mail = await confirmation_mail(portal.mail, email)
        assert mail.subject == "Bitte bestätigen Sie Ihre E-Mail-Adresse"
        link = extract_token_link(mail.text)
        assert link.startswith(portal.gateway_url + "/registrierung/bestaetigen?token=")
        assert extract_token_link(mail.html.replace("&amp;", "&")) == link

        status, body = await client.api("POST", "/api/v1/accounts/registrations/confirm", {"token": token_of(link)})
        assert status == 200 and body["status"] == "confirmed"

        password_mail = await portal.mail.wait_for(lambda m: m.to == email and "Passwort: " in m.text, timeout=30)
        password = extract_password(password_mail.text)
        assert len(password) >= 12 and not set(password) & set("lI1O0")

        status, body = await client.api("POST", "/api/v1/accounts/registrations/confirm", {"token": token_of(link)})
        assert status == 409 and body["error"]["code"] == "token_used"

    rows = await query(
        portal.database_url, "select state, password_hash from accounts.users where email_key = $1", email
    )
    assert rows[0]["state"] == "active"
    assert rows[0]["password_hash"].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert password not in rows[0]["password_hash"]


async def test_no_secret_is_stored_in_plain_text(portal) -> None:
    email = new_email()
    async with Client(portal.gateway_url) as client:
        await register(client, email)
        link = extract_token_link((await confirmation_mail(portal.mail, email)).text)
        await client.api("POST", "/api/v1/accounts/registrations/confirm", {"token": token_of(link)})
        password = extract_password(
            (await portal.mail.wait_for(lambda m: m.to == email and "Passwort: " in m.text, timeout=30)).text
        )
    stored = ""
    for table in ("accounts.users", "accounts.confirmations", "accounts.outbox", "notifications.mails"):
        rows = await query(portal.database_url, f"select coalesce(string_agg(t::text, ' '), '') as all from {table} t")
        stored += rows[0]["all"]
    assert email in stored  # the dump is real
    assert token_of(link) not in stored and password not in stored


async def test_known_address_gets_the_same_answer_and_a_notice_instead(portal) -> None:
    email = new_email()
    async with Client(portal.gateway_url) as client:
        await register(client, email)
        link = extract_token_link((await confirmation_mail(portal.mail, email)).text)
        await client.api("POST", "/api/v1/accounts/registrations/confirm", {"token": token_of(link)})

        fresh = await register(client, new_email())
        known = await register(client, email.upper())
        assert known == fresh

    notice = await portal.mail.wait_for(lambda m: m.to == email and "bereits registriert" in m.subject, timeout=30)
    assert "token=" not in notice.text and "/passwort-vergessen" in notice.text


async def test_registering_again_while_pending_resends_a_working_link(portal) -> None:
    email = new_email()
    async with Client(portal.gateway_url) as client:
        await register(client, email)
        first = await confirmation_mail(portal.mail, email)
        mark = portal.mail.mark()
        status, _ = await register(client, email, first_name="Erika Maria")
        assert status == 202
        second = await confirmation_mail(portal.mail, email, since=mark)
        assert second.message_id != first.message_id and "Erika Maria" in second.text

        status, _ = await client.api("POST", "/api/v1/accounts/registrations/resend", {"email": email})
        assert status == 202
        third = await confirmation_mail(portal.mail, email, since=portal.mail.mark() - 1)
        status, _ = await client.api(
            "POST", "/api/v1/accounts/registrations/confirm", {"token": token_of(extract_token_link(third.text))}
        )
        assert status == 200
        status, body = await client.api(
            "POST", "/api/v1/accounts/registrations/confirm", {"token": token_of(extract_token_link(first.text))}
        )
        assert status == 409 and body["error"]["code"] == "token_used"


async def test_expired_and_bad_links_are_explained(portal) -> None:
    email = new_email()
    async with Client(portal.gateway_url) as client:
        await register(client, email)
        link = extract_token_link((await confirmation_mail(portal.mail, email)).text)
        await query(
            portal.database_url,
            "update accounts.confirmations set expires_at = now() - interval '1 second'"
            " where user_id = (select id from accounts.users where email_key = $1)",
            email,
        )
        status, body = await client.api("POST", "/api/v1/accounts/registrations/confirm", {"token": token_of(link)})
        assert status == 410 and body["error"]["code"] == "token_expired"
        assert "abgelaufen" in body["error"]["message"]

        status, body = await client.api("POST", "/api/v1/accounts/registrations/confirm", {"token": "x" * 43})
        assert status == 400 and body["error"]["code"] == "token_invalid"

        status, html, _ = await client.page("POST", "/registrierung/bestaetigen", {"token": token_of(link)})
        assert status == 410 and "abgelaufen" in html
    rows = await query(portal.database_url, "select state from accounts.users where email_key = $1", email)
    assert rows[0]["state"] == "pending"


BAD_INPUT = [
    ({"first_name": ""}, "first_name", "füllen Sie dieses Feld aus"),
    ({"first_name": "R2D2"}, "first_name", "Buchstaben"),
    ({"last_name": "x" * 101}, "last_name", "100 Zeichen"),
    ({"email": "erika.example.de"}, "email", "gültige E-Mail-Adresse"),
    ({"birth_date": "2031-01-01"}, "birth_date", "Zukunft"),
    ({"birth_date": f"{date.today().year - 10}-01-01"}, "birth_date", "18 Jahre"),
    ({"birth_date": "30.02.1980"}, "birth_date", "TT.MM.JJJJ"),
    ({"birth_date": 19800101}, "birth_date", "TT.MM.JJJJ"),
    ({"email": None}, "email", "Text"),
]


@pytest.mark.parametrize(
    ("change", "field", "says"), BAD_INPUT, ids=[f"{f}-{i}" for i, (_, f, _) in enumerate(BAD_INPUT)]
)
async def test_bad_input_gets_a_german_message_and_stores_nothing(portal, change, field, says) -> None:
    email = new_email()
    async with Client(portal.gateway_url) as client:
        status, body = await register(
            client, change.get("email", email), **{k: v for k, v in change.items() if k != "email"}
        )
    assert status == 422
    assert body["error"]["code"] == "invalid_input"
    assert says in body["error"]["fields"][field]
    assert not await query(portal.database_url, "select 1 from accounts.users where email_key = $1", email)


@pytest.mark.parametrize(
    ("path", "raw", "content_type", "status"),
    [
        ("/api/v1/accounts/registrations", b"{not json", "application/json", 400),
        ("/api/v1/accounts/registrations", b"[]", "application/json", 400),
        ("/api/v1/accounts/registrations", b"first_name=a", "application/x-www-form-urlencoded", 415),
        ("/api/v1/accounts/registrations/confirm", b"{}", "application/json", 422),
        ("/api/v1/accounts/registrations/resend", b'{"email": "nope"}', "application/json", 422),
        ("/api/v1/accounts/registrations", b'{"x": "' + b"a" * 70000 + b'"}', "application/json", 413),
    ],
)
async def test_malformed_requests_are_4xx_in_german(portal, path, raw, content_type, status) -> None:
    async with Client(portal.gateway_url) as client:
        async with client.session.post(
            portal.gateway_url + path, data=raw, headers={"Content-Type": content_type}
        ) as response:
            body = await response.json()
    assert response.status == status
    assert body["error"]["message"].endswith(".") and body["error"]["code"]


async def test_the_pages_register_and_confirm_in_the_browser(portal) -> None:
    email = new_email()
    async with Client(portal.gateway_url) as client:
        status, html, _ = await client.page("GET", "/")
        assert status == 200 and "neu registrieren" in html and 'lang="de"' in html

        form = {"first_name": "Max", "last_name": "Müller", "email": email, "birth_date": "1980-01-31"}
        status, html, _ = await client.page("POST", "/registrieren", {**form, "birth_date": "31.01.2030"})
        assert status == 422 and "Zukunft" in html and 'aria-invalid="true"' in html and email in html

        status, _, headers = await client.page("POST", "/registrieren", form)
        assert status == 303
        status, html, _ = await client.page("GET", headers["Location"])
        assert status == 200 and "Spam-Ordner" in html and "E-Mail erneut senden" in html

        link = extract_token_link((await confirmation_mail(portal.mail, email)).text)
        path = link.removeprefix(portal.gateway_url)
        status, html, _ = await client.page("GET", path)
        assert status == 200 and "Registrierung bestätigen" in html
        assert not await query(
            portal.database_url, "select 1 from accounts.users where email_key = $1 and state = 'active'", email
        )

        status, html, _ = await client.page("POST", "/registrierung/bestaetigen", {"token": token_of(link)})
        assert status == 200 and "Passwort" in html and "per E-Mail" in html
    await portal.mail.wait_for(lambda m: m.to == email and "Passwort: " in m.text, timeout=30)


async def test_a_cross_site_post_is_refused(portal) -> None:
    email = new_email()
    async with Client(portal.gateway_url) as client:
        async with client.session.post(
            portal.gateway_url + "/api/v1/accounts/registrations",
            json={**PERSON, "email": email},
            headers={"Origin": "https://evil.example"},
        ) as response:
            assert response.status == 403
    assert not await query(portal.database_url, "select 1 from accounts.users where email_key = $1", email)


async def test_concurrent_registrations_of_one_address_make_one_account(portal) -> None:
    email = new_email()
    async with Client(portal.gateway_url) as client:
        answers = await asyncio.gather(*(register(client, email) for _ in range(8)))
    assert {status for status, _ in answers} == {202}
    rows = await query(portal.database_url, "select count(*) as n from accounts.users where email_key = $1", email)
    assert rows[0]["n"] == 1
    # a link for each user.registered.v1, and none without: the losers' one-statement attempts wrote nothing
    counts = await query(
        portal.database_url,
        "select (select count(*) from accounts.confirmations c join accounts.users u on u.id = c.user_id"
        "        where u.email_key = $1) as links,"
        " (select count(*) from accounts.outbox where subject = 'user.registered.v1' and payload->>'email' = $1)"
        " as events",
        email,
    )
    assert counts[0]["links"] == counts[0]["events"] >= 1
