from runtime.service import main
from services.gateway.app import create_app
from services.gateway.settings import Settings

main("gateway", Settings, create_app)
