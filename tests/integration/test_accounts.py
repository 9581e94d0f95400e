"""Login, sessions and passwords through the gateway: real NATS, Postgres, SMTP and processes."""

import asyncio
import time

import pytest
from yarl import URL

from tests.support.client import Client, new_email, query
from tests.support.mail import extract_token_link
from tests.support.members import NEW_PASSWORD, PERSON, confirmed_member, logged_in, member_with_own_password

pytestmark = pytest.mark.integration


def session_cookie(client: Client):
    return next((c for c in client.session.cookie_jar if c.key == "kp_session"), None)


async def test_login_forced_change_and_logout_round_trip(portal) -> None:
    async with Client(portal.gateway_url) as client:
        email, initial = await confirmed_member(portal, client)
        body = await logged_in(client, f"  {email.upper()} ", f" {initial}  ")  # case and pasted spaces
        assert body["must_change_password"] is True

        status, me = await client.api("GET", "/api/v1/accounts/me")
        assert status == 200 and me["email"] == email and me["businesses"] == []
        status, body = await client.api("GET", "/api/v1/pins/businesses/mine")
        assert status == 403 and body["error"]["code"] == "password_change_required"
        status, html, headers = await client.page("GET", "/konto")
        assert status == 303 and headers["Location"].endswith("/passwort-aendern")

        status, _ = await client.api(
            "POST", "/api/v1/accounts/password", {"current_password": initial, "new_password": NEW_PASSWORD}
        )
        assert status == 204
        status, me = await client.api("GET", "/api/v1/accounts/me")
        assert status == 200 and me["must_change_password"] is False
        status, html, _ = await client.page("GET", "/konto")
        assert status == 200 and "zum Kundenportal" in html and "Abmelden" in html

        status, _ = await client.api("DELETE", "/api/v1/accounts/sessions/current")
        assert status == 204 and session_cookie(client) is None
        status, body = await client.api("GET", "/api/v1/accounts/me")
        assert status == 401
        status, _ = await client.api("POST", "/api/v1/accounts/sessions", {"email": email, "password": initial})
        assert status == 401  # the initial password is gone for good
    notice = await portal.mail.wait_for(lambda m: m.to == email and "geändert" in m.subject, timeout=30)
    assert "token=" not in notice.text


async def test_the_session_cookie_is_safe(portal) -> None:
    async with Client(portal.gateway_url) as client:
        email, initial = await confirmed_member(portal, client)
        async with client.session.post(
            portal.gateway_url + "/api/v1/accounts/sessions", json={"email": email, "password": initial}
        ) as response:
            cookie = response.cookies["kp_session"]
        assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
        assert len(cookie.value) >= 43  # 256 bits, base64
        rows = await query(
            portal.database_url,
            "select token_hash from accounts.sessions s join accounts.users u on u.id = s.user_id where u.email_key = $1",
            email,
        )
        assert rows and all(cookie.value.encode() not in bytes(r["token_hash"]) for r in rows)


async def test_no_session_fixation(portal) -> None:
    async with Client(portal.gateway_url) as client:
        email, initial = await confirmed_member(portal, client)
        planted = "A" * 43
        client.session.cookie_jar.update_cookies({"kp_session": planted}, response_url=URL(portal.gateway_url))
        await logged_in(client, email, initial)
        assert session_cookie(client).value != planted
    async with Client(portal.gateway_url) as attacker:
        attacker.session.cookie_jar.update_cookies({"kp_session": planted}, response_url=URL(portal.gateway_url))
        assert (await attacker.api("GET", "/api/v1/accounts/me"))[0] == 401


async def test_every_login_gets_a_new_session(portal) -> None:
    async with Client(portal.gateway_url) as client:
        email, password = await member_with_own_password(portal, client)
        first = session_cookie(client).value
        await logged_in(client, email, password)
        assert session_cookie(client).value != first
    # each right password's reservation went with its session (one statement): none counts as a failure
    key = email.lower()
    failures = await query(portal.database_url, "select 1 from accounts.login_failures where account_key = $1", key)
    assert failures == []
    seen = await query(portal.database_url, "select last_login_at from accounts.users where email_key = $1", key)
    assert seen[0]["last_login_at"] is not None


