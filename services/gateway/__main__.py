"""`python -m services.gateway [--help]`: the gateway keeps no database, so it has no commands."""

from runtime.cli import Service, main
from services.gateway.app import create_app
from services.gateway.settings import Settings

main(Service("gateway", Settings, create_app))
