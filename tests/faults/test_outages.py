"""Outages of what the portal stands on: NATS stopped, Postgres stopped, a stream lost. Members
are told the truth at once (a German 503 within a second), nothing a 2xx promised is lost, and
the portal recovers by itself; each test prints what it measured.

Nothing in the portal depends on how long an outage lasts: the relay and the workers retry at
least every 5 s (runtime/wakeup.py), NATS clients reconnect every second without a limit, and
the outbox and the mail queue keep what waits. So the outages here are short enough for the
suite (NATS 25 s, Postgres 60 s) and stand for longer ones.
"""

import asyncio
import secrets
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from tests.support.client import Client, new_email, query
from tests.support.members import member_with_own_password
from tests.support.operator import import_businesses, run_command
from tests.support.wait import until

pytestmark = pytest.mark.integration

PERSON = {"first_name": "Erika", "last_name": "Mustermann", "birth_date": "1979-05-04"}
NATS_DOWN = 25.0
POSTGRES_DOWN = 60.0
PACE = 0.5  # seconds between two requests of the load that runs through an outage


async def register(client: Client, email: str) -> int:
    return (await client.api("POST", "/api/v1/accounts/registrations", {**PERSON, "email": email}))[0]


def confirmation_to(email: str):
    return lambda m: m.to == email and "token=" in m.text


async def every_mail_once(portal, emails: list[str], owed_timeout: float = 30) -> tuple[float, int]:
    """Wait for one confirmation mail per address, then until the portal owes nothing (outboxes
    published, mail queue sent); when that was (loop time), and how many mails were sent again
    with the same Message-ID (the one documented window: SMTP had accepted a mail when Postgres
    went away, before notifications recorded it). No address may have two different ones."""
    for email in emails:
        await portal.mail.wait_for(confirmation_to(email), timeout=60)
    owed: list[dict] = []

    async def drained() -> bool:
        owed[:] = await _owed(portal)
        return not owed

    try:
        await until(drained, "outbox and mail queue empty", timeout=owed_timeout)
    except AssertionError as error:
        raise AssertionError(f"{error}; still owed: {owed}") from None
    last = asyncio.get_running_loop().time()
    wanted = set(emails)
    mails = portal.mail.find(lambda m: m.to in wanted and "token=" in m.text)
    distinct = Counter(to for to, _ in {(m.to, m.message_id) for m in mails})
    duplicated = [e for e in emails if distinct[e] > 1]
    assert duplicated == [], f"{len(duplicated)} addresses got two different confirmation mails"
    return last, len(mails) - len(emails)


async def test_nats_down_registrations_are_accepted_and_every_mail_arrives_once_it_is_back(cluster_portal) -> None:
    portal = cluster_portal
    loop = asyncio.get_running_loop()
    before = [new_email("natsdown") for _ in range(5)]
    during: dict[str, int] = {}
    async with Client(portal.gateway_url) as client:
        assert [await register(client, e) for e in before] == [202] * 5
        await portal.nats.stop()  # every node
        down_at = loop.time()
        while loop.time() - down_at < NATS_DOWN:
            email = new_email("natsdown")
            during[email] = await register(client, email)
            await asyncio.sleep(PACE)  # the load's pace, not a wait for anything
        arrived_while_down = portal.mail.count(lambda m: m.to in during)
        # the replicas stay in the load balancer (Kubernetes asks ?serving), though not wired up whole
        accounts = portal.services["accounts"].url
        readiness = {path: await _status(f"{accounts}{path}") for path in ("/readyz", "/readyz?serving")}
        await portal.nats.start()
        back_at = loop.time()
        after = [new_email("natsdown") for _ in range(5)]
        assert [await register(client, e) for e in after] == [202] * 5
    refused = [e for e, status in during.items() if status != 202]
    last, resent = await every_mail_once(portal, before + list(during) + after)
    print(
        f"\nNATS down {back_at - down_at:.0f} s: {len(during)} registrations while down, {len(refused)} refused;"
        f" {len(before) + len(during) + len(after)} confirmation mails, none lost, none twice ({resent} resent);"
        f" everything owed out {last - back_at:.1f} s after NATS was back"
    )
    assert refused == [] and arrived_while_down == 0 and resent == 0
    assert readiness == {"/readyz": 503, "/readyz?serving": 200}


