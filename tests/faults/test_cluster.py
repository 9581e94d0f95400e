"""Losing NATS nodes: a three-node JetStream cluster, every stream R3, loses one node and then the
leader of PORTAL_USERS (each `kill -9`, then restarted) while 200 registrations are in flight
through the gateway, and a third node while all of them are confirmed. Every accepted
registration gets exactly one confirmation mail and one password mail, and no service is
restarted: each reconnects to the nodes left. Prints lost, duplicated and the recovery times.
"""

import asyncio
import statistics
from collections.abc import Awaitable, Callable
from datetime import datetime

from deploy.infra import SERVICES
from tests.support.client import Client, new_email, query
from tests.support.mail import extract_token_link
from tests.support.wait import until

PERSON = {"first_name": "Erika", "last_name": "Mustermann", "birth_date": "1979-05-04"}
STREAM = "PORTAL_USERS"
REGISTRATIONS = 200
IN_FLIGHT = 10  # requests at once
# Confirming hashes the initial password (argon2id, 2 workers, 64 waiting, then 503): stay below.
CONFIRMING = 4
MAIL_DEADLINE = 120  # seconds; the test reports what it took
# Seconds from a request's answer to its mail, for the slowest: a leader's election (NATS' Raft
# waits 4-9 s) plus the relay's and the consumer's next try. A stall (a lease, a stuck consumer)
# is minutes.
RECOVERY_BUDGET = 60.0


def confirmation(mail) -> bool:
    return "token=" in mail.text


def password(mail) -> bool:
    return any(line.startswith("Passwort: ") for line in mail.text.splitlines())


async def while_in_flight(requests: list[Awaitable], progress: Callable[[], int], at: int, fault) -> list:
    """Run `requests`, IN_FLIGHT at a time, and `fault()` once `progress()` has reached `at`:
    the requests before it are on their way through outbox, JetStream and mail, the rest follow."""
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def limited(request: Awaitable):
        async with slots:
            return await request

    async def fault_at() -> None:
        await until(lambda: progress() >= at, f"{at} requests answered", timeout=60)
        await fault()

    *answers, _ = await asyncio.gather(*(limited(r) for r in requests), fault_at())
    return answers


async def all_mails(portal, emails: list[str], kind: Callable) -> None:
    wanted = set(emails)

    def arrived() -> bool:
        return {m.to for m in portal.mail.find(lambda m: m.to in wanted and kind(m))} == wanted

    await until(arrived, f"a mail for each of {len(wanted)}", timeout=MAIL_DEADLINE)


async def drained(portal, durable: str) -> bool:
    """Nothing left to deliver: the durable has every message acked, accounts' outbox is empty
    and notifications' queue is sent. Only then can a count of mails say 'exactly one'."""
    ops = await portal.nats.connect("ops", allow_reconnect=False)
    try:
        info = await ops.jetstream(timeout=5).consumer_info(STREAM, durable)
    finally:
        await ops.close()
    if info.num_pending or info.num_ack_pending:
        return False
    outbox = await query(portal.database_url, "select count(*) as n from accounts.outbox where published_at is null")
    unsent = await query(portal.database_url, "select count(*) as n from notifications.mails where state <> 'sent'")
    return outbox[0]["n"] == 0 and unsent[0]["n"] == 0


def delays(portal, answered_at: dict[str, datetime], kind: Callable) -> list[float]:
    """Seconds from each request's answer to the arrival of its mail."""
    return [
        (mail.received_at - answered_at[mail.to]).total_seconds()
        for mail in portal.mail.find(lambda m: m.to in answered_at and kind(m))
    ]


def summary(took: list[float]) -> str:
    return f"slowest {max(took):.1f} s after its answer, median {statistics.median(took):.1f} s"


def lost_and_duplicated(portal, emails: list[str], kind: Callable) -> tuple[list[str], list[str]]:
    counts = {e: portal.mail.count(lambda m, e=e: m.to == e and kind(m)) for e in emails}
    return [e for e, n in counts.items() if n == 0], [e for e, n in counts.items() if n > 1]


