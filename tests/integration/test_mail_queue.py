"""The mail queue's SQL on a real Postgres: claims in order of urgency, leases a live worker
keeps and a dead one loses, expiry with the purpose, and a backlog that moves when the server
is back. Time passing for a lease is written into the row (the lease is on the database's
clock); the schedule's clock is a plain value."""

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import asyncpg
import pytest
from prometheus_client import REGISTRY

from contracts import UserRegisteredV1
from deploy.infra import ROOT
from runtime import db, wakeup
from runtime.crypto import generate_keypair, seal
from runtime.service import stop_task
from services.notifications import delivery, domain, queue, repository, schedule
from services.notifications.app import MIGRATIONS, SCHEMA
from services.notifications.rendering import Composer, Letterhead
from services.notifications.worker import MailWorker
from tests.support.wait import until
from tests.unit.notifications.fakes import FakeMailer

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)


@pytest.fixture
async def pool(postgres):
    dsn = await postgres.create_database(f"mails_{secrets.token_hex(4)}")
    pool = await db.create_pool(dsn, SCHEMA, MIGRATIONS)
    yield pool
    await pool.close()


def mail(kind: str, *, made: datetime = NOW, useful: timedelta = 48 * HOUR) -> domain.NewMail:
    recipient = f"{kind}-{uuid4().hex[:6]}@example.de"
    person = {"first_name": "Erika", "last_name": "Mustermann"}
    return domain.NewMail(uuid4(), kind, recipient, person, made_at=made, expires_at=made + useful)


async def add(pool, *mails: domain.NewMail, now: datetime = NOW) -> list:
    async with pool.acquire() as conn:
        return [await repository.add_mail(conn, m, now) for m in mails]


COMPOSER = Composer(Letterhead("Kundenportal <portal@example.de>", "http://portal.test", "s@example.de", "0611"), "")


async def lease_runs_out(pool, mail_id) -> None:
    await pool.execute("update mails set locked_until = now() - interval '1 second' where id = $1", mail_id)


async def state(pool, mail_id) -> str:
    return await pool.fetchval("select state from mails where id = $1", mail_id)


async def test_due_mails_are_claimed_most_urgent_first_then_oldest(pool) -> None:
    notice = await add(pool, mail(domain.PASSWORD_CHANGED), now=NOW - 3 * HOUR)
    old_confirmation = await add(pool, mail(domain.REGISTRATION_CONFIRMATION), now=NOW - 2 * HOUR)
    new_confirmation = await add(pool, mail(domain.REGISTRATION_CONFIRMATION), now=NOW - HOUR)
    reset = await add(pool, mail(domain.PASSWORD_RESET), now=NOW - 30 * timedelta(minutes=1))
    await add(pool, mail(domain.PASSWORD_RESET), now=NOW + HOUR)  # not due yet
    claimed = await queue.claim_due(pool, NOW, 10, uuid4())
    assert [m.id for m in claimed] == [*reset, *old_confirmation, *new_confirmation, *notice]
    assert all(m.attempts == 1 and m.takeovers == 0 for m in claimed)


async def test_a_live_worker_keeps_its_claim_and_a_dead_ones_is_taken_over(pool) -> None:
    [mail_id] = await add(pool, mail(domain.INITIAL_PASSWORD))
    alive, dead, other = uuid4(), uuid4(), uuid4()
    assert [m.id for m in await queue.claim_due(pool, NOW, 10, alive)] == [mail_id]
    assert await queue.claim_due(pool, NOW, 10, other) == []  # leased
    assert await queue.renew_leases(pool, alive, [mail_id]) == 1
    assert await queue.renew_leases(pool, dead, [mail_id]) == 0
    await lease_runs_out(pool, mail_id)  # `alive` died after all
    [taken] = await queue.claim_due(pool, NOW, 10, other)
    assert (taken.id, taken.attempts, taken.takeovers) == (mail_id, 2, 1)
    # The first worker, woken from a freeze longer than a lease, may no longer send nor record.
    assert not await queue.hold(pool, mail_id, alive)
    await queue.mark_sent(pool, mail_id, alive, NOW)
    assert await state(pool, mail_id) == "processing"
    assert await queue.hold(pool, mail_id, other)
    await queue.mark_sent(pool, mail_id, other, NOW)
    assert await state(pool, mail_id) == "sent"


