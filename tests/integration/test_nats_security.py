"""NATS as an untrusted network, against real nats-servers run as production runs them
(deploy/nats/accounts.conf included, TLS from a private CA, streams and durables made by
deploy.streams' code):

1. the internet-facing gateway may hear session.revoke.v1 and nothing else: no purge, no
   stream delete, no consumer on PORTAL_USERS, no event; yet every replica hears a revocation;
2. each service user publishes only its own subjects and reads only its own durables;
3. deny_purge / deny_delete hold even for ops, and ops may not delete a stream;
4. a server without the route credentials cannot join the cluster, one with them can;
5. a client without TLS is refused; the production cluster.conf is valid;
6. deploy.streams is idempotent and sets the replicas asked for;
7. a service is ready only when the streams it uses are there with PORTAL_STREAM_REPLICAS.
"""

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import nats
import pytest
from nats.js.api import ConsumerConfig, StreamConfig
from nats.js.errors import APIError

from contracts import STREAMS, PinLinkedV1, SessionRevokeV1, UserRegisteredV1
from contracts.durables import DURABLES, durables_of
from deploy.infra import ROOT, NatsServer, Secrets, ServiceProcess, free_port, portal_env, stop_services
from deploy.nats_local import LocalTls, NatsPasswords, with_user
from runtime import bus
from runtime.sessions import SessionUser
from services.gateway import revocation
from services.gateway.session_cache import Resolved, SessionCache, cache_key
from tests.support.nats_users import Users, request_refused, subscription_refused
from tests.support.wait import until

pytestmark = pytest.mark.integration

OUTPUT = ROOT / "test-output" / "integration.test_nats_security"
SERVICES = ("accounts", "pins", "notifications")


def fresh(name: str) -> Path:
    folder = OUTPUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def secured_server(folder: Path, *, name: str = "nats", **options) -> NatsServer:
    return NatsServer(
        folder / f"{name}-store",
        log_path=folder / f"{name}.log",
        name=name,
        passwords=options.pop("passwords", None) or NatsPasswords.generate(),
        tls=options.pop("tls", None) or LocalTls.load_or_create(folder / "tls"),
        **options,
    )


@pytest.fixture(scope="module")
async def server():
    started = secured_server(fresh("server"))
    await started.start()
    await started.ensure_streams()
    yield started
    await started.stop()


@pytest.fixture
async def users(server: NatsServer):
    clients = Users(server)
    yield clients
    await clients.close()


async def publish(users: Users, user: str, subject: str, payload: bytes = b"{}") -> int:
    client = await users.client(user)
    ack = await client.nc.jetstream(timeout=5).publish(subject, payload, headers={"Nats-Msg-Id": uuid.uuid4().hex})
    return ack.seq


# --- 1. the gateway ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [
        "$JS.API.STREAM.PURGE.PORTAL_USERS",
        "$JS.API.STREAM.PURGE.PORTAL_PINS",
        "$JS.API.STREAM.PURGE.PORTAL_SESSIONS",
        "$JS.API.STREAM.DELETE.PORTAL_USERS",
        "$JS.API.STREAM.DELETE.PORTAL_PINS",
        "$JS.API.STREAM.DELETE.PORTAL_SESSIONS",
        # a consumer on PORTAL_USERS, in every form the API knows
        "$JS.API.CONSUMER.CREATE.PORTAL_USERS",
        "$JS.API.CONSUMER.CREATE.PORTAL_USERS.spy",
        "$JS.API.CONSUMER.CREATE.PORTAL_USERS.spy.user.>",
        "$JS.API.CONSUMER.DURABLE.CREATE.PORTAL_USERS.spy",
        # reading it otherwise, or someone's durable
        "$JS.API.STREAM.INFO.PORTAL_USERS",
        "$JS.API.STREAM.MSG.GET.PORTAL_USERS",
        "$JS.API.DIRECT.GET.PORTAL_USERS",
        "$JS.API.STREAM.NAMES",
        "$JS.API.INFO",
        "$JS.API.CONSUMER.MSG.NEXT.PORTAL_USERS.notifications_user_confirmed_v1",
        "$JS.API.STREAM.CREATE.GATEWAY",
        # events
        "user.registered.v1",
        "session.revoke.v1",
        "pin.linked.v1",
    ],
)
async def test_the_gateway_may_not_touch_jetstream_nor_publish(users: Users, subject: str):
    await request_refused(await users.client("gateway"), subject)


