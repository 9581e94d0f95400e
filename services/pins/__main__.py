from runtime.service import main
from services.pins.app import create_app
from services.pins.settings import Settings

main("pins", Settings, create_app)
