"""A mail catcher whose SMTP server refuses some addresses for good (550 at RCPT TO), as a real
server does for a mailbox that does not exist; every other mail is caught as usual."""

import asyncio

from aiosmtpd.smtp import SMTP, Envelope, Session

from deploy.mailcatcher import MailCatcher

REFUSAL = "550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"


class RefusingMailCatcher(MailCatcher):
    def __init__(self, refuse: set[str]) -> None:
        super().__init__(http_port=None)
        self.refuse = {address.lower() for address in refuse}

    def new_session(self, loop: asyncio.AbstractEventLoop) -> SMTP:
        return RefusingSMTP(self, loop)


class RefusingSMTP(SMTP):
    """The catcher's SMTP session: a subclass may count or change what it answers
    (tests/integration/test_smtp_reuse.py counts the NOOPs)."""

    def __init__(self, catcher: RefusingMailCatcher, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(_Handler(catcher), hostname="refusing", loop=loop, enable_SMTPUTF8=True)
        self.catcher = catcher

    def connection_lost(self, error: Exception | None) -> None:
        self.catcher._connections.discard(self)
        super().connection_lost(error)


class _Handler:
    def __init__(self, catcher: RefusingMailCatcher) -> None:
        self.catcher = catcher

    async def handle_RCPT(self, server, session: Session, envelope: Envelope, address: str, options) -> str:
        if address.lower() in self.catcher.refuse:
            return REFUSAL.format(address=address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await self.catcher._receive(envelope)
        return "250 Message accepted"
