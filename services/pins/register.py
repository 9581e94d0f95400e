"""Importing the business register: all rows or none, in one transaction (COPY + upsert).

With `full`, businesses missing from the file are marked deleted and every link to them ends
through the unlinking use case (pin.unlinked.v1, unlinked_by register_import). A file that would
delete more than `max_delete` allows is refused as a whole (a truncated export must not wipe the
register); `dry_run` does everything, reports it, and rolls it back.
"""

import math
import re
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from services.pins import bulk, csvfile, unlinking


class RegisterInvalid(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


@dataclass(frozen=True)
class MaxDelete:
    """How many businesses one --full import may delete: a count ("40") or a share of the
    active register before the import ("5%", rounded down)."""

    value: float
    percent: bool

    @classmethod
    def parse(cls, text: str) -> "MaxDelete":
        found = re.fullmatch(r"\s*(\d+(?:[.,]\d+)?)\s*(%?)\s*", text)
        if not found or (not found[2] and not found[1].isdigit()):
            raise ValueError(f"not a count or a percentage: {text!r}")
        value = float(found[1].replace(",", "."))
        if found[2] and value > 100:
            raise ValueError(f"more than 100 %: {text!r}")
        return cls(value, bool(found[2]))

    def limit(self, active: int) -> int:
        return math.floor(active * self.value / 100) if self.percent else int(self.value)

    def __str__(self) -> str:
        return f"{self.value:g} %" if self.percent else f"{int(self.value)}"


DEFAULT_MAX_DELETE = MaxDelete(5, percent=True)


class TooManyDeletions(Exception):
    def __init__(self, deleting: list[str], limit: int, active: int, max_delete: MaxDelete) -> None:
        super().__init__(f"{len(deleting)} > {limit}")
        self.deleting, self.limit, self.active, self.max_delete = deleting, limit, active, max_delete


@dataclass(frozen=True)
class Summary:
    rows: int
    new: int
    updated: int
    unchanged: int
    deleted: int
    links_ended: int
    deleted_numbers: list[str] = field(default_factory=list)
    dry_run: bool = False

    def lines(self) -> list[str]:
        lines = [
            f"Zeilen / rows:              {self.rows}",
            f"Neu / new:                  {self.new}",
            f"Geändert / updated:         {self.updated}",
            f"Unverändert / unchanged:    {self.unchanged}",
            f"Gelöscht / deleted:         {self.deleted}",
            f"Beendete Verknüpfungen / links ended: {self.links_ended}",
        ]
        if self.dry_run:
            lines.insert(0, "Probelauf, nichts wurde geändert / dry run, nothing applied:")
            if self.deleted_numbers:
                lines.append("Würden gelöscht / would be deleted: " + ", ".join(self.deleted_numbers))
        return lines


class _DryRun(Exception):
    def __init__(self, summary: Summary) -> None:
        super().__init__("dry run")
        self.summary = summary


async def import_register(
    pool: asyncpg.Pool,
    data: bytes,
    now: datetime,
    *,
    full: bool = False,
    dry_run: bool = False,
    max_delete: MaxDelete | None = None,
) -> Summary:
    """Apply the file, or raise RegisterInvalid with every bad row (TooManyDeletions when --full
    would delete more than `max_delete`, None: no limit) and apply nothing."""
    parsed = csvfile.parse(data)
    if parsed.problems:
        raise RegisterInvalid(parsed.problems)
    rows = len(parsed.businesses)
    try:
        async with pool.acquire() as conn, conn.transaction():
            # one import at a time: a second waits, then sees the first one's result
            await conn.execute("select pg_advisory_xact_lock(hashtext('pins:import'))")
            active = await bulk.active(conn)
            await bulk.load(conn, parsed.businesses)
            new, updated = await bulk.upsert(conn, now)
            gone, ended = [], 0
            if full:
                gone = await bulk.delete_missing(conn, now)
                if max_delete is not None and len(gone) > max_delete.limit(active):
                    raise TooManyDeletions(gone, max_delete.limit(active), active, max_delete)
                for link in await bulk.links_of(conn, gone):
                    ended += await unlinking.end(conn, link["user_id"], link["betriebsnummer"], "register_import", now)
            summary = Summary(rows, new, updated, rows - new - updated, len(gone), ended, gone, dry_run)
            if dry_run:
                raise _DryRun(summary)  # rolls the transaction back
    except _DryRun as rolled_back:
        return rolled_back.summary
    return summary
