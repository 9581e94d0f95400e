"""The member's data, through the gateway on real servers: "Meine Daten herunterladen" holds
every service's part; "Konto löschen" (or staff erasing the account) leaves no trace of the person in a full dump
of the database, logging in
answers like an unknown address, and a linked business keeps its data."""

import asyncio
import json
import secrets
import string

import pytest

from deploy.openapi import ExportOut
from tests.support.browser import import_businesses, new_betriebsnummer
from tests.support.client import Client, new_email, query
from tests.support.mail import extract_password, extract_token_link
from tests.support.members import NEW_PASSWORD, logged_in
from tests.support.pins import pin_from_outbox
from tests.support.staff_portal import sign_in_staff
from tests.support.wait import until

pytestmark = pytest.mark.integration

SCHEMAS = ("accounts", "pins", "notifications")
TEXT_TYPES = ("text", "character varying", "jsonb", "json")


def unique_name(prefix: str) -> str:
    """A name no other test's member has, so finding it in the dump means this person."""
    return prefix + "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))


async def member(portal, client: Client) -> dict:
    """Registered, confirmed, signed in with their own password; names of their own."""
    person = {
        "email": new_email("memberdata"),
        "first_name": unique_name("Wendel"),
        "last_name": unique_name("Quast"),
        "birth_date": "1981-02-03",
    }
    assert (await client.api("POST", "/api/v1/accounts/registrations", person))[0] == 202
    mail = await portal.mail.wait_for(lambda m: m.to == person["email"] and "token=" in m.text, timeout=30)
    token = extract_token_link(mail.text).split("token=", 1)[1]
    assert (await client.api("POST", "/api/v1/accounts/registrations/confirm", {"token": token}))[0] == 200
    mail = await portal.mail.wait_for(lambda m: m.to == person["email"] and "Passwort: " in m.text, timeout=30)
    await logged_in(client, person["email"], extract_password(mail.text))
    change = {"current_password": extract_password(mail.text), "new_password": NEW_PASSWORD}
    assert (await client.api("POST", "/api/v1/accounts/password", change))[0] == 204
    await portal.mail.wait_for(lambda m: m.to == person["email"] and "geändert" in m.subject, timeout=30)
    return person


async def linked(portal, client: Client, person: dict, folder) -> str:
    """The member linked to a new business with the PIN of its letter (read as the print shop does)."""
    number = new_betriebsnummer()
    import_businesses(
        portal, [f"{number};Dachdeckerei Lotz;Ringstraße 9;65183;Wiesbaden;info@lotz.de;Dachdecker"], folder
    )
    assert (await client.api("POST", "/api/v1/pins/requests", {"betriebsnummer": number}))[0] == 202

    pin = await pin_from_outbox(portal, number)
    assert (await client.api("POST", "/api/v1/pins/links", {"betriebsnummer": number, "pin": pin}))[0] == 200
    await logged_in(client, person["email"], NEW_PASSWORD)  # the link ended the session
    return number


async def traces(portal, *needles: str) -> list[str]:
    """Every text and JSON column of every table in the services' schemas, searched: the
    `schema.table.column` where one of `needles` occurs (case-insensitive)."""
    columns = await query(
        portal.database_url,
        "select table_schema, table_name, column_name from information_schema.columns"
        " join information_schema.tables using (table_schema, table_name)"
        " where table_schema = any($1) and data_type = any($2) and table_type = 'BASE TABLE'",
        list(SCHEMAS),
        list(TEXT_TYPES),
    )
    assert len(columns) > 20  # the search saw the schemas
    found = []
    for c in columns:
        where = f'"{c["table_schema"]}"."{c["table_name"]}"'
        for needle in needles:
            rows = await query(
                portal.database_url,
                f'select 1 from {where} where strpos(lower("{c["column_name"]}"::text), lower($1)) > 0 limit 1',
                needle,
            )
            if rows:
                found.append(f"{where}.{c['column_name']}: {needle}")
    return found


