"""accounts consumes pin.linked.v1: the membership is recorded and every session of the member
ends in the same transaction; a redelivered event changes nothing."""

import json
from datetime import UTC, datetime

import nats
import pytest

from contracts import PinLinkedV1
from runtime.sessions import RESOLVE_PATH
from tests.support.client import query
from tests.support.inprocess import accounts_in_process, active_member, call, login
from tests.support.wait import until

pytestmark = pytest.mark.integration


@pytest.fixture
async def accounts(postgres, nats_server):
    async for client in accounts_in_process(postgres, nats_server):
        yield client


async def publish(nats_url: str, event: PinLinkedV1) -> None:
    connection = await nats.connect(nats_url)
    try:
        await connection.jetstream().publish(
            event.SUBJECT, event.model_dump_json().encode(), headers={"Nats-Msg-Id": str(event.event_id)}
        )
    finally:
        await connection.close()


async def test_a_link_records_the_membership_and_ends_every_session(accounts, nats_server) -> None:
    email, password = await active_member(accounts)
    tokens = [await login(accounts, email, password) for _ in range(2)]
    status, body = await call(accounts, "POST", RESOLVE_PATH, {"token": tokens[0]})
    user_id = body["user_id"]
    event = PinLinkedV1(
        user_id=user_id, betriebsnummer="4711", business_name="Dachdeckerei Muster", linked_at=datetime.now(UTC)
    )
    await publish(nats_server.url, event)
    await publish(nats_server.url, event.model_copy(update={}))  # a redelivery: same event id

    rows = await until(
        lambda: query(accounts.dsn, "select * from accounts.memberships where user_id = $1", event.user_id),
        "membership recorded",
    )

    assert rows[0]["betriebsnummer"] == "4711" and rows[0]["business_name"] == "Dachdeckerei Muster"
    for token in tokens:
        assert (await call(accounts, "POST", RESOLVE_PATH, {"token": token}))[0] == 404
    revokes = await query(accounts.dsn, "select payload from accounts.outbox where subject = 'session.revoke.v1'")
    reasons = [
        json.loads(r["payload"])["reason"] if isinstance(r["payload"], str) else r["payload"]["reason"] for r in revokes
    ]
    assert reasons.count("business_linked") == 1

    fresh = await login(accounts, email, password)
    status, body = await call(accounts, "POST", RESOLVE_PATH, {"token": fresh})
    status, profile = await call(accounts, "GET", "/api/v1/accounts/me", user=f"{body['user_id']}:{body['session_id']}")
    assert [b["betriebsnummer"] for b in profile["businesses"]] == ["4711"]
