"""Retention: each service deletes what it no longer needs on its own clock (README, "Aufbewahrung"
table; the numbers in runtime.retention and each service's housekeeping). The services run in
this process on the real Postgres (and NATS), their clocks in the test's hand; one housekeeping
round is `sweep`, as the service's loop runs it every ten minutes."""

import json
import secrets
from datetime import timedelta
from types import SimpleNamespace
from uuid import uuid4

import pytest

from runtime import db, retention
from services.accounts import housekeeping as accounts_housekeeping
from services.accounts import http as accounts_http
from services.notifications import housekeeping as mail_housekeeping
from services.notifications.app import MIGRATIONS as MAIL_MIGRATIONS
from services.pins import app as pins_app
from services.pins import housekeeping as pins_housekeeping
from tests.support.client import new_email, query
from tests.support.identity import signed
from tests.support.inprocess import Clock, accounts_in_process, active_member, call, login
from tests.support.pins import pins_in_process

pytestmark = pytest.mark.integration

MINUTE = timedelta(minutes=1)


@pytest.fixture
async def accounts(postgres, nats_server):
    async for client in accounts_in_process(postgres, nats_server):
        yield client


@pytest.fixture
async def pins(postgres, nats_server):
    async with pins_in_process(postgres, nats_server) as client:
        yield client


@pytest.fixture
async def mails(postgres):
    """Notifications' schema alone: its housekeeping needs nothing else."""
    dsn = await postgres.create_database(f"retention_{secrets.token_hex(4)}")
    pool = await db.create_pool(dsn, "notifications", MAIL_MIGRATIONS)
    yield SimpleNamespace(pool=pool, dsn=dsn, clock=Clock())
    await pool.close()


async def sweep_accounts(client) -> dict[str, int]:
    counts = await accounts_housekeeping.sweep(client.server.app[accounts_http.CONTEXT])
    print("accounts housekeeping:", counts)
    return counts


async def count(dsn: str, sql: str, *args) -> int:
    return (await query(dsn, f"select count(*) as n from {sql}", *args))[0]["n"]


def moved(clock: Clock, to: timedelta, start) -> None:
    clock.now = start + to


# accounts


async def test_a_registration_never_confirmed_is_deleted_after_thirty_days(accounts) -> None:
    email = new_email("retention")
    person = {"first_name": "Erika", "last_name": "Mustermann", "birth_date": "1979-05-04", "email": email}
    start = accounts.clock()
    assert (await call(accounts, "POST", "/api/v1/accounts/registrations", person))[0] == 202
    users = "accounts.users where email_key = lower($1)"
    links = "accounts.confirmations c join accounts.users u on u.id = c.user_id where u.email_key = lower($1)"

    moved(accounts.clock, timedelta(days=30) - MINUTE, start)
    await sweep_accounts(accounts)
    # its link expired long ago, yet stays with it: a late click is told it expired
    assert (await count(accounts.dsn, users, email), await count(accounts.dsn, links, email)) == (1, 1)

    moved(accounts.clock, timedelta(days=30) + MINUTE, start)
    assert (await sweep_accounts(accounts))["unconfirmed_users"] == 1
    assert await count(accounts.dsn, users, email) == 0
    assert await count(accounts.dsn, "accounts.confirmations") == 0


async def test_a_confirmed_members_unused_link_goes_a_week_after_it_expired(accounts) -> None:
    email, _ = await active_member(accounts)
    user_id = (await query(accounts.dsn, "select id from accounts.users where email_key = lower($1)", email))[0]["id"]
    start = accounts.clock()
    # a second link, sent before the first was clicked, never used
    await query(
        accounts.dsn,
        "insert into accounts.confirmations (token_hash, user_id, created_at, expires_at) values ($1, $2, $3, $4)",
        secrets.token_bytes(32),
        user_id,
        start,
        start + timedelta(hours=48),
    )
    links = "accounts.confirmations where user_id = $1"
    assert await count(accounts.dsn, links, user_id) == 2

    moved(accounts.clock, timedelta(hours=48) + accounts_housekeeping.SPENT_LINKS - MINUTE, start)
    await sweep_accounts(accounts)
    assert await count(accounts.dsn, links, user_id) == 2

    moved(accounts.clock, timedelta(hours=48) + accounts_housekeeping.SPENT_LINKS + MINUTE, start)
    await sweep_accounts(accounts)
    assert await count(accounts.dsn, links, user_id) == 0, "the used link and the unused one"
    assert await count(accounts.dsn, "accounts.users where id = $1", user_id) == 1


