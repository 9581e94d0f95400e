"""Writing a mail: `python -m tests.bench.bench_mail [N]` (default 2,000 mails).

Prints the CPU time per confirmation mail from the queued row to the bytes the SMTP server gets:
the portal's composer (templates, the sealed link opened, services/notifications/mime.py), and
as its anchor the same mail built and flattened by the email package, as the worker did before
(issue 12). No timed assertions: figures to read.
"""

import sys
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from uuid import uuid4

from aiosmtplib.email import flatten_message

from contracts import UserRegisteredV1
from runtime.crypto import generate_keypair, seal
from services.notifications import domain
from services.notifications.rendering import Composer, Letterhead


def per_mail(work, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        work()
    return (time.process_time() - started) / n


def main(n: int) -> None:
    public, private = generate_keypair()
    now = datetime.now(UTC)
    link = f"https://kundenportal.example/registrierung/bestaetigen?token={uuid4().hex}"
    event = UserRegisteredV1(
        user_id=uuid4(),
        email="erika.mueller@example.de",
        first_name="Erika",
        last_name="Müller",
        occurred_at=now,
        confirmation_link=seal(public, link),
        link_expires_at=now + timedelta(hours=48),
    )
    [new] = domain.mails_for(event)
    mail = domain.QueuedMail(uuid4(), new.kind, new.recipient, new.context, new.sealed, 1, now + timedelta(hours=48))
    letterhead = Letterhead("Kundenportal der Handwerkskammer <kundenportal@hwk.example>", "https://x", "s@x", "0611")
    composer = Composer(letterhead, private)

    def ours() -> bytes:
        return composer.compose(mail, now).as_smtp()

    def email_package() -> bytes:
        outgoing = composer.compose(mail, now)  # the same rendering and unsealing, then the old build
        message = EmailMessage()
        for name, value in outgoing.headers:
            message[name] = value
        message.set_content(outgoing.text, cte="8bit")
        message.add_alternative(outgoing.html, subtype="html", cte="8bit")
        return flatten_message(message, cte_type="8bit")

    def rendering_only() -> None:
        composer.render(mail.kind, mail.context, composer.secrets(mail))

    ours(), email_package()  # templates compiled, boxes built
    figures = {
        "templates and sealed link only": per_mail(rendering_only, n),
        "composer (mime.py)": per_mail(ours, n),
        "email package (anchor)": per_mail(email_package, n),
    }
    anchor = figures["email package (anchor)"]
    print(f"confirmation mail, {n} times, CPU per mail:")
    for label, seconds in figures.items():
        print(f"  {label:<32} {seconds * 1e6:8.0f} µs = {seconds / anchor:.2f}× the anchor")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
