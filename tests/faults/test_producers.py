"""Producers lose nothing and publish nothing twice: the outbox relay against a row it cannot
publish and beside replicas of itself (in this process, real Postgres and NATS), and accounts
and pins killed with SIGKILL in the middle of a burst of requests through the gateway."""

import asyncio
import contextlib
import secrets
from collections import Counter
from datetime import UTC, datetime
from uuid import uuid4

import asyncpg
import pytest
from faststream.nats import NatsBroker

from contracts import PinLinkedV1, SessionRevokeV1, UserRegistrationRepeatedV1
from runtime import bus, db, wakeup
from runtime.outbox import OutboxRelay, channel, enqueue, enqueue_with
from runtime.outbox_rules import aggregate_key
from runtime.service import stop_task
from tests.support.burst import Burst
from tests.support.client import Client, new_email, query
from tests.support.members import member_with_own_password
from tests.support.operator import import_businesses
from tests.support.published import last_seq, messages
from tests.support.wait import until

pytestmark = pytest.mark.integration

SCHEMA = "relaytest"
STREAM = "PORTAL_SESSIONS"  # nothing in the test session consumes it durably


def revocation(user) -> SessionRevokeV1:
    return SessionRevokeV1(user_id=user, all_sessions=True, reason="logout")


class Publisher:
    """The real publish, counted; event ids in `refused` fail, and `gate` can hold publishing."""

    def __init__(self, publish) -> None:
        self.publish = publish
        self.calls: list[str] = []
        self.tries = 0
        self.refused: set[str] = set()
        self.gate = asyncio.Event()
        self.gate.set()
        self.waiting = asyncio.Event()

    async def __call__(self, subject: str, payload: bytes, event_id: str):
        self.tries += 1
        if event_id in self.refused:
            raise RuntimeError("no stream will take this one")
        self.waiting.set()
        await self.gate.wait()
        self.calls.append(event_id)
        return await self.publish(subject, payload, event_id)


@pytest.fixture
async def outbox(postgres):
    pool = await db.create_pool(await postgres.create_database(f"outbox_{secrets.token_hex(4)}"), SCHEMA)
    yield pool
    await pool.close()


@pytest.fixture
async def nats(nats_server):
    broker = NatsBroker(nats_server.url)
    await broker.connect()
    yield broker
    await broker.stop()


async def write(pool, events) -> None:
    for event in events:  # one transaction each, as a use case writes them
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, event, SCHEMA)


async def unpublished(pool, events) -> set[str]:
    rows = await pool.fetch(
        "select event_id from outbox where published_at is null and event_id = any($1::uuid[])",
        [e.event_id for e in events],
    )
    return {str(r["event_id"]) for r in rows}


def relays(pool, publisher, n: int = 1, **options) -> list[asyncio.Task]:
    options = {"poll_interval": 0.2, **options}
    return [asyncio.create_task(OutboxRelay(pool, publisher, SCHEMA, **options).run()) for _ in range(n)]


async def stopped(tasks) -> None:
    for task in tasks:
        await stop_task(task)


async def test_a_row_that_cannot_be_published_holds_up_only_its_own_aggregate(outbox, nats) -> None:
    publisher = Publisher(bus.publisher(nats))
    stuck_user = uuid4()
    stuck, behind = revocation(stuck_user), revocation(stuck_user)
    others = [revocation(uuid4()) for _ in range(5)]
    publisher.refused.add(str(stuck.event_id))
    start = await last_seq(nats.connection, STREAM)
    await write(outbox, [stuck, behind, *others])
    tasks = relays(outbox, publisher)
    try:
        await until(lambda: _none(unpublished(outbox, others)), "the other aggregates' rows published", timeout=10)
        assert await unpublished(outbox, [stuck, behind]) == {str(stuck.event_id), str(behind.event_id)}
        row = await outbox.fetchrow("select * from outbox where event_id = $1", stuck.event_id)
        assert row["attempts"] >= 1 and "no stream will take this one" in row["last_error"]
        assert row["next_attempt_at"] is not None and row["claimed_by"] is None
        print(f"\nstuck row: {row['attempts']} attempt(s); the {len(others)} rows of other aggregates published")

        publisher.refused.clear()  # the cause fixed: it goes out with its next try, and then the one behind it
        await until(lambda: _none(unpublished(outbox, [stuck, behind])), "the stuck aggregate published", timeout=10)
    finally:
        await stopped(tasks)
    stream = [m.event_id for m in await messages(nats.connection, STREAM, start)]
    assert stream.index(str(stuck.event_id)) < stream.index(str(behind.event_id))
    assert sorted(stream) == sorted(str(e.event_id) for e in [stuck, behind, *others])


