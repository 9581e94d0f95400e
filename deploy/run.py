"""The local runner: `python -m deploy.run` starts the whole portal on this machine.

NATS with JetStream (as production runs it: the users of deploy/nats/accounts.conf, TLS from a
CA made here; the streams and durables made as `python -m deploy.streams` makes them; with
`--nats-nodes 3` a three-node cluster with authorised TLS routes and every stream R3), an embedded
Postgres and the mail catcher, then the four services, each its own process and NATS user, and
the print shop (`deploy.printshop`, the outside integration that turns `pin.requested.v1` into
PDF letters in var/letters/, listed on "Briefe der Druckerei").
`--replicas N` runs N processes of every service (PORTAL_INSTANCE r1, r2, …): the gateways share
the public port (SO_REUSEPORT: the kernel spreads the connections), the other services' replicas
each listen on a port of their own, all listed in the gateways' PORTAL_<SERVICE>_URL.
State lives in ./var/ and survives restarts (`--fresh` wipes it). Ctrl-C or SIGTERM stops the
services first, then mail catcher, NATS and Postgres.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import shutil
import signal
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

from deploy.infra import (
    ROOT,
    SERVICES,
    NatsCluster,
    NatsServer,
    Postgres,
    PrintShopProcess,
    Secrets,
    ServiceProcess,
    portal_env,
    start_services,
    stop_services,
    upstream_urls,
    write_private,
)
from deploy.mailcatcher import MailCatcher
from deploy.manage import env_file
from deploy.nats_local import LocalTls, NatsPasswords

DATABASE = "kundenportal"
OFFSETS = {"gateway": 0, "accounts": 1, "pins": 2, "notifications": 3}
REPLICA_STRIDE = 10  # replica i of a service listens on its port + 10 * (i - 1)
METRICS_OFFSET = 1000
MAX_REPLICAS = 9  # +90 stays clear of the mail catcher's and the print shop's 8025/8026


@dataclass(frozen=True)
class Placement:
    """Where one process of a service listens."""

    instance: str  # PORTAL_INSTANCE; empty when there is one process per service
    port: int
    metrics_port: int


def layout(port_base: int, replicas: int) -> dict[str, list[Placement]]:
    """The ports of every process: gateways all on `port_base` (several bind it with SO_REUSEPORT),
    each with metrics of its own; replica i of the others on their port + 10 * (i - 1)."""
    placements: dict[str, list[Placement]] = {}
    for name, offset in OFFSETS.items():
        placements[name] = []
        for i in range(replicas):
            shift = REPLICA_STRIDE * i
            port = port_base + offset + (0 if name == "gateway" else shift)
            instance = f"r{i + 1}" if replicas > 1 else ""
            placements[name].append(Placement(instance, port, port_base + offset + shift + METRICS_OFFSET))
    return placements


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port-base",
        type=int,
        default=8000,
        help="gateway on this port, accounts +1, pins +2, notifications +3 (8000)",
    )
    parser.add_argument(
        "--nats-port", type=int, default=4222, help="client port (4222); a cluster's nodes use it, +1, +2"
    )
    parser.add_argument(
        "--nats-nodes",
        type=int,
        choices=(1, 3),
        default=1,
        help="1 (default) or 3: a JetStream cluster as production runs it, every stream with 3 replicas "
        "(routes on NATS port +2000, monitoring +4000; state in var/nats-cluster/)",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        choices=range(1, MAX_REPLICAS + 1),
        default=1,
        metavar="N",
        help="processes of every service (1): the gateways share the public port, replica i of the others "
        "listens on its port + 10 * (i - 1); metrics on each process's port + 1000 (gateways +10 each)",
    )
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--inbox-port", type=int, default=8025)
    parser.add_argument(
        "--letters-port", type=int, default=8026, help='the print shop\'s page "Briefe der Druckerei" (8026)'
    )
    parser.add_argument(
        "--no-printshop", action="store_true", help="do not start the print shop (PIN letters then wait in JetStream)"
    )
    parser.add_argument("--var", type=Path, default=ROOT / "var", help="state folder (./var)")
    parser.add_argument("--fresh", action="store_true", help="wipe the state folder first")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=SERVICES,
        default=list(SERVICES),
        metavar="SERVICE",
        help="start only these services (default: all four)",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def say(text: str) -> None:
    print(f"[portal] {text}", flush=True)


async def run(args: argparse.Namespace) -> int:
    var: Path = args.var.resolve()
    if args.fresh and var.exists():
        say(f"--fresh: removing {var}")
        shutil.rmtree(var)
    logs = var / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    secrets = Secrets.load_or_create(var / "secrets.json")
    # for the print shop, which reads the PIN letters sealed to this key (a later process)
    write_private(var / "printshop.key", secrets.printshop_private_key + "\n")

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    nats = local_nats(var, logs, args.nats_port, args.nats_nodes)
    postgres = Postgres(var / "postgres")
    mail = MailCatcher("127.0.0.1", args.smtp_port, args.inbox_port)
    services: list[ServiceProcess | PrintShopProcess] = []

    async with contextlib.AsyncExitStack() as stack:
        say("starting Postgres, NATS and the mail catcher …")
        await postgres.start()
        stack.push_async_callback(_step, "Postgres", postgres.stop)
        await nats.start()
        stack.push_async_callback(_step, "NATS", nats.stop)
        # what ops do: python -m deploy.streams --replicas N
        for change in await nats.ensure_streams(args.nats_nodes):
            say(f"NATS: {change}")
        await mail.start()
        stack.push_async_callback(_step, "mail catcher", mail.stop)
        stack.push_async_callback(lambda: _step("services", lambda: stop_services(services)))

        database_url = await postgres.create_database(DATABASE, exist_ok=True)
        placements = layout(args.port_base, args.replicas)
        ports = {name: replicas[0].port for name, replicas in placements.items()}
        env = portal_env(
            nats_url=nats.url,
            database_url=database_url,
            smtp_host=mail.host,
            smtp_port=mail.smtp_port,
            secrets=secrets,
            ports=ports,
            dev_mode=True,
            mail_inbox_url=mail.inbox_url,
            letters_url=None if args.no_printshop else f"http://127.0.0.1:{args.letters_port}",
            log_level=args.log_level,
            nats=nats,
        )
        for variables in env.values():  # /readyz is 503 while a stream has fewer replicas
            variables["PORTAL_STREAM_REPLICAS"] = str(args.nats_nodes)
        for name, variables in env.items():  # for `python3 tasks.py manage` (deploy/manage.py)
            write_private(env_file(var, name), json.dumps(variables, indent=2))
        if args.replicas > 1:
            env["gateway"].update(upstream_urls({n: [p.port for p in replicas] for n, replicas in placements.items()}))
            env["gateway"]["PORTAL_HTTP_REUSE_PORT"] = "true"
        wanted = [name for name in SERVICES if name in args.only]
        say(f"starting {', '.join(wanted)} (logs in {logs}/) …")
        processes = {
            name: [
                ServiceProcess(name, env[name], p.port, logs, instance=p.instance, metrics_port=p.metrics_port)
                for p in placements[name]
            ]
            for name in wanted
        }
        others = [process for name in wanted if name != "gateway" for process in processes[name]]
        services.extend(others)
        if others and not await _start_or_report(others, stop):
            return 1
        # one after the other: while one gateway answers on the shared port, its /readyz says
        # nothing about the next, which is ready once it says it is listening
        for i, gateway in enumerate(processes.get("gateway", [])):
            services.append(gateway)
            if not await _start_or_report([gateway], stop, listening=i > 0):
                return 1

        if not args.no_printshop:
            printshop = PrintShopProcess(
                printshop_env(nats, var, env["gateway"]["PORTAL_PUBLIC_URL"], args.log_level), args.letters_port, logs
            )
            services.append(printshop)
            if not await _start_or_report([printshop], stop):
                return 1

        say(f"Portal:      {env['gateway']['PORTAL_PUBLIC_URL']}")
        say(f"Posteingang: {mail.inbox_url}   (SMTP on {mail.host}:{mail.smtp_port})")
        say(f"NATS:        {nats.url}   (users' passwords in {var / 'nats-passwords.json'}, CA {nats.tls.ca_file})")
        if not args.no_printshop:
            say(f"Briefe der Druckerei: {printshop.url}   (PIN letters as PDF in {var / 'letters'}/)")
        for line in where(processes):
            say(line)
        named = "<service>-r<N>" if args.replicas > 1 else "<service>"
        say(f"Logs:        {logs}/{named}.log   State: {var}")
        say("Ctrl-C stops everything.")
        crashed = await _watch(services, stop)
        if crashed:
            say(
                f"{crashed.name} exited unexpectedly (code {crashed.returncode}); "
                f"see {crashed.log_path}. Stopping everything."
            )
            return 1
        say("stopping …")
    say("stopped.")
    return 0


def local_nats(var: Path, logs: Path, port: int, nodes: int) -> NatsServer | NatsCluster:
    """One node on `port`, or a cluster on `port`, +1, +2 (routes +2000, monitoring +4000). The
    users' passwords are kept beside the other local secrets, the CA beside them. A cluster keeps
    its JetStream state apart (var/nats-cluster/): a single node's store cannot join one."""
    passwords = NatsPasswords.load_or_create(var / "nats-passwords.json")
    tls = LocalTls.load_or_create(var / "nats-tls")
    if nodes == 1:
        return NatsServer(
            var / "nats", port, monitor_port=port + 4000, log_path=logs / "nats.log", passwords=passwords, tls=tls
        )
    return NatsCluster(
        var / "nats-cluster",
        nodes,
        passwords=passwords,
        tls=tls,
        ports=[port + i for i in range(nodes)],
        monitor_ports=[port + 4000 + i for i in range(nodes)],
        cluster_ports=[port + 2000 + i for i in range(nodes)],
        log_dir=logs,
    )


