"""The Mailer port: SMTP in production (an in-memory fake in the tests)."""

from email.message import EmailMessage
from typing import Protocol

import aiosmtplib


class PermanentMailError(Exception):
    """The server refused this mail for good (5xx): trying again will not help."""


class ServerUnavailable(Exception):
    """The server, not this mail, is the problem (it is going away, or refuses our account):
    every mail would fail the same way now. Connection errors and timeouts count the same."""


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 20.0,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.starttls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            if all(500 <= r.code < 600 for r in error.recipients):
                raise PermanentMailError(str(error)) from None
            raise
        except SERVER_SIDE as error:
            raise ServerUnavailable(f"{error.code} {error.message}") from None
        except aiosmtplib.SMTPResponseException as error:
            if error.code == 421:  # "service not available, closing": the server, at any step
                raise ServerUnavailable(f"{error.code} {error.message}") from None
            if 500 <= error.code < 600:
                raise PermanentMailError(f"{error.code} {error.message}") from None
            raise


# Refusals at the steps before any recipient is named say nothing about one mail: the greeting,
# HELO, our login (530/535: our setup) and our sender address. Kept for a retry, like an outage.
SERVER_SIDE = (
    aiosmtplib.SMTPConnectResponseError,
    aiosmtplib.SMTPHeloError,
    aiosmtplib.SMTPAuthenticationError,
    aiosmtplib.SMTPSenderRefused,
)