async def test_a_mail_expires_with_its_purpose_but_not_while_it_is_being_sent(pool) -> None:
    [waiting, sending, useful] = await add(
        pool,
        mail(domain.PASSWORD_RESET, useful=HOUR),
        mail(domain.PASSWORD_RESET, useful=HOUR),
        mail(domain.INITIAL_PASSWORD, useful=14 * 24 * HOUR),
    )
    worker = uuid4()
    await pool.execute("update mails set next_attempt_at = $2 where id = $1", waiting, NOW + 2 * HOUR)
    await pool.execute("update mails set next_attempt_at = $2 where id <> $1", waiting, NOW + 30 * HOUR)
    await pool.execute("update mails set next_attempt_at = $2 where id = $1", sending, NOW)
    assert [m.id for m in await queue.claim_due(pool, NOW, 10, worker)] == [sending]
    later = NOW + 2 * HOUR
    assert await queue.expire(pool, later) == [domain.PASSWORD_RESET]
    assert [await state(pool, i) for i in (waiting, sending, useful)] == ["expired", "processing", "queued"]
    assert await queue.claim_due(pool, later, 10, uuid4()) == []  # nor is an expired one claimed
    await lease_runs_out(pool, sending)  # its worker died: now it expires too
    assert await queue.expire(pool, later) == [domain.PASSWORD_RESET]
    assert await queue.depth(pool) == {("expired", domain.PASSWORD_RESET): 2, ("queued", domain.INITIAL_PASSWORD): 1}


async def test_a_dead_server_fails_the_batch_once_and_the_first_mail_out_brings_the_rest_forward(pool) -> None:
    notices = await add(pool, *(mail(domain.ALREADY_REGISTERED) for _ in range(3)))
    mailer = FakeMailer()
    mailer.fail_with = ConnectionRefusedError("smtp down")
    calls = 0
    send = mailer.send

    async def counted(message):
        nonlocal calls
        calls += 1
        await send(message)

    mailer.send = counted
    worker = uuid4()
    assert await delivery.send_due(pool, COMPOSER, mailer, lambda: NOW, worker) == 3
    assert calls == 1  # one refused connection says it for the whole batch
    rows = await pool.fetch("select state, waits_for_server, next_attempt_at from mails")
    assert {(r["state"], r["waits_for_server"]) for r in rows} == {("queued", True)}
    # Hours later their retries are spread out; one comes due and the server is back.
    later = NOW + 5 * HOUR
    await pool.execute("update mails set next_attempt_at = $2 where id = $1", notices[0], later)
    await pool.execute("update mails set next_attempt_at = $2 where id <> $1", notices[0], later + HOUR)
    mailer.fail_with = None
    assert await delivery.send_due(pool, COMPOSER, mailer, lambda: later, worker) == 1
    assert await delivery.send_due(pool, COMPOSER, mailer, lambda: later, worker) == 2  # not an hour later
    assert {await state(pool, i) for i in notices} == {"sent"}


async def test_a_mail_that_keeps_killing_its_workers_fails(pool) -> None:
    [mail_id] = await add(pool, mail(domain.ALREADY_REGISTERED))
    for _ in range(schedule.MAX_TAKEOVERS + 1):
        assert await queue.claim_due(pool, NOW, 10, uuid4())
        await lease_runs_out(pool, mail_id)
    mailer = FakeMailer()
    assert await delivery.send_due(pool, COMPOSER, mailer, lambda: NOW, uuid4()) == 1
    assert mailer.sent == []
    row = await pool.fetchrow("select state, last_error from mails where id = $1", mail_id)
    assert row["state"] == "failed" and "abgebrochene" in row["last_error"]


