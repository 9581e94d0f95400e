"""`python -m services.notifications [--help | migrate | …]`."""

from runtime.cli import Service, main
from services.notifications import cli, consumers
from services.notifications.app import MIGRATIONS, SCHEMA, create_app
from services.notifications.settings import Settings

main(Service("notifications", Settings, create_app, SCHEMA, MIGRATIONS, cli.COMMANDS, handlers=consumers.handlers))
