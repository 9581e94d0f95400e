"""The Mailer port: SMTP in production (an in-memory fake in the tests)."""

import asyncio
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

import aiosmtplib

from services.notifications.mime import Outgoing


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
    async def send(self, message: Outgoing) -> None: ...

    async def close(self) -> None:
        """At shutdown, after the last mail: let go of what the mailer keeps (a connection)."""


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
        reuse_for: float = 10.0,
        ask_after: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
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
        # Well under any server's idle timeout (RFC 5321 asks servers to wait 5 minutes).
        self.reuse_for = reuse_for
        # Used this recently (a queue draining), the connection goes on without a NOOP first.
        self.ask_after = ask_after
        self._clock = clock
        self._client: aiosmtplib.SMTP | None = None
        self._last_used = 0.0
        self._lock = asyncio.Lock()  # one mail at a time on the connection

    async def send(self, message: Outgoing) -> None:
        """One mail, on the connection the last one used while that is fresh (`reuse_for` seconds,
        and the server still answers NOOP when it was idle for `ask_after` seconds): a queue that
        drains sends its mails over one connection instead of a connect, EHLO, STARTTLS and login
        each, and without a NOOP between them. Any failure closes the connection: the next mail
        starts on a new one, never on one in an unknown state."""
        async with self._lock:
            try:
                await self._send(message)
            except BaseException:
                self._drop()
                raise

    async def _send(self, message: Outgoing) -> None:
        try:
            client, unasked = await self._connection()
            try:
                await _mail(client, message)
            except aiosmtplib.SMTPServerDisconnected:
                if not unasked:
                    raise
                # Most likely cut while idle, its end not read yet (no NOOP asked): the mail goes
                # once more on a new connection. Cut after the server took the mail, it would go
                # twice, as any mail whose answer is lost does (the queue sends it again then).
                self._drop()
                client, _ = await self._connection()
                await _mail(client, message)
            self._last_used = self._clock()
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

    async def _connection(self) -> tuple[aiosmtplib.SMTP, bool]:
        """The connection for the next mail, and whether it goes on unasked (used a moment ago)."""
        client = self._client
        idle = self._clock() - self._last_used
        if client is not None and client.is_connected and idle < self.reuse_for:
            if idle < self.ask_after:
                return client, True
            try:
                await client.noop()
                return client, False
            except (aiosmtplib.SMTPException, OSError):  # gone meanwhile (its idle timeout, a restart)
                self._drop()
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
        await _connect(client)
        self._client = client
        return client, False

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            client.close()

    async def close(self) -> None:
        """QUIT at shutdown; the server would otherwise see the connection cut."""
        async with self._lock:
            client, self._client = self._client, None
            if client is not None and client.is_connected:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError):
                    client.close()


async def _mail(client: aiosmtplib.SMTP, message: Outgoing) -> None:
    await _greeted(client)  # what the server supports decides how the mail is written
    eight_bit = client.supports_extension("8BITMIME")
    options = ["BODY=8BITMIME"] if eight_bit else []
    if message.needs_utf8():  # as aiosmtplib's send_message: an address that is not ASCII
        if not client.supports_extension("SMTPUTF8"):
            raise aiosmtplib.SMTPNotSupported("an address is not ASCII and the server lacks SMTPUTF8")
        options.append("SMTPUTF8")
    data = message.as_smtp(eight_bit=eight_bit)
    await client.sendmail(message.sender, [message.recipient], data, mail_options=options)


async def _connect(client: aiosmtplib.SMTP) -> None:
    # Before any mail is named, a bare SMTPException means the server lacks what we were told to
    # insist on (STARTTLS when required, AUTH for our login): every mail would fail alike.
    try:
        await client.connect()
    except aiosmtplib.SMTPException as error:
        if type(error) is aiosmtplib.SMTPException:
            raise ServerUnavailable(str(error)) from None
        raise


async def _greeted(client: aiosmtplib.SMTP) -> None:
    """EHLO (HELO from a server that knows no better) once per connection, as sendmail would."""
    if client.is_ehlo_or_helo_needed:
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            if not client.is_connected:
                raise
            await client.helo()


# Refusals at the steps before any recipient is named say nothing about one mail: the greeting,
# HELO, our login (530/535: our setup) and our sender address. Kept for a retry, like an outage.
SERVER_SIDE = (
    aiosmtplib.SMTPConnectResponseError,
    aiosmtplib.SMTPHeloError,
    aiosmtplib.SMTPAuthenticationError,
    aiosmtplib.SMTPSenderRefused,
)
