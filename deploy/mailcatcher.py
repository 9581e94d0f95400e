"""An SMTP server that keeps every mail in memory and shows it in a small German web inbox.

For the local runner and the tests only. SMTP (aiosmtpd) and the inbox (aiohttp) run on the
caller's event loop; `wait_for` wakes on each arriving mail instead of polling. `stop()` closes
open SMTP connections too, and `start()` again uses the same ports, so tests can take the mail
server away and bring it back.
"""

import asyncio
import email
import functools
import html
import itertools
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_to_datetime

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from deploy.infra import free_port


@dataclass(frozen=True)
class Mail:
    """One mail as it arrived; its headers and parts are parsed when first read. The standard
    library's parser takes about 2.4 ms for one of our mails: parsing every arrival would make the
    catcher, which stands for the mail server, cost the load bench more than the portal's own
    work per registration (issue 12)."""

    id: int
    raw: bytes = field(repr=False)
    envelope_recipients: tuple[str, ...]
    envelope_sender: str
    received_at: datetime
    tls: bool = False  # it came over TLS (STARTTLS or from the first byte)
    arrived: float = 0.0  # time.perf_counter() at arrival: which mails came within a timed window

    @classmethod
    def parse(cls, id: int, envelope: Envelope, *, tls: bool = False) -> "Mail":
        return cls(
            id=id,
            raw=envelope.original_content or b"",
            envelope_recipients=tuple(envelope.rcpt_tos),
            envelope_sender=envelope.mail_from or "",
            received_at=datetime.now().astimezone(),
            tls=tls,
            arrived=time.perf_counter(),
        )

    @functools.cached_property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=policy.default)

    @functools.cached_property
    def headers(self) -> email.message.EmailMessage:
        """The header block alone: a tenth of the whole parse."""
        return BytesHeaderParser(policy=policy.default).parsebytes(self.raw)

    @functools.cached_property
    def recipients(self) -> tuple[str, ...]:
        header_to = [address for _, address in getaddresses(self.headers.get_all("To", []))]
        return tuple(header_to or self.envelope_recipients)

    @property
    def to(self) -> str:
        """The first recipient's bare address."""
        return self.recipients[0] if self.recipients else ""

    @functools.cached_property
    def sender(self) -> str:
        return str(self.headers["From"] or self.envelope_sender)

    @functools.cached_property
    def subject(self) -> str:
        return str(self.headers["Subject"] or "")

    @functools.cached_property
    def date(self) -> datetime | None:
        try:
            return parsedate_to_datetime(self.headers["Date"]) if self.headers["Date"] else None
        except (TypeError, ValueError):
            return None

    @functools.cached_property
    def text(self) -> str:
        return _part(self.message, "plain")

    @functools.cached_property
    def html(self) -> str:
        return _part(self.message, "html")

    @functools.cached_property
    def message_id(self) -> str:
        return str(self.headers["Message-ID"] or "")


