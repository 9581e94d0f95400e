"""Steps 3 and 4 of the seed through the gateway, on real servers: the chamber imports the
register, a member requests a PIN, the print shop opens it, the member links the account, is
logged out for security, logs in again and reaches the member area."""

import asyncio
import os
import secrets
import subprocess
import sys

import pytest

from contracts import PinRequestedV1
from deploy.infra import ROOT
from runtime.crypto import unseal
from tests.support.client import Client, query
from tests.support.members import logged_in, member_with_own_password
from tests.support.wait import until

pytestmark = pytest.mark.integration

HEADER = "Betriebsnummer;Name;Straße;PLZ;Ort;E-Mail;Gewerk"


def betriebsnummer() -> str:
    return str(secrets.randbelow(10**9) + 10**9)


def import_businesses(portal, rows: list[str], tmp_path, *extra: str) -> subprocess.CompletedProcess:
    path = tmp_path / f"register-{secrets.token_hex(3)}.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(portal.env["pins"])
    return subprocess.run(
        [sys.executable, "-m", "services.pins", "import-businesses", str(path), *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


class PrintShopTap:
    """Reads pin.requested.v1 as the print shop would and opens the PIN with its private key."""

    def __init__(self, portal) -> None:
        self.portal = portal

    async def __aenter__(self) -> "PrintShopTap":
        self.connection = await self.portal.nats_connect("ops")  # ops may look into JetStream
        js = self.connection.jetstream()
        self.subscription = await js.subscribe(
            PinRequestedV1.SUBJECT, stream=PinRequestedV1.STREAM, ordered_consumer=True
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.connection.close()

    async def letter_for(self, number: str, timeout: float = 30) -> tuple[PinRequestedV1, str]:
        async with asyncio.timeout(timeout):
            while True:
                message = await self.subscription.next_msg(timeout=timeout)
                event = PinRequestedV1.model_validate_json(message.data)
                if event.betriebsnummer == number:
                    return event, unseal(self.portal.printshop_private_key, event.pin)


async def test_the_whole_way_to_the_member_area(portal, tmp_path) -> None:
    number = betriebsnummer()
    result = import_businesses(
        portal,
        [f"{number};Dachdeckerei Muster GmbH;Wilhelmstraße 1;65185;Wiesbaden;info@muster.example;Dachdecker"],
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    async with PrintShopTap(portal) as printshop, Client(portal.gateway_url) as member:
        email, password = await member_with_own_password(portal, member, "journey")
        status, body = await member.api("GET", "/api/v1/pins/businesses/mine")
        assert status == 403

        status, body = await member.api("POST", "/api/v1/pins/requests", {"betriebsnummer": number})
        assert status == 202, body
        letter, pin = await printshop.letter_for(number)
        assert letter.address.street == "Wilhelmstraße 1" and letter.address.postal_code == "65185"
        assert letter.reason == "user_request" and len(pin.replace("-", "")) == 8
        assert not set(pin) & set("IO01l")

        async def handed_over():
            status, body = await member.api("GET", "/api/v1/pins/requests")
            return [(r["betriebsnummer"], r["state"]) for r in body["requests"]] == [(number, "handed_over")]

        await until(handed_over, "the letter shown as handed to the print shop")

        messy = f"  {pin.lower().replace('-', ' ')} "  # as typed from the letter
        status, body = await member.api("POST", "/api/v1/pins/links", {"betriebsnummer": number, "pin": messy})
        assert status == 200, body
        assert "Sicherheitsgründen" in body["message"]
        assert (await member.api("GET", "/api/v1/accounts/me"))[0] == 401  # logged out at once

        await logged_in(member, email, password)
        status, area = await member.api("GET", "/api/v1/pins/businesses/mine")
        assert status == 200, area
        business = area["businesses"][0]
        assert business["betriebsnummer"] == number and business["name"] == "Dachdeckerei Muster GmbH"
        assert any(account["email"] == email for account in business["linked_accounts"])
        status, me = await member.api("GET", "/api/v1/accounts/me")
        assert [b["betriebsnummer"] for b in me["businesses"]] == [number]
        status, html, _ = await member.page("GET", "/mein-betrieb")
        assert status == 200 and "Dachdeckerei Muster GmbH" in html and email in html

        status, body = await member.api("POST", "/api/v1/pins/links", {"betriebsnummer": number, "pin": pin})
        assert status == 422  # a PIN works once

    await portal.mail.wait_for(lambda m: m.to == "info@muster.example" and number in m.text, timeout=30)
    await portal.mail.wait_for(lambda m: m.to == email and "unterwegs" in m.subject, timeout=30)


async def test_a_wrong_pin_is_refused_in_german_and_the_member_stays_logged_in(portal, tmp_path) -> None:
    number = betriebsnummer()
    assert (
        import_businesses(
            portal, [f"{number};Malerbetrieb Beispiel;Rheinstraße 5;65185;Wiesbaden;;Maler"], tmp_path
        ).returncode
        == 0
    )
    async with Client(portal.gateway_url) as member:
        await member_with_own_password(portal, member, "wrongpin")
        status, body = await member.api("POST", "/api/v1/pins/links", {"betriebsnummer": number, "pin": "ABCD-EFGH"})
        assert status == 422 and "PIN" in body["error"]["fields"]["pin"]
        assert (await member.api("GET", "/api/v1/accounts/me"))[0] == 200
        status, html, _ = await member.page(
            "POST", "/mein-betrieb/verknuepfen", {"betriebsnummer": number, "pin": "ABCD-EFGH"}
        )
        assert status == 422 and "PIN" in html


async def test_an_import_with_a_bad_row_applies_nothing(portal, tmp_path) -> None:
    good, bad = betriebsnummer(), betriebsnummer()
    result = import_businesses(
        portal, [f"{good};Gut GmbH;Weg 1;65185;Wiesbaden;;", f"{bad};Schlecht GmbH;Weg 2;6518;Wiesbaden;;"], tmp_path
    )
    assert result.returncode != 0
    assert "Zeile 3" in result.stdout + result.stderr
    rows = await query(
        portal.database_url,
        "select betriebsnummer from pins.businesses where betriebsnummer = any($1::text[])",
        [good, bad],
    )
    assert rows == []