async def test_no_transaction_is_open_while_the_relay_waits_for_nats(outbox, nats) -> None:
    publisher = Publisher(bus.publisher(nats))
    publisher.gate.clear()
    event = revocation(uuid4())
    await write(outbox, [event])
    tasks = relays(outbox, publisher)
    try:
        await asyncio.wait_for(publisher.waiting.wait(), 10)
        open_transactions = await outbox.fetchval(
            "select count(*) from pg_stat_activity"
            " where datname = current_database() and state like 'idle in transaction%'"
        )
        async with outbox.acquire() as conn, conn.transaction():
            # the row is not locked: anyone may read it for update at once meanwhile
            locked = await conn.fetchval("select id from outbox where event_id = $1 for update nowait", event.event_id)
        assert open_transactions == 0 and locked is not None
        publisher.gate.set()
        await until(lambda: _none(unpublished(outbox, [event])), "published once the network answers", timeout=10)
    finally:
        publisher.gate.set()
        await stopped(tasks)


async def test_replicas_relay_each_row_once_and_each_aggregate_in_order(outbox, nats) -> None:
    publisher = Publisher(bus.publisher(nats))
    users = [uuid4() for _ in range(5)]
    events = [revocation(users[i % len(users)]) for i in range(200)]  # interleaved aggregates
    start = await last_seq(nats.connection, STREAM)
    await write(outbox, events)
    loop = asyncio.get_running_loop()
    began = loop.time()
    tasks = relays(outbox, publisher, 3, batch_size=10)
    try:
        await until(lambda: _none(unpublished(outbox, events)), "every row published by the replicas", timeout=30)
    finally:
        await stopped(tasks)
    took = loop.time() - began
    stream = await messages(nats.connection, STREAM, start)
    mine = {str(e.event_id) for e in events}
    in_stream = [m.event_id for m in stream if m.event_id in mine]
    duplicated = len(publisher.calls) - len(set(publisher.calls))
    print(
        f"\n3 replicas: {len(in_stream)} of {len(events)} events in the stream in {took:.1f} s, {duplicated} published twice"
    )
    assert duplicated == 0 and sorted(in_stream) == sorted(mine)
    for user in users:
        written = [str(e.event_id) for e in events if e.user_id == user]
        assert [e for e in in_stream if e in set(written)] == written, f"events of {user} out of order"


async def test_rows_behind_a_published_one_go_out_in_the_same_drain_not_at_the_next_poll(outbox, nats) -> None:
    """One wake-up, one aggregate's rows behind each other: the relay's pass ends only when no
    published row has the next of its aggregate waiting (the poll here is a minute away)."""
    publisher = Publisher(bus.publisher(nats))
    tasks = relays(outbox, publisher, poll_interval=60.0)
    try:
        user, others = uuid4(), [uuid4() for _ in range(3)]
        events = [revocation(user) for _ in range(4)] + [revocation(other) for other in others]
        async with outbox.acquire() as conn, conn.transaction():  # one commit: one wake-up
            for event in events:
                await enqueue(conn, event, SCHEMA)
        await until(lambda: _none(unpublished(outbox, events)), "every row published without a poll", timeout=10)
    finally:
        await stopped(tasks)
    assert [c for c in publisher.calls if c in {str(e.event_id) for e in events[:4]}] == [
        str(e.event_id) for e in events[:4]
    ]


