"""Dead letters on a real portal (three-node cluster, R3 streams): poison messages end in the
reader's dead-letter table, with the reason, in the metric, and hold up nothing behind them; the
real command line lists them, retries them and drops them.

The poison is real: a message that does not parse (published on user.confirmed.v1 as accounts,
the subject's owner), one pins' database refuses to store (a check constraint on one user, as a
faulty migration would leave it), and one pins dies on (its row locked by another transaction,
pins killed with SIGKILL in the handler). The durable is tuned as ops would (`nats consumer
edit`; deploy.streams leaves a tuned durable as it is) to a backoff of seconds instead of hours.
"""

import asyncio
import os
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from contracts import UserConfirmedV1
from contracts.durables import REDELIVERY, Durable, durable_for
from deploy import streams
from deploy.infra import ROOT
from runtime.crypto import seal
from tests.support.client import new_email, query
from tests.support.portal import start_portal
from tests.support.wait import until

pytestmark = pytest.mark.integration


SUBJECT = UserConfirmedV1.SUBJECT
PINS = durable_for("pins", SUBJECT)
NOTIFICATIONS = durable_for("notifications", SUBJECT)
BEHIND = 20  # good events published behind the poison
MARKER = "kein-klartext-im-log"  # in the unreadable payload: it must reach no log


@pytest.fixture(scope="module")
async def portal(postgres, mail):
    """One portal on a three-node cluster, R3 streams, for the module (the tests use their own ids)."""
    started = await start_portal(
        postgres=postgres, mail=mail, log_dir=ROOT / "test-output" / "faults.test_dead_letters", nats_nodes=3
    )
    yield started
    await started.stop()


def confirmed(portal, user_id: UUID | None = None) -> UserConfirmedV1:
    return UserConfirmedV1(
        user_id=user_id or uuid4(),
        email=new_email("dl"),
        first_name="Erika",
        last_name="Mustermann",
        initial_password=seal(portal.secrets.notifications_public_key, "Kp7mQ9rT2wVx4z"),
        initial_password_expires_at=datetime.now(UTC) + timedelta(days=14),
    )


async def tune(portal, backoff: list[float]) -> None:
    """What ops do with `nats consumer edit`: pins' durable tries len(backoff) times."""
    nc = await portal.nats_connect("ops")
    try:
        js = nc.jetstream(timeout=5)
        config = (await js.consumer_info(PINS.stream, PINS.name)).config
        tuned = config.evolve(backoff=backoff, max_deliver=len(backoff) + 1, ack_wait=backoff[0])
        assert (await js.add_consumer(PINS.stream, tuned)).config.max_deliver == len(backoff) + 1
    finally:
        await nc.close()


async def publish(portal, *messages: tuple[bytes, str]) -> list[int]:
    """As accounts, which owns user.* (ops may publish no event); the stream sequences."""
    nc = await portal.nats_connect("accounts")
    try:
        js = nc.jetstream(timeout=5)
        return [(await js.publish(SUBJECT, body, headers={"Nats-Msg-Id": id})).seq for body, id in messages]
    finally:
        await nc.close()


def event_message(event: UserConfirmedV1) -> tuple[bytes, str]:
    return event.model_dump_json().encode(), str(event.event_id)


async def dead_letters(portal, schema: str) -> list[asyncpg.Record]:
    return await query(portal.database_url, f"select * from {schema}.dead_letters order by id")


async def members(portal, ids: list[UUID]) -> set[UUID]:
    rows = await query(portal.database_url, "select user_id from pins.members where user_id = any($1::uuid[])", ids)
    return {r["user_id"] for r in rows}