async def export_of(client: Client) -> tuple[int, dict, dict]:
    async with client.session.get(client.base_url + "/api/v1/export") as response:
        body = await response.json() if response.content_type == "application/json" else {}
        return response.status, dict(response.headers), body


async def test_the_export_holds_every_services_part(portal, test_output) -> None:
    async with Client(portal.gateway_url) as client:
        person = await member(portal, client)
        number = await linked(portal, client, person, test_output)
        contact = {"name": person["last_name"], "email": person["email"], "message": "Bitte rufen Sie mich zurück."}
        assert (await client.api("POST", "/api/v1/notifications/contact", contact))[0] == 202

        async def mails_known():
            status, _, body = await export_of(client)
            assert status == 200, body
            kinds = {m["kind"] for m in body["notifications"]["mails"]}
            return body if {"contact_copy", "business_linked"} <= kinds or "member_linked" in kinds else None

        status, headers, body = await export_of(client)
        assert status == 200, body
        assert headers["Content-Disposition"] == 'attachment; filename="kundenportal-daten.json"'
        document = await until(mails_known, "notifications knows the mails of the link and the contact request")

    ExportOut.model_validate(document)  # the download is what the OpenAPI document says it is
    accounts, pins, notifications = document["accounts"], document["pins"], document["notifications"]
    assert accounts["account"]["email"] == person["email"]
    assert accounts["account"]["last_name"] == person["last_name"]
    assert len(accounts["sessions"]) >= 1 and "token_hash" not in json.dumps(document)
    assert [m["betriebsnummer"] for m in accounts["memberships"]] in ([number], [])  # the projection may lag
    assert pins["member"]["email"] == person["email"]
    assert [link["betriebsnummer"] for link in pins["links"]] == [number]
    assert [letter["betriebsnummer"] for letter in pins["letters_requested"]] == [number]
    assert notifications["recipient"]["email"] == person["email"]
    assert {"registration_confirmation", "initial_password", "password_changed"} <= {
        m["kind"] for m in notifications["mails"]
    }
    assert len(notifications["contact_requests"]) == 1
    assert "sealed" not in json.dumps(notifications) and "context" not in json.dumps(notifications)


async def test_the_export_needs_a_session(portal) -> None:
    async with Client(portal.gateway_url) as anonymous:
        status, _, body = await export_of(anonymous)
    assert status == 401, body


