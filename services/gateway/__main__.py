import asyncio

from runtime.logs import setup_logging
from runtime.service import serve
from runtime.settings import load_settings
from services.gateway.app import create_app
from services.gateway.settings import Settings

settings = load_settings(Settings, "gateway")
setup_logging("gateway", settings.log_level, settings.instance)
asyncio.run(serve(create_app(settings), settings.http_host, settings.http_port,
                  reuse_port=settings.http_reuse_port))