async def test_in_a_backlog_what_someone_waits_for_goes_out_before_the_rest(outbox) -> None:
    """A burst leaves hundreds of rows waiting; a session revocation (outbox_rules.URGENT: a
    logout everywhere, a password reset's mail) written behind them goes out in the first batch
    claimed, not after the whole backlog. Only the order of the claims is asked here: the publish records
    it and sends nothing (the stream's readers are other tests' too)."""

    async def recorded(subject: str, payload: bytes, event_id: str) -> bool:
        return False

    publisher = Publisher(recorded)
    burst = [
        PinLinkedV1(user_id=uuid4(), betriebsnummer=str(10**6 + i), business_name="Tischlerei", linked_at=_now())
        for i in range(300)
    ]
    urgent = revocation(uuid4())
    await write(outbox, [*burst, urgent])
    tasks = relays(outbox, publisher, batch_size=50)
    try:
        await until(lambda: _none(unpublished(outbox, [*burst, urgent])), "the backlog published", timeout=30)
    finally:
        await stopped(tasks)
    position = publisher.calls.index(str(urgent.event_id))
    print(f"\nthe revocation written after {len(burst)} rows went out as number {position + 1}")
    assert position < 50  # in the first batch of 50, not the 301st
    assert [c for c in publisher.calls if c != str(urgent.event_id)] == [str(e.event_id) for e in burst]


async def test_a_statement_of_its_own_wakes_this_process_relay_directly_and_sends_no_notify(outbox, nats) -> None:
    """`enqueue_with` beside a listening relay of the same process: published at once (the poll
    is a minute away) with no NOTIFY for anyone; inside a caller's transaction, the NOTIFY."""
    heard: list[str] = []
    outsider = await outbox.acquire()
    await outsider.add_listener(channel(SCHEMA), lambda *_: heard.append("notify"))
    tasks = relays(outbox, Publisher(bus.publisher(nats)), poll_interval=60.0)
    try:
        await until(lambda: wakeup.here(channel(SCHEMA)), "the relay listening")
        alone = revocation(uuid4())
        async with outbox.acquire() as conn:
            assert await enqueue_with(conn, alone, SCHEMA, "made as (select 1 as one)", "made")
        await until(lambda: _none(unpublished(outbox, [alone])), "published without a poll", timeout=10)
        inside = revocation(uuid4())
        async with outbox.acquire() as conn, conn.transaction():
            assert await enqueue_with(conn, inside, SCHEMA, "made as (select 1 as one)", "made")
        await until(lambda: _none(unpublished(outbox, [inside])), "published on the NOTIFY", timeout=10)
        await until(lambda: heard, "the NOTIFY of the transaction's commit")
    finally:
        await stopped(tasks)
        await outsider.reset()
        await outbox.release(outsider)
    assert heard == ["notify"]  # one: the transaction's; the statement of its own sent none
    assert wakeup.here(channel(SCHEMA)) is None  # stopped: a writer sends the NOTIFY again


async def test_while_nats_is_away_rows_wait_without_counting_a_failure(outbox, nats_server) -> None:
    broker = NatsBroker(nats_server.url)  # not connected yet: as after NATS went away
    publisher = Publisher(bus.publisher(broker))
    event = revocation(uuid4())
    await write(outbox, [event])
    tasks = relays(outbox, publisher, poll_interval=0.05)
    try:
        await until(lambda: publisher.tries >= 3, "the relay tried three times", timeout=10)
        row = await outbox.fetchrow("select * from outbox where event_id = $1", event.event_id)
        assert row["published_at"] is None and row["attempts"] == 0 and row["next_attempt_at"] is None
        await broker.connect()
        await until(lambda: _none(unpublished(outbox, [event])), "published once NATS is back", timeout=10)
        print(f"\nNATS away: {publisher.tries - 1} tries, no failure counted; published once connected")
    finally:
        await stopped(tasks)
        await broker.stop()


