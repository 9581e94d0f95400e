"""`python -m services.pins` runs the service; with a command, one of the staff's jobs (cli.py)."""

import sys

if len(sys.argv) > 1:
    from services.pins.cli import main as cli

    sys.exit(cli(sys.argv[1:]))

from runtime.service import main  # noqa: E402
from services.pins.app import create_app  # noqa: E402
from services.pins.settings import Settings  # noqa: E402

main("pins", Settings, create_app)
