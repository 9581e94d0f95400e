"""Starting the portal's pieces on one machine: NATS, Postgres, the services.

Shared by the local runner (`deploy.run`) and the test fixtures (`tests/conftest.py`), so both
start things the same way. Every piece has async `start()` / `stop()` and can be started again
on the same port and data directory (the fault tests restart them to prove nothing is lost).
Every readiness wait polls the thing itself, never a fixed sleep.
"""

import asyncio
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

from contracts.durables import inbox_prefix
from deploy.nats_local import ACCOUNTS_CONF, LocalTls, NatsPasswords, with_user, write_private
from runtime.crypto import generate_keypair, generate_secret
from runtime.identity import generate_signing_keypair

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("accounts", "pins", "notifications", "gateway")  # start order: gateway last
DEFAULT_PORTS = {"gateway": 8000, "accounts": 8001, "pins": 8002, "notifications": 8003}
POLL = 0.05


_HANDED_OUT: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A port free now and never handed out before by this process: the kernel may offer a port
    it just released again, and two servers of one portal (a service and another's metrics
    listener) must never be given the same one."""
    while True:
        with socket.socket() as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


async def _until(check, timeout: float, what: str, failed=lambda: None) -> None:
    """Poll `check()` (async, truthy when done) until it passes; `failed()` may raise early."""
    deadline = time.monotonic() + timeout
    delay = POLL
    while True:
        failed()
        try:
            if await check():
                return
        except (OSError, aiohttp.ClientError, asyncio.TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 0.5)


async def _http_ok(url: str) -> bool:
    timeout = aiohttp.ClientTimeout(total=2)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        return response.status == 200


async def _wait_exit(process: subprocess.Popen, timeout: float) -> bool:
    try:
        await asyncio.to_thread(process.wait, timeout)
        return True
    except subprocess.TimeoutExpired:
        return False


class _Process:
    """A child process in its own session (Ctrl-C in the runner's terminal must not reach it:
    the runner stops things in order), output appended to a log file."""

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- {self.name} starting at {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with code {self.process.returncode}; log {self.log_path}:\n{self.log_tail()}"
            )

    async def terminate(self, timeout: float = 15) -> None:
        """SIGTERM, then wait; SIGKILL if it does not finish in time."""
        if not self.running:
            return
        self.process.send_signal(signal.SIGTERM)
        if not await _wait_exit(self.process, timeout):
            await self.kill()

    async def kill(self) -> None:
        if not self.running:
            return
        self.process.kill()
        await _wait_exit(self.process, 10)

    stop = terminate


class NatsServer(_Process):
    """nats-server with JetStream; same port, store dir and config on every start, so a restart
    keeps the streams (the fault tests restart it).

    With `passwords` and `tls` (deploy/nats_local.py) it runs as production does: the users and
    permissions of deploy/nats/accounts.conf (included, not copied), TLS for clients, monitoring
    on loopback; `cluster_port` adds a route listener that wants the route user and mutual TLS,
    `routes` the URLs it joins (NatsCluster wires three). JetStream fsyncs every message before
    it acknowledges it (`sync_interval`, as deploy/nats/cluster.conf; README.md says why).
    Without them: a plain server without users, for development of a single piece (the tests'
    session server). `config` (a file) and `args` are passed through."""

    def __init__(
        self,
        store_dir: Path,
        port: int = 0,
        *,
        monitor_port: int = 0,
        log_path: Path | None = None,
        config: Path | None = None,
        args: Iterable[str] = (),
        name: str = "nats",
        passwords: NatsPasswords | None = None,
        tls: LocalTls | None = None,
        cluster_port: int | None = None,
        routes: Iterable[str] = (),
        jetstream: bool = True,
        sync_interval: str = "always",
    ) -> None:
        store_dir = Path(store_dir)
        super().__init__(name, log_path or store_dir.parent / f"{name}.log")
        self.store_dir = store_dir
        self.port = port or free_port()
        self.monitor_port = monitor_port or free_port()
        self.config = config
        self.args = list(args)
        self.passwords = passwords
        self.tls = tls
        self.cluster_port = cluster_port
        self.routes = list(routes)
        self.jetstream = jetstream
        self.sync_interval = sync_interval

    @property
    def secured(self) -> bool:
        return self.passwords is not None

    @property
    def url(self) -> str:
        return f"{'tls' if self.tls else 'nats'}://127.0.0.1:{self.port}"

    def url_for(self, user: str) -> str:
        """The URL a service is given: its own user and password in it."""
        return with_user(self.url, user, self.passwords[user]) if self.secured else self.url

    def client_options(self, user: str | None = None) -> dict:
        """Keyword arguments of `nats.connect` for `user` (its password, inbox prefix, the CA)."""
        options: dict = {"servers": [self.url]}
        if self.tls:
            options["tls"] = self.tls.client_context()
        if user and self.secured:
            options.update(user=user, password=self.passwords[user], inbox_prefix=inbox_prefix(user))
        return options

    async def connect(self, user: str | None = None, **options):
        import nats

        return await nats.connect(**{**self.client_options(user), **options})

    async def ensure_streams(self, replicas: int = 1) -> list:
        """What ops do before the services start: `python -m deploy.streams`, as the ops user."""
        from deploy import streams

        connection = await self.connect("ops" if self.secured else None, allow_reconnect=False)
        try:
            return await streams.ensure(connection.jetstream(timeout=10), replicas)
        finally:
            await connection.close()

    def printshop_env(self) -> dict[str, str]:
        """The print shop's PRINTSHOP_NATS_* variables for this server."""
        env = {"PRINTSHOP_NATS_URL": self.url}
        if self.secured:
            env.update(PRINTSHOP_NATS_USER="printshop", PRINTSHOP_NATS_PASSWORD=self.passwords["printshop"])
        if self.tls:
            env["PRINTSHOP_NATS_CA"] = str(self.tls.ca_file)
        return env

    @staticmethod
    def binary() -> str:
        beside = Path(sys.executable).parent / "nats-server"
        return str(beside) if beside.exists() else shutil.which("nats-server") or "nats-server"

    async def start(self, timeout: float = 20) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        env = None
        if self.secured:
            config = self.store_dir.parent / f"{self.name}.conf"
            config.write_text(self._config_text(config.parent))
            argv = [self.binary(), "-c", str(config)]
            # the passwords reach nats-server as in production: through its environment only
            env = {k: v for k, v in os.environ.items() if not k.startswith("NATS_")}
            env.update(self.passwords.server_env())
            if self.routes:
                env["NATS_ROUTES"] = "[" + ", ".join(self.routes) + "]"
        else:
            argv = [
                self.binary(),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-m",
                str(self.monitor_port),
                "-sd",
                str(self.store_dir),
                "-n",
                self.name,
            ] + (["-js"] if self.jetstream else [])
            if self.config:
                argv += ["-c", str(self.config)]
        self._spawn(argv + self.args, env=env)
        health = f"http://127.0.0.1:{self.monitor_port}/healthz" + ("?js-enabled-only=true" if self.jetstream else "")
        await _until(lambda: _http_ok(health), timeout, self.name, self._check_alive)

    def _config_text(self, folder: Path) -> str:
        lines = [
            "# written by deploy/infra.py NatsServer at every start; users: deploy/nats/accounts.conf",
            f"server_name: {self.name}",
            f"listen: 127.0.0.1:{self.port}",
            f"http: 127.0.0.1:{self.monitor_port}",
        ]
        if self.jetstream:
            lines.append(f'jetstream: {{ store_dir: "{self.store_dir}", sync_interval: {self.sync_interval} }}')
        if self.tls:
            lines.append(f'tls: {{ cert_file: "{self.tls.cert_file}", key_file: "{self.tls.key_file}", timeout: 2 }}')
        if self.cluster_port:
            route_tls = (
                (
                    f'cert_file: "{self.tls.cert_file}", key_file: "{self.tls.key_file}", '
                    f'ca_file: "{self.tls.ca_file}", verify: true, timeout: 2'
                )
                if self.tls
                else ""
            )
            lines += [
                "cluster: {",
                "  name: kundenportal",
                f"  listen: 127.0.0.1:{self.cluster_port}",
                "  no_advertise: true",
                "  authorization: { user: route, password: $NATS_ROUTE_PASSWORD, timeout: 2 }",
                *([f"  tls: {{ {route_tls} }}"] if route_tls else []),
                *(["  routes: $NATS_ROUTES"] if self.routes else []),
                "}",
            ]
        # nats-server resolves an include relative to the including file, and only so
        lines.append(f'include "{os.path.relpath(ACCOUNTS_CONF, folder)}"')
        return "\n".join(lines) + "\n"

    async def restart(self) -> None:
        await self.terminate()
        await self.start()