async def _status(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status


async def test_postgres_down_for_a_minute_every_service_says_503_at_once_and_recovers(cluster_portal, tmp_path):
    portal = cluster_portal
    loop = asyncio.get_running_loop()
    number = str(secrets.randbelow(10**11) + 10**11)
    await import_businesses(portal, [number], tmp_path / "betriebe.csv")
    async with Client(portal.gateway_url) as load_client, Client(portal.gateway_url) as member:
        await member_with_own_password(portal, member, "pgdown")
        answers: dict[str, int] = {}
        stop_load = asyncio.Event()
        load = asyncio.create_task(registrations(load_client, answers, stop_load))
        await until(lambda: _accepted(answers) >= 5, "the load is running")

        await portal.postgres.stop()
        down_at = loop.time()
        seen: list[tuple[str, int, float, dict | None]] = []  # service, status, seconds, body
        while loop.time() - down_at < POSTGRES_DOWN:
            for service in ("accounts", "pins", "notifications"):
                seen.append(await _timed(service, member.api(*_probe(service, number))))
                seen.append(await _timed(f"{service} /readyz", _ready(portal.url(service))))
            await asyncio.sleep(2 * PACE)  # the probes' pace, not a wait for anything
        await portal.postgres.start()
        up_at = loop.time()
        recovered = {}
        for service in ("accounts", "pins", "notifications"):
            await until(lambda s=service: _succeeds(member.api(*_probe(s, number))), f"{service} answers again")
            recovered[service] = loop.time() - up_at
        accepted_before_up = _accepted(answers)
        await until(lambda: _accepted(answers) >= accepted_before_up + 5, "the load is accepted again")
        stop_load.set()
        await load
    slow = [s for s in seen if s[2] >= 1.0]
    wrong = [s for s in seen if s[1] != 503]
    not_german = [s for s in seen if s[3] is not None and not _german_503(s[3])]
    accepted = [e for e, status in answers.items() if status == 202]
    # A message a consumer was handling when Postgres went away comes back on its redelivery
    # schedule (5 s, 15 s, 1 min, … after each try: README, "Dead letters"): after 60 s down, the
    # next try can be 20 s after Postgres is back.
    last, resent = await every_mail_once(portal, accepted, owed_timeout=90)
    worst = max(s[2] for s in seen)
    print(
        f"\nPostgres down {up_at - down_at:.0f} s: {len(seen)} answers while down, all 503 in at most {worst * 1000:.0f} ms"
        f" ({len(slow)} slower than 1 s, {len(wrong)} not 503); answering again after"
        f" {', '.join(f'{s} {t:.1f} s' for s, t in recovered.items())};"
        f" {len(accepted)} of {len(answers)} registrations of the load accepted; everything owed out"
        f" {max(last - up_at, 0):.1f} s after Postgres was back, none lost, none twice; {resent} sent again with"
        " its Message-ID (SMTP had it when Postgres went away)"
    )
    assert slow == [] and wrong == [] and not_german == []


async def test_a_lost_stream_is_refilled_by_outbox_replay(cluster_portal) -> None:
    portal = cluster_portal
    since = datetime.now(UTC) - timedelta(seconds=1)
    handled = [new_email("replay") for _ in range(5)]  # mailed before the stream is lost
    waiting = [new_email("replay") for _ in range(5)]  # in the stream, not yet consumed, when it is lost
    notifications = portal.services["notifications"]
    async with Client(portal.gateway_url) as client:
        assert [await register(client, e) for e in handled] == [202] * 5
        await every_mail_once(portal, handled)  # sent and recorded as sent: nothing in hand when it stops
        await notifications.terminate()
        assert [await register(client, e) for e in waiting] == [202] * 5

    async def all_published() -> bool:
        rows = await query(portal.database_url, "select count(*) as n from accounts.outbox where published_at is null")
        return rows[0]["n"] == 0

    await until(all_published, "every registration published")
    await portal.nats.stop()
    for node in portal.nats.nodes:
        shutil.rmtree(node.store_dir)  # every stream and durable is gone, on every node
    await portal.nats.start()
    await portal.nats.ensure_streams()  # ops make them anew: python -m deploy.streams --replicas 3
    await notifications.start()
    await notifications.wait_ready()
    assert portal.mail.count(lambda m: m.to in waiting) == 0

    command = ("outbox", "replay", "--since", since.isoformat())
    replay = await run_command("accounts", portal.env["accounts"], *command)
    assert replay.returncode == 0, replay.output
    _, resent = await every_mail_once(portal, handled + waiting)
    assert resent == 0
    again = await run_command("accounts", portal.env["accounts"], *command)  # by mistake: the stream drops it all
    print(f"\nstream lost: {_summary(replay)}; again: {_summary(again)}; all {len(handled + waiting)} mails once")
    assert "10 event(s) published" in _summary(replay) and "10 of them the stream still had" in _summary(again)


def _summary(done) -> str:
    return [line for line in done.output.splitlines() if line.startswith("accounts: ")][-1]


async def registrations(client: Client, answers: dict[str, int], stop: asyncio.Event) -> None:
    """Registrations at a steady pace until `stop`: the members who keep coming through an outage."""
    while not stop.is_set():
        email = new_email("pgload")
        answers[email] = await register(client, email)
        await asyncio.sleep(PACE)  # the load's pace, not a wait for anything


def contact() -> dict:
    return {
        "name": "Erika Mustermann",
        "email": new_email("pgdown"),
        "betriebsnummer": "",
        "betriebsname": "",
        "message": "Wann kommt mein PIN-Brief?",
    }


def _probe(service: str, number: str) -> tuple:
    if service == "accounts":
        return "POST", "/api/v1/accounts/registrations", {**PERSON, "email": new_email("pgdown")}
    if service == "pins":
        return "POST", "/api/v1/pins/requests", {"betriebsnummer": number}
    return "POST", "/api/v1/notifications/contact", contact()


async def _timed(name: str, call) -> tuple[str, int, float, dict | None]:
    started = asyncio.get_running_loop().time()
    status, body = await call
    return name, status, asyncio.get_running_loop().time() - started, body


async def _ready(url: str) -> tuple[int, None]:
    async with Client(url) as client:
        status, _ = await client.api("GET", "/readyz")
    return status, None


def _german_503(body: dict) -> bool:
    error = body.get("error", {})
    return error.get("code") == "service_unavailable" and "nicht erreichbar" in error.get("message", "")


async def _owed(portal) -> list[dict]:
    """What the portal still owes: events not published, mails not sent."""
    events = await query(
        portal.database_url,
        "select subject, attempts, last_error from accounts.outbox where published_at is null"
        " union all select subject, attempts, last_error from pins.outbox where published_at is null",
    )
    mails = await query(
        portal.database_url, "select kind, state, attempts from notifications.mails where state <> 'sent'"
    )
    return [dict(r) for r in events] + [dict(r) for r in mails]


def _accepted(answers: dict[str, int]) -> int:
    return sum(status == 202 for status in answers.values())


async def _succeeds(call) -> bool:
    status, _ = await call
    return 200 <= status < 300