@pytest.mark.parametrize(
    "subject", ["user.>", "pin.>", "session.>", "session.revoke.>", ">", "_INBOX.>", "_INBOX.accounts.>", "$JS.ACK.>"]
)
async def test_the_gateway_may_subscribe_to_nothing_but_revocations(users: Users, subject: str):
    await subscription_refused(await users.client("gateway"), subject)


async def test_refused_gateway_calls_change_nothing(users: Users):
    seq = await publish(users, "accounts", UserRegisteredV1.SUBJECT)
    js = (await users.client("gateway")).nc.jetstream(timeout=0.5)
    for call in (
        lambda: js.purge_stream("PORTAL_USERS"),
        lambda: js.delete_stream("PORTAL_USERS"),
        lambda: js.add_consumer("PORTAL_USERS", ConsumerConfig(durable_name="spy", filter_subject="user.>")),
    ):
        with pytest.raises(nats.errors.TimeoutError):
            await call()
    ops = (await users.client("ops")).nc.jetstream()
    info = await ops.stream_info("PORTAL_USERS")
    assert info.state.last_seq >= seq and info.state.messages >= 1
    assert {c.name for c in await ops.consumers_info("PORTAL_USERS")} == {
        d.name for d in DURABLES if d.stream == "PORTAL_USERS"
    }


async def test_every_gateway_replica_hears_a_revocation_and_answers_nothing(server: NatsServer, users: Users):
    """The real subscriber of services.gateway, as the gateway user: a broadcast to every
    replica, with no JetStream right at all, and no reply to accounts' publish (its inbox would
    get an empty answer racing the stream's ack, which the server refuses and logs)."""
    settings = SimpleNamespace(
        instance="",
        nats_servers=[server.url_for("gateway")],
        stream_replicas=1,
        nats_ca=server.tls.ca_file,
        nats_creds=None,
    )
    user = SessionUser(uuid.uuid4(), uuid.uuid4())
    replicas = []
    for instance in ("a", "b"):
        broker = bus.create_broker(SimpleNamespace(**{**vars(settings), "instance": instance}), "gateway")
        cache = SessionCache(60)
        cache.put(cache_key(f"token-{instance}"), Resolved(user, must_change_password=False))
        revocation.subscribe(broker, cache)
        await broker.start()
        replicas.append((broker, cache))
    log_before = server.log_path.stat().st_size
    try:
        event = SessionRevokeV1(user_id=user.user_id, all_sessions=True, reason="logout")
        accounts = (await users.client("accounts")).nc.jetstream(timeout=5)
        ack = await accounts.publish(
            event.SUBJECT, event.model_dump_json().encode(), headers={"Nats-Msg-Id": str(event.event_id)}
        )
        assert ack.stream == "PORTAL_SESSIONS"

        async def all_dropped() -> bool:
            return all(len(cache) == 0 for _, cache in replicas)

        await until(all_dropped, "every replica dropped the user's sessions", 5)
        for broker, _ in replicas:
            await broker.connection.flush()  # anything it sent has reached the server
        new_log = server.log_path.read_bytes()[log_before:].decode(errors="replace")
        assert "violation" not in new_log.lower(), new_log
    finally:
        for broker, _ in replicas:
            await broker.stop()


# --- 2. the services --------------------------------------------------------------------

FOREIGN_SUBJECTS = {
    "accounts": ["pin.linked.v1", "pin.requested.v1"],
    "pins": ["user.registered.v1", "user.confirmed.v1", "session.revoke.v1"],
    "notifications": ["user.registered.v1", "pin.linked.v1", "session.revoke.v1"],
}


@pytest.mark.parametrize(("user", "subject"), [(u, s) for u, subjects in FOREIGN_SUBJECTS.items() for s in subjects])
async def test_a_service_may_not_publish_another_services_subject(users: Users, user: str, subject: str):
    client = await users.client(user)
    await client.nc.publish(subject, b"{}")
    await client.nc.flush()
    await client.violation("publish", subject)


def foreign_durable_calls(user: str) -> list[str]:
    calls = []
    for durable in DURABLES:
        if durable.service != user:
            calls += [
                f"$JS.API.CONSUMER.MSG.NEXT.{durable.stream}.{durable.name}",
                f"$JS.API.CONSUMER.INFO.{durable.stream}.{durable.name}",
            ]
    return calls


