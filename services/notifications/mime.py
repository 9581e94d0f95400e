"""A mail's bytes, written directly: headers, then a text and an HTML part.

Every mail the portal sends has this one shape. Building it as an `EmailMessage` and flattening
it cost 1.8 ms of CPU per mail, twenty times the templates' rendering, because the email
package parses every header it is given and again when it writes them (issue 12). Here the
stdlib still does the encoding that has rules of its own — RFC 2047 for non-ASCII header
text, quoted-printable for bodies with long lines — and the rest is joined as it is. Whoever
wants to look inside (the tests) reads the mail as an `EmailMessage` parsed from these bytes.
"""

import functools
import secrets
from email import message_from_bytes, policy
from email.header import Header
from email.message import EmailMessage
from email.quoprimime import body_encode
from email.utils import formataddr, parseaddr

CRLF = "\r\n"
SMTP_LINE = 900  # below the 998 octets SMTP allows, with room for multi-byte characters
ADDRESS_HEADERS = frozenset({"From", "To", "Reply-To"})


class Outgoing:
    """One mail as it goes to the SMTP server: its envelope (`sender`, `recipient`) and its
    bytes (`as_smtp`). Read like the `EmailMessage` it is (`message["Subject"]`,
    `message.get_body(...)`): parsed from its bytes on first use, never while it is sent."""

    def __init__(self, headers: list[tuple[str, str]], text: str, html: str) -> None:
        for name, value in headers:
            if "\r" in value or "\n" in value:  # one header must not become two
                raise ValueError(f"line break in the {name} header")
        fields = dict(headers)
        self.sender, self.recipient = _address(fields["From"]), _address(fields["To"])
        self.headers, self.text, self.html = headers, text, html
        self._parsed: EmailMessage | None = None

    def needs_utf8(self) -> bool:
        """Whether an address is not ASCII (an internationalised domain): SMTPUTF8 then."""
        return not (self.sender + self.recipient).isascii()

    def as_smtp(self, *, eight_bit: bool = True) -> bytes:
        """The message's bytes; `eight_bit`: the server takes 8BITMIME bodies (else all
        quoted-printable, seven bits)."""
        boundary = f"=_{secrets.token_hex(12)}"
        lines = [f"{name}: {_header(name, value)}" for name, value in self.headers]
        lines += ["MIME-Version: 1.0", f'Content-Type: multipart/alternative; boundary="{boundary}"', ""]
        for subtype, body in (("plain", self.text), ("html", self.html)):
            lines += [f"--{boundary}", f'Content-Type: text/{subtype}; charset="utf-8"']
            body_lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            if body_lines[-1]:  # a body ends with a line break (as EmailMessage.set_content adds)
                body_lines.append("")
            if eight_bit and all(len(line.encode()) <= SMTP_LINE for line in body_lines):
                # 8bit keeps `token=` and `Passwort: ` readable in the raw message
                lines += ["Content-Transfer-Encoding: 8bit", "", *body_lines]
            else:  # a sender's own text (the contact form) may have longer lines than SMTP allows
                # quoprimime encodes code points below 256 as bytes: UTF-8's, read as Latin-1
                encoded = body_encode(CRLF.join(body_lines).encode().decode("latin-1"), eol=CRLF)
                lines += ["Content-Transfer-Encoding: quoted-printable", "", encoded]
        lines += [f"--{boundary}--", ""]
        return CRLF.join(lines).encode()

    @property
    def parsed(self) -> EmailMessage:
        if self._parsed is None:
            # with the line endings Python writes, as an EmailMessage built here would have them
            self._parsed = message_from_bytes(self.as_smtp().replace(b"\r\n", b"\n"), policy=policy.default)
        return self._parsed

    def __getitem__(self, name: str):
        return self.parsed[name]

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.parsed, name)


# A mail's From and Subject are those of many others (the letterhead, its kind's subject):
# their encoding, tens of microseconds for a non-ASCII subject, is done once.
@functools.lru_cache(maxsize=512)
def _header(name: str, value: str) -> str:
    if name in ADDRESS_HEADERS:
        display, address = parseaddr(value)
        return formataddr((display, address), charset="utf-8") if display else address
    if value.isascii():
        return value if len(value) < 78 - len(name) else Header(value, header_name=name).encode(linesep=CRLF)
    return Header(value, "utf-8", header_name=name).encode(linesep=CRLF)


@functools.lru_cache(maxsize=512)
def _address(value: str) -> str:
    return parseaddr(value)[1]
