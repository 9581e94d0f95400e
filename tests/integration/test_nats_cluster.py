"""The three-node cluster of deploy.infra.NatsCluster, as deploy/nats/cluster.conf runs one:
every node fsyncs before it acknowledges and advertises no addresses; `python -m deploy.streams
--replicas 3` makes every stream R3 across the nodes; a service expecting 3 replicas is not
ready (503) while its streams have fewer, and is ready once ops have run the command."""

import os
import subprocess
import sys
import uuid

import aiohttp
import pytest

from deploy.infra import ROOT, NatsCluster, Secrets, ServiceProcess, free_port, portal_env, stop_services
from deploy.nats_local import LocalTls, NatsPasswords
from tests.support.wait import until

pytestmark = pytest.mark.integration

SERVICES = ("accounts", "pins", "notifications")  # the gateway uses no stream


async def readiness(service: ServiceProcess) -> tuple[int, dict] | None:
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{service.url}/readyz") as response:
            return response.status, await response.json()
    except aiohttp.ClientConnectionError:
        return None


async def varz(cluster: NatsCluster, index: int) -> dict:
    url = f"http://127.0.0.1:{cluster.nodes[index].monitor_port}/varz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.json()


async def on_every_node(ops, stream: str) -> bool:
    """The stream's leader and two current followers are the three nodes (raising the replicas
    takes the new followers a moment to catch up)."""
    cluster = (await ops.jetstream().stream_info(stream)).cluster
    followers = [peer for peer in cluster.replicas or [] if peer.current]
    return {cluster.leader, *(peer.name for peer in followers)} == {"nats-1", "nats-2", "nats-3"}


async def test_deploy_streams_makes_every_stream_r3_and_services_wait_for_it(postgres, mail, test_output):
    cluster = NatsCluster(
        test_output / "cluster",
        passwords=NatsPasswords.generate(),
        tls=LocalTls.load_or_create(test_output / "tls"),
        log_dir=test_output,
    )
    await cluster.start()
    services: list[ServiceProcess] = []
    try:
        for index in range(cluster.size):
            node = await varz(cluster, index)
            assert node["jetstream"]["config"]["sync_always"] is True
            assert not node.get("connect_urls") and len(node["cluster"]["urls"]) == 2
        await cluster.ensure_streams(1)  # what an older set-up left: every stream R1

        env = portal_env(
            nats_url=cluster.url,
            database_url=await postgres.create_database(f"cluster_{uuid.uuid4().hex[:8]}"),
            smtp_host=mail.host,
            smtp_port=mail.smtp_port,
            secrets=Secrets.generate(),
            nats=cluster,
        )
        for name in SERVICES:
            assert env[name]["PORTAL_NATS_URL"].count("tls://") == 3  # every node, each as itself
            service = ServiceProcess(name, {**env[name], "PORTAL_STREAM_REPLICAS": "3"}, free_port(), test_output)
            services.append(service)
            await service.start()
        for service in services:
            answer = await until(lambda s=service: readiness(s), f"{service.name} answering /readyz", 30)
            assert answer == (503, {"status": "unavailable", "failing": {"messaging": "StreamsNotReady"}})

        command = subprocess.run(
            [sys.executable, "-m", "deploy.streams", "--replicas", "3"],
            env={
                **{k: v for k, v in os.environ.items() if not k.startswith("NATS_")},
                "NATS_URL": cluster.url,
                "NATS_USER": "ops",
                "NATS_PASSWORD": cluster.passwords["ops"],
                "NATS_CA": str(cluster.tls.ca_file),
            },
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert command.returncode == 0, command.stderr
        for stream in ("PORTAL_USERS", "PORTAL_PINS", "PORTAL_SESSIONS"):
            assert f"stream {stream} updated: num_replicas 3" in command.stdout

        ops = await cluster.connect("ops")
        try:
            for stream in ("PORTAL_USERS", "PORTAL_PINS", "PORTAL_SESSIONS"):
                assert (await ops.jetstream().stream_info(stream)).config.num_replicas == 3
                await until(lambda s=stream: on_every_node(ops, s), f"{stream} held by all three nodes")
        finally:
            await ops.close()
        for service in services:
            await service.wait_ready()
    finally:
        await stop_services(services)
        await cluster.stop()


async def test_a_whole_cluster_stopped_and_started_keeps_its_streams_and_serves_at_once(test_output):
    """What the local runner does between two runs: every node down, then up on its state. The
    streams elect their leaders seconds after the nodes say healthy; start() waits for them, so
    ops' first call is answered (it used to time out)."""
    cluster = NatsCluster(
        test_output / "cluster",
        passwords=NatsPasswords.generate(),
        tls=LocalTls.load_or_create(test_output / "tls"),
        log_dir=test_output,
    )
    await cluster.start()
    try:
        await cluster.ensure_streams()
        pins = await cluster.connect("pins")
        for i in range(10):
            await pins.jetstream().publish("pin.linked.v1", b"{}", headers={"Nats-Msg-Id": f"before-{i}"})
        await pins.close()
        await cluster.stop()

        await cluster.start()
        assert await cluster.ensure_streams() == []  # answered, and nothing to change
        ops = await cluster.connect("ops")
        try:
            info = await ops.jetstream(timeout=2).stream_info("PORTAL_PINS")
        finally:
            await ops.close()
        assert info.state.messages == 10 and info.config.num_replicas == 3
    finally:
        await cluster.stop()