@pytest.mark.parametrize("user", SERVICES)
async def test_a_service_may_not_read_another_durable_nor_manage_jetstream(users: Users, user: str):
    client = await users.client(user)
    refused = foreign_durable_calls(user) + [
        "$JS.API.STREAM.PURGE.PORTAL_PINS",
        "$JS.API.STREAM.DELETE.PORTAL_USERS",
        "$JS.API.STREAM.UPDATE.PORTAL_USERS",
        "$JS.API.CONSUMER.CREATE.PORTAL_USERS.spy.user.>",
        "$JS.API.CONSUMER.DELETE.PORTAL_PINS.printshop_pin_requested_v1",
        "$JS.API.STREAM.MSG.GET.PORTAL_USERS",
        "$JS.API.STREAM.INFO.OTHER",
    ]
    for subject in refused:
        await request_refused(client, subject)
    for subject in ("user.>", "pin.>", "session.>", "_INBOX.>", "_INBOX.printshop.>"):
        await subscription_refused(client, subject)


@pytest.mark.parametrize("user", SERVICES)
async def test_a_service_may_do_what_it_needs(users: Users, user: str):
    """Its own durables (bind, pull, ack), the info of its streams, its own subjects."""
    client = await users.client(user)
    js = client.nc.jetstream(timeout=5)
    for name in bus.streams_used(user):
        assert (await js.stream_info(name)).config.deny_purge
    for durable in durables_of(user):
        subscription = await js.pull_subscribe_bind(durable=durable.name, stream=durable.stream)
        try:  # whether or not the other tests left it something: the pull and the ack are allowed
            for message in await subscription.fetch(1, timeout=0.3):
                await message.ack_sync()
        except nats.errors.TimeoutError:
            pass
    for subject in {"accounts": ["user.registered.v1", "session.revoke.v1"], "pins": ["pin.linked.v1"]}.get(user, []):
        assert (await js.publish(subject, b"{}")).seq > 0
    await client.nc.flush()
    assert client.errors == []


async def test_a_service_reads_its_durable_and_acks(users: Users):
    seq = await publish(users, "pins", PinLinkedV1.SUBJECT, b'{"x": 1}')
    accounts = await users.client("accounts")
    subscription = await accounts.nc.jetstream(timeout=5).pull_subscribe_bind(
        durable="accounts_pin_linked_v1", stream="PORTAL_PINS"
    )

    async def the_message():
        messages = await subscription.fetch(10, timeout=2)
        for message in messages:
            await message.ack_sync()
        return [m for m in messages if m.metadata.sequence.stream == seq]

    assert await until(the_message, "the linked event on accounts' durable")
    ops = (await users.client("ops")).nc.jetstream()
    assert (await ops.consumer_info("PORTAL_PINS", "accounts_pin_linked_v1")).ack_floor.stream_seq >= seq
    assert accounts.errors == []


# --- 3. the record ----------------------------------------------------------------------


async def test_no_one_may_purge_or_delete_the_record_not_even_ops(users: Users):
    seq = await publish(users, "pins", "pin.requested.v1")
    ops_client = await users.client("ops")
    ops = ops_client.nc.jetstream(timeout=2)
    for name in STREAMS:
        with pytest.raises(APIError, match="purge"):
            await ops.purge_stream(name)
    with pytest.raises(APIError, match="delete"):
        await ops.delete_msg("PORTAL_PINS", seq)
    with pytest.raises(APIError):  # the flags cannot be taken back either
        config = (await ops.stream_info("PORTAL_PINS")).config
        await ops.update_stream(config.evolve(deny_purge=False, deny_delete=False, metadata=None))
    # deny_delete guards messages, not the stream: ops' user may not delete one
    await request_refused(ops_client, "$JS.API.STREAM.DELETE.PORTAL_PINS")
    info = await ops.stream_info("PORTAL_PINS")
    assert info.state.last_seq >= seq and info.state.messages >= 1
    assert info.config.deny_purge and info.config.deny_delete

    # what refuses the purge is the flag: a stream without it purges for the same user
    scratch = f"SCRATCH_{uuid.uuid4().hex[:8]}"
    await ops.add_stream(StreamConfig(name=scratch, subjects=[f"scratch.{scratch}"]))
    assert (await ops.purge_stream(scratch)) is True