async def test_sessions_devices_and_login_failures_go_when_they_no_longer_count(accounts) -> None:
    email, password = await active_member(accounts)
    user_id = (await query(accounts.dsn, "select id from accounts.users where email_key = lower($1)", email))[0]["id"]
    path = "/api/v1/accounts/sessions"
    assert (await call(accounts, "POST", path, {"email": email, "password": "falsch-falsch-falsch"}))[0] == 401
    await login(accounts, email, password)
    start = accounts.clock()
    sessions, devices = "accounts.sessions where user_id = $1", "accounts.devices where user_id = $1"
    assert await count(accounts.dsn, "accounts.login_failures") == 1
    assert (await count(accounts.dsn, sessions, user_id), await count(accounts.dsn, devices, user_id)) == (1, 1)

    moved(accounts.clock, accounts_housekeeping.LOGIN_FAILURES - MINUTE, start)
    await sweep_accounts(accounts)
    assert await count(accounts.dsn, "accounts.login_failures") == 1
    moved(accounts.clock, accounts_housekeeping.LOGIN_FAILURES + MINUTE, start)
    await sweep_accounts(accounts)
    assert await count(accounts.dsn, "accounts.login_failures") == 0
    assert await count(accounts.dsn, sessions, user_id) == 0  # 12 hours after login at the latest
    assert await count(accounts.dsn, devices, user_id) == 1

    moved(accounts.clock, timedelta(days=365) - MINUTE, start)
    await sweep_accounts(accounts)
    assert await count(accounts.dsn, devices, user_id) == 1
    moved(accounts.clock, timedelta(days=365) + MINUTE, start)
    await sweep_accounts(accounts)
    assert await count(accounts.dsn, devices, user_id) == 0


async def test_a_browser_in_use_stays_trusted_a_year_after_its_last_login(accounts) -> None:
    email, password = await active_member(accounts)
    user_id = (await query(accounts.dsn, "select id from accounts.users where email_key = lower($1)", email))[0]["id"]
    devices = "accounts.devices where user_id = $1"
    start = accounts.clock()
    await login(accounts, email, password)
    device = next(
        c
        for name, c in accounts.session.cookie_jar.filter_cookies(accounts.make_url("/")).items()
        if name.endswith("kp_device")
    )
    moved(accounts.clock, timedelta(days=1), start)
    path, body = "/api/v1/accounts/sessions", {"email": email, "password": password}
    async with accounts.post(path, **signed("POST", path, body)) as again:
        assert again.status == 201
        assert not any(name.endswith("kp_device") for name in again.cookies)  # trusted: no new cookie
    assert accounts.session.cookie_jar.filter_cookies(accounts.make_url("/"))[device.key].value == device.value
    assert await count(accounts.dsn, devices, user_id) == 1
    moved(accounts.clock, timedelta(days=366) - MINUTE, start)
    await sweep_accounts(accounts)
    assert await count(accounts.dsn, devices, user_id) == 1  # a year after the second login, not the first
    moved(accounts.clock, timedelta(days=366) + MINUTE, start)
    await sweep_accounts(accounts)
    assert await count(accounts.dsn, devices, user_id) == 0


# pins


