"""The test infrastructure itself: servers start, a service gets ready, mail is caught."""

import asyncio
import secrets
from email.message import EmailMessage

import aiohttp
import aiosmtplib
import pytest

from deploy.infra import ServiceProcess, free_port
from deploy.mailcatcher import MailCatcher

pytestmark = pytest.mark.integration


async def test_pins_becomes_ready_and_mail_is_caught(portal_factory, mail):
    portal = await portal_factory(services=["pins"])

    async with aiohttp.ClientSession() as http, http.get(f"{portal.url('pins')}/readyz") as response:
        assert response.status == 200

    to = f"smoke-{secrets.token_hex(4)}@example.org"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "portal@example.org", to, "Hallo"
    message.set_content("Bitte bestätigen: http://127.0.0.1/bestaetigen?token=abc123\n")
    await aiosmtplib.send(message, hostname=mail.host, port=mail.smtp_port)

    found = await mail.wait_for(lambda m: m.to == to and "token=" in m.text, timeout=10)
    assert found.subject == "Hallo"
    assert mail.count(lambda m: m.to == to) == 1


async def test_mail_catcher_waits_for_mail_and_survives_an_outage():
    catcher = MailCatcher(http_port=None)
    await catcher.start()
    try:
        to = f"outage-{secrets.token_hex(4)}@example.org"
        waiting = asyncio.create_task(catcher.wait_for(lambda m: m.to == to, timeout=10))
        await _send(catcher, to, "Erste")
        assert (await waiting).subject == "Erste"

        await catcher.stop_smtp()
        with pytest.raises(aiosmtplib.SMTPConnectError):
            await _send(catcher, to, "Zweite")
        mark = catcher.mark()
        await catcher.start_smtp()
        await _send(catcher, to, "Dritte")
        assert (await catcher.wait_for(lambda m: m.to == to, since=mark)).subject == "Dritte"
        assert catcher.count(lambda m: m.to == to) == 2
        with pytest.raises(TimeoutError):
            await catcher.wait_for(lambda m: m.subject == "Zweite", timeout=0.2)
    finally:
        await catcher.stop()


async def test_inbox_shows_mail_without_running_its_scripts(mail):
    to = f"inbox-{secrets.token_hex(4)}@example.org"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "portal@example.org", to, "<b>Betreff</b>"
    message.set_content("Link: http://127.0.0.1/x?token=abc\n")
    message.add_alternative("<p>Hallo</p><script>alert(1)</script>", subtype="html")
    await aiosmtplib.send(message, hostname=mail.host, port=mail.smtp_port)
    found = await mail.wait_for(lambda m: m.to == to)

    async with aiohttp.ClientSession() as http:
        async with http.get(mail.inbox_url) as response:
            listing = await response.text()
        async with http.get(f"{mail.inbox_url}/mail/{found.id}") as response:
            page = await response.text()
            csp = response.headers["Content-Security-Policy"]
    assert "&lt;b&gt;Betreff&lt;/b&gt;" in listing and "<b>Betreff" not in listing
    assert '<a href="http://127.0.0.1/x?token=abc"' in page
    assert "<script>" not in page and 'sandbox="allow-popups' in page
    assert "default-src 'none'" in csp


async def test_nats_and_postgres_restart_without_losing_data(nats_server, postgres):
    import asyncpg
    import nats

    stream = f"SMOKE_{secrets.token_hex(4).upper()}"
    client = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    try:
        js = client.jetstream()
        await js.add_stream(name=stream, subjects=[f"{stream.lower()}.>"])
        await js.publish(f"{stream.lower()}.x", b"kept")
        await nats_server.restart()
        assert (await js.stream_info(stream)).state.messages == 1
    finally:
        await client.close()

    dsn = await postgres.create_database(f"smoke_{secrets.token_hex(4)}")
    conn = await asyncpg.connect(dsn)
    await conn.execute("create table t (v text); insert into t values ('kept')")
    await conn.close()
    await postgres.restart()
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("select v from t") == "kept"
    finally:
        await conn.close()


async def _send(catcher: MailCatcher, to: str, subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "portal@example.org", to, subject
    message.set_content("Hallo")
    await aiosmtplib.send(message, hostname=catcher.host, port=catcher.smtp_port, timeout=5)


async def test_a_service_that_cannot_start_is_reported_with_its_log(test_output):
    service = ServiceProcess("pins", {"PORTAL_NATS_URL": "nats://127.0.0.1:1"}, free_port(), test_output)
    await service.start()
    with pytest.raises(RuntimeError, match="PORTAL_IDENTITY_PUBLIC_KEY is not set"):
        await service.wait_ready(timeout=30)
    assert not service.running
