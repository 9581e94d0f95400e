"""Chamber staff on a real portal (the `portal` fixture), through the gateway as a person would:
`create-staff`, the setup link, the login, the TOTP app set up. And the print shop's own durable,
read as the print shop reads it, to see a letter staff sent."""

import asyncio
import json
import os
import subprocess
import sys

import pyotp

from contracts import PinRequestedV1
from deploy.infra import ROOT
from deploy.printshop.settings import DURABLE, STREAM
from runtime.crypto import unseal
from tests.support.client import Client, new_email, query
from tests.support.members import logged_in

STAFF_PASSWORD = "Kammerbote bringt die Post"


def run_command(portal, service: str, *args: str) -> subprocess.CompletedProcess:
    """`python -m services.<service> …` as ops run it, with that service's PORTAL_ variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")} | portal.env[service]
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def sign_in_staff(portal, client: Client) -> str:
    """`client` then holds a staff session past its second factor; returns the staff e-mail."""
    email = new_email("staff")
    done = run_command(portal, "accounts", "create-staff", email, "--first-name", "Kira", "--last-name", "Kammer")
    assert done.returncode == 0, done.stderr
    # The link as the setup mail carries it, opened from accounts' outbox with notifications' key:
    # signing staff in then needs no mail (tests of that mail are notifications').
    rows = await query(
        portal.database_url,
        "select payload from accounts.outbox where subject = 'user.password_reset_requested.v1'"
        " and payload->>'email' = $1",
        email,
    )
    payload = json.loads(rows[0]["payload"]) if isinstance(rows[0]["payload"], str) else rows[0]["payload"]
    assert payload["purpose"] == "staff_setup", payload
    token = unseal(portal.notifications_private_key, payload["reset_link"]).split("token=", 1)[1]
    reset = {"token": token, "new_password": STAFF_PASSWORD}
    assert (await client.api("POST", "/api/v1/accounts/password/reset", reset))[0] == 204
    session = await logged_in(client, email, STAFF_PASSWORD)
    assert session.get("role") == "staff_pending", session
    status, setup = await client.api("POST", "/api/v1/accounts/staff/second-factor/setup")
    assert status == 200, setup
    code = pyotp.TOTP(setup["secret"]).now()
    status, body = await client.api("POST", "/api/v1/accounts/staff/second-factor/setup/confirm", {"code": code})
    assert status == 200, body
    return email


class PrintShop:
    """The print shop's durable (`printshop_pin_requested_v1`) as its NATS user reads it."""

    def __init__(self, portal) -> None:
        self.portal = portal

    async def __aenter__(self) -> "PrintShop":
        self.connection = await self.portal.nats_connect("printshop")
        js = self.connection.jetstream(timeout=5)
        self.subscription = await js.pull_subscribe_bind(durable=DURABLE, stream=STREAM)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.connection.close()

    async def letter_for(self, number: str, timeout: float = 30) -> tuple[PinRequestedV1, str]:
        """The next letter for `number` and its PIN, opened with the print shop's key."""
        async with asyncio.timeout(timeout):
            while True:
                try:
                    messages = await self.subscription.fetch(10, timeout=1)
                except TimeoutError:
                    continue
                for message in messages:
                    await message.ack()
                    event = PinRequestedV1.model_validate_json(message.data)
                    if event.betriebsnummer == number:
                        return event, unseal(self.portal.printshop_private_key, event.pin)
