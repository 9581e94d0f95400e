"""The SMTP mailer keeps its connection for the next mail (a draining queue pays one connect,
EHLO, STARTTLS and login, not one per mail), against a real aiosmtpd server over TCP: reused
while fresh, new after `reuse_for`, new when the server went away meanwhile, new after a refusal."""

import asyncio

import pytest
from aiosmtpd.smtp import SMTP

from services.notifications.mailer import PermanentMailError, SmtpMailer
from services.notifications.mime import Outgoing
from tests.support.refusing_mail import RefusingMailCatcher, RefusingSMTP
from tests.support.wait import until

pytestmark = pytest.mark.integration

UNKNOWN = "niemand@example.org"


class CountingCatcher(RefusingMailCatcher):
    """Counts the SMTP connections it was given and the NOOPs it was asked."""

    def __init__(self) -> None:
        super().__init__(refuse={UNKNOWN})
        self.connections = 0
        self.noops = 0

    def new_session(self, loop: asyncio.AbstractEventLoop) -> SMTP:
        self.connections += 1
        return _CountingSMTP(self, loop)


class _CountingSMTP(RefusingSMTP):
    async def smtp_NOOP(self, arg: str) -> None:
        self.catcher.noops += 1
        await super().smtp_NOOP(arg)


@pytest.fixture
async def server():
    catcher = CountingCatcher()
    await catcher.start()
    yield catcher
    await catcher.stop()


def message(to: str, subject: str) -> Outgoing:
    headers = [("From", "Kundenportal <kundenportal@localhost>"), ("To", to), ("Subject", subject)]
    return Outgoing(headers, "Guten Tag", "<p>Guten Tag</p>")


def mailer(server: CountingCatcher, now: list[float]) -> SmtpMailer:
    return SmtpMailer(server.host, server.smtp_port, starttls="off", reuse_for=10, clock=lambda: now[0])


async def test_mails_in_a_row_share_one_connection_until_it_is_stale(server) -> None:
    now = [0.0]
    smtp = mailer(server, now)
    for i in range(3):
        await smtp.send(message("meisterin@example.org", f"Nummer {i}"))
        now[0] += 1
    assert (server.count(), server.connections) == (3, 1)
    now[0] += 10  # idle longer than reuse_for: a new connection
    await smtp.send(message("meisterin@example.org", "später"))
    assert (server.count(), server.connections) == (4, 2)
    await smtp.close()


async def test_a_queue_draining_asks_the_server_nothing_between_its_mails(server) -> None:
    """A connection used a moment ago goes on without a NOOP (a round trip per mail); one idle
    for longer is asked first."""
    now = [0.0]
    smtp = mailer(server, now)
    for i in range(3):
        await smtp.send(message("meisterin@example.org", f"Nummer {i}"))
        now[0] += 0.4
    assert (server.count(), server.connections, server.noops) == (3, 1, 0)
    now[0] += 5  # idle, though still within reuse_for: asked whether it is still there
    await smtp.send(message("meisterin@example.org", "später"))
    assert (server.count(), server.connections, server.noops) == (4, 1, 1)
    await smtp.close()


async def test_a_connection_cut_unnoticed_costs_a_new_connection_not_the_mail(server) -> None:
    """The server cut the kept connection, and this process has not read the end yet: the mail
    fails on it before anything was accepted, and goes out once on a new connection."""
    now = [0.0]
    smtp = mailer(server, now)
    await smtp.send(message("meisterin@example.org", "vorher"))
    for session in list(server._connections):
        session.transport.abort()  # no await in between: the client still believes it connected
    await smtp.send(message("meisterin@example.org", "nachher"))
    assert [m.subject for m in server.find()] == ["vorher", "nachher"]
    assert server.connections == 2
    await smtp.close()


async def test_a_server_gone_meanwhile_costs_a_new_connection_not_the_mail(server) -> None:
    now = [0.0]
    smtp = mailer(server, now)
    await smtp.send(message("meisterin@example.org", "vorher"))
    await server.stop_smtp()  # a restart: every connection is cut
    await server.start_smtp()
    await smtp.send(message("meisterin@example.org", "nachher"))
    assert [m.subject for m in server.find()] == ["vorher", "nachher"]
    assert server.connections == 2
    await smtp.close()


async def test_after_a_refusal_the_next_mail_goes_out_on_a_new_connection(server) -> None:
    now = [0.0]
    smtp = mailer(server, now)
    await smtp.send(message("meisterin@example.org", "eins"))
    with pytest.raises(PermanentMailError):
        await smtp.send(message(UNKNOWN, "unzustellbar"))
    await smtp.send(message("meisterin@example.org", "zwei"))
    assert [m.subject for m in server.find()] == ["eins", "zwei"]
    assert server.connections == 2  # the refusal closed the first one
    await smtp.close()


async def test_close_ends_the_kept_connection(server) -> None:
    smtp = mailer(server, [0.0])
    await smtp.send(message("meisterin@example.org", "eins"))
    assert len(server._connections) == 1  # kept open for the next mail
    await smtp.close()
    await smtp.close()  # twice is harmless
    await until(lambda: not server._connections, "the server saw the connection end")