async def test_password_change_ends_other_sessions_on_two_gateway_replicas(portal) -> None:
    second = await portal.add_replica("gateway")
    async with Client(portal.gateway_url) as me, Client(second.url, origin=portal.gateway_url) as elsewhere:
        email, password = await member_with_own_password(portal, me)
        await logged_in(elsewhere, email, password)
        assert (await elsewhere.api("GET", "/api/v1/accounts/me"))[0] == 200  # cached on replica 2
        await logged_in(me, email, password)
        assert (await me.api("GET", "/api/v1/accounts/me"))[0] == 200
        status, _ = await me.api(
            "POST", "/api/v1/accounts/password", {"current_password": password, "new_password": password + " neu"}
        )
        assert status == 204
        changed = time.monotonic()
        while (await elsewhere.api("GET", "/api/v1/accounts/me"))[0] != 401:
            assert time.monotonic() - changed < 1.0, "replica 2 still honours the ended session after 1 s"
        assert (await me.api("GET", "/api/v1/accounts/me"))[0] == 200  # the changing session stays


async def test_password_reset_link_works_once_and_ends_every_session(portal) -> None:
    async with Client(portal.gateway_url) as client, Client(portal.gateway_url) as other:
        email, password = await member_with_own_password(portal, client)
        await logged_in(other, email, password)
        mark = portal.mail.mark()
        status, body = await client.api("POST", "/api/v1/accounts/password/forgot", {"email": email})
        assert status == 202
        mail = await portal.mail.wait_for(lambda m: m.to == email and "token=" in m.text, timeout=30, since=mark)
        link = extract_token_link(mail.text)
        assert "/passwort-zuruecksetzen?token=" in link
        token = link.split("token=", 1)[1]
        new = "Schornsteinfeger bringen Glück"
        assert (await client.api("POST", "/api/v1/accounts/password/reset", {"token": token, "new_password": new}))[
            0
        ] == 204
        status, body = await client.api(
            "POST", "/api/v1/accounts/password/reset", {"token": token, "new_password": new + "!"}
        )
        assert status == 409 and body["error"]["code"] == "token_used"
        assert (await other.api("GET", "/api/v1/accounts/me"))[0] == 401
        assert (await client.api("POST", "/api/v1/accounts/sessions", {"email": email, "password": password}))[0] == 401
        await logged_in(client, email, new)
    await portal.mail.wait_for(
        lambda m: m.to == email and "geändert" in m.subject and "vergessen" in m.text, timeout=30
    )


async def test_forgot_password_for_an_unconfirmed_account_sends_the_confirmation_again(portal) -> None:
    email = new_email()
    async with Client(portal.gateway_url) as client:
        await client.api("POST", "/api/v1/accounts/registrations", {**PERSON, "email": email})
        await portal.mail.wait_for(lambda m: m.to == email and "token=" in m.text, timeout=30)
        mark = portal.mail.mark()
        assert (await client.api("POST", "/api/v1/accounts/password/forgot", {"email": email}))[0] == 202
    mail = await portal.mail.wait_for(lambda m: m.to == email and "token=" in m.text, timeout=30, since=mark)
    assert "/registrierung/bestaetigen?token=" in mail.text


async def test_answers_do_not_tell_whether_an_address_is_known(portal) -> None:
    async with Client(portal.gateway_url) as client:
        known, _ = await member_with_own_password(portal, client)
        await client.api("DELETE", "/api/v1/accounts/sessions/current")
        unknown = new_email("nobody")
        for method, path, body in [
            ("POST", "/api/v1/accounts/registrations", {**PERSON}),
            ("POST", "/api/v1/accounts/password/forgot", {}),
            ("POST", "/api/v1/accounts/sessions", {"password": "Falsches Passwort 123"}),
        ]:
            answers = [await client.api(method, path, {**body, "email": address}) for address in (known, unknown)]
            assert answers[0] == answers[1], path


