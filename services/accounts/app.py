"""Composition root of accounts: every port has a production default and can be swapped."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from runtime import bus, service
from runtime.crypto import derive_key
from runtime.web import create_service_app
from services.accounts import http
from services.accounts.handlers import SCHEMA, Accounts
from services.accounts.passwords import Hashing
from services.accounts.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> web.Application:
    app = create_service_app(settings.internal_secret.get_secret_value())
    broker = bus.create_broker(settings, "accounts")
    hashing = Hashing(settings.hash_workers)

    async def use_cases(app: web.Application):
        app[http.ACCOUNTS] = Accounts(
            pool=app[service.POOL],
            clock=clock or (lambda: datetime.now(UTC)),
            token_key=derive_key(settings.internal_secret.get_secret_value(), "accounts/tokens"),
            notifications_key=settings.notifications_public_key,
            public_url=settings.public_url,
            hashing=hashing,
            confirmation_lifetime=timedelta(hours=settings.confirmation_link_hours),
            initial_password_lifetime=timedelta(days=settings.initial_password_days),
        )
        yield
        hashing.close()

    app.cleanup_ctx.extend([
        service.postgres(settings.database_url.get_secret_value(), SCHEMA, MIGRATIONS),
        service.nats(broker),
        service.outbox_relay(SCHEMA, broker),
        use_cases,
    ])
    http.add_routes(app)
    return app
