"""Composition root of notifications."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from runtime import bus, service
from runtime.consumers import consume
from runtime.web import create_service_app
from services.notifications import consumers, contact, handlers, housekeeping, http
from services.notifications.mailer import Mailer, SmtpMailer
from services.notifications.rendering import Composer, Letterhead
from services.notifications.settings import Settings
from services.notifications.worker import MailWorker

SCHEMA = "notifications"
MIGRATIONS = Path(__file__).parent / "migrations"


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings, *, mailer: Mailer | None = None, clock: handlers.Clock | None = None
) -> web.Application:
    clock = clock or utc_now
    mailer = mailer or smtp_mailer(settings)
    letterhead = Letterhead(settings.mail_from, settings.public_url, settings.support_email, settings.support_phone)
    composer = Composer(letterhead, settings.notifications_private_key.get_secret_value())
    app = create_service_app(settings.identity_public_key)
    limits = contact.Limits(
        settings.contact_per_client_per_hour, settings.contact_per_address_per_hour, settings.contact_per_hour
    )
    http.add_routes(
        app, support_email=settings.support_email, support_phone=settings.support_phone, clock=clock, limits=limits
    )
    broker = bus.create_broker(settings, "notifications")

    async def smtp_connection(_: web.Application):
        yield
        await mailer.close()  # the SMTP mailer's kept connection: QUIT

    app.cleanup_ctx.extend(
        [
            smtp_connection,  # first in, last out: after the mail worker has stopped
            service.postgres(settings.database_url.get_secret_value(), SCHEMA, MIGRATIONS),
            # before NATS: an event may come at once
            consume(broker, "notifications", lambda pool: consumers.handlers(pool, clock)),
            service.nats(broker),
            service.background(
                lambda app: MailWorker(
                    app[service.POOL],
                    composer,
                    mailer,
                    clock,
                    first_retry=timedelta(seconds=settings.mail_first_retry_seconds),
                ).run()
            ),
            service.background(lambda app: housekeeping.run(app[service.POOL], clock)),
        ]
    )
    return app


def smtp_mailer(settings: Settings) -> SmtpMailer:
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        tls=settings.smtp_tls,
        starttls=settings.smtp_starttls,
        ca_file=settings.smtp_ca,
        timeout=settings.smtp_timeout,
    )
