"""The three mails of the pin events, as a receiver reads them."""

from email import message_from_bytes, policy
from uuid import uuid4

import pytest

from services.notifications import domain
from tests.unit.notifications.sample import NOW, PUBLIC_URL
from tests.unit.notifications.test_rendering import URL, Links

FOOTER = (
    "Noch Fragen? Kontaktieren Sie uns!",
    "kundenportal@hwk-wiesbaden.de",
    "0611 136-444",
    "Ihre Handwerkskammer Wiesbaden – Kundenportal",
)


def mail_of(events, name: str, kind: str, member=True) -> domain.QueuedMail:
    mails = domain.mails_for(events[name], events["member"] if member else None)
    [mail] = [m for m in mails if m.kind == kind]
    return domain.QueuedMail(uuid4(), mail.kind, mail.recipient, mail.context, mail.sealed, 1, NOW)


def read(composer, mail: domain.QueuedMail):
    """Subject, recipient, text part and the HTML part's visible text (whitespace folded)."""
    message = composer.compose(mail, NOW)
    raw = message.as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    links = Links()
    links.feed(html)
    return parsed, text, " ".join(links.text.split()), links.hrefs, raw.decode()


def no_secret_and_no_machine_markers(events, text: str, raw: str) -> None:
    assert "token=" not in raw
    assert "Passwort: " not in raw
    assert not [line for line in text.splitlines() if line.startswith("Passwort:")]
    assert events["secrets"]["pin"] not in raw
    assert events["pin_requested"].pin not in raw
    assert [u for u in URL.findall(raw) if "token" in u] == []


def test_letter_on_its_way_says_where_when_and_what_next(composer, events):
    mail = mail_of(events, "pin_requested", domain.PIN_LETTER_ON_ITS_WAY)
    parsed, text, visible, hrefs, raw = read(composer, mail)
    assert parsed["Subject"] == "Ihr PIN-Brief ist unterwegs"
    assert parsed["To"] == events["member"].email
    assert parsed.get_content_type() == "multipart/alternative"
    flat = " ".join(text.split())
    for part in (flat, visible):
        assert "Guten Tag Erika Müller," in part
        assert "Müller Elektro GmbH" in part and "1234567" in part
        assert "Bahnhofstraße 12" in part and "65185 Wiesbaden" in part
        assert "per Post" in part
        assert "innerhalb weniger Werktage" in part
        assert "gültig bis zum 30.04.2025" in part
        assert "einloggen" in part
        assert "Mein Betrieb" in part
        assert "Mit meinem Betrieb verknüpfen" in part
        assert "Formular ausfüllen" in part and "Freischalten und abmelden" in part
        assert "keine PIN angefordert" in part
        for words in FOOTER:
            assert words in part
    assert f"{PUBLIC_URL}/login" in text
    assert f"{PUBLIC_URL}/login" in hrefs
    assert "mailto:kundenportal@hwk-wiesbaden.de" in hrefs
    # the seed's steps, in its order
    steps = ["einloggen", "Mein Betrieb", "Mit meinem Betrieb verknüpfen", "Freischalten und abmelden"]
    assert [flat.index(s) for s in steps] == sorted(flat.index(s) for s in steps)
    no_secret_and_no_machine_markers(events, text, raw)


def test_letter_on_its_way_names_a_foreign_country(composer, events):
    event = events["pin_requested"]
    events["pin_requested"] = event.model_copy(update={"address": event.address.model_copy(update={"country": "AT"})})
    _, text, visible, _, _ = read(composer, mail_of(events, "pin_requested", domain.PIN_LETTER_ON_ITS_WAY))
    assert "\n    AT\n" in text and " AT " in visible + " "


def test_business_hears_who_linked_when_and_whom_to_call(composer, events):
    mail = mail_of(events, "pin_linked", domain.BUSINESS_LINKED)
    parsed, text, visible, hrefs, raw = read(composer, mail)
    assert parsed["Subject"] == "Neuer Zugang zum Kundenportal für Ihren Betrieb"
    assert parsed["To"] == "info@mueller-elektro.de"
    for part in (" ".join(text.split()), visible):
        assert "Guten Tag," in part and "Guten Tag Erika" not in part
        assert "Müller Elektro GmbH" in part and "1234567" in part
        assert f"Erika Müller ({events['member'].email})" in part
        assert "am 03.03.2025 um 14:05 Uhr" in part
        assert "nicht bekannt" in part and "nicht wünschen" in part
        for words in FOOTER:
            assert words in part
    assert text.startswith("Guten Tag,\n\n")
    assert "mailto:kundenportal@hwk-wiesbaden.de" in hrefs
    no_secret_and_no_machine_markers(events, text, raw)


def test_business_is_warned_even_when_the_account_is_unknown(composer, events):
    mail = mail_of(events, "pin_linked", domain.BUSINESS_LINKED, member=False)
    _, text, visible, _, raw = read(composer, mail)
    for part in (" ".join(text.split()), visible):
        assert "Konto:" not in part
        assert "1234567" in part and "am 03.03.2025 um 14:05 Uhr" in part
    no_secret_and_no_machine_markers(events, text, raw)


def test_member_hears_the_link_the_logout_and_where_to_log_in(composer, events):
    mail = mail_of(events, "pin_linked", domain.MEMBER_LINKED)
    parsed, text, visible, hrefs, raw = read(composer, mail)
    assert parsed["Subject"] == "Ihr Konto ist mit Ihrem Betrieb verknüpft"
    assert parsed["To"] == events["member"].email
    for part in (" ".join(text.split()), visible):
        assert "Guten Tag Erika Müller," in part
        assert "Müller Elektro GmbH" in part and "1234567" in part
        assert "aus Sicherheitsgründen automatisch abgemeldet" in part
        assert "erneut an" in part
        assert "exklusiven Mitgliederbereich" in part
        assert "zum Kundenportal" in part
        assert "nicht selbst" in part
        for words in FOOTER:
            assert words in part
    assert f"{PUBLIC_URL}/login" in text
    assert f"{PUBLIC_URL}/login" in hrefs
    no_secret_and_no_machine_markers(events, text, raw)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("pin_requested", domain.PIN_LETTER_ON_ITS_WAY),
        ("pin_linked", domain.BUSINESS_LINKED),
        ("pin_linked", domain.MEMBER_LINKED),
    ],
)
def test_names_from_the_register_are_escaped_in_html(composer, events, name, kind):
    events[name] = events[name].model_copy(update={"business_name": "<b>Bau & Co</b>"})
    _, text, _, _, raw = read(composer, mail_of(events, name, kind))
    assert "<b>Bau & Co</b>" in text
    html = raw.split("text/html", 1)[1]
    assert "&lt;b&gt;Bau &amp; Co&lt;/b&gt;" in html and "<b>Bau" not in html
