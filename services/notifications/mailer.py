"""The Mailer port: SMTP in production (an in-memory fake in the tests)."""

import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol

import aiosmtplib


class PermanentMailError(Exception):
    """The server refused this mail for good (5xx): trying again will not help."""


class ServerUnavailable(Exception):
    """The server, not this mail, is the problem (it is going away, or refuses our account):
    every mail would fail the same way now. Connection errors and timeouts count the same."""


# STARTTLS: "auto" upgrades when the server offers it, "required" refuses a server that does not
# (an attacker on the path can strip the offer), "off" never tries (a plain local catcher).
StartTls = Literal["auto", "required", "off"]
_START_TLS: dict[str, bool | None] = {"auto": None, "required": True, "off": False}


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
        tls: bool = False,
        starttls: StartTls = "auto",
        ca_file: Path | None = None,
        timeout: float = 20.0,
    ) -> None:
        """`tls`: TLS from the first byte (port 465); `ca_file`: a private CA, trusted instead of the
        system's. A certificate that does not verify fails the send: never a fallback to plain text."""
        if tls and starttls == "required":
            raise ValueError("implicit TLS and STARTTLS exclude each other")
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.tls = tls
        self.starttls: StartTls = "off" if tls else starttls
        self.timeout = timeout
        self.tls_context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    async def send(self, message: EmailMessage) -> None:
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.tls,
            start_tls=_START_TLS[self.starttls],
            tls_context=self.tls_context,
            timeout=self.timeout,
        )
        try:
            await _connect(client)
            async with client:
                await client.send_message(message)
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


async def _connect(client: aiosmtplib.SMTP) -> None:
    # Before any mail is named, a bare SMTPException means the server lacks what we were told to
    # insist on (STARTTLS when required, AUTH for our login): every mail would fail alike.
    try:
        await client.connect()
    except aiosmtplib.SMTPException as error:
        if type(error) is aiosmtplib.SMTPException:
            raise ServerUnavailable(str(error)) from None
        raise


# Refusals at the steps before any recipient is named say nothing about one mail: the greeting,
# HELO, our login (530/535: our setup) and our sender address. Kept for a retry, like an outage.
SERVER_SIDE = (
    aiosmtplib.SMTPConnectResponseError,
    aiosmtplib.SMTPHeloError,
    aiosmtplib.SMTPAuthenticationError,
    aiosmtplib.SMTPSenderRefused,
)
