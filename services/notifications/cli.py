"""`python -m services.notifications mails [--state …] [--email ADDRESS]`: what became of the
mails, for support ("the mail never came") and for ops after an outage. Reads only
`PORTAL_DATABASE_URL`."""

import argparse

from runtime import db
from runtime.cli import Command
from runtime.settings import DatabaseUrlSettings, load_settings
from services.notifications import queue, schedule
from services.notifications.app import MIGRATIONS, SCHEMA

STATES = ("queued", "processing", "sent", schedule.FAILED, schedule.EXPIRED)
GIVEN_UP = [schedule.FAILED, schedule.EXPIRED]


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state", action="append", choices=STATES, help="only these states (repeatable); default: failed and expired"
    )
    parser.add_argument("--email", help="only mails to this address")
    parser.add_argument("--limit", type=int, default=50, help="at most this many, newest first (50)")


async def mails(args: argparse.Namespace) -> int:
    settings = load_settings(DatabaseUrlSettings, "notifications")
    pool = await db.create_pool(settings.database_url.get_secret_value(), SCHEMA, MIGRATIONS, max_size=1)
    try:
        rows = await queue.find(pool, args.state or GIVEN_UP, args.email, args.limit)
    finally:
        await pool.close()
    for row in rows:
        ended = row["sent_at"] or row["useful_until"]
        print(
            f"{row['id']}  {row['state']:<10} {row['kind']:<26} {row['recipient']}  "
            f"made {row['created_at']:%Y-%m-%d %H:%M}Z, {row['attempts']} tries, "
            f"{'sent' if row['sent_at'] else 'useful until'} {ended:%Y-%m-%d %H:%M}Z"
            + (f"\n    {row['last_error']}" if row["last_error"] and row["state"] != "sent" else "")
        )
    print(f"{len(rows)} mail(s)")
    return 0


COMMANDS = (
    Command(
        "mails",
        "what became of the mails: failed (refused for good) and expired (purpose ended unsent) by default",
        mails,
        arguments,
    ),
)
