"""The mail catcher keeps a mail as it arrived and parses it when read (issue 12): what a test reads
is what parsing the whole mail on arrival gave."""

from email.message import EmailMessage
from types import SimpleNamespace

from deploy.mailcatcher import Mail


def _arrival() -> SimpleNamespace:
    message = EmailMessage()
    message["To"] = "Erika Mustermann <erika@example.de>, zweite@example.de"
    message["From"] = "Kundenportal <portal@example.de>"
    message["Subject"] = "Bitte bestätigen Sie Ihre E-Mail-Adresse"
    message["Date"] = "Sun, 29 Nov 2026 13:00:00 +0000"
    message["Message-ID"] = "<abc@example.de>"
    message.set_content("Hallo Erika,\nbitte bestätigen Sie.\n")
    message.add_alternative("<p>Hallo Erika, bitte bestätigen Sie.</p>", subtype="html")
    return SimpleNamespace(
        original_content=message.as_bytes(), rcpt_tos=["erika@example.de"], mail_from="portal@example.de"
    )


def test_a_mail_reads_as_parsed_whole() -> None:
    mail = Mail.parse(7, _arrival())
    assert "message" not in mail.__dict__  # nothing parsed yet
    assert mail.to == "erika@example.de"
    assert mail.recipients == ("erika@example.de", "zweite@example.de")
    assert mail.subject == "Bitte bestätigen Sie Ihre E-Mail-Adresse"
    assert mail.sender == "Kundenportal <portal@example.de>"
    assert mail.date is not None and mail.date.year == 2026
    assert mail.message_id == "<abc@example.de>"
    assert "message" not in mail.__dict__  # headers alone so far
    assert "bitte bestätigen Sie." in mail.text and "<p>Hallo Erika" in mail.html


def test_without_a_to_header_the_envelope_names_the_recipient() -> None:
    arrival = _arrival()
    arrival.original_content = b"Subject: x\r\n\r\nHallo\r\n"
    mail = Mail.parse(1, arrival)
    assert mail.to == "erika@example.de" and mail.sender == "portal@example.de" and mail.date is None
