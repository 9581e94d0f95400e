"""A whole portal for a test: its own database and NATS, the services as real processes.

Each portal gets a fresh database on the shared Postgres and its own NATS server (about 50 ms),
because durable consumers are named per service, not per portal: on a shared NATS one portal's
notifications would consume another portal's events. That NATS runs as production does: the
users of deploy/nats/accounts.conf with fresh passwords, TLS from a CA of its own, the streams
and durables made by deploy.streams' code before the services start, each service its own user.
`nats_nodes=3` makes it a three-node cluster (deploy.infra.NatsCluster) with every stream R3 and
PORTAL_STREAM_REPLICAS=3 for the services, as production runs (about a second more).
`replicas=2` starts two processes of every service, the gateway's too, each on a port of its own
(PORTAL_INSTANCE r1, r2): every gateway lists every replica of each service, so a test can talk
to each gateway and kill any replica (`portal.instances(name)`).
The mail catcher is shared; tests tell their mails apart by their own random addresses.
"""

import contextlib
import secrets as random
import shutil
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from deploy.infra import (
    SERVICES,
    NatsCluster,
    NatsServer,
    Postgres,
    Secrets,
    ServiceProcess,
    free_port,
    portal_env,
    start_services,
    stop_services,
    upstream_urls,
)
from deploy.mailcatcher import MailCatcher
from deploy.nats_local import LocalTls, NatsPasswords


@dataclass
class Portal:
    gateway_url: str
    services: dict[str, ServiceProcess]  # by service name; replicas are in `replicas`
    env: dict[str, dict[str, str]]  # the PORTAL_* variables of each service
    secrets: Secrets
    database_url: str
    nats: NatsServer | NatsCluster
    mail: MailCatcher
    postgres: Postgres
    log_dir: Path
    replicas: list[ServiceProcess] = field(default_factory=list)

    @property
    def nats_url(self) -> str:
        return self.nats.url

    async def nats_connect(self, user: str = "ops", **options):
        """A nats-py connection to this portal's NATS as one of its users (TLS, own inbox)."""
        return await self.nats.connect(user, **options)

    @property
    def printshop_private_key(self) -> str:
        return self.secrets.printshop_private_key

    @property
    def notifications_private_key(self) -> str:
        return self.secrets.notifications_private_key

    def url(self, service: str) -> str:
        return self.services[service].url

    def instances(self, service: str) -> list[ServiceProcess]:
        """Every process of `service`: the first, then its replicas."""
        return [self.services[service], *(r for r in self.replicas if r.service == service)]

    @property
    def gateway_urls(self) -> list[str]:
        return [gateway.url for gateway in self.instances("gateway")]

    async def add_replica(self, service: str, instance: str | None = None, timeout: float = 60) -> ServiceProcess:
        """Another process of `service` on a port of its own, sharing database and consumers."""
        instance = instance or f"r{len(self.replicas) + 2}"
        replica = ServiceProcess(service, self.env[service], free_port(), self.log_dir, instance=instance)
        self.replicas.append(replica)
        await start_services([replica], timeout)
        return replica

    async def stop(self) -> None:
        await stop_services([*self.replicas, *self.services.values()])
        await self.nats.stop()


async def start_portal(
    *,
    postgres: Postgres,
    mail: MailCatcher,
    log_dir: Path,
    services: Iterable[str] = SERVICES,
    nats: NatsServer | NatsCluster | None = None,
    nats_nodes: int = 1,
    env: dict[str, dict[str, str]] | None = None,
    dev_mode: bool = False,
    log_level: str = "INFO",
    timeout: float = 60,
    replicas: int = 1,
) -> Portal:
    """Start a portal; `env` adds or overrides variables per service ({"pins": {...}}).

    `log_dir` is wiped first and then holds every process's log (and this portal's NATS store).
    `nats_nodes`: 1, or 3 for a cluster (`portal.nats` is then a NatsCluster: kill a node with
    `await portal.nats.kill(i)`). `replicas`: processes per service (the first gateway's URL is
    the public one; the others take requests for it, as behind a load balancer). Started here, stopped by `Portal.stop()` (or `running_portal`).
    """
    log_dir = Path(log_dir)
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    own_nats = nats is None
    nats = nats or _new_nats(log_dir, nats_nodes)
    try:
        if not nats.running:
            await nats.start()
        stream_replicas = nats.size if isinstance(nats, NatsCluster) else 1
        await nats.ensure_streams(stream_replicas)  # as ops do before the services start: python -m deploy.streams
    except BaseException:
        if own_nats:  # a NATS of its own that did not come up must not outlive the failed start
            await nats.stop()
        raise
    secrets = Secrets.generate()
    database_url = await postgres.create_database(f"portal_{random.token_hex(6)}")
    ports = {name: [free_port() for _ in range(replicas)] for name in SERVICES}
    gateway_url = f"http://127.0.0.1:{ports['gateway'][0]}"  # also the public URL: links in mails match
    variables = portal_env(
        nats_url=nats.url,
        database_url=database_url,
        smtp_host=mail.host,
        smtp_port=mail.smtp_port,
        secrets=secrets,
        ports={name: replica_ports[0] for name, replica_ports in ports.items()},
        public_url=gateway_url,
        dev_mode=dev_mode,
        mail_inbox_url=mail.inbox_url if dev_mode else None,
        log_level=log_level,
        nats=nats,
    )
    for variables_of_service in variables.values():
        variables_of_service["PORTAL_STREAM_REPLICAS"] = str(stream_replicas)
    variables["gateway"].update(upstream_urls(ports))
    for name, extra in (env or {}).items():
        variables[name].update(extra)
    wanted = [name for name in SERVICES if name in set(services)]
    instances = {
        name: [
            ServiceProcess(name, variables[name], port, log_dir, instance=f"r{i + 1}" if replicas > 1 else "")
            for i, port in enumerate(ports[name])
        ]
        for name in wanted
    }
    processes = {name: started[0] for name, started in instances.items()}
    portal = Portal(gateway_url, processes, variables, secrets, database_url, nats, mail, postgres, log_dir)
    portal.replicas = [replica for started in instances.values() for replica in started[1:]]
    try:
        await start_services([p for n, group in instances.items() if n != "gateway" for p in group], timeout)
        if "gateway" in instances:
            await start_services(instances["gateway"], timeout)
    except BaseException:
        await portal.stop()
        raise
    return portal


def _new_nats(log_dir: Path, nodes: int) -> NatsServer | NatsCluster:
    passwords, tls = NatsPasswords.generate(), LocalTls.load_or_create(log_dir / "nats-tls")
    if nodes > 1:
        return NatsCluster(log_dir / "nats-cluster", nodes, passwords=passwords, tls=tls, log_dir=log_dir)
    return NatsServer(log_dir / "nats-store", log_path=log_dir / "nats.log", passwords=passwords, tls=tls)


@contextlib.asynccontextmanager
async def running_portal(**kwargs) -> AsyncIterator[Portal]:
    portal = await start_portal(**kwargs)
    try:
        yield portal
    finally:
        await portal.stop()