# --- 4. the cluster routes --------------------------------------------------------------


async def routes_of(server: NatsServer) -> set[str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{server.monitor_port}/routez") as response,
    ):
        return {route.get("remote_name") for route in (await response.json()).get("routes") or []}


async def test_a_route_without_credentials_is_refused_one_with_them_joins():
    folder = fresh("routes")
    passwords, tls = NatsPasswords.generate(), LocalTls.load_or_create(folder / "tls")
    first = secured_server(
        folder, name="nats-1", passwords=passwords, tls=tls, cluster_port=free_port(), jetstream=False
    )
    plain_route = f"nats-route://127.0.0.1:{first.cluster_port}"
    intruder = secured_server(
        folder,
        name="intruder",
        passwords=passwords,
        tls=tls,
        cluster_port=free_port(),
        routes=[plain_route],
        jetstream=False,
    )
    member = secured_server(
        folder,
        name="nats-2",
        passwords=passwords,
        tls=tls,
        cluster_port=free_port(),
        routes=[with_user(plain_route, "route", passwords["route"])],
        jetstream=False,
    )
    try:
        await first.start()
        await intruder.start()

        async def refused() -> bool:
            return "authentication error" in first.log_path.read_text().lower()

        await until(refused, "nats-1 refusing the route without credentials")
        await member.start()

        async def joined() -> bool:
            return "nats-2" in await routes_of(first)

        await until(joined, "nats-2 joining with the route user")
        assert "intruder" not in await routes_of(first)
        assert await routes_of(intruder) == set()
    finally:
        for node in (member, intruder, first):
            await node.stop()


# --- 5. TLS and the production config ---------------------------------------------------


async def test_a_client_without_tls_is_refused(server: NatsServer):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        info = await asyncio.wait_for(reader.readline(), 5)
        assert b'"tls_required":true' in info
        password = server.passwords["ops"]
        writer.write(b'CONNECT {"user":"ops","pass":"' + password.encode() + b'","verbose":false}\r\nPING\r\n')
        await writer.drain()
        # the server takes what follows INFO as a TLS handshake: it fails, the line is closed
        answer = await asyncio.wait_for(reader.read(), 5)
        assert b"PONG" not in answer and b"+OK" not in answer and reader.at_eof()
    finally:
        writer.close()

    with pytest.raises(Exception):  # nats-py upgrades, but without the private CA it cannot verify the server
        await nats.connect(
            f"nats://ops:{password}@127.0.0.1:{server.port}",
            allow_reconnect=False,
            connect_timeout=2,
            max_reconnect_attempts=0,
        )
    ok = await server.connect("ops")
    assert ok.is_connected
    await ok.close()


async def test_monitoring_answers_on_loopback_only(server: NatsServer):
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{server.monitor_port}/varz") as response,
    ):
        varz = await response.json()
    assert varz["http_host"] == "127.0.0.1" and varz["host"] == "127.0.0.1"
    assert varz["tls_required"] is True