async def test_throttling_engages_the_same_for_known_and_unknown_addresses(portal_factory) -> None:
    portal = await portal_factory()  # its own: every test client shares one address
    async with Client(portal.gateway_url) as member, Client(portal.gateway_url) as stranger:
        known, password = await member_with_own_password(portal, member, "throttle")
        unknown = new_email("nobody")
        for address in (known, unknown):
            answers = [
                await stranger.api(
                    "POST", "/api/v1/accounts/sessions", {"email": address, "password": "Falsches Passwort 123"}
                )
                for _ in range(6)
            ]
            assert [s for s, _ in answers] == [401] * 5 + [429]
            assert answers[-1][1]["error"]["code"] == "login_throttled"
        # while throttled, the right password is refused from the stranger's browser too ...
        assert (await stranger.api("POST", "/api/v1/accounts/sessions", {"email": known, "password": password}))[
            0
        ] == 429
        # ... but the member's own browser, trusted since its earlier login, still gets in
        await logged_in(member, known, password)


async def test_a_burst_of_logins_is_answered_not_queued_forever(portal_factory) -> None:
    portal = await portal_factory()
    async with Client(portal.gateway_url) as client:
        answers = await asyncio.gather(
            *(
                client.api(
                    "POST",
                    "/api/v1/accounts/sessions",
                    {"email": new_email("burst"), "password": "Falsches Passwort 123"},
                )
                for _ in range(150)
            )
        )
    assert {status for status, _ in answers} <= {401, 429, 503}
    assert all(body["error"]["message"] for _, body in answers)


BAD = [
    ("POST", "/api/v1/accounts/sessions", {"email": "kein-at-zeichen", "password": "x"}, 422),
    ("POST", "/api/v1/accounts/sessions", {"email": "a@example.de", "password": "   "}, 422),
    ("POST", "/api/v1/accounts/sessions", {"email": "a@example.de"}, 422),
    ("POST", "/api/v1/accounts/password/forgot", {"email": ""}, 422),
    ("POST", "/api/v1/accounts/password/reset", {"token": "zu-kurz", "new_password": NEW_PASSWORD}, 422),
    ("POST", "/api/v1/accounts/password/reset", {"token": "x" * 43, "new_password": NEW_PASSWORD}, 400),
    ("POST", "/api/v1/accounts/password", {"current_password": "x", "new_password": NEW_PASSWORD}, 401),
    ("DELETE", "/api/v1/accounts/sessions/current", None, 401),
    ("GET", "/api/v1/accounts/me", None, 401),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"), BAD, ids=[f"{m} {p} {i}" for i, (m, p, _, _) in enumerate(BAD)]
)
async def test_bad_input_is_a_german_4xx(portal, method, path, body, status) -> None:
    async with Client(portal.gateway_url) as client:
        got, answer = await client.api(method, path, body)
    assert got == status
    assert answer["error"]["message"].endswith(".")


@pytest.mark.parametrize(
    ("new_password", "says"),
    [("kurz", "mindestens 12"), ("iloveyou12345", "zu bekannt"), ("x" * 200, "höchstens 128")],
)
async def test_a_weak_new_password_is_refused_and_nothing_changes(portal, new_password, says) -> None:
    async with Client(portal.gateway_url) as client:
        email, password = await member_with_own_password(portal, client, "weak")
        before = await query(
            portal.database_url, "select password_hash from accounts.users where email_key = $1", email
        )
        status, body = await client.api(
            "POST", "/api/v1/accounts/password", {"current_password": password, "new_password": new_password}
        )
        assert status == 422 and says in body["error"]["fields"]["new_password"]
        status, body = await client.api(
            "POST",
            "/api/v1/accounts/password",
            {"current_password": "Falsch Falsch Falsch", "new_password": NEW_PASSWORD + "!"},
        )
        assert status == 422 and "aktuelle Passwort" in body["error"]["fields"]["current_password"]
    after = await query(portal.database_url, "select password_hash from accounts.users where email_key = $1", email)
    assert before == after


async def test_a_cross_site_login_is_refused(portal) -> None:
    async with Client(portal.gateway_url) as client:
        async with client.session.post(
            portal.gateway_url + "/api/v1/accounts/sessions",
            json={"email": "a@example.de", "password": "x" * 12},
            headers={"Origin": "https://evil.example"},
        ) as response:
            assert response.status == 403
