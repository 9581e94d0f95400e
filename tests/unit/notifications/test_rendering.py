import re
from email import message_from_bytes, policy
from html.parser import HTMLParser
from uuid import uuid4

import pytest

from runtime.crypto import generate_keypair
from services.notifications import domain
from services.notifications.rendering import Composer
from tests.unit.notifications.sample import NOW, PUBLIC_URL

URL = re.compile(r"https?://[^\s<>\"']+")


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"])

    def handle_data(self, data):
        self.text += data


def queued(event) -> domain.QueuedMail:
    [mail] = domain.mails_for(event)
    return domain.QueuedMail(uuid4(), mail.kind, mail.recipient, mail.context, mail.sealed, 1, NOW)


def parts(composer, event):
    """The message as a receiver sees it: parsed back from its bytes."""
    message = composer.compose(queued(event), NOW)
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    return parsed, text, html


def token_urls_in_html(html: str) -> tuple[list[str], list[str]]:
    links = Links()
    links.feed(html)
    return [h for h in links.hrefs if "token=" in h], URL.findall(links.text)


@pytest.mark.parametrize(("name", "secret"), [("registered", "confirm"), ("reset", "reset")])
def test_link_mails_carry_exactly_one_token_link_in_each_part(composer, events, name, secret):
    _, text, html = parts(composer, events[name])
    link = events["secrets"][secret]
    assert [u for u in URL.findall(text) if "token=" in u] == [link]
    assert text.count("token=") == 1
    hrefs, urls_in_visible_text = token_urls_in_html(html)
    assert hrefs == [link]
    assert not [u for u in urls_in_visible_text if "token=" in u]
    assert html.count("token=") == 1


def test_confirmation_mail_says_how_long_and_what_if_not_you(composer, events):
    parsed, text, html = parts(composer, events["registered"])
    assert parsed["Subject"] == "Bitte bestätigen Sie Ihre E-Mail-Adresse"
    for part in (text, html):
        assert "Guten Tag Erika Müller," in part
        assert "04.03.2025, 14:05 Uhr" in part  # 24 h after 13:05 UTC, in Wiesbaden time
        assert "ignorieren" in part
        assert "Ihre Handwerkskammer Wiesbaden – Kundenportal" in part
        assert "Noch Fragen? Kontaktieren Sie uns!" in part
        assert "kundenportal@hwk-wiesbaden.de" in part and "0611 136-444" in part


def test_initial_password_mail_has_the_password_on_its_own_line(composer, events):
    parsed, text, html = parts(composer, events["confirmed"])
    password = events["secrets"]["password"]
    assert parsed["Subject"] == "Ihr Passwort für das Kundenportal"
    lines = [line for line in text.splitlines() if line.startswith("Passwort: ")]
    assert lines == [f"Passwort: {password}"]
    assert f"Passwort: {password}" in html
    assert "token=" not in text + html
    for part in (text, html):
        assert f"{PUBLIC_URL}/login" in part
        assert "17.03.2025" in part
        assert "ersten" in part and "Anmeldung" in part
        assert "händisch" in part
        assert "(Null)" in part


def test_already_registered_mail_points_to_login_and_forgotten_password(composer, events):
    parsed, text, html = parts(composer, events["repeated"])
    assert parsed["Subject"] == "Sie sind bereits registriert"
    assert "token=" not in text + html
    for part in (text, html):
        assert f"{PUBLIC_URL}/login" in part
        assert f"{PUBLIC_URL}/passwort-vergessen" in part
        assert "Passwort vergessen" in part


def test_headers_make_a_multipart_alternative_with_a_stable_message_id(composer, events):
    mail = queued(events["registered"])
    message = composer.compose(mail, NOW)
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == "Kundenportal der Handwerkskammer <kundenportal@hwk-wiesbaden.de>"
    assert message["To"] == events["registered"].email
    assert message["Message-ID"] == f"<{mail.id}@kundenportal>"
    assert message["Date"] == "Mon, 03 Mar 2025 13:05:00 +0000"
    assert composer.compose(mail, NOW)["Message-ID"] == message["Message-ID"]
    raw = message.as_bytes()
    assert b"token=" in raw and b"token=3D" not in raw  # readable in the raw message too


def test_names_are_escaped_in_html_but_not_in_text(composer, events):
    event = events["repeated"].model_copy(update={"first_name": "<b>Eva</b>"})
    _, text, html = parts(composer, event)
    assert "Guten Tag <b>Eva</b> Müller," in text
    assert "&lt;b&gt;Eva&lt;/b&gt;" in html and "<b>Eva</b>" not in html


