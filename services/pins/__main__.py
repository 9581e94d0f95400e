"""`python -m services.pins [--help | migrate | import-businesses | issue-annual-pins | …]`."""

from runtime.cli import Service, main
from services.pins import consumers
from services.pins.app import MIGRATIONS, create_app
from services.pins.cli import COMMANDS
from services.pins.context import SCHEMA
from services.pins.settings import Settings

main(Service("pins", Settings, create_app, SCHEMA, MIGRATIONS, COMMANDS, handlers=consumers.handlers))
