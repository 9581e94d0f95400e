"""The asyncpg pool of one service, confined to the service's own schema, and its migrations.

Migrations are plain SQL files applied in name order, the runtime's own first, each in its own
transaction, under an advisory lock: replicas that start at once wait for each other. Each applied
file's SHA-256 is recorded; a file edited after it was applied stops the start (MigrationEdited):
the database holds what the old text did, so the change belongs in a new file.
"""

import hashlib
import json
import logging
import re
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
_SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


class MigrationEdited(RuntimeError):
    """An applied migration's file no longer has the text that was applied."""


def rows_affected(status: str) -> int:
    """How many rows a statement touched, from the command tag asyncpg's execute returns
    ("DELETE 3", "UPDATE 0", "INSERT 0 5")."""
    return int(status.rsplit(" ", 1)[-1])


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def connect_args(dsn: str, schema: str) -> dict:
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"bad schema name {schema!r}")
    return {"dsn": dsn, "server_settings": {"search_path": schema, "application_name": schema}}


async def create_pool(
    dsn: str, schema: str, migrations: Path | None = None, *, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    args = await connect_args(dsn, schema)
    conn = await asyncpg.connect(**args)
    try:
        await migrate(conn, schema, [RUNTIME_MIGRATIONS] + ([migrations] if migrations else []))
    finally:
        await conn.close()
    # Connections stay open while the process runs (at most max_size): closing idle ones after a
    # while costs a timer set and cancelled on every acquire and release (issue 12's profile).
    return await asyncpg.create_pool(
        **args,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_released,
        max_inactive_connection_lifetime=0,
    )


async def _released(conn: asyncpg.Connection) -> None:
    """What a connection needs when it goes back to the pool: nothing beyond asyncpg's own
    rollback of a transaction left open. The default reset (advisory unlock all, CLOSE ALL,
    UNLISTEN *, RESET ALL) is a round trip on every release — two of the five a member's GET /me
    cost. Nothing here leaves session state on a pooled connection: the wake-up's LISTEN is
    removed before release (runtime.wakeup), session advisory locks are unlocked by their
    holders (migrations, the yearly issue), cursors live in transactions, and no code SETs."""


async def migrate(conn: asyncpg.Connection, schema: str, folders: list[Path]) -> list[str]:
    """Apply what is missing; return the versions applied now."""
    applied_now: list[str] = []
    await conn.execute("select pg_advisory_lock(hashtext($1))", f"migrations:{schema}")
    try:
        await conn.execute(f"create schema if not exists {schema}")
        await conn.execute(
            f"create table if not exists {schema}.schema_migrations ("
            " version text primary key, applied_at timestamptz not null default now())"
        )
        await conn.execute(f"alter table {schema}.schema_migrations add column if not exists checksum text")
        rows = await conn.fetch(f"select version, checksum from {schema}.schema_migrations")
        done = {r["version"]: r["checksum"] for r in rows}
        for folder in folders:
            prefix = "runtime" if folder == RUNTIME_MIGRATIONS else "service"
            for path in sorted(folder.glob("*.sql")):
                version = f"{prefix}/{path.stem}"
                text = path.read_text(encoding="utf-8")
                checksum = hashlib.sha256(text.encode()).hexdigest()
                if version in done:
                    await _check_unchanged(conn, schema, version, done[version], checksum, path)
                    continue
                async with conn.transaction():
                    await conn.execute(text)
                    await conn.execute(
                        f"insert into {schema}.schema_migrations (version, checksum) values ($1, $2)",
                        version,
                        checksum,
                    )
                applied_now.append(version)
                log.info("migration applied", extra={"schema": schema, "version": version})
    finally:
        await conn.execute("select pg_advisory_unlock(hashtext($1))", f"migrations:{schema}")
    return applied_now


async def _check_unchanged(
    conn: asyncpg.Connection, schema: str, version: str, recorded: str | None, checksum: str, path: Path
) -> None:
    if recorded is None:  # applied before checksums were recorded: its text now is the reference
        await conn.execute(f"update {schema}.schema_migrations set checksum = $2 where version = $1", version, checksum)
    elif recorded != checksum:
        raise MigrationEdited(
            f"{path} was edited after it was applied to schema {schema}: put the change in a new migration file"
        )