def test_secrets_are_opened_only_with_the_right_key(composer, events):
    stranger = Composer(composer.letterhead, generate_keypair()[1])
    with pytest.raises(Exception):  # noqa: B017 - nacl's CryptoError
        stranger.compose(queued(events["registered"]), NOW)


@pytest.mark.parametrize(
    ("name", "route"),
    [("changed", "über „Passwort ändern“"), ("changed_by_reset", "über „Passwort vergessen“")],
)
def test_password_changed_notice_says_when_how_and_what_if_not_you(composer, events, name, route):
    parsed, text, html = parts(composer, events[name])
    assert parsed["Subject"] == "Ihr Passwort wurde geändert"
    assert parsed.get_content_type() == "multipart/alternative"
    links = Links()
    links.feed(html)
    visible = " ".join(links.text.split())
    for part in (text, " ".join(text.split()), visible):
        assert "Guten Tag Erika Müller," in part
    for part in (" ".join(text.split()), visible):
        assert "am 03.03.2025 um 14:05 Uhr" in part  # 13:05 UTC, in Wiesbaden time
        assert route in part
        assert "alle anderen Sitzungen beendet" in part
        assert "nicht selbst" in part.lower()
        assert "Passwort vergessen" in part
        assert "kundenportal@hwk-wiesbaden.de" in part and "0611 136-444" in part
        assert "Noch Fragen? Kontaktieren Sie uns!" in part
    other = {"changed": "über „Passwort vergessen“", "changed_by_reset": "über „Passwort ändern“"}
    assert other[name] not in text + visible
    assert f"{PUBLIC_URL}/passwort-vergessen" in text
    assert f"{PUBLIC_URL}/passwort-vergessen" in links.hrefs
    assert "mailto:kundenportal@hwk-wiesbaden.de" in links.hrefs


@pytest.mark.parametrize("name", ["changed", "changed_by_reset"])
def test_password_changed_notice_has_no_token_link_and_no_secret(composer, events, name):
    message = composer.compose(queued(events[name]), NOW)
    _, text, html = parts(composer, events[name])
    raw = message.as_bytes().decode()
    assert "token=" not in raw
    assert [u for u in URL.findall(text + html) if "token" in u] == []
    for secret in events["secrets"].values():
        assert secret not in raw
    # A program picks the initial-password mail by a line starting `Passwort: `: not this one.
    assert "Passwort: " not in text
    assert not [line for line in text.splitlines() if line.startswith("Passwort:")]
    assert queued(events[name]).sealed == {}


def test_password_changed_notice_refuses_an_unknown_way(composer, events):
    mail = queued(events["changed"])
    odd = domain.QueuedMail(mail.id, mail.kind, mail.recipient, {**mail.context, "how": "magic"}, mail.sealed, 1, NOW)
    with pytest.raises(KeyError):
        composer.compose(odd, NOW)


def test_initial_password_mail_explains_temporary_expiry_and_tips(composer, events):
    _, text, html = parts(composer, events["confirmed"])
    links = Links()
    links.feed(html)
    visible = " ".join(links.text.split())
    for part in (" ".join(text.split()), visible):
        assert "vorübergehend" in part
        assert "Beim ersten Login werden Sie gebeten, ein eigenes Passwort zu vergeben." in part
        assert "verfällt ungenutzt am 17.03.2025 um 14:05 Uhr" in part
        assert "Passwort vergessen" in part
        assert "händisch" in part
        assert "Leerzeichen davor oder dahinter werden ignoriert" in part
        for look_alike in ("„l“" if part is visible else '"l"', "(Eins)", "(Null)", "(großes i)", "(großes o)"):
            assert look_alike in part
    assert f"{PUBLIC_URL}/passwort-vergessen" in text
    assert f"{PUBLIC_URL}/passwort-vergessen" in links.hrefs
    assert text.count("Passwort: ") == 1


def test_reset_mail_says_once_how_long_again_and_ignore(composer, events):
    _, text, html = parts(composer, events["reset"])
    links = Links()
    links.feed(html)
    visible = " ".join(links.text.split())
    for part in (" ".join(text.split()), visible):
        assert "nur ein einziges Mal" in part
        assert "bis zum 03.03.2025, 16:05 Uhr gültig" in part  # 2 h after 13:05 UTC, CET
        assert "abgelaufen" in part and "Passwort vergessen" in part
        assert "ignorieren" in part
    assert f"{PUBLIC_URL}/passwort-vergessen" in text
    assert f"{PUBLIC_URL}/passwort-vergessen" in links.hrefs
    assert "Passwort: " not in text