class NatsCluster:
    """JetStream on `size` nats-servers (nats-1 … nats-3) joined by routes with the route user and
    mutual TLS, each with its own ports and store under `folder`: the cluster.conf set-up on
    loopback. Nodes are stopped, killed and restarted by index (0 is nats-1) with the same ports
    and store, so a restarted node catches up on what it missed.

    It stands in for a NatsServer wherever a portal needs one (`url_for`, `connect`,
    `ensure_streams`, …): the services get every node in PORTAL_NATS_URL and reconnect to another
    when theirs dies."""

    def __init__(
        self,
        folder: Path,
        size: int = 3,
        *,
        passwords: NatsPasswords,
        tls: LocalTls,
        ports: list[int] | None = None,
        monitor_ports: list[int] | None = None,
        cluster_ports: list[int] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        folder = Path(folder)
        self.passwords = passwords
        self.tls = tls
        names = [f"nats-{i + 1}" for i in range(size)]
        ports = ports or [free_port() for _ in names]
        monitor_ports = monitor_ports or [free_port() for _ in names]
        cluster_ports = cluster_ports or [free_port() for _ in names]
        self.nodes = [
            NatsServer(
                folder / name,
                ports[i],
                monitor_port=monitor_ports[i],
                log_path=(Path(log_dir) if log_dir else folder) / f"{name}.log",
                name=name,
                passwords=passwords,
                tls=tls,
                cluster_port=cluster_ports[i],
                # the others, each with the route user: a node presents what its route URLs hold
                routes=[
                    with_user(f"nats-route://127.0.0.1:{port}", "route", passwords["route"])
                    for j, port in enumerate(cluster_ports)
                    if j != i
                ],
            )
            for i, name in enumerate(names)
        ]

    secured = True

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def running(self) -> bool:
        return any(node.running for node in self.nodes)

    @property
    def url(self) -> str:
        """Every node, comma-separated: what PORTAL_NATS_URL lists."""
        return ",".join(node.url for node in self.nodes)

    def url_for(self, user: str) -> str:
        return ",".join(node.url_for(user) for node in self.nodes)

    def index_of(self, name: str) -> int:
        return next(i for i, node in enumerate(self.nodes) if node.name == name)

    def client_options(self, user: str | None = None) -> dict:
        """`nats.connect` options for `user`, listing the nodes that run now."""
        options = self.nodes[0].client_options(user)
        options["servers"] = [node.url for node in self.nodes if node.running] or [self.nodes[0].url]
        return options

    async def connect(self, user: str | None = None, **options):
        import nats

        return await nats.connect(**{**self.client_options(user), **options})

    async def start(self, timeout: float = 30) -> None:
        """Start every node that is not running; return once JetStream is healthy on all."""
        await asyncio.gather(*(node.start(timeout) for node in self.nodes if not node.running))
        await self.wait_healthy(timeout)

    async def stop(self) -> None:
        await asyncio.gather(*(node.stop() for node in self.nodes))

    async def kill(self, index: int) -> None:
        """SIGKILL one node: no lame duck, no flush (what a crashed machine's process sees)."""
        await self.nodes[index].kill()

    async def stop_node(self, index: int) -> None:
        await self.nodes[index].stop()

    async def restart(self, index: int, timeout: float = 30) -> None:
        """Start node `index` again (stopping it first if it runs) and wait until it has caught up."""
        node = self.nodes[index]
        await node.terminate()
        await node.start(timeout)
        await self.wait_healthy(timeout)

    async def wait_healthy(self, timeout: float = 30) -> None:
        """Until every running node answers /healthz (JetStream's meta group has a leader, the
        node has caught up) and sees a running leader for every stream and consumer: /healthz
        passes before those are elected, and an API call to a stream without a leader is never
        answered (a whole cluster started on old state takes seconds to elect them)."""
        running = [node for node in self.nodes if node.running]
        names = {node.name for node in running}

        async def healthy() -> bool:
            checks = [_http_ok(f"http://127.0.0.1:{n.monitor_port}/healthz") for n in running]
            if not all(await asyncio.gather(*checks)):
                return False
            for node in running:
                for group in await _raft_groups(node):
                    if (group.get("cluster") or {}).get("leader") not in names:
                        return False
            return True

        await _until(healthy, timeout, "the NATS cluster's JetStream")

    async def stream_leader(self, stream: str, timeout: float = 30) -> int:
        """The index of the node that leads `stream` now (asked through the JetStream API as ops);
        waits while an election is under way."""
        leader: list[int] = []

        async def known() -> bool:
            try:
                connection = await self.connect("ops", allow_reconnect=False, connect_timeout=2)
            except Exception:  # the node just picked died a moment ago: ask again
                return False
            try:
                info = await connection.jetstream(timeout=2).stream_info(stream)
            except Exception:  # no leader yet: the API times out or says so
                return False
            finally:
                await connection.close()
            name = info.cluster.leader if info.cluster else None
            if name and self.nodes[self.index_of(name)].running:
                leader[:] = [self.index_of(name)]
            return bool(leader)

        await _until(known, timeout, f"a leader of stream {stream}")
        return leader[0]

    async def users_on(self, index: int) -> list[str]:
        """The NATS users connected to node `index` now (its monitoring port's /connz)."""
        url = f"http://127.0.0.1:{self.nodes[index].monitor_port}/connz?auth=true&limit=1024"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session, session.get(url) as answer:
            return [c.get("authorized_user", "") for c in (await answer.json()).get("connections") or []]

    async def ensure_streams(self, replicas: int | None = None, timeout: float = 60) -> list:
        """`python -m deploy.streams --replicas N` as ops (N: every node, unless given). A cluster
        that has just formed can leave a stream's creation unanswered while it places the
        replicas (seen under load: a 10 s timeout on the first R3 stream); ops would run the
        command again, and so does this, until `timeout` — `ensure` is idempotent."""
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js.errors import ServiceUnavailableError

        from deploy import streams

        deadline = time.monotonic() + timeout
        while True:
            connection = await self.connect("ops", allow_reconnect=False)
            try:
                wanted = self.size if replicas is None else replicas
                return await streams.ensure(connection.jetstream(timeout=10), wanted)
            except (NatsTimeout, ServiceUnavailableError):
                if time.monotonic() > deadline:
                    raise
            finally:
                await connection.close()
            await asyncio.sleep(1)  # the cluster is still placing replicas: ask again

    def printshop_env(self) -> dict[str, str]:
        return {**self.nodes[0].printshop_env(), "PRINTSHOP_NATS_URL": self.url}


async def _raft_groups(node: NatsServer) -> list[dict]:
    """Every stream and consumer `node` holds, as its monitoring port reports them (/jsz)."""
    timeout = aiohttp.ClientTimeout(total=2)
    url = f"http://127.0.0.1:{node.monitor_port}/jsz?streams=true&consumers=true"
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        report = await response.json()
    groups = []
    for account in report.get("account_details") or []:
        for stream in account.get("stream_detail") or []:
            groups += [stream, *(stream.get("consumer_detail") or [])]
    return groups


class Postgres:
    """An embedded Postgres from pgserver's bundled binaries, on a unix socket only.

    pgserver's own `get_server()` starts the postmaster in our process group, where the runner's
    Ctrl-C would stop it before the services; so this drives its `initdb`/`pg_ctl` directly and
    starts the server in a session of its own. As root, Postgres runs as pgserver's system user.
    `durable=False` (tests) turns off fsync: a crash of Postgres still loses nothing, only a
    crash of the machine would.
    """

    SYSTEM_USER = "pgserver"

    def __init__(self, data_dir: Path, *, durable: bool = True, max_connections: int = 300) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.durable = durable
        self.max_connections = max_connections
        self.log_path = self.data_dir / "log"
        self._user = self.SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def socket_dir(self) -> Path:
        # a unix socket path must stay under ~100 bytes; long data dirs get a short one in /tmp
        if len(str(self.data_dir / ".s.PGSQL.5432")) < 100:
            return self.data_dir
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path("/tmp") / f"kundenportal-pg-{digest}"

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        return f"postgresql://postgres:@/{database}?host={self.socket_dir}"

    @property
    def running(self) -> bool:
        from pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.data_dir)
        return info is not None and info.is_running()

    async def start(self) -> None:
        await asyncio.to_thread(self._start)

    async def stop(self) -> None:
        await asyncio.to_thread(self._pg_ctl, ["-w", "-m", "fast", "stop"])

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def kill(self) -> None:
        """SIGKILL the postmaster (a crash); `start()` recovers from the WAL."""
        from pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.data_dir)
        if info is not None and info.is_running():
            info.process.kill()
            await asyncio.to_thread(info.process.wait, 10)

    async def create_database(self, name: str, *, exist_ok: bool = False) -> str:
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        try:
            exists = await conn.fetchval("select 1 from pg_database where datname = $1", name)
            if exists and not exist_ok:
                raise ValueError(f"database {name} exists")
            if not exists:
                await conn.execute(f'create database "{name}"')  # name is ours, not user input
        finally:
            await conn.close()
        return self.dsn_for(name)

    def _pg_ctl(self, args: list[str]) -> None:
        from pgserver._commands import pg_ctl

        if self.running:
            pg_ctl(args, pgdata=self.data_dir, user=self._user, timeout=60)

    def _start(self) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH, initdb, pg_ctl

        if self.running:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self._user:
            self._prepare_for_system_user(POSTGRES_BIN_PATH)
        if not (self.data_dir / "PG_VERSION").exists():
            initdb(
                ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", "postgres"],
                pgdata=self.data_dir,
                user=self._user,
            )
        options = f"-h '' -k {self.socket_dir} -c max_connections={self.max_connections}"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        pg_ctl(
            ["-w", "-t", "60", "-o", options, "-l", str(self.log_path), "start"],
            pgdata=self.data_dir,
            user=self._user,
            timeout=90,
            start_new_session=True,
        )

    def _prepare_for_system_user(self, bin_path: Path) -> None:
        from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        entry = ensure_user_exists(self._user)
        for folder in {self.data_dir, self.socket_dir}:
            ensure_prefix_permissions(folder)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)
        if not os.stat(bin_path / "postgres").st_mode & 0o001:  # once per installation
            ensure_prefix_permissions(bin_path)
            ensure_folder_permissions(bin_path, 0o055)
            ensure_folder_permissions(bin_path.parent / "lib", 0o044)