async def test_rows_waiting_at_the_upgrade_get_the_aggregate_new_rows_get(postgres) -> None:
    conn = await asyncpg.connect(
        **await db.connect_args(await postgres.create_database(f"up_{secrets.token_hex(4)}"), "up")
    )
    try:
        await conn.execute("create schema up")
        files = sorted(db.RUNTIME_MIGRATIONS.glob("*.sql"))
        upgrade = next(f for f in files if f.stem.endswith("_outbox_relay"))
        for older in files[: files.index(upgrade)]:
            await conn.execute(older.read_text(encoding="utf-8"))
        user = uuid4()
        events = [
            UserRegistrationRepeatedV1(user_id=user, email="erika@example.de", first_name="Erika", last_name="M"),
            revocation(user),
            PinLinkedV1(user_id=user, betriebsnummer="4711", business_name="Muster GmbH", linked_at=datetime.now(UTC)),
        ]
        for event in events:  # as the previous version wrote them
            await conn.execute(
                "insert into outbox (event_id, subject, payload) values ($1, $2, $3::jsonb)",
                event.event_id,
                event.SUBJECT,
                event.model_dump_json(),
            )
        await conn.execute(upgrade.read_text(encoding="utf-8"))
        keys = {
            r["event_id"]: r["aggregate_key"] for r in await conn.fetch("select event_id, aggregate_key from outbox")
        }
    finally:
        await conn.close()
    assert keys == {e.event_id: aggregate_key(e) for e in events}


# --- whole portals: a producer killed with SIGKILL in the middle of a burst ----------------------

PERSON = {"first_name": "Erika", "last_name": "Mustermann", "birth_date": "1979-05-04"}


def endless_emails(tag: str):
    while True:
        yield new_email(tag)


async def test_accounts_killed_in_a_burst_of_registrations(cluster_portal) -> None:
    portal = cluster_portal
    accounts = portal.services["accounts"]
    loop = asyncio.get_running_loop()
    async with Client(portal.gateway_url) as client:

        async def register(email: str) -> int:
            return (await client.api("POST", "/api/v1/accounts/registrations", {**PERSON, "email": email}))[0]

        burst = Burst(register, endless_emails("prodkill"))
        await burst.wait_answered(30, 202)
        await accounts.kill()
        dead_at = loop.time()
        await burst.wait_answered(8, since=dead_at)
        await burst.stop()
        await accounts.start()
        await accounts.wait_ready()
        ready_at = loop.time()
        later = [new_email("prodkill") for _ in range(5)]
        assert [await register(e) for e in later] == [202] * 5
    accepted, refused, broken = burst.outcome(dead_at)
    accepted += later
    for email in accepted:
        await portal.mail.wait_for(lambda m, e=email: m.to == e and "token=" in m.text, timeout=60)
    recovery = loop.time() - ready_at
    await _nothing_left(portal, "accounts")
    nc = await portal.nats_connect()
    try:
        stream = Counter(m.payload["email"] for m in await messages(nc, "PORTAL_USERS", 0, "user.registered.v1"))
    finally:
        await nc.close()
    mails = Counter(m.to for m in portal.mail.find(lambda m: "token=" in m.text))
    written = {
        r["email"] for r in await query(portal.database_url, "select payload->>'email' as email from accounts.outbox")
    }
    lost, duplicated, refused_with_effect, broken_with_effect = _tally(
        accepted, refused, broken, stream, mails, written
    )
    print(
        f"\naccounts killed: {len(accepted)} accepted, {len(refused)} refused while dead, {len(broken)} broken off"
        f" ({len(broken_with_effect)} of them committed before the kill); lost {len(lost)}, duplicated"
        f" {len(duplicated)}, refused with an effect {len(refused_with_effect)}; every mail out"
        f" {recovery:.1f} s after accounts was ready again"
    )
    assert lost == [] and duplicated == [] and refused_with_effect == []
    assert all(stream[e] == mails[e] for e in broken)  # a broken-off request's effect is whole or absent


