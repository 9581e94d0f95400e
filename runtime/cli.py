"""`python -m services.<name> [command]`: one command line, the same in every service.

Without a command (or with `serve`) the service runs. A service that owns a schema also has
`migrate` (apply the migrations and exit, e.g. as a Kubernetes init step) and the operator's
commands every such service shares; a service adds its own (pins: the staff's jobs). `--help`
explains everything and starts nothing. A command reads only the settings it needs.
"""

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiohttp import web

from contracts.durables import PUBLISHES
from runtime import db, deadletter_commands, outbox_replay, service
from runtime.consumers import Handlers
from runtime.logs import setup_logging
from runtime.settings import DatabaseUrlSettings, ServiceSettings, load_settings


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    run: Callable[[argparse.Namespace], Awaitable[int]]  # the exit code
    arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None


@dataclass(frozen=True)
class Service:
    name: str
    settings: type[ServiceSettings]
    create_app: Callable[..., web.Application]
    schema: str | None = None  # the Postgres schema it owns, if any
    migrations: Path | None = None
    commands: tuple[Command, ...] = ()
    # the use case for each event it reads, given its pool: its consumers' and `dead-letters retry`'s
    handlers: Callable[[asyncpg.Pool], Handlers] | None = None


def main(spec: Service, argv: list[str] | None = None) -> None:
    commands = {c.name: c for c in (*database_commands(spec), *spec.commands)}
    args = parser(spec, commands.values()).parse_args(argv)
    if args.command in (None, "serve"):
        service.main(spec.name, spec.settings, spec.create_app)
        return
    setup_logging(spec.name, "WARNING", "")
    sys.exit(asyncio.run(commands[args.command].run(args)))


def parser(spec: Service, commands) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"python -m services.{spec.name}",
        description=f"The {spec.name} service of the Kundenportal. Configured by PORTAL_* variables (README).",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("serve", help="run the service (the default)")
    for command in commands:
        command.arguments(sub.add_parser(command.name, help=command.help, description=command.help))
    return p


def database_commands(spec: Service) -> list[Command]:
    if spec.schema is None:
        return []

    async def migrate(_: argparse.Namespace) -> int:
        settings = load_settings(DatabaseUrlSettings, spec.name)
        conn = await asyncpg.connect(**await db.connect_args(settings.database_url.get_secret_value(), spec.schema))
        try:
            folders = [db.RUNTIME_MIGRATIONS] + ([spec.migrations] if spec.migrations else [])
            applied = await db.migrate(conn, spec.schema, folders)
        except db.MigrationEdited as edited:
            print(f"{spec.name}: cannot migrate: {edited}", file=sys.stderr)
            return 1
        finally:
            await conn.close()
        print(f"{spec.schema}: {len(applied)} migration(s) applied" + "".join(f"\n  {v}" for v in applied))
        return 0

    commands = [
        Command("migrate", "apply the schema's migrations and exit (safe beside running replicas)", migrate),
        Command(
            "dead-letters",
            deadletter_commands.HELP,
            lambda args: deadletter_commands.run(args, spec),
            deadletter_commands.arguments,
        ),
    ]
    if spec.name in PUBLISHES:  # only a service that publishes has outbox rows to send again
        commands.append(
            Command(
                "outbox",
                "the outbox: 'outbox replay --since TIMESTAMP' publishes again what a lost stream needs",
                lambda args: outbox_replay.run(args, spec.name, spec.schema),
                outbox_replay.arguments(spec.name),
            )
        )
    return commands


@contextlib.asynccontextmanager
async def database(spec: Service) -> AsyncIterator[asyncpg.Pool]:
    """The service's pool for a command, migrated first as the service would."""
    settings = load_settings(DatabaseUrlSettings, spec.name)
    pool = await db.create_pool(settings.database_url.get_secret_value(), spec.schema, spec.migrations, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()
