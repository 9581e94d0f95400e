"""The local runner: `python -m deploy.run` starts the whole portal on this machine.

NATS with JetStream (as production runs it: the users of deploy/nats/accounts.conf, TLS from a
CA made here; the streams and durables made as `python -m deploy.streams` makes them), an embedded
Postgres and the mail catcher, then the four services, each its own process and NATS user, and
the print shop (`deploy.printshop`, the outside integration that turns `pin.requested.v1` into
PDF letters in var/letters/, listed on "Briefe der Druckerei").
State lives in ./var/ and survives restarts (`--fresh` wipes it). Ctrl-C or SIGTERM stops the
services first, then mail catcher, NATS and Postgres.
"""

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import warnings
from pathlib import Path

from deploy.infra import (
    ROOT,
    SERVICES,
    NatsServer,
    Postgres,
    PrintShopProcess,
    Secrets,
    ServiceProcess,
    portal_env,
    start_services,
    stop_services,
    write_private,
)
from deploy.mailcatcher import MailCatcher
from deploy.nats_local import LocalTls, NatsPasswords

DATABASE = "kundenportal"
OFFSETS = {"gateway": 0, "accounts": 1, "pins": 2, "notifications": 3}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port-base",
        type=int,
        default=8000,
        help="gateway on this port, accounts +1, pins +2, notifications +3 (8000)",
    )
    parser.add_argument("--nats-port", type=int, default=4222)
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

    # the NATS users' passwords are kept beside the other local secrets, the CA beside them
    nats = NatsServer(
        var / "nats",
        args.nats_port,
        monitor_port=args.nats_port + 4000,
        log_path=logs / "nats.log",
        passwords=NatsPasswords.load_or_create(var / "nats-passwords.json"),
        tls=LocalTls.load_or_create(var / "nats-tls"),
    )
    postgres = Postgres(var / "postgres")
    mail = MailCatcher("127.0.0.1", args.smtp_port, args.inbox_port)
    services: list[ServiceProcess | PrintShopProcess] = []

    async with contextlib.AsyncExitStack() as stack:
        say("starting Postgres, NATS and the mail catcher …")
        await postgres.start()
        stack.push_async_callback(_step, "Postgres", postgres.stop)
        await nats.start()
        stack.push_async_callback(_step, "NATS", nats.stop)
        for change in await nats.ensure_streams():  # what ops do: python -m deploy.streams
            say(f"NATS: {change}")
        await mail.start()
        stack.push_async_callback(_step, "mail catcher", mail.stop)
        stack.push_async_callback(lambda: _step("services", lambda: stop_services(services)))

        database_url = await postgres.create_database(DATABASE, exist_ok=True)
        ports = {name: args.port_base + offset for name, offset in OFFSETS.items()}
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
        wanted = [name for name in SERVICES if name in args.only]
        say(f"starting {', '.join(wanted)} (logs in {logs}/) …")
        for group in ([n for n in wanted if n != "gateway"], [n for n in wanted if n == "gateway"]):
            started = [ServiceProcess(n, env[n], ports[n], logs, metrics_port=ports[n] + 1000) for n in group]
            services.extend(started)
            if not await _start_or_report(started, stop):
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
        say(f"Logs:        {logs}/<service>.log   State: {var}")
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


def printshop_env(nats: NatsServer, var: Path, portal_url: str, log_level: str) -> dict[str, str]:
    """The print shop as an outsider sees it: the runner's NATS as the `printshop` user (over TLS,
    trusting the runner's CA), the private key the runner wrote, and a folder for the letters."""
    return {
        **nats.printshop_env(),
        "PRINTSHOP_PRIVATE_KEY_FILE": str(var / "printshop.key"),
        "PRINTSHOP_OUTPUT_DIR": str(var / "letters"),
        "PRINTSHOP_PORTAL_URL": portal_url,
        "PRINTSHOP_LOG_LEVEL": log_level,
    }


async def _start_or_report(services: list[ServiceProcess], stop: asyncio.Event) -> bool:
    starting = asyncio.create_task(start_services(services, timeout=120))
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
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