def printshop_env(nats: NatsServer | NatsCluster, var: Path, portal_url: str, log_level: str) -> dict[str, str]:
    """The print shop as an outsider sees it: the runner's NATS as the `printshop` user (over TLS,
    trusting the runner's CA), the private key the runner wrote, and a folder for the letters."""
    return {
        **nats.printshop_env(),
        "PRINTSHOP_PRIVATE_KEY_FILE": str(var / "printshop.key"),
        "PRINTSHOP_OUTPUT_DIR": str(var / "letters"),
        "PRINTSHOP_PORTAL_URL": portal_url,
        "PRINTSHOP_LOG_LEVEL": log_level,
    }


def where(processes: dict[str, list[ServiceProcess]]) -> list[str]:
    """The summary's lines: which process of which service listens where."""
    lines = []
    for name, started in processes.items():
        ports = ", ".join(
            f"{p.instance + ' ' if p.instance else ''}:{p.port} (metrics :{p.metrics_port})" for p in started
        )
        shared = " (one port, SO_REUSEPORT)" if name == "gateway" and len(started) > 1 else ""
        lines.append(f"{name + ':':<15}{ports}{shared}")
    return lines


async def _listening(process: ServiceProcess, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while '"msg": "listening"' not in process.log_path.read_text(errors="replace"):
        if not process.running:
            raise RuntimeError(f"{process.name} exited; see {process.log_path}")
        if loop.time() > deadline:
            raise TimeoutError(f"{process.name} not listening within {timeout:.0f} s; see {process.log_path}")
        await asyncio.sleep(0.2)


async def _start_or_report(services: list[ServiceProcess], stop: asyncio.Event, *, listening: bool = False) -> bool:
    async def start() -> None:
        await start_services(services, timeout=120)
        if listening:
            await asyncio.gather(*(_listening(s, 120) for s in services))

    starting = asyncio.create_task(start())
    interrupted = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, interrupted}, return_when=asyncio.FIRST_COMPLETED)
    interrupted.cancel()
    if not starting.done():
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        say("interrupted while starting.")
        return False
    if error := starting.exception():
        say(f"a service did not become ready: {error}")
        return False
    return True


async def _watch(services: list[ServiceProcess], stop: asyncio.Event) -> ServiceProcess | None:
    """Wait for Ctrl-C/SIGTERM or for a service to exit; return the one that exited, if any."""
    exits = {asyncio.create_task(asyncio.to_thread(s.process.wait)): s for s in services}
    interrupted = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({*exits, interrupted}, return_when=asyncio.FIRST_COMPLETED)
    interrupted.cancel()
    # the waiting threads end when their processes do, which the shutdown that follows ensures
    return next((exits[task] for task in done if task in exits), None)


async def _step(what: str, action) -> None:
    try:
        await action()
    except Exception as error:  # keep stopping the rest
        say(f"stopping {what} failed: {error!r}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")  # pgserver's platformdirs
    # asyncio's "returning true from eof_received() has no effect when using ssl" at every TLS
    # close of the runner's own NATS connections says nothing to a developer
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
