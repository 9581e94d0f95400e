"""The Mailer port: SMTP in production, an in-memory fake in tests."""

from email.message import EmailMessage
from typing import Protocol

import aiosmtplib


class PermanentMailError(Exception):
    """The server refused for good (5xx): trying again will not help."""


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
        except aiosmtplib.SMTPResponseException as error:
            # 530/535 (authentication) is our setup, not this mail: keep it for a retry.
            if 500 <= error.code < 600 and error.code not in (530, 535):
                raise PermanentMailError(f"{error.code} {error.message}") from None
            raise


class FakeMailer:
    """Keeps what it was given; `fail_with` makes the next sends raise."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.fail_with: Exception | None = None

    async def send(self, message: EmailMessage) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(message)

    def to(self, recipient: str) -> list[EmailMessage]:
        return [m for m in self.sent if m["To"] == recipient]
