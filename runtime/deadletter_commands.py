"""`python -m services.<name> dead-letters list|retry ID…|drop ID…`: the operator's hands on the
service's dead-letter table (runtime.deadletters).

`list` shows the open ones (`--state`, `--all` for the rest), never a payload; `retry` hands each
stored message to the service's own handler (the same one its consumer uses) and marks it
retried when that succeeds; `drop` marks it dropped, kept for the record. Reads only
PORTAL_DATABASE_URL; the schema is migrated first, as the service would. Exit 1 when any ID was
not found, not open, or failed again.
"""

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

from runtime import db
from runtime.deadletters import STATES, DeadLetters, Row, retry
from runtime.settings import DatabaseUrlSettings, load_settings

if TYPE_CHECKING:
    from runtime.cli import Service

HELP = "the messages its consumers gave up on: 'dead-letters list', 'retry ID', 'drop ID'"


def arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="dead_letters_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="show the dead letters (the open ones unless told otherwise)")
    listing.add_argument("--state", choices=STATES, action="append", help="only these states (repeatable)")
    listing.add_argument("--all", action="store_true", help="every state")
    listing.add_argument("--limit", type=int, default=200, help="at most this many, oldest first (200)")
    again = actions.add_parser("retry", help="hand the stored message to the service's handler again")
    again.add_argument("ids", nargs="+", type=int, metavar="ID")
    drop = actions.add_parser("drop", help="close it without handling it (the row stays, state 'dropped')")
    drop.add_argument("ids", nargs="+", type=int, metavar="ID")


async def run(args: argparse.Namespace, spec: "Service") -> int:
    settings = load_settings(DatabaseUrlSettings, spec.name)
    pool = await db.create_pool(settings.database_url.get_secret_value(), spec.schema, spec.migrations, max_size=2)
    try:
        store = DeadLetters(pool, spec.name)
        if args.dead_letters_action == "list":
            states = STATES if args.all else tuple(args.state or ("open",))
            return await _list(store, states, args.limit)
        if args.dead_letters_action == "retry":
            if spec.handlers is None:
                print(f"{spec.name} reads no events: nothing to retry with")
                return 1
            handlers = spec.handlers(pool)
            outcomes = [await retry(store, handlers, id) for id in args.ids]
            for outcome in outcomes:
                print(outcome.message)
            return 0 if all(o.ok for o in outcomes) else 1
        failed = 0
        for id in args.ids:
            if await store.close(id, "dropped"):
                print(f"#{id} dropped (kept for the record)")
            else:
                row = await store.get(id)
                print(f"#{id}: no such dead letter" if row is None else f"#{id} is {row.state}, not open: nothing done")
                failed += 1
        return 1 if failed else 0
    finally:
        await pool.close()


async def _list(store: DeadLetters, states: tuple[str, ...], limit: int) -> int:
    rows = await store.rows(states, limit)
    for row in rows:
        print(describe(row))
    counts = await store.counts()
    print(f"{len(rows)} shown; " + ", ".join(f"{n} {state}" for state, n in counts.items()))
    return 0


def describe(row: Row) -> str:
    """Three lines for an operator: what, when, why. Never the payload, only its size."""
    resolved = f", {row.state} {_at(row.resolved_at)}" if row.resolved_at else ""
    return (
        f"#{row.id} {row.state}  {row.subject}  {row.stream} seq {row.sequence}  consumer {row.consumer}"
        f"  event {row.event_id or '-'}\n"
        f"    {row.deliveries} deliveries; published {_at(row.published_at)}, given up {_at(row.first_failure)},"
        f" last failure {_at(row.last_failure)}{resolved}; {len(row.payload)} bytes\n"
        f"    reason: {row.reason}"
    )


def _at(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "-"