async def test_pins_killed_in_the_middle_of_pin_requests(cluster_portal, tmp_path) -> None:
    portal = cluster_portal
    pins = portal.services["pins"]
    loop = asyncio.get_running_loop()
    numbers = [str(secrets.randbelow(10**11) + 10**11) for _ in range(18)]
    await import_businesses(portal, numbers, tmp_path / "betriebe.csv")
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(Client(portal.gateway_url)) for _ in range(6)]
        members = await asyncio.gather(*(member_with_own_password(portal, c, "pinkill") for c in clients))
        # each member asks for three businesses' letters: within every per-member and per-business limit
        who = {n: (clients[i % 6], members[i % 6][0]) for i, n in enumerate(numbers)}

        async def request(number: str) -> int:
            return (await who[number][0].api("POST", "/api/v1/pins/requests", {"betriebsnummer": number}))[0]

        burst = Burst(request, numbers[:12], senders=3)
        await burst.wait_answered(5, 202)
        await pins.kill()
        dead_at = loop.time()
        await burst.stop()
        # sent while pins is dead, one by one: the burst may have run out of keys before the kill
        # was over (a refusal takes a millisecond), so it cannot be relied on for these
        while_dead = {n: await request(n) for n in numbers[12:15]}
        assert 202 not in while_dead.values(), while_dead
        await pins.start()
        await pins.wait_ready()
        ready_at = loop.time()
        untouched = [n for n in numbers if n not in {s.key for s in burst.sent} | set(while_dead)]
        assert [await request(n) for n in untouched] == [202] * len(untouched)
    accepted, refused, broken = burst.outcome(dead_at)
    accepted += untouched
    refused += list(while_dead)
    for number in accepted:
        email = who[number][1]
        await portal.mail.wait_for(lambda m, e=email, n=number: m.to == e and n in m.text, timeout=60)
    recovery = loop.time() - ready_at
    await _nothing_left(portal, "pins")
    nc = await portal.nats_connect()
    try:
        stream = Counter(m.payload["betriebsnummer"] for m in await messages(nc, "PORTAL_PINS", 0, "pin.requested.v1"))
    finally:
        await nc.close()
    letters = portal.mail.find(lambda m: "PIN-Brief" in m.subject)
    mails = Counter(n for n in numbers for m in letters if m.to == who[n][1] and n in m.text)
    written = {
        r["n"] for r in await query(portal.database_url, "select payload->>'betriebsnummer' as n from pins.outbox")
    }
    lost, duplicated, refused_with_effect, broken_with_effect = _tally(
        accepted, refused, broken, stream, mails, written
    )
    print(
        f"\npins killed: {len(accepted)} PIN requests accepted, {len(refused)} refused while dead, {len(broken)}"
        f" broken off ({len(broken_with_effect)} of them committed before the kill); lost {len(lost)}, duplicated"
        f" {len(duplicated)}, refused with an effect {len(refused_with_effect)}; every mail out"
        f" {recovery:.1f} s after pins was ready again"
    )
    assert lost == [] and duplicated == [] and refused_with_effect == []
    assert all(stream[n] == mails[n] for n in broken)


def _tally(accepted: list[str], refused: list[str], broken: list[str], stream: Counter, mails: Counter, written: set):
    """By request key: accepted but without its event or mail (lost); an event or mail twice
    (duplicated); refused while the producer was dead yet with an effect; broken off in flight
    and committed before the kill (allowed, counted for the report)."""
    lost = [k for k in accepted if stream[k] == 0 or mails[k] == 0]
    duplicated = [k for k in accepted + broken if stream[k] > 1 or mails[k] > 1]
    refused_with_effect = [k for k in refused if stream[k] or mails[k] or k in written]
    broken_with_effect = [k for k in broken if stream[k]]
    return lost, duplicated, refused_with_effect, broken_with_effect


async def _nothing_left(portal, schema: str) -> None:
    """Everything the portal owes is out: no event waits in the outbox, no mail in the queue."""

    async def drained() -> bool:
        outbox = await query(
            portal.database_url, f"select count(*) as n from {schema}.outbox where published_at is null"
        )
        queued = await query(portal.database_url, "select count(*) as n from notifications.mails where state <> 'sent'")
        return outbox[0]["n"] == 0 and queued[0]["n"] == 0

    await until(drained, "outbox and mail queue empty", timeout=30)


async def _none(pending) -> bool:
    return not await pending


def _now():
    return datetime.now(UTC)
