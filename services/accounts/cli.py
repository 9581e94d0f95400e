"""`python -m services.accounts create-staff EMAIL --first-name … --last-name …`: ops create an
account for a chamber employee. It has no password: the setup link mailed (the reset page, valid
72 hours, services.accounts.otp.STAFF_SETUP_LINK) sets the first; the second factor is set up at
the first login. The running accounts service publishes the event from its outbox."""

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError

from runtime import db
from runtime.cli import Command
from runtime.crypto import derive_key, secret_bytes
from runtime.settings import DatabaseUrlSettings, load_settings
from services.accounts.context import SCHEMA
from services.accounts.staff_setup import NewStaff, StaffExists, create_staff

MIGRATIONS = Path(__file__).parent / "migrations"


class StaffSettings(DatabaseUrlSettings):
    """What create-staff reads: the schema, the key for the link, and notifications' public key."""

    accounts_secret: SecretStr
    notifications_public_key: str
    public_url: str = Field(description="The portal's public base URL, e.g. https://portal.example")


async def create_staff_command(args: argparse.Namespace) -> int:
    try:
        person = NewStaff(email=args.email, first_name=args.first_name, last_name=args.last_name)
    except ValidationError as error:
        for problem in error.errors():
            print(f"Ungültig / invalid {'.'.join(map(str, problem['loc']))}: {problem['msg']}", file=sys.stderr)
        return 2
    settings = load_settings(StaffSettings, "accounts")
    token_key = derive_key(secret_bytes(settings.accounts_secret.get_secret_value()), "accounts/tokens")
    pool = await db.create_pool(settings.database_url.get_secret_value(), SCHEMA, MIGRATIONS, max_size=2)
    try:
        created = await create_staff(
            pool, person, datetime.now(UTC), token_key, settings.notifications_public_key, settings.public_url
        )
    except StaffExists:
        print(
            f"Zu {person.email} besteht bereits ein Konto; nichts angelegt / an account exists, nothing created. "
            "Ein Mitgliedskonto wird nicht zum Mitarbeiterkonto.",
            file=sys.stderr,
        )
        return 1
    finally:
        await pool.close()
    print(
        f"Mitarbeiterkonto angelegt / staff account created: {person.email} ({created.user_id}). "
        f"Der Einrichtungslink geht per E-Mail hinaus und gilt bis {created.link_expires_at:%Y-%m-%d %H:%M} UTC."
    )
    return 0


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("email")
    parser.add_argument("--first-name", required=True)
    parser.add_argument("--last-name", required=True)


COMMANDS = (
    Command(
        "create-staff",
        "create a chamber employee's account; a setup link is mailed (second factor at first login)",
        create_staff_command,
        _arguments,
    ),
)