async def dump(database_url: str) -> str:
    """The whole database as pg_dump writes it (every schema, every column type), lower case."""
    from pgserver._commands import POSTGRES_BIN_PATH

    process = await asyncio.create_subprocess_exec(
        str(POSTGRES_BIN_PATH / "pg_dump"),
        "--data-only",
        f"--dbname={database_url}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode().lower()


async def gave_up_on(portal, schema: str, user_id, person: dict) -> None:
    """A message about the person that a service's consumer gave up on, as runtime.consumers keeps
    it: its payload names them, and so may the error's text."""
    payload = json.dumps({"user_id": str(user_id), **person}).encode()
    await query(
        portal.database_url,
        f"insert into {schema}.dead_letters (consumer, stream, subject, sequence, published_at, payload, reason,"
        " deliveries) values ('gave-up-on', 'USERS', 'user.registered.v1', $1, now(), $2, $3, 5)",
        secrets.randbelow(2**62),
        payload,
        f"handler failed on delivery 5: UniqueViolationError: Key (email)=({person['email']}) already exists",
    )


async def erase(portal, client: Client, person: dict, by: str) -> None:
    """ "Konto löschen" by the member, or the staff area's erasure."""
    if by == "member":
        status, _ = await client.api("DELETE", "/api/v1/accounts/me", {"password": NEW_PASSWORD})
        assert status == 204
        return
    async with Client(portal.gateway_url) as staff:
        await sign_in_staff(portal, staff)
        status, found = await staff.api("GET", f"/api/v1/accounts/staff/members?email={person['email']}")
        assert status == 200, found
        status, _ = await staff.api("DELETE", f"/api/v1/accounts/staff/members/{found['user_id']}")
        assert status == 204


@pytest.mark.parametrize("by", ["member", "staff"])
async def test_deleting_leaves_no_trace_and_the_business_keeps_its_data(portal, test_output, by) -> None:
    async with Client(portal.gateway_url) as client, Client(portal.gateway_url) as stranger:
        person = await member(portal, client)
        number = await linked(portal, client, person, test_output)
        contact = {"name": person["last_name"], "email": person["email"], "message": "Bitte rufen Sie mich zurück."}
        assert (await client.api("POST", "/api/v1/notifications/contact", contact))[0] == 202
        await portal.mail.wait_for(lambda m: m.to == person["email"] and person["last_name"] in m.text, timeout=30)
        [user] = await query(portal.database_url, "select id from accounts.users where email = $1", person["email"])
        needles = (person["email"], person["first_name"], person["last_name"])
        assert await traces(portal, *needles)  # the search finds the person while they exist
        before = await dump(portal.database_url)
        assert all(needle.lower() in before for needle in needles)  # and so does the dump

        for schema in SCHEMAS:
            await gave_up_on(portal, schema, user["id"], person)

        await erase(portal, client, person, by)
        assert (await client.api("GET", "/api/v1/accounts/me"))[0] == 401  # every session ended

        async def erased():
            pins = await query(portal.database_url, "select 1 from pins.members where user_id = $1", user["id"])
            mails = await query(
                portal.database_url, "select 1 from notifications.recipients where user_id = $1", user["id"]
            )
            return not pins and not mails

        await until(erased, "pins and notifications erased the member", timeout=30)
        if by == "staff":  # the person is told once more; that mail's row forgets them when sent
            await portal.mail.wait_for(lambda m: m.to == person["email"] and "gelöscht" in m.subject, timeout=30)

        async def no_trace_in_the_dump():
            text = await dump(portal.database_url)
            return not any(needle.lower() in text for needle in needles)

        await until(no_trace_in_the_dump, "no trace of the person in a full pg_dump", timeout=30)
        # pg_dump writes a payload's bytes as hex: the dead letters are read as text themselves
        for schema in SCHEMAS:
            rows = await query(
                portal.database_url,
                f"select state, convert_from(payload, 'UTF8') || reason as text from {schema}.dead_letters"
                " where consumer = 'gave-up-on'",
            )
            text = " ".join(r["text"] for r in rows if r["state"] == "dropped").lower()
            assert len(rows) == len([r for r in rows if r["state"] == "dropped"]) >= 1, (schema, rows)
            assert not any(needle.lower() in text for needle in needles), (schema, text)
        left = await traces(portal, *needles)
        print(f"member data ({by}): traces left after deletion: {left}")
        assert left == []

        business = await query(
            portal.database_url, "select name from pins.businesses where betriebsnummer = $1", number
        )
        letters = await query(
            portal.database_url, "select requested_by, used_by from pins.pin_letters where betriebsnummer = $1", number
        )
        assert [b["name"] for b in business] == ["Dachdeckerei Lotz"]
        assert [(r["requested_by"], r["used_by"]) for r in letters] == [(None, None)]
        assert await query(portal.database_url, "select 1 from pins.links where betriebsnummer = $1", number) == []

        unknown = {"email": new_email("nobody"), "password": NEW_PASSWORD}
        deleted = {"email": person["email"], "password": NEW_PASSWORD}
        assert await stranger.api("POST", "/api/v1/accounts/sessions", deleted) == await stranger.api(
            "POST", "/api/v1/accounts/sessions", unknown
        )
        assert (await stranger.api("POST", "/api/v1/accounts/sessions", deleted))[0] == 401


async def test_a_wrong_password_deletes_nothing(portal) -> None:
    async with Client(portal.gateway_url) as client:
        person = await member(portal, client)
        status, body = await client.api("DELETE", "/api/v1/accounts/me", {"password": "nicht mein Passwort"})
        assert status == 422 and "password" in body["error"]["fields"], body
        status, me = await client.api("GET", "/api/v1/accounts/me")
        assert status == 200 and me["email"] == person["email"]
        assert await query(portal.database_url, "select 1 from accounts.users where email = $1", person["email"])
