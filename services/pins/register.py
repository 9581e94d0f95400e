"""Importing the business register: all rows or none, in one transaction (COPY + upsert)."""

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.pins import bulk, csvfile


class RegisterInvalid(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


@dataclass(frozen=True)
class Summary:
    rows: int
    new: int
    updated: int
    unchanged: int
    deleted: int
    links_ended: int

    def lines(self) -> list[str]:
        return [
            f"Zeilen / rows:              {self.rows}",
            f"Neu / new:                  {self.new}",
            f"Geändert / updated:         {self.updated}",
            f"Unverändert / unchanged:    {self.unchanged}",
            f"Gelöscht / deleted:         {self.deleted}",
            f"Beendete Verknüpfungen / links ended: {self.links_ended}",
        ]


async def import_register(pool: asyncpg.Pool, data: bytes, now: datetime, *, full: bool = False) -> Summary:
    """Apply the file, or raise RegisterInvalid with every bad row and apply nothing."""
    parsed = csvfile.parse(data)
    if parsed.problems:
        raise RegisterInvalid(parsed.problems)
    async with pool.acquire() as conn, conn.transaction():
        # one import at a time: a second waits, then sees the first one's result
        await conn.execute("select pg_advisory_xact_lock(hashtext('pins:import'))")
        await bulk.load(conn, parsed.businesses)
        new, updated = await bulk.upsert(conn, now)
        deleted, links = await bulk.delete_missing(conn, now) if full else (0, 0)
    rows = len(parsed.businesses)
    return Summary(rows, new, updated, rows - new - updated, deleted, links)
