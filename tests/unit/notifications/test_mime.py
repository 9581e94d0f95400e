"""A mail's bytes written directly (services/notifications/mime.py) read back as the email package
would have built them: the same headers, the same parts, the same text."""

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from services.notifications.mime import Outgoing

HEADERS = [
    ("From", "Kundenportal der Handwerkskammer – Wiesbaden <kundenportal@hwk.example>"),
    ("To", "erika@müller.de"),
    ("Subject", "Kontaktanfrage aus dem Kundenportal – Betriebsnummer 1234567, mit einem langen Betreff dazu"),
    ("Message-ID", "<abc@portal.example>"),
    ("Date", "Sun, 29 Nov 2026 16:38:09 +0000"),
    ("Auto-Submitted", "auto-generated"),
    ("Reply-To", "e.r+ka@sub.example.de"),
]
TEXT = "Guten Tag Åsa Müller,\n\nbitte bestätigen Sie:\nhttps://portal.example/x?token=abc_DEF-123\n\n.\nGrüße"
HTML = "<p>Guten Tag Åsa Müller,</p>\n<p>bitte bestätigen Sie …</p>\n"
LONG = "Ein Absender schreibt ohne Umbruch: " + "sehr lange Zeile mit Umlauten äöü " * 40 + "\nEnde\n"


def built_by_the_email_package(headers, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    for name, value in headers:
        message[name] = value
    short = all(len(line.encode()) <= 900 for line in text.splitlines())
    message.set_content(text, cte="8bit" if short else "quoted-printable")
    message.add_alternative(html, subtype="html", cte="8bit")
    return message


def parts(message) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


@pytest.mark.parametrize("text", [TEXT, LONG, "ohne Zeilenende", "Windows\r\nZeilen\r\n"])
def test_a_mail_reads_back_as_the_email_package_builds_it(text) -> None:
    mine, theirs = Outgoing(HEADERS, text, HTML), built_by_the_email_package(HEADERS, text, HTML)
    for name, _ in HEADERS:
        assert mine[name] == theirs[name], name
    assert mine.get_content_type() == "multipart/alternative"
    assert parts(mine) == parts(theirs)
    # and so does what the SMTP server receives
    received = message_from_bytes(mine.as_smtp(), policy=policy.default)
    assert [p.replace("\r\n", "\n") for p in parts(received)] == list(parts(theirs))


def test_the_envelope_comes_from_the_headers_and_says_when_it_needs_smtputf8() -> None:
    mail = Outgoing(HEADERS, TEXT, HTML)
    assert (mail.sender, mail.recipient, mail.needs_utf8()) == ("kundenportal@hwk.example", "erika@müller.de", True)
    ascii_only = Outgoing([("From", "a@example.de"), ("To", "b@example.de")], TEXT, HTML)
    assert not ascii_only.needs_utf8()


def test_readable_links_in_eight_bits_and_seven_bits_for_a_server_without_8bitmime() -> None:
    mail = Outgoing([("From", "a@example.de"), ("To", "b@example.de"), ("Subject", "Bestätigung")], TEXT, HTML)
    eight = mail.as_smtp()
    assert b"token=abc_DEF-123" in eight and "Müller".encode() in eight
    assert all(len(line) <= 998 for line in Outgoing(HEADERS[:2], LONG, HTML).as_smtp().split(b"\r\n"))
    seven = mail.as_smtp(eight_bit=False)
    assert seven.isascii()
    assert parts(message_from_bytes(seven, policy=policy.default)) == tuple(
        p.replace("\n", "\r\n") for p in parts(built_by_the_email_package(mail.headers, TEXT, HTML))
    )


@pytest.mark.parametrize("value", ["Betreff\r\nBcc: alle@example.de", "Betreff\nX: y", "a\rb"])
def test_a_line_break_in_a_header_is_refused_not_sent(value) -> None:
    with pytest.raises(ValueError):
        Outgoing([("From", "a@example.de"), ("To", "b@example.de"), ("Subject", value)], TEXT, HTML)