async def test_mails_queued_before_the_upgrade_keep_their_purpose(postgres, tmp_path) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for path in sorted(MIGRATIONS.glob("*.sql"))[:3]:
        shutil.copy(path, before / path.name)
    dsn = await postgres.create_database(f"mails_{secrets.token_hex(4)}")
    old = await db.create_pool(dsn, SCHEMA, before)
    link_ends = NOW + 40 * HOUR
    try:
        for kind, state_before, context in (
            (domain.REGISTRATION_CONFIRMATION, "queued", {"link_expires_at": link_ends.isoformat()}),
            (domain.PIN_LETTER_ON_ITS_WAY, "queued", {"valid_until": "2025-04-30"}),
            (domain.ALREADY_REGISTERED, "abandoned", {}),
        ):
            mail_id = uuid4()
            await old.execute(
                "insert into mails (id, source_event_id, kind, recipient, context, message_id, state, created_at)"
                " values ($1, $2, $3, 'a@example.de', $4::text::jsonb, $5, $6, $7)",
                mail_id,
                uuid4(),
                kind,
                json.dumps(context),
                domain.message_id(mail_id),
                state_before,
                NOW,
            )
    finally:
        await old.close()
    upgraded = await db.create_pool(dsn, SCHEMA, MIGRATIONS)
    try:
        rows = {r["kind"]: r for r in await upgraded.fetch("select kind, state, useful_until, urgency from mails")}
    finally:
        await upgraded.close()
    assert rows[domain.REGISTRATION_CONFIRMATION]["useful_until"] == link_ends
    assert rows[domain.PIN_LETTER_ON_ITS_WAY]["useful_until"] == datetime(2025, 4, 30, 22, tzinfo=UTC)
    assert rows[domain.ALREADY_REGISTERED]["state"] == "failed"
    assert rows[domain.ALREADY_REGISTERED]["useful_until"] == NOW + 14 * 24 * HOUR
    assert {kind: r["urgency"] for kind, r in rows.items()} == {k: schedule.urgency(k) for k in rows}


class SlowMailer(FakeMailer):
    """Holds every send until `go` is set, like a server that takes its time."""

    def __init__(self) -> None:
        super().__init__()
        self.sending = asyncio.Event()
        self.go = asyncio.Event()

    async def send(self, message) -> None:
        self.sending.set()
        await self.go.wait()
        await super().send(message)


async def test_a_worker_keeps_its_claims_however_long_it_sends_and_hands_them_back_on_shutdown(pool) -> None:
    await add(pool, mail(domain.ALREADY_REGISTERED), mail(domain.ALREADY_REGISTERED))
    mailer = SlowMailer()
    worker = MailWorker(pool, COMPOSER, mailer, lambda: NOW, heartbeat=timedelta(milliseconds=50))
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.wait_for(mailer.sending.wait(), 10)
        # As if a lease had gone by in the middle of the send: the heartbeat claims it again.
        await pool.execute("update mails set locked_until = now() - interval '1 second'")

        async def renewed() -> bool:
            return await pool.fetchval("select bool_and(locked_until > now()) from mails")

        await until(renewed, "the leases renewed by the worker's heartbeat")
        assert await queue.claim_due(pool, NOW, 10, uuid4()) == []
    finally:
        await stop_task(running)
    rows = await pool.fetch("select state, attempts, lease_owner from mails")
    assert [(r["state"], r["attempts"], r["lease_owner"]) for r in rows] == [("queued", 0, None)] * 2
    assert mailer.sent == []


async def test_the_queue_depth_is_reported_by_state_and_kind(pool) -> None:
    await add(pool, mail(domain.PASSWORD_RESET, useful=-HOUR), mail(domain.INITIAL_PASSWORD))
    await queue.expire(pool, NOW)
    worker = MailWorker(pool, COMPOSER, FakeMailer(), lambda: NOW)
    await worker.report()

    def depth(state: str, kind: str) -> float | None:
        return REGISTRY.get_sample_value("portal_mail_queue_depth", {"state": state, "kind": kind})

    assert depth("expired", domain.PASSWORD_RESET) == 1 and depth("queued", domain.INITIAL_PASSWORD) == 1
    assert depth("failed", domain.INITIAL_PASSWORD) == 0 and depth("queued", domain.PASSWORD_RESET) == 0


