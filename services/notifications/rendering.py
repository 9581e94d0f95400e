"""German mails from jinja2 templates: a text and an HTML part for every kind.

Sealed secrets are opened here, in memory, only while the message is built.
"""

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from runtime.crypto import unseal
from runtime.german import german_date, german_datetime, german_time
from services.notifications import domain
from services.notifications.mime import Outgoing

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Letterhead:
    mail_from: str
    public_url: str
    support_email: str
    support_phone: str


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["german_datetime"] = german_datetime
    env.filters["german_date"] = german_date
    env.filters["german_time"] = german_time
    env.filters["password_route"] = domain.password_route
    return env


class Composer:
    def __init__(self, letterhead: Letterhead, private_key: str) -> None:
        self.letterhead = letterhead
        self._private_key = private_key
        self._env = _environment()

    def render(self, kind: str, context: dict[str, Any], secrets: dict[str, str]) -> Rendered:
        # A subject of its own (the contact request's names the Betriebsnummer), else the kind's.
        subject = str(context.get("subject") or domain.SUBJECTS[kind])
        values = {
            **context,
            **secrets,
            "subject": subject,
            "public_url": self.letterhead.public_url,
            "support_email": self.letterhead.support_email,
            "support_phone": self.letterhead.support_phone,
        }
        text = self._env.get_template(f"{kind}.txt").render(values)
        html = self._env.get_template(f"{kind}.html").render(values)
        return Rendered(subject, text, html)

    def secrets(self, mail: domain.QueuedMail) -> dict[str, str]:
        return {name: unseal(self._private_key, box) for name, box in mail.sealed.items()}

    def compose(self, mail: domain.QueuedMail, now: datetime) -> Outgoing:
        secrets = self.secrets(mail)
        rendered = self.render(mail.kind, mail.context, secrets)
        headers = [
            ("From", self.letterhead.mail_from),
            ("To", mail.recipient),
            ("Subject", rendered.subject),
            ("Message-ID", domain.message_id(mail.id)),
            ("Date", format_datetime(now)),
            ("Auto-Submitted", "auto-generated"),
        ]
        reply_to = mail.context.get("reply_to")
        if reply_to:  # the contact request: answering it writes to the sender
            headers.append(("Reply-To", str(reply_to)))
        return Outgoing(headers, rendered.text, rendered.html)
