"""The SQL of the command-line jobs: the register import and the yearly issue."""

from datetime import datetime

import asyncpg

from services.pins.csvfile import Business

_COLUMNS = ["betriebsnummer", "name", "street", "postal_code", "city", "email", "trade"]
_DIFFERS = " or ".join(f"b.{c} is distinct from excluded.{c}" for c in _COLUMNS[1:])


async def load(conn: asyncpg.Connection, businesses: list[Business]) -> None:
    """The file into a temporary table that lives as long as the transaction."""
    await conn.execute(
        "create temp table import_rows (betriebsnummer text primary key, name text not null,"
        " street text not null, postal_code text not null, city text not null, email text, trade text)"
        " on commit drop"
    )
    await conn.copy_records_to_table("import_rows", records=[b.row() for b in businesses], columns=_COLUMNS)
    await conn.execute("analyze import_rows")


async def upsert(conn: asyncpg.Connection, now: datetime) -> tuple[int, int]:
    """New and updated (or undeleted) businesses; rows equal to the register are left alone."""
    row = await conn.fetchrow(
        "with changed as ("
        f" insert into businesses as b ({', '.join(_COLUMNS)}, imported_at, updated_at)"
        f" select {', '.join(_COLUMNS)}, $1, $1 from import_rows"
        " on conflict (betriebsnummer) do update set"
        f" {', '.join(f'{c} = excluded.{c}' for c in _COLUMNS[1:])}, deleted_at = null, updated_at = $1"
        f" where {_DIFFERS} or b.deleted_at is not null"
        " returning (xmax = 0) as inserted)"
        " select count(*) filter (where inserted) as new, count(*) filter (where not inserted) as updated"
        " from changed",
        now,
    )
    return row["new"], row["updated"]


async def active(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("select count(*) from businesses where deleted_at is null")


async def delete_missing(conn: asyncpg.Connection, now: datetime) -> list[str]:
    """Mark businesses missing from the file deleted and void their open PINs; their numbers.
    Their links are ended by the caller, one by one through the unlinking use case."""
    rows = await conn.fetch(
        "with gone as (update businesses b set deleted_at = $1, updated_at = $1"
        " where deleted_at is null and not exists"
        " (select 1 from import_rows r where r.betriebsnummer = b.betriebsnummer) returning betriebsnummer),"
        " voided as (update pin_letters set superseded_at = $1"
        " where betriebsnummer in (select betriebsnummer from gone)"
        " and used_at is null and superseded_at is null and valid_until > $1 returning 1)"
        " select betriebsnummer from gone order by betriebsnummer",
        now,
    )
    return [r["betriebsnummer"] for r in rows]


async def links_of(conn: asyncpg.Connection, numbers: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "select user_id, betriebsnummer from links where betriebsnummer = any($1::text[])"
        " order by betriebsnummer, user_id",
        numbers,
    )


# --- the yearly issue -----------------------------------------------------------------------


async def start_run(conn: asyncpg.Connection, year: int, now: datetime) -> datetime | None:
    """Begin (or resume) the run of `year`; when it finished already, when that was."""
    await conn.execute("insert into annual_runs (year, started_at) values ($1, $2) on conflict do nothing", year, now)
    return await conn.fetchval("select finished_at from annual_runs where year = $1", year)


async def pending(conn: asyncpg.Connection, year: int, limit: int, after: str = "") -> list[asyncpg.Record]:
    """Active businesses without this year's letter yet, in order from `after` on: a business
    skipped for bad data keeps no marker, and the run must still get past it."""
    return await conn.fetch(
        "select betriebsnummer, name, street, postal_code, city from businesses b"
        " where deleted_at is null and betriebsnummer > $3 and not exists (select 1 from annual_letters a"
        " where a.year = $1 and a.betriebsnummer = b.betriebsnummer)"
        " order by betriebsnummer limit $2",
        year,
        limit,
        after,
    )


async def mark_issued(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    """rows: (year, betriebsnummer, letter_id); the primary key refuses a second letter."""
    await conn.copy_records_to_table("annual_letters", records=rows, columns=["year", "betriebsnummer", "letter_id"])


async def finish_run(conn: asyncpg.Connection, year: int, now: datetime) -> int:
    await conn.execute("update annual_runs set finished_at = $2 where year = $1", year, now)
    return await issued(conn, year)


async def issued(conn: asyncpg.Connection, year: int) -> int:
    return await conn.fetchval("select count(*) from annual_letters where year = $1", year)