class ServiceProcess(_Process):
    """`python -m services.<name>` with the given PORTAL_* variables on `port`."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        port: int,
        log_dir: Path,
        *,
        instance: str = "",
        host: str = "127.0.0.1",
        metrics_port: int = 0,
    ) -> None:
        label = f"{name}-{instance}" if instance else name
        super().__init__(label, Path(log_dir) / f"{label}.log")
        self.service = name
        self.port = port
        self.host = host
        self.instance = instance
        self.metrics_port = metrics_port or free_port()
        self.env = {
            **env,
            "PORTAL_HTTP_PORT": str(port),
            "PORTAL_HTTP_HOST": host,
            "PORTAL_METRICS_PORT": str(self.metrics_port),
        }
        if instance:
            self.env["PORTAL_INSTANCE"] = instance

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    async def start(self) -> None:
        # the parent's PORTAL_* must not leak in: a service sees exactly what it is given
        base = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
        env = {**base, "PYTHONUNBUFFERED": "1", **self.env}
        self._spawn([sys.executable, "-m", f"services.{self.service}"], env=env, cwd=ROOT)

    async def wait_ready(self, timeout: float = 30) -> None:
        """Poll until this very process answers /healthz (its pid: not a leftover of another run on a
        reused port) and /readyz is 200; raise with the log's tail if it dies or times out."""

        async def ready() -> bool:
            return await self._answering_itself() and await _http_ok(f"{self.url}/readyz")

        try:
            await _until(ready, timeout, self.name, self._check_alive)
        except TimeoutError as error:
            raise TimeoutError(f"{error}; log {self.log_path}:\n{self.log_tail()}") from None

    async def restart(self, timeout: float = 30) -> None:
        await self.terminate()
        await self.start()
        await self.wait_ready(timeout)

    async def _answering_itself(self) -> bool:
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(f"{self.url}/healthz") as response:
            return response.status == 200 and (await response.json()).get("pid") == self.pid