async def command(portal, service: str, *args: str) -> tuple[int, str]:
    """`python -m services.<service> dead-letters …` as an operator runs it: the database only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env["PORTAL_DATABASE_URL"] = portal.env[service]["PORTAL_DATABASE_URL"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        f"services.{service}",
        "dead-letters",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode()


async def metrics(portal, service: str) -> dict[tuple, float]:
    async with aiohttp.ClientSession() as session, session.get(portal.services[service].metrics_url) as response:
        text = await response.text()
    return {
        (s.name, *sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def gauge(samples: dict, service: str, state: str) -> float | None:
    return samples.get(("portal_dead_letters", ("service", service), ("state", state)))


def dead_lettered(samples: dict, service: str, reason: str) -> float | None:
    key = ("portal_dead_lettered_total", ("reason", reason), ("service", service), ("subject", SUBJECT))
    return samples.get(key)


async def test_poison_is_dead_lettered_blocks_nothing_and_the_operator_retries_and_drops_it(portal) -> None:
    await tune(portal, [3.0, 3.0, 3.0])
    refused = uuid4()  # pins' database refuses this member, as a faulty migration would
    constraint = f"dead_letter_fault_{refused.hex[:8]}"
    await query(
        portal.database_url, f"alter table pins.members add constraint {constraint} check (user_id <> '{refused}')"
    )
    unreadable_id = str(uuid4())
    unreadable = (
        f'{{"event_id": "{unreadable_id}", "user_id": "{uuid4()}", "mail": "{MARKER}@example.de"}}'.encode(),
        unreadable_id,
    )
    poison = confirmed(portal, refused)
    good = [confirmed(portal) for _ in range(BEHIND)]

    started = time.monotonic()
    sequences = await publish(portal, unreadable, event_message(poison), *map(event_message, good))
    wanted = [e.user_id for e in good]
    await until(lambda: _all(portal, wanted), "the events behind the poison handled", 30)
    behind_handled = time.monotonic() - started

    async def both_dead() -> list[asyncpg.Record] | None:
        rows = await dead_letters(portal, "pins")
        return rows if len(rows) == 2 else None

    unread_row, failed_row = await until(both_dead, "pins' two dead letters", 40)
    dead_after = time.monotonic() - started
    [notifications_row] = await until(lambda: dead_letters(portal, "notifications"), "notifications' dead letter")

    # the message that does not parse: at once, by both readers, with where it misses the contract
    for row, durable in ((unread_row, PINS), (notifications_row, NOTIFICATIONS)):
        assert (row["consumer"], row["stream"], row["subject"]) == (durable.name, "PORTAL_USERS", SUBJECT)
        assert (row["sequence"], row["deliveries"], row["state"]) == (sequences[0], 1, "open")
        assert str(row["event_id"]) == unreadable_id and bytes(row["payload"]) == unreadable[0]
        assert row["reason"].startswith(f"unreadable as {SUBJECT}: ") and "email: Field required" in row["reason"]
        assert MARKER not in row["reason"]
    # the one pins cannot store: after its three tries, with the database's refusal
    assert (failed_row["sequence"], failed_row["event_id"], failed_row["deliveries"]) == (
        sequences[1],
        poison.event_id,
        3,
    )
    assert "CheckViolationError" in failed_row["reason"] and failed_row["reason"].startswith(
        "handler failed on delivery 3"
    )
    # the events behind it were handled while it waited for its next try
    handled = await query(
        portal.database_url,
        "select event_id, handled_at from pins.processed_events where event_id = any($1::uuid[])",
        [e.event_id for e in good],
    )
    assert len(handled) == BEHIND and max(r["handled_at"] for r in handled) < failed_row["first_failure"]
    assert refused not in await members(portal, [refused])

    nc = await portal.nats_connect("ops")
    try:
        info = await nc.jetstream(timeout=5).consumer_info(PINS.stream, PINS.name)
    finally:
        await nc.close()
    assert (info.num_ack_pending, info.num_pending, info.config.max_ack_pending) == (0, 0, 1000)  # terminated

    samples = await metrics(portal, "pins")
    assert (dead_lettered(samples, "pins", "unreadable"), dead_lettered(samples, "pins", "failed")) == (1.0, 1.0)
    assert gauge(samples, "pins", "open") == 2.0
    assert gauge(await metrics(portal, "notifications"), "notifications", "open") == 1.0

    # the operator: list, a retry that fails again, the fix, a retry that works, a drop
    code, listed = await command(portal, "pins", "list")
    assert code == 0 and f"#{unread_row['id']} open  {SUBJECT}" in listed and f"#{failed_row['id']} open" in listed
    assert "2 shown; 2 open, 0 retried, 0 dropped" in listed and MARKER not in listed
    code, out = await command(portal, "pins", "retry", str(failed_row["id"]))
    assert code == 1 and "stays open: retry by an operator failed: CheckViolationError" in out
    assert (await dead_letters(portal, "pins"))[1]["deliveries"] == 4
    await query(portal.database_url, f"alter table pins.members drop constraint {constraint}")
    code, out = await command(portal, "pins", "retry", str(failed_row["id"]))
    assert code == 0 and f"#{failed_row['id']} retried: handled" in out, out
    assert refused in await members(portal, [refused])
    code, out = await command(portal, "pins", "drop", str(unread_row["id"]))
    assert code == 0 and "dropped (kept for the record)" in out
    code, out = await command(portal, "pins", "retry", str(unread_row["id"]))
    assert code == 1 and "is dropped, not open" in out
    assert [r["state"] for r in await dead_letters(portal, "pins")] == ["dropped", "retried"]

    async def gauge_caught_up() -> bool:
        samples = await metrics(portal, "pins")
        return [gauge(samples, "pins", s) for s in ("open", "retried", "dropped")] == [0.0, 1.0, 1.0]

    await until(gauge_caught_up, "the gauge after the command line's retry and drop", 15)

    lost = BEHIND + 2 - len(handled) - len({unread_row["sequence"], failed_row["sequence"]})
    duplicated = len(await dead_letters(portal, "pins")) - 2
    assert MARKER not in (portal.log_dir / "pins.log").read_text()
    assert MARKER not in (portal.log_dir / "notifications.log").read_text()
    print(
        f"\ndead letters: {BEHIND} events behind two poison messages handled in {behind_handled:.1f} s, "
        f"poison dead-lettered after {dead_after:.1f} s (3 tries, backoff 3 s); lost {lost}, duplicated {duplicated}"
    )
    assert (lost, duplicated) == (0, 0)


async def test_a_message_its_reader_dies_on_is_dead_lettered_not_lost(portal) -> None:
    """pins hangs in the handler (another transaction holds the member's row) and is killed
    there: the delivery after its one try is dead-lettered without trying again, so a message
    that kills its reader every time ends in the table, not at JetStream's max_deliver."""
    await tune(portal, [2.0])  # one try, and the spare delivery
    victim = confirmed(portal)
    blocker = await asyncpg.connect(portal.database_url)
    holding = blocker.transaction()
    await holding.start()
    await blocker.execute(
        "insert into pins.members (user_id, email, first_name, last_name, confirmed_at)"
        " values ($1, 'halter@example.de', 'Halter', 'Sperre', now())",
        victim.user_id,
    )
    pins = portal.services["pins"]
    try:
        [sequence] = await publish(portal, event_message(victim))

        async def stuck() -> bool:
            rows = await query(
                portal.database_url,
                "select count(*) as n from pg_stat_activity where application_name = 'pins' and wait_event_type = 'Lock'",
            )
            return rows[0]["n"] > 0

        await until(stuck, "pins waiting in its handler for the locked row", 20)
        await pins.kill()
        killed = time.monotonic()
        await pins.start()
        await pins.wait_ready()

        async def dead_letter() -> list[asyncpg.Record]:
            rows = await query(
                portal.database_url,
                "select * from pins.dead_letters where consumer = $1 and sequence = $2",
                PINS.name,
                sequence,
            )
            return rows

        [row] = await until(dead_letter, "the dead letter of the message pins died on", 30)
        recovered = time.monotonic() - killed
    finally:
        await holding.rollback()  # the killed handler's transaction can end now
        await blocker.close()
    assert (row["event_id"], row["deliveries"], row["state"]) == (victim.event_id, 2, "open")
    assert (
        row["reason"].startswith("delivery 1 was never answered")
        and bytes(row["payload"]) == victim.model_dump_json().encode()
    )
    samples = await metrics(portal, "pins")
    assert dead_lettered(samples, "pins", "unanswered") == 1.0

    code, out = await command(portal, "pins", "retry", str(row["id"]))
    assert code == 0 and f"#{row['id']} retried: handled" in out, out
    handled = await query(
        portal.database_url, "select count(*) as n from pins.processed_events where event_id = $1", victim.event_id
    )
    lost = 0 if victim.user_id in await members(portal, [victim.user_id]) else 1
    duplicated = handled[0]["n"] - 1
    print(
        f"\ndead letters: reader killed in its handler, dead letter {recovered:.1f} s after the kill; lost {lost}, duplicated {duplicated}"
    )
    assert (lost, duplicated) == (0, 0)


async def test_deploy_streams_gives_a_durable_from_before_dead_letters_its_limits_in_place(portal) -> None:
    old = Durable("ops_probe_user_confirmed_v1", PINS.stream, SUBJECT, "probe", redelivery=None)
    new = replace(old, redelivery=REDELIVERY)
    nc = await portal.nats_connect("ops")
    try:
        js = nc.jetstream(timeout=5)
        await streams.ensure(js, durables=[old])  # as deploy.streams made every durable before
        assert (await js.consumer_info(old.stream, old.name)).config.max_deliver == -1
        changes = await streams.ensure(js, durables=[new])
        config = (await js.consumer_info(new.stream, new.name)).config
        assert [str(c) for c in changes] == [
            f"consumer {new.stream}/{new.name} updated: ack_wait 5.0, max_deliver 10, backoff "
            + "/".join(f"{s:g}s" for s in REDELIVERY.backoff)
        ]
        assert (config.max_deliver, config.backoff, config.ack_wait) == (10, list(map(float, REDELIVERY.backoff)), 5.0)
        assert await streams.ensure(js, durables=[new]) == []  # and then it is left as it is
    finally:
        await nc.jetstream(timeout=5).delete_consumer(old.stream, old.name)
        await nc.close()


async def _all(portal, wanted: list[UUID]) -> bool:
    return len(await members(portal, wanted)) == len(wanted)
