from runtime.service import main
from services.notifications.app import create_app
from services.notifications.settings import Settings

main("notifications", Settings, create_app)
