"""Composition root of accounts: every port has a production default and can be swapped."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from runtime import bus, service
from runtime.consumers import consume
from runtime.crypto import derive_key, secret_bytes
from runtime.web import create_service_app
from services.accounts import consumers, housekeeping, http, staff_http
from services.accounts.context import SCHEMA, Context, Lifetimes
from services.accounts.hashing import Hashing
from services.accounts.member_data import MemberData
from services.accounts.password import Passwords
from services.accounts.registration import Registrations
from services.accounts.second_factor import SecondFactors
from services.accounts.sessions import Sessions
from services.accounts.settings import Settings
from services.accounts.staff import Staff

MIGRATIONS = Path(__file__).parent / "migrations"


def lifetimes(settings: Settings) -> Lifetimes:
    return Lifetimes(
        confirmation_link=timedelta(hours=settings.confirmation_link_hours),
        initial_password=timedelta(days=settings.initial_password_days),
        reset_link=timedelta(minutes=settings.reset_link_minutes),
        session_idle=timedelta(minutes=settings.session_idle_minutes),
        session_absolute=timedelta(hours=settings.session_absolute_hours),
        device=timedelta(days=settings.device_days),
        unconfirmed=timedelta(days=settings.unconfirmed_days),
    )


def create_app(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> web.Application:
    app = create_service_app(settings.identity_public_key)
    broker = bus.create_broker(settings, "accounts")
    secret = secret_bytes(settings.accounts_secret.get_secret_value())
    hashing = Hashing(settings.hash_workers, settings.hash_max_pending)

    async def use_cases(app: web.Application):
        context = Context(
            pool=app[service.POOL],
            clock=clock or (lambda: datetime.now(UTC)),
            token_key=derive_key(secret, "accounts/tokens"),
            session_key=derive_key(secret, "accounts/sessions"),
            second_factor_key=derive_key(secret, "accounts/second-factor"),
            notifications_key=settings.notifications_public_key,
            public_url=settings.public_url,
            hashing=hashing,
            lifetimes=lifetimes(settings),
        )
        app[http.CONTEXT] = context
        app[http.REGISTRATIONS] = Registrations(context)
        app[http.SESSIONS] = Sessions(context)
        app[http.PASSWORDS] = Passwords(context, app[http.SESSIONS], app[http.REGISTRATIONS])
        app[http.MEMBER_DATA] = MemberData(context, app[http.SESSIONS])
        app[staff_http.STAFF_CONTEXT] = context
        app[staff_http.STAFF_CASES] = Staff(context, app[http.REGISTRATIONS])
        app[staff_http.SECOND_FACTORS] = SecondFactors(context)
        yield
        hashing.close()

    app.cleanup_ctx.extend(
        [
            service.postgres(settings.database_url.get_secret_value(), SCHEMA, MIGRATIONS),
            use_cases,
            consume(broker, "accounts", consumers.handlers),  # before NATS: an event may come at once
            service.nats(broker),
            service.outbox_relay(SCHEMA, broker),
            service.background(lambda app: housekeeping.run(app[http.CONTEXT])),
        ]
    )
    http.add_routes(app)
    return app
