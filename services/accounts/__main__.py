"""`python -m services.accounts [--help | migrate | create-staff | …]`."""

from runtime.cli import Service, main
from services.accounts import consumers
from services.accounts.app import MIGRATIONS, create_app
from services.accounts.cli import COMMANDS
from services.accounts.context import SCHEMA
from services.accounts.settings import Settings

main(Service("accounts", Settings, create_app, SCHEMA, MIGRATIONS, COMMANDS, handlers=consumers.handlers))
