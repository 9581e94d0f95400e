"""SMTP over TLS against a real aiosmtpd server: STARTTLS when offered, implicit TLS, plain, and a
certificate the client does not trust refused (kept for a retry, never sent in clear instead)."""

import ssl

import pytest

from deploy.mailcatcher import MailCatcher
from deploy.nats_local import LocalTls
from runtime.crypto import generate_keypair
from services.notifications import delivery
from services.notifications.app import smtp_mailer
from services.notifications.mailer import ServerUnavailable, SmtpMailer
from services.notifications.mime import Outgoing
from services.notifications.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trusted(tmp_path_factory) -> LocalTls:
    return LocalTls.load_or_create(tmp_path_factory.mktemp("smtp-ca"))


@pytest.fixture(scope="module")
def stranger(tmp_path_factory) -> LocalTls:
    """Another private CA: its server certificate is one the client has no reason to trust."""
    return LocalTls.load_or_create(tmp_path_factory.mktemp("other-ca"))


def server_context(tls: LocalTls) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


@pytest.fixture
async def catcher():
    servers: list[MailCatcher] = []

    async def start(**tls: ssl.SSLContext) -> MailCatcher:
        server = MailCatcher(http_port=None, **tls)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


def message(subject: str) -> Outgoing:
    headers = [("From", "Kundenportal <kundenportal@localhost>"), ("To", "meisterin@example.org"), ("Subject", subject)]
    return Outgoing(headers, "Guten Tag", "<p>Guten Tag</p>")


async def test_starttls_is_used_when_the_server_offers_it(catcher, trusted) -> None:
    server = await catcher(starttls=server_context(trusted))
    await SmtpMailer(server.host, server.smtp_port, ca_file=trusted.ca_file).send(message("STARTTLS"))
    mail = await server.wait_for(timeout=5)
    print(f"STARTTLS by default: subject={mail.subject!r} tls={mail.tls}")
    assert mail.subject == "STARTTLS" and mail.tls


async def test_implicit_tls_from_the_settings(catcher, trusted, monkeypatch) -> None:
    server = await catcher(tls=server_context(trusted))
    public, private = generate_keypair()
    for name, value in {
        "PORTAL_NATS_URL": "nats://127.0.0.1:4222",
        "PORTAL_PUBLIC_URL": "https://portal.example/",
        "PORTAL_IDENTITY_PUBLIC_KEY": generate_keypair()[0],
        "PORTAL_DATABASE_URL": "postgresql://localhost/portal",
        "PORTAL_MAIL_FROM": "Kundenportal <kundenportal@localhost>",
        "PORTAL_NOTIFICATIONS_PUBLIC_KEY": public,
        "PORTAL_NOTIFICATIONS_PRIVATE_KEY": private,
        "PORTAL_SMTP_HOST": server.host,
        "PORTAL_SMTP_PORT": str(server.smtp_port),
        "PORTAL_SMTP_TLS": "true",
        "PORTAL_SMTP_CA": str(trusted.ca_file),
    }.items():
        monkeypatch.setenv(name, value)
    await smtp_mailer(Settings()).send(message("implizites TLS"))
    mail = await server.wait_for(timeout=5)
    assert mail.subject == "implizites TLS" and mail.tls


async def test_a_plain_server_still_gets_its_mail(catcher) -> None:
    server = await catcher()
    await SmtpMailer(server.host, server.smtp_port).send(message("ohne TLS"))
    mail = await server.wait_for(timeout=5)
    assert mail.subject == "ohne TLS" and not mail.tls


async def test_starttls_switched_off_stays_plain(catcher, trusted) -> None:
    server = await catcher(starttls=server_context(trusted))
    await SmtpMailer(server.host, server.smtp_port, starttls="off").send(message("aus"))
    assert not (await server.wait_for(timeout=5)).tls


@pytest.mark.parametrize("kind", ["starttls", "tls"])
async def test_an_untrusted_certificate_is_refused_and_the_mail_kept(catcher, trusted, stranger, kind) -> None:
    server = await catcher(**{kind: server_context(stranger)})
    mailer = SmtpMailer(server.host, server.smtp_port, tls=kind == "tls", ca_file=trusted.ca_file)
    with pytest.raises(OSError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        await mailer.send(message("fremdes Zertifikat"))
    # what the queue makes of it: the server's fault, tried again later, not given up
    failed = await delivery.deliver(Queued(), Composing(), mailer, None)
    print(f"untrusted {kind}: failed={failed} sent={server.count()}")
    assert failed is not None and failed.server and not failed.permanent
    assert server.count() == 0  # nothing went out in clear after the failed handshake


async def test_required_starttls_refuses_a_server_without_it(catcher) -> None:
    server = await catcher()
    with pytest.raises(ServerUnavailable, match="STARTTLS"):
        await SmtpMailer(server.host, server.smtp_port, starttls="required").send(message("Pflicht"))
    assert server.count() == 0


class Queued:
    """Stands for a queued mail: `deliver` only hands it to the composer."""


class Composing:
    def compose(self, mail, now) -> Outgoing:
        return message("aus der Warteschlange")

    def secrets(self, mail) -> dict[str, str]:
        return {}