def _part(message: email.message.EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return ""
    return part.get_content()


Predicate = Callable[[Mail], bool]


class MailCatcher:
    def __init__(
        self,
        host: str = "127.0.0.1",
        smtp_port: int = 0,
        http_port: int | None = 0,
        *,
        starttls: ssl.SSLContext | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """`http_port=None`: no web inbox (tests rarely need it). `starttls`: offer STARTTLS with this
        server context; `tls`: TLS from the first byte (port 465 style). Plain SMTP without either."""
        self.starttls = starttls
        self.tls = tls
        self.host = host
        self.smtp_port = smtp_port or free_port(host)
        self.http_port = None if http_port is None else http_port or free_port(host)
        self.messages: list[Mail] = []
        self._ids = itertools.count(1)
        self._arrived = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self._connections: set[SMTP] = set()
        self._web: web.AppRunner | None = None

    @property
    def inbox_url(self) -> str | None:
        return None if self.http_port is None else f"http://{self.host}:{self.http_port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        await self.start_smtp()
        if self.http_port is not None and self._web is None:
            self._web = web.AppRunner(inbox_app(self), access_log=None)
            await self._web.setup()
            await web.TCPSite(self._web, self.host, self.http_port).start()

    async def stop(self) -> None:
        await self.stop_smtp()
        if self._web is not None:
            await self._web.cleanup()
            self._web = None

    async def start_smtp(self) -> None:
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()

        def protocol() -> SMTP:
            smtp = self.new_session(loop)
            self._connections.add(smtp)
            return smtp

        self._server = await loop.create_server(protocol, self.host, self.smtp_port, reuse_address=True, ssl=self.tls)

    def new_session(self, loop: asyncio.AbstractEventLoop) -> SMTP:
        """The SMTP protocol for one connection (a subclass answers differently or counts them)."""
        return _TrackedSMTP(self, loop)

    async def stop_smtp(self) -> None:
        """SMTP goes away (connections dropped, port closed); the inbox and messages stay."""
        if self._server is None:
            return
        self._server.close()
        for smtp in list(self._connections):
            if smtp.transport is not None:
                smtp.transport.close()
        self._connections.clear()
        await self._server.wait_closed()
        self._server = None

    async def _receive(self, envelope: Envelope, *, tls: bool = False) -> None:
        self.messages.append(Mail.parse(next(self._ids), envelope, tls=tls))
        async with self._arrived:
            self._arrived.notify_all()

    def find(self, predicate: Predicate = lambda m: True, *, since: int = 0) -> list[Mail]:
        return [m for m in self.messages[since:] if predicate(m)]

    def count(self, predicate: Predicate = lambda m: True, *, since: int = 0) -> int:
        return len(self.find(predicate, since=since))

    def mark(self) -> int:
        """A position for `since=`: only mails that arrive after it are considered."""
        return len(self.messages)

    async def wait_for(self, predicate: Predicate = lambda m: True, timeout: float = 20, *, since: int = 0) -> Mail:
        """The first mail (already here or still to come) that matches."""

        def first() -> Mail | None:
            found = self.find(predicate, since=since)
            return found[0] if found else None

        try:
            async with self._arrived:
                return await asyncio.wait_for(self._arrived.wait_for(first), timeout)
        except TimeoutError:
            seen = "\n".join(f"  {m.to}: {m.subject}" for m in self.messages[since:][-10:]) or "  (none)"
            raise TimeoutError(f"no matching mail within {timeout} s; last received:\n{seen}") from None

    async def wait_beyond(self, count: int, timeout: float) -> bool:
        """Until more than `count` mails are here (True), or `timeout` seconds passed (False)."""
        try:
            async with self._arrived:
                await asyncio.wait_for(self._arrived.wait_for(lambda: len(self.messages) > count), timeout)
        except TimeoutError:
            return False
        return True

    def clear(self) -> None:
        self.messages.clear()


class _TrackedSMTP(SMTP):
    def __init__(self, catcher: MailCatcher, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(
            _Handler(catcher),
            hostname="mailcatcher",
            loop=loop,
            enable_SMTPUTF8=True,
            auth_require_tls=False,
            authenticator=lambda *args: True,
            tls_context=catcher.starttls,
        )
        self._catcher = catcher

    def connection_lost(self, error: Exception | None) -> None:
        self._catcher._connections.discard(self)
        super().connection_lost(error)


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        tls = server.transport is not None and server.transport.get_extra_info("sslcontext") is not None
        await self.catcher._receive(envelope, tls=tls)
        return "250 Message accepted"


# --- the web inbox --------------------------------------------------------------------------

CATCHER = web.AppKey("catcher", MailCatcher)
# The inbox shows mails from the portal, which must not run scripts or load anything remote.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; form-action 'self'"
URL = re.compile(r"https?://[^\s<>\"']*[^\s<>\"'.,;:!?)]")

PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>{title} · Mail-Catcher (Entwicklung)</title>
{refresh}<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ text-align: left; padding: .4rem; }}
tr:nth-child(even) {{ background: #f3f3f3; }} pre {{ white-space: pre-wrap; background: #f8f8f8; padding: 1rem; }}
iframe {{ width: 100%; height: 40rem; border: 1px solid #ccc; }} dt {{ font-weight: bold; }}
</style></head><body>
<p><a href="/">Posteingang</a> · Entwicklungswerkzeug: alle Mails des Portals landen hier.</p>
{body}</body></html>"""


def inbox_app(catcher: MailCatcher) -> web.Application:
    app = web.Application(middlewares=[_headers])
    app[CATCHER] = catcher
    app.router.add_get("/", _list)
    app.router.add_get("/mail/{id:\\d+}", _show)
    app.router.add_get("/mail/{id:\\d+}/quelltext", _raw)
    app.router.add_post("/leeren", _clear)
    app.router.add_get("/api/messages", _api)
    return app


@web.middleware
async def _headers(request: web.Request, handler):
    response = await handler(request)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _page(title: str, body: str, refresh: bool = False) -> web.Response:
    meta = '<meta http-equiv="refresh" content="5">' if refresh else ""
    return web.Response(text=PAGE.format(title=html.escape(title), body=body, refresh=meta), content_type="text/html")


def _when(mail: Mail) -> str:
    return (mail.date or mail.received_at).astimezone().strftime("%d.%m.%Y %H:%M:%S")


async def _list(request: web.Request) -> web.Response:
    mails = list(reversed(request.app[CATCHER].messages))
    rows = "".join(
        f"<tr><td>{_when(m)}</td><td>{html.escape(', '.join(m.recipients))}</td>"
        f'<td><a href="/mail/{m.id}">{html.escape(m.subject) or "(kein Betreff)"}</a></td></tr>'
        for m in mails
    )
    body = (
        f"<h1>Posteingang ({len(mails)})</h1>"
        '<form method="post" action="/leeren"><button>Alle löschen</button></form>'
        + (
            f"<table><tr><th>Datum</th><th>An</th><th>Betreff</th></tr>{rows}</table>"
            if mails
            else "<p>Noch keine Mails. Die Seite aktualisiert sich selbst.</p>"
        )
    )
    return _page("Posteingang", body, refresh=True)


async def _show(request: web.Request) -> web.Response:
    mail = _mail(request)
    text = URL.sub(
        lambda m: f'<a href="{m.group(0)}" target="_blank" rel="noopener noreferrer">{m.group(0)}</a>',
        html.escape(mail.text, quote=True),
    )
    # an empty sandbox: no scripts, no forms, no top navigation; links open in a new tab
    frame = (
        '<h2>HTML-Teil</h2><iframe sandbox="allow-popups allow-popups-to-escape-sandbox" '
        f'srcdoc="{html.escape("<base target=_blank>" + mail.html, quote=True)}"></iframe>'
        if mail.html
        else ""
    )
    body = (
        f"<h1>{html.escape(mail.subject) or '(kein Betreff)'}</h1><dl>"
        f"<dt>Von</dt><dd>{html.escape(mail.sender)}</dd>"
        f"<dt>An</dt><dd>{html.escape(', '.join(mail.recipients))}</dd>"
        f"<dt>Datum</dt><dd>{_when(mail)}</dd>"
        f"<dt>Message-ID</dt><dd>{html.escape(mail.message_id)}</dd></dl>"
        f'<p><a href="/mail/{mail.id}/quelltext">Quelltext anzeigen</a></p>'
        f"<h2>Text-Teil</h2><pre>{text or '(kein Text-Teil)'}</pre>{frame}"
    )
    return _page(mail.subject, body)


async def _raw(request: web.Request) -> web.Response:
    return web.Response(body=_mail(request).raw, content_type="text/plain", charset="utf-8")


async def _clear(request: web.Request) -> web.Response:
    request.app[CATCHER].clear()
    raise web.HTTPSeeOther("/")


async def _api(request: web.Request) -> web.Response:
    return web.json_response(
        [
            {
                "id": m.id,
                "to": m.to,
                "recipients": list(m.recipients),
                "from": m.sender,
                "subject": m.subject,
                "date": _when(m),
                "message_id": m.message_id,
                "text": m.text,
                "html": m.html,
            }
            for m in reversed(request.app[CATCHER].messages)
        ]
    )


def _mail(request: web.Request) -> Mail:
    wanted = int(request.match_info["id"])
    for mail in request.app[CATCHER].messages:
        if mail.id == wanted:
            return mail
    raise web.HTTPNotFound(text="Diese Mail gibt es nicht (mehr).")