def test_the_production_cluster_config_is_valid():
    """deploy/nats/cluster.conf with what ops give it: TLS files, route and user passwords."""
    folder = fresh("cluster-conf")
    tls = LocalTls.load_or_create(folder / "tls")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NATS_")}
    env.update(
        NatsPasswords.generate().server_env(),
        NATS_SERVER_NAME="nats-1",
        NATS_TLS_CERT=str(tls.cert_file),
        NATS_TLS_KEY=str(tls.key_file),
        NATS_TLS_CA=str(tls.ca_file),
        NATS_ROUTES="[nats-route://route:pwsecret@nats-2:6222, nats-route://route:pwsecret@nats-3:6222]",
    )
    config = ROOT / "deploy" / "nats" / "cluster.conf"
    checked = subprocess.run(
        [NatsServer.binary(), "-c", str(config), "-t"], env=env, capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = config.read_text()
    assert "http: 127.0.0.1:8222" in text and "verify: true" in text and "authorization" in text
    del env["NATS_TLS_CERT"]  # a node without its certificate does not start
    assert (
        subprocess.run(
            [NatsServer.binary(), "-c", str(config), "-t"], env=env, capture_output=True, timeout=30
        ).returncode
        != 0
    )


# --- 6. deploy.streams ------------------------------------------------------------------


async def test_deploy_streams_is_idempotent_and_sets_replicas(server: NatsServer):
    assert await server.ensure_streams() == []  # the fixture ran it once already
    ops = await server.connect("ops")
    try:
        js = ops.jetstream()
        for name, spec in STREAMS.items():
            config = (await js.stream_info(name)).config
            assert config.num_replicas == 1 and config.deny_delete and config.deny_purge
            assert config.subjects == spec["subjects"] and config.duplicate_window == 600
            assert config.max_age == spec["max_age_days"] * 86400
        for durable in DURABLES:
            config = (await js.consumer_info(durable.stream, durable.name)).config
            assert config.filter_subject == durable.subject and config.deliver_subject is None
    finally:
        await ops.close()


async def test_deploy_streams_command_creates_fixes_and_raises_replicas():
    """`python -m deploy.streams` against a fresh node: creates; run again: nothing; a stream an
    older version made without the flags gets them; --replicas is what stream info then shows
    (3 needs the 3-node cluster of issue 9: a single node refuses it and says so)."""
    folder = fresh("command")
    node = secured_server(folder)
    await node.start()
    try:
        ops = await node.connect("ops")
        await ops.jetstream().add_stream(StreamConfig(name="PORTAL_PINS", subjects=["pin.>"], duplicate_window=120))
        await ops.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("NATS_")}
        env.update(NATS_USER="ops", NATS_PASSWORD=node.passwords["ops"], NATS_CA=str(node.tls.ca_file))
        command = [sys.executable, "-m", "deploy.streams", "--server", node.url]

        first = run(command + ["--replicas", "1"], env)
        assert first.returncode == 0, first.stderr
        assert (
            "stream PORTAL_PINS updated: max_age 2592000.0, duplicate_window 600.0, deny_delete True, deny_purge True"
        ) in first.stdout
        assert "stream PORTAL_USERS created" in first.stdout and "printshop_pin_requested_v1 created" in first.stdout
        again = run(command, env)
        assert again.returncode == 0 and "nothing changed" in again.stdout and "created" not in again.stdout
        three = run(command + ["--replicas", "3"], env)
        assert three.returncode == 1 and "replicas > 1 not supported in non-clustered mode" in three.stderr
        assert node.passwords["ops"] not in first.stdout + first.stderr + three.stdout + three.stderr

        ops = await node.connect("ops")
        assert (await ops.jetstream().stream_info("PORTAL_PINS")).config.num_replicas == 1
        await ops.close()
        helped = run([sys.executable, "-m", "deploy.streams", "--help"], env)
        assert helped.returncode == 0 and "--replicas" in helped.stdout
    finally:
        await node.stop()


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


# --- 7. readiness -----------------------------------------------------------------------


async def readiness(service: ServiceProcess) -> tuple[int, dict] | None:
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{service.url}/readyz") as response:
            return response.status, await response.json()
    except aiohttp.ClientConnectionError:
        return None


async def test_a_service_is_not_ready_until_its_streams_exist_with_the_replicas_expected(postgres, mail):
    """pins as its own NATS user on a node where ops have not run deploy.streams yet: it serves,
    answers 503 and binds once the streams are there; expecting 3 replicas, 1 is not enough."""
    folder = fresh("readiness")
    node = secured_server(folder)
    await node.start()
    env = portal_env(
        nats_url=node.url,
        database_url=await postgres.create_database(f"ready_{uuid.uuid4().hex[:8]}"),
        smtp_host=mail.host,
        smtp_port=mail.smtp_port,
        secrets=Secrets.generate(),
        nats=node,
    )["pins"]
    pins = ServiceProcess("pins", env, free_port(), folder)
    expecting_three = ServiceProcess("pins", {**env, "PORTAL_STREAM_REPLICAS": "3"}, free_port(), folder, instance="r3")
    try:
        await pins.start()
        answer = await until(lambda: readiness(pins), "pins answering /readyz", 30)
        assert answer == (503, {"status": "unavailable", "failing": {"messaging": "StreamsNotReady"}})

        await node.ensure_streams()
        await pins.wait_ready()

        await expecting_three.start()
        answer = await until(lambda: readiness(expecting_three), "the second pins answering /readyz", 30)
        assert answer[0] == 503 and answer[1]["failing"] == {"messaging": "StreamsNotReady"}
        for process in (pins, expecting_three):
            assert node.passwords["pins"] not in process.log_path.read_text()
    finally:
        await stop_services([pins, expecting_three])
        await node.stop()
