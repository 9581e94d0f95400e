from runtime.service import main
from services.accounts.app import create_app
from services.accounts.settings import Settings

main("accounts", Settings, create_app)