async def test_failed_link_attempts_go_after_two_days(pins) -> None:
    start = pins.clock()
    await query(
        pins.dsn,
        "insert into pins.link_failures (user_id, client, betriebsnummer, at) values ($1, '192.0.2.7', '1234567', $2)",
        uuid4(),
        start,
    )
    context = pins.server.app[pins_app.CONTEXT]
    moved(pins.clock, pins_housekeeping.LINK_FAILURES - MINUTE, start)
    assert (await pins_housekeeping.sweep(context))["link_failures"] == 0
    moved(pins.clock, pins_housekeeping.LINK_FAILURES + MINUTE, start)
    counts = await pins_housekeeping.sweep(context)
    print("pins housekeeping:", counts)
    assert counts["link_failures"] == 1
    assert await count(pins.dsn, "pins.link_failures") == 0


# the runtime's tables, in every service with a database


async def check_runtime_tables(dsn: str, schema: str, clock: Clock, sweep) -> None:
    start = clock()
    await query(
        dsn,
        f"insert into {schema}.processed_events (event_id, subject, handled_at) values ($1, 'test.v1', $2)",
        uuid4(),
        start,
    )
    # published, and one that never will be (its next attempt is never due, so no relay takes it)
    await query(
        dsn,
        f"insert into {schema}.outbox (event_id, subject, payload, created_at, published_at)"
        " values ($1, 'test.v1', '{}', $2, $2)",
        uuid4(),
        start,
    )
    await query(
        dsn,
        f"insert into {schema}.outbox (event_id, subject, payload, created_at, next_attempt_at, aggregate_key)"
        " values ($1, 'test.v1', '{}', $2, 'infinity', 'retention')",
        uuid4(),
        start,
    )
    for sequence, state, resolved in ((1, "dropped", start), (2, "open", None)):
        await query(
            dsn,
            f"insert into {schema}.dead_letters (consumer, stream, subject, sequence, published_at, payload, reason,"
            " deliveries, state, resolved_at, first_failure, last_failure)"
            " values ('test', 'TEST', 'test.v1', $1, $2, '\\x7b7d', 'test', 5, $3, $4, $2, $2)",
            sequence,
            start,
            state,
            resolved,
        )

    async def left() -> tuple[int, int, int, int, int]:
        # this test's rows only: the service handles the session's other events meanwhile
        return (
            await count(dsn, f"{schema}.processed_events where subject = 'test.v1'"),
            await count(dsn, f"{schema}.outbox where subject = 'test.v1' and published_at is not null"),
            await count(dsn, f"{schema}.outbox where subject = 'test.v1' and published_at is null"),
            await count(dsn, f"{schema}.dead_letters where consumer = 'test' and state <> 'open'"),
            await count(dsn, f"{schema}.dead_letters where consumer = 'test' and state = 'open'"),
        )

    steps = [
        (retention.PUBLISHED_OUTBOX - MINUTE, (1, 1, 1, 1, 1)),
        (retention.PUBLISHED_OUTBOX + MINUTE, (1, 0, 1, 1, 1)),
        (retention.PROCESSED_EVENTS - MINUTE, (1, 0, 1, 1, 1)),
        (retention.PROCESSED_EVENTS + MINUTE, (0, 0, 1, 1, 1)),
        (retention.RESOLVED_DEAD_LETTERS - MINUTE, (0, 0, 1, 1, 1)),
        (retention.RESOLVED_DEAD_LETTERS + MINUTE, (0, 0, 1, 0, 1)),
        (timedelta(days=3650), (0, 0, 1, 0, 1)),  # unpublished and open: never, whatever the age
    ]
    for age, expected in steps:
        moved(clock, age, start)
        counts = await sweep()
        print(f"{schema} after {age}: {counts}")
        assert await left() == expected, f"after {age}"


async def test_accounts_purges_the_runtime_tables(accounts) -> None:
    await check_runtime_tables(accounts.dsn, "accounts", accounts.clock, lambda: sweep_accounts(accounts))