@dataclass(frozen=True)
class Secrets:
    """What the local runner and every test portal generate; nothing here has a default."""

    identity_public_key: str
    identity_private_key: str
    accounts_secret: str
    pins_secret: str
    notifications_public_key: str
    notifications_private_key: str
    printshop_public_key: str
    printshop_private_key: str

    @classmethod
    def generate(cls) -> "Secrets":
        identity, notifications, printshop = generate_signing_keypair(), generate_keypair(), generate_keypair()
        return cls(*identity, generate_secret(), generate_secret(), *notifications, *printshop)

    @classmethod
    def load_or_create(cls, path: Path) -> "Secrets":
        """Kept between runs (0600), so data sealed or hashed last time still opens. A file from an
        older version keeps what it has and gains what is new (the retired internal secret goes)."""
        fresh = asdict(cls.generate())
        kept = json.loads(path.read_text()) if path.exists() else {}
        merged = cls(**{name: kept.get(name, value) for name, value in fresh.items()})
        if set(kept) != set(fresh):
            write_private(path, json.dumps(asdict(merged), indent=2) + "\n")
        return merged


def portal_env(
    *,
    nats_url: str,
    database_url: str,
    smtp_host: str,
    smtp_port: int,
    secrets: Secrets,
    ports: dict[str, int] | None = None,
    public_url: str | None = None,
    dev_mode: bool = False,
    mail_inbox_url: str | None = None,
    letters_url: str | None = None,
    mail_from: str = "Kundenportal <kundenportal@localhost>",
    log_level: str = "INFO",
    nats: "NatsServer | None" = None,
) -> dict[str, dict[str, str]]:
    """The PORTAL_* variables of each service, by service name; each gets only what it needs.
    `nats`: a NatsServer with users; each service then logs in as itself (URL and CA from it)."""
    ports = {**DEFAULT_PORTS, **(ports or {})}
    common = {
        "PORTAL_NATS_URL": nats_url,
        "PORTAL_PUBLIC_URL": public_url or f"http://localhost:{ports['gateway']}",
        "PORTAL_LOG_LEVEL": log_level,
    }
    with_db = {**common, "PORTAL_DATABASE_URL": database_url, "PORTAL_IDENTITY_PUBLIC_KEY": secrets.identity_public_key}
    env = {
        "accounts": {
            **with_db,
            "PORTAL_ACCOUNTS_SECRET": secrets.accounts_secret,
            "PORTAL_NOTIFICATIONS_PUBLIC_KEY": secrets.notifications_public_key,
        },
        "pins": {
            **with_db,
            "PORTAL_PINS_SECRET": secrets.pins_secret,
            "PORTAL_PRINTSHOP_PUBLIC_KEY": secrets.printshop_public_key,
        },
        "notifications": {
            **with_db,
            "PORTAL_NOTIFICATIONS_PUBLIC_KEY": secrets.notifications_public_key,
            "PORTAL_NOTIFICATIONS_PRIVATE_KEY": secrets.notifications_private_key,
            "PORTAL_SMTP_HOST": smtp_host,
            "PORTAL_SMTP_PORT": str(smtp_port),
            "PORTAL_SMTP_STARTTLS": "false",
            "PORTAL_MAIL_FROM": mail_from,
        },
        "gateway": {
            **common,
            "PORTAL_IDENTITY_PRIVATE_KEY": secrets.identity_private_key,
            "PORTAL_ACCOUNTS_URL": f"http://127.0.0.1:{ports['accounts']}",
            "PORTAL_PINS_URL": f"http://127.0.0.1:{ports['pins']}",
            "PORTAL_NOTIFICATIONS_URL": f"http://127.0.0.1:{ports['notifications']}",
        },
    }
    if dev_mode:
        env["gateway"]["PORTAL_DEV_MODE"] = "true"
    if mail_inbox_url:
        env["gateway"]["PORTAL_MAIL_INBOX_URL"] = mail_inbox_url
    if letters_url:
        env["gateway"]["PORTAL_LETTERS_URL"] = letters_url
    for name, variables in env.items():
        variables["PORTAL_HTTP_PORT"] = str(ports[name])
        if nats is not None:  # its own NATS user, as in production
            variables["PORTAL_NATS_URL"] = nats.url_for(name)
            if nats.tls:
                variables["PORTAL_NATS_CA"] = str(nats.tls.ca_file)
    return env