async def test_support_finds_the_mails_given_up_on_by_address(pool, postgres) -> None:
    [expired, useful] = await add(pool, mail(domain.PASSWORD_RESET, useful=-HOUR), mail(domain.INITIAL_PASSWORD))
    await queue.expire(pool, NOW)
    recipient = await pool.fetchval("select recipient from mails where id = $1", expired)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env["PORTAL_DATABASE_URL"] = postgres.dsn_for(await pool.fetchval("select current_database()"))
    done = subprocess.run(
        [sys.executable, "-m", "services.notifications", "mails", "--email", recipient.upper()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert str(expired) in done.stdout and "expired" in done.stdout and str(useful) not in done.stdout


async def test_a_pass_that_broke_off_leaves_no_claim_the_heartbeat_keeps_alive(pool, monkeypatch) -> None:
    """Postgres went away in the middle of a batch: the worker lives on, but the mails of the
    broken pass are no longer in its hands, so its heartbeat must not renew their leases (a full
    run once saw such a mail stay 'processing' for good)."""
    [mail_id] = await add(pool, mail(domain.INITIAL_PASSWORD))
    worker, holding = uuid4(), set()

    async def database_gone(*_):
        raise asyncpg.PostgresConnectionError("the database went away")

    monkeypatch.setattr(queue, "hold", database_gone)  # the call right before the send
    with pytest.raises(asyncpg.PostgresConnectionError):
        await delivery.send_due(pool, COMPOSER, object(), lambda: NOW, worker, holding=holding)
    assert holding == set()  # the heartbeat holds nothing of that pass
    assert await queue.renew_leases(pool, worker, [mail_id]) == 0
    assert await state(pool, mail_id) == "queued"  # handed back at once where the database allowed it


# --- a user event's person and mails, one statement ----------------------------------------------


def person(user_id, email: str, at: datetime) -> domain.Recipient:
    return domain.Recipient(user_id, email, "Erika", "Mustermann", at)


async def test_a_user_events_person_and_mails_are_written_as_one_at_a_time_would(pool) -> None:
    user_id = uuid4()
    confirmation = replace(mail(domain.REGISTRATION_CONFIRMATION), sealed={"confirmation_link": "c2VhbGVk"})
    woken = asyncio.Event()
    listener = await pool.acquire()
    await listener.add_listener(repository.CHANNEL, lambda *_: woken.set())
    try:
        async with pool.acquire() as conn, conn.transaction():
            added = await repository.record(conn, person(user_id, "neu@example.de", NOW), [confirmation], NOW)
            assert added == [domain.REGISTRATION_CONFIRMATION] and not woken.is_set()
        await asyncio.wait_for(woken.wait(), 5)  # the workers hear of it on commit
    finally:
        await listener.reset()
        await pool.release(listener)
    # the row is the one add_mail writes for the same mail
    [same] = await add(pool, replace(confirmation, source_event_id=uuid4()))
    columns = "kind, recipient, context, sealed, next_attempt_at, created_at, useful_until, urgency, state, request_id"
    columns += ", forget_when_settled"
    one = await pool.fetchrow(f"select {columns} from mails where source_event_id = $1", confirmation.source_event_id)
    assert dict(one) == dict(await pool.fetchrow(f"select {columns} from mails where id = $1", same))
    # an older event changes nothing of the person; a redelivered event queues nothing again
    async with pool.acquire() as conn:
        assert await repository.record(conn, person(user_id, "alt@example.de", NOW - HOUR), [confirmation], NOW) == []
        assert (await repository.recipient(conn, user_id)).email == "neu@example.de"
        assert await repository.record(conn, person(user_id, "spaeter@example.de", NOW + HOUR), [], NOW) == []
        assert (await repository.recipient(conn, user_id)).email == "spaeter@example.de"


async def test_a_user_event_about_someone_erased_writes_nothing(pool) -> None:
    user_id = uuid4()
    async with pool.acquire() as conn:
        await repository.bury(conn, user_id, NOW)
        initial = mail(domain.INITIAL_PASSWORD)
        assert await repository.record(conn, person(user_id, "weg@example.de", NOW), [initial], NOW) is None
        assert await repository.recipient(conn, user_id) is None
    assert await pool.fetchval("select count(*) from mails where source_event_id = $1", initial.source_event_id) == 0


def registered(user_id) -> UserRegisteredV1:
    return UserRegisteredV1(
        user_id=user_id,
        email="neu@example.de",
        first_name="Erika",
        last_name="Mustermann",
        confirmation_link=seal(generate_keypair()[0], "http://portal.test/registrierung/bestaetigen?token=t"),
        link_expires_at=NOW + 48 * HOUR,
    )


async def test_an_event_in_one_call_is_marked_with_its_mails_and_a_redelivery_does_nothing(pool) -> None:
    event = registered(uuid4())
    [confirmation] = domain.mails_for(event)
    lock = repository.person_lock(event.user_id)
    who = person(event.user_id, event.email, event.occurred_at)
    async with pool.acquire() as conn:
        assert await repository.record_event(conn, event, lock, who, [confirmation], NOW) == [confirmation.kind]
        # committed on its own, marker with it: a redelivery is told so and queues nothing
        assert not conn.is_in_transaction()
        assert await pool.fetchval("select subject from processed_events where event_id = $1", event.event_id) == (
            event.SUBJECT
        )
        assert await repository.record_event(conn, event, lock, who, [confirmation], NOW) is False
    assert await pool.fetchval("select count(*) from mails where source_event_id = $1", event.event_id) == 1


async def test_an_event_in_one_call_waits_for_an_erasure_holding_the_lock_and_then_writes_nothing(pool) -> None:
    event = registered(uuid4())
    lock = repository.person_lock(event.user_id)
    eraser = await pool.acquire()
    try:
        erasure = eraser.transaction()
        await erasure.start()
        await eraser.execute("select pg_advisory_xact_lock(hashtext($1))", lock)
        await repository.bury(eraser, event.user_id, NOW)
        async with pool.acquire() as conn:
            who = person(event.user_id, event.email, event.occurred_at)
            late = asyncio.create_task(repository.record_event(conn, event, lock, who, domain.mails_for(event), NOW))
            await until(
                lambda: pool.fetchval("select count(*) from pg_locks where locktype = 'advisory' and not granted"),
                "the event waiting for the person's lock",
            )
            await erasure.commit()
            # read after the lock was granted, the tombstone is seen although it came after the call began
            assert await late is None
    finally:
        await pool.release(eraser)
    assert await pool.fetchval("select count(*) from recipients where user_id = $1", event.user_id) == 0
    assert await pool.fetchval("select count(*) from mails where source_event_id = $1", event.event_id) == 0
    assert await pool.fetchval("select count(*) from processed_events where event_id = $1", event.event_id) == 1


async def test_a_worker_listening_in_this_process_is_woken_without_a_notify(pool) -> None:
    heard: list[str] = []
    outsider = await pool.acquire()
    await outsider.add_listener(repository.CHANNEL, lambda *_: heard.append("notify"))
    passes = 0

    async def drain() -> int:
        nonlocal passes
        passes += 1
        return 0

    worker = asyncio.create_task(wakeup.run_on_notify(pool, repository.CHANNEL, drain, batch_size=10, poll_interval=60))
    try:
        await until(
            lambda: wakeup.here(repository.CHANNEL) and passes == 1, "the worker listening, its first pass done"
        )
        event = registered(uuid4())
        who = person(event.user_id, event.email, event.occurred_at)
        lock = repository.person_lock(event.user_id)
        async with pool.acquire() as conn:
            assert await repository.record_event(conn, event, lock, who, domain.mails_for(event), NOW) == [
                domain.REGISTRATION_CONFIRMATION
            ]
        await until(lambda: passes == 2, "a pass for the new mail, the poll a minute away")
    finally:
        await stop_task(worker)
        await outsider.reset()
        await pool.release(outsider)
    assert heard == []  # the commit sent no NOTIFY: the worker here was woken directly
