"""The services' command lines behave like commands: --help starts nothing, migrate migrates and exits."""

import os
import secrets
import subprocess
import sys

import pytest

from deploy.infra import ROOT, SERVICES

pytestmark = pytest.mark.integration


def run(service: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("service", SERVICES)
def test_help_explains_and_starts_nothing(service) -> None:
    done = run(service, "--help")  # no PORTAL_* at all: it would refuse to start
    assert done.returncode == 0 and f"python -m services.{service}" in done.stdout and "serve" in done.stdout
    assert ("migrate" in done.stdout) == (service != "gateway")


@pytest.mark.parametrize("service", ["accounts", "pins", "notifications"])
async def test_migrate_applies_the_schema_once_and_exits(service, postgres) -> None:
    dsn = await postgres.create_database(f"migrate_{secrets.token_hex(4)}")
    first = run(service, "migrate", PORTAL_DATABASE_URL=dsn)
    assert first.returncode == 0, first.stderr
    assert "runtime/0001_outbox" in first.stdout and f"{service}: " in first.stdout
    again = run(service, "migrate", PORTAL_DATABASE_URL=dsn)
    assert again.returncode == 0 and "0 migration(s) applied" in again.stdout


def test_migrate_without_a_database_says_what_is_missing() -> None:
    done = run("accounts", "migrate")
    assert done.returncode == 2 and "PORTAL_DATABASE_URL is not set" in done.stderr


async def test_an_applied_migration_that_was_edited_stops_the_start(postgres, tmp_path) -> None:
    import asyncpg

    from runtime import db

    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_things.sql").write_text("create table things (id int primary key);\n")
    dsn = await postgres.create_database(f"edited_{secrets.token_hex(4)}")
    conn = await asyncpg.connect(**await db.connect_args(dsn, "edited"))
    try:
        assert await db.migrate(conn, "edited", [folder]) == ["service/0001_things"]
        assert await db.migrate(conn, "edited", [folder]) == []  # unchanged: nothing to do
        (folder / "0001_things.sql").write_text("create table things (id bigint primary key);\n")
        with pytest.raises(db.MigrationEdited, match="0001_things.sql was edited"):
            await db.migrate(conn, "edited", [folder])
        # a schema migrated before checksums were kept takes today's text as the reference
        await conn.execute("update edited.schema_migrations set checksum = null")
        assert await db.migrate(conn, "edited", [folder]) == []
        assert (await conn.fetchval("select checksum from edited.schema_migrations")) is not None
    finally:
        await conn.close()