async def test_pins_purges_the_runtime_tables(pins) -> None:
    context = pins.server.app[pins_app.CONTEXT]
    await check_runtime_tables(pins.dsn, "pins", pins.clock, lambda: pins_housekeeping.sweep(context))


async def test_notifications_purges_the_runtime_tables(mails) -> None:
    await check_runtime_tables(
        mails.dsn, "notifications", mails.clock, lambda: mail_housekeeping.sweep(mails.pool, mails.clock)
    )


# notifications


async def add_mail(pool, kind: str, state: str, at) -> None:
    await pool.execute(
        "insert into mails (id, source_event_id, kind, recipient, context, sealed, message_id, state, created_at,"
        " next_attempt_at, useful_until, sent_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'infinity', $10, $11)",
        uuid4(),
        uuid4(),
        kind,
        new_email("retention"),
        json.dumps({"first_name": "Erika", "message": "Bitte rufen Sie mich an."}),
        json.dumps({"initial_password": "versiegelt"}),
        f"<{uuid4()}@portal.test>",
        state,
        at,
        at + timedelta(days=3650) if state == "queued" else at + timedelta(days=2),
        at if state == "sent" else None,
    )


async def test_mail_contents_go_soon_and_the_record_later(mails) -> None:
    start = mails.clock()
    await add_mail(mails.pool, "password_changed", "sent", start)
    await add_mail(mails.pool, "initial_password", "failed", start)
    await add_mail(mails.pool, "already_registered", "expired", start)
    await add_mail(mails.pool, "contact_request", "sent", start)
    await add_mail(mails.pool, "business_linked", "queued", start)  # still to be sent: untouched

    async def left() -> dict[str, tuple[str, bool]]:
        rows = await mails.pool.fetch("select kind, state, context <> '{}' or sealed <> '{}' as full from mails")
        return {row["kind"]: (row["state"], row["full"]) for row in rows}

    steps = [
        (
            mail_housekeeping.MAIL_CONTENTS - MINUTE,
            {"password_changed": True, "initial_password": True, "already_registered": True, "contact_request": True},
        ),
        (
            mail_housekeeping.MAIL_CONTENTS + MINUTE,
            {
                "password_changed": False,
                "initial_password": False,
                "already_registered": False,
                "contact_request": True,
            },
        ),
        (
            mail_housekeeping.CONTACT_CONTENTS + MINUTE,
            {
                "password_changed": False,
                "initial_password": False,
                "already_registered": False,
                "contact_request": False,
            },
        ),
        (
            mail_housekeeping.MAIL_RECORDS - MINUTE,
            {
                "password_changed": False,
                "initial_password": False,
                "already_registered": False,
                "contact_request": False,
            },
        ),
        (mail_housekeeping.MAIL_RECORDS + MINUTE, {}),
    ]
    for age, settled in steps:
        moved(mails.clock, age, start)
        counts = await mail_housekeeping.sweep(mails.pool, mails.clock)
        print(f"notifications after {age}: {counts}")
        found = await left()
        assert found.pop("business_linked") == ("queued", True), f"after {age}"
        assert {kind: full for kind, (_, full) in found.items()} == settled, f"after {age}"


async def test_contact_form_throttle_rows_go_after_its_hour(mails) -> None:
    start = mails.clock()
    await mails.pool.execute(
        "insert into contact_requests (id, client, address_key, created_at) values ($1, '192.0.2.7', 'k', $2)",
        uuid4(),
        start,
    )
    moved(mails.clock, mail_housekeeping.CONTACT_THROTTLE - MINUTE, start)
    assert (await mail_housekeeping.sweep(mails.pool, mails.clock))["contact_throttle"] == 0
    moved(mails.clock, mail_housekeeping.CONTACT_THROTTLE + MINUTE, start)
    assert (await mail_housekeeping.sweep(mails.pool, mails.clock))["contact_throttle"] == 1
    assert await count(mails.dsn, "notifications.contact_requests") == 0