def upstream_urls(ports: dict[str, list[int]], host: str = "127.0.0.1") -> dict[str, str]:
    """The gateway's PORTAL_<SERVICE>_URL for services with several replicas, each on a port of
    its own: every replica listed (comma-separated), the gateway spreads requests over them."""
    return {
        f"PORTAL_{name.upper()}_URL": ",".join(f"http://{host}:{port}" for port in ports[name])
        for name in SERVICES
        if name != "gateway" and name in ports
    }


async def start_services(services: Iterable[ServiceProcess], timeout: float = 60) -> None:
    """Start all, wait for all; if one fails, the others are stopped before raising."""
    services = list(services)
    for service in services:
        await service.start()
    waits = [asyncio.create_task(s.wait_ready(timeout)) for s in services]
    try:
        await asyncio.gather(*waits)
    except BaseException:
        for wait in waits:
            wait.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        await stop_services(services)
        raise


async def stop_services(services: Iterable[ServiceProcess]) -> None:
    await asyncio.gather(*(s.terminate() for s in services))


class PrintShopProcess(_Process):
    """`python -m deploy.printshop` (the outside print shop) with the given PRINTSHOP_* variables;
    ready when its /readyz answers 200 (connected, durable consumer bound)."""

    def __init__(
        self, env: dict[str, str], port: int, log_dir: Path, *, name: str = "printshop", host: str = "127.0.0.1"
    ) -> None:
        super().__init__(name, Path(log_dir) / f"{name}.log")
        self.port = port
        self.host = host
        self.env = {**env, "PRINTSHOP_HTTP_PORT": str(port), "PRINTSHOP_HTTP_HOST": host}

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    async def start(self) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "PRINTSHOP_", "NATS_"))}
        self._spawn(
            [sys.executable, "-m", "deploy.printshop"], env={**base, "PYTHONUNBUFFERED": "1", **self.env}, cwd=ROOT
        )

    async def wait_ready(self, timeout: float = 30) -> None:
        try:
            await _until(lambda: _http_ok(f"{self.url}readyz"), timeout, self.name, self._check_alive)
        except TimeoutError as error:
            raise TimeoutError(f"{error}; log {self.log_path}:\n{self.log_tail()}") from None
