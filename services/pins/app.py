"""Composition root of pins: every port has a production default and can be swapped."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from aiohttp import web

from runtime import bus, service
from runtime.consumers import consume
from runtime.web import create_service_app
from services.pins import consumers, housekeeping, http
from services.pins.context import SCHEMA, Context, pin_key
from services.pins.letters import Letters
from services.pins.limits import RequestLimits
from services.pins.links import Links
from services.pins.settings import LetterSettings, Settings
from services.pins.staff import Staff
from services.pins.throttle import LinkLimits
from services.pins.unlinking import Unlinking

MIGRATIONS = Path(__file__).parent / "migrations"
CONTEXT = web.AppKey("context", Context)


def make_context(settings: LetterSettings, pool: asyncpg.Pool, clock: Callable[[], datetime] | None = None) -> Context:
    extra = {}
    if isinstance(settings, Settings):
        extra = {
            "request_limits": RequestLimits(
                settings.pin_requests_per_business_week,
                settings.pin_requests_per_business_month,
                settings.pin_requests_per_member_month,
            ),
            "link_limits": LinkLimits(
                settings.link_failures_per_member_hour,
                settings.link_failures_per_member_day,
                settings.link_failures_per_client_hour,
                settings.link_failures_per_client_day,
                settings.link_failures_per_business_day,
            ),
        }
    return Context(
        pool=pool,
        clock=clock or (lambda: datetime.now(UTC)),
        pin_key=pin_key(settings.pins_secret.get_secret_value()),
        printshop_key=settings.printshop_public_key,
        pin_valid=timedelta(days=settings.pin_valid_days),
        annual_pin_valid=timedelta(days=settings.annual_pin_valid_days),
        **extra,
    )


def create_app(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> web.Application:
    app = create_service_app(settings.identity_public_key)
    broker = bus.create_broker(settings, "pins")

    async def use_cases(app: web.Application):
        context = make_context(settings, app[service.POOL], clock)
        app[CONTEXT] = context
        app[http.LETTERS] = Letters(context)
        app[http.LINKS] = Links(context)
        app[http.UNLINKING] = Unlinking(context)
        app[http.STAFF] = Staff(context)
        yield

    app.cleanup_ctx.extend(
        [
            service.postgres(settings.database_url.get_secret_value(), SCHEMA, MIGRATIONS),
            use_cases,
            consume(broker, "pins", consumers.handlers),  # before NATS: an event may come at once
            service.nats(broker),
            service.outbox_relay(SCHEMA, broker),
            service.background(lambda app: housekeeping.run(app[CONTEXT])),
        ]
    )
    http.add_routes(app)
    return app