async def test_losing_a_node_and_the_stream_leader_loses_and_duplicates_no_mail(cluster_portal) -> None:
    portal, cluster = cluster_portal, cluster_portal.nats
    loop = asyncio.get_running_loop()
    pids = {name: service.pid for name, service in portal.services.items()}
    measured: dict[str, float] = {}
    killed: list[int] = []
    cut_off: set[str] = set()  # services whose NATS connection a kill took away

    async def kill(index: int, label: str) -> None:
        cut_off.update(set(await cluster.users_on(index)) & set(SERVICES))
        started = loop.time()
        await cluster.kill(index)
        killed.append(index)
        await cluster.stream_leader(STREAM)  # a leader among the nodes left (the old one, or a new)
        measured[f"{label}: {STREAM} led again"] = loop.time() - started

    async def restart(index: int, label: str) -> None:
        started = loop.time()
        await cluster.restart(index)
        measured[f"{label}: caught up"] = loop.time() - started

    async def kill_the_leader() -> None:
        await kill(await cluster.stream_leader(STREAM), "leader")

    leader = await cluster.stream_leader(STREAM)
    others = [i for i in range(cluster.size) if i != leader]
    connected = {i: len(set(await cluster.users_on(i)) & set(SERVICES)) for i in others}
    follower = max(others, key=connected.get)  # the one most services are connected to
    faults = [
        lambda: kill(follower, "follower"),
        lambda: restart(follower, "follower"),
        kill_the_leader,
        lambda: restart(killed[-1], "leader"),
    ]
    emails = [new_email("cluster") for _ in range(REGISTRATIONS)]
    accepted: dict[str, datetime] = {}  # e-mail: when its 202 came
    answered = 0

    async def register(client: Client, email: str) -> None:
        nonlocal answered
        status, _ = await client.api("POST", "/api/v1/accounts/registrations", {**PERSON, "email": email})
        answered += 1
        if status == 202:
            accepted[email] = datetime.now().astimezone()

    async with Client(portal.gateway_url) as client:
        step = REGISTRATIONS // len(faults)
        for i, fault in enumerate(faults):
            batch = emails[i * step : (i + 1) * step]
            await while_in_flight([register(client, e) for e in batch], lambda: answered, i * step + step // 3, fault)
    assert len(accepted) == REGISTRATIONS, f"only {len(accepted)} registrations accepted"

    await all_mails(portal, list(accepted), confirmation)
    await until(lambda: drained(portal, "notifications_user_registered_v1"), "every confirmation delivered")
    lost, duplicated = lost_and_duplicated(portal, list(accepted), confirmation)
    registered = delays(portal, accepted, confirmation)
    print(
        f"\n3 nodes, R3: {REGISTRATIONS} registrations, {len(accepted)} accepted; nats-{follower + 1} and then "
        f"the leader of {STREAM}, nats-{killed[-1] + 1}, killed -9 and restarted mid-burst: confirmation mails "
        f"lost {len(lost)}, duplicated {len(duplicated)}; {summary(registered)}"
    )
    assert lost == [] and duplicated == []

    tokens = {}
    for email in accepted:
        (mail,) = portal.mail.find(lambda m, e=email: m.to == e and confirmation(m))
        tokens[email] = extract_token_link(mail.text).split("token=", 1)[1]
    third = next(i for i in range(cluster.size) if i not in killed)
    confirmed: dict[str, datetime] = {}

    async def confirm(client: Client, email: str) -> None:
        status, body = await client.api("POST", "/api/v1/accounts/registrations/confirm", {"token": tokens[email]})
        assert status == 200, (email, status, body)
        confirmed[email] = datetime.now().astimezone()

    async with Client(portal.gateway_url) as client:
        await while_in_flight(
            [confirm(client, e) for e in accepted],
            lambda: len(confirmed),
            len(accepted) // 3,
            lambda: kill(third, "third"),
        )
    await restart(third, "third")
    await all_mails(portal, list(accepted), password)
    await until(lambda: drained(portal, "notifications_user_confirmed_v1"), "every password mail delivered")
    lost, duplicated = lost_and_duplicated(portal, list(accepted), password)
    passwords = delays(portal, confirmed, password)

    restarted = {n for n, s in portal.services.items() if not s.running or s.pid != pids[n]}
    times = ", ".join(f"{what} {took:.1f} s" for what, took in measured.items())
    print(
        f"{len(confirmed)} confirmations, nats-{third + 1} killed -9 meanwhile and restarted: password mails "
        f"lost {len(lost)}, duplicated {len(duplicated)}; {summary(passwords)}\n"
        f"recovery: {times}; cut off from their node and reconnected: {sorted(cut_off)}; "
        f"services restarted: {sorted(restarted) or 'none'}"
    )
    assert lost == [] and duplicated == []
    assert restarted == set()
    assert max(registered + passwords) <= RECOVERY_BUDGET
    assert cut_off == set(SERVICES), f"only {sorted(cut_off)} lost their node: the faults missed the others"
