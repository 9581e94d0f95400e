"""The SMTP TLS settings: STARTTLS when offered by default, implicit TLS, a private CA."""

import ssl

import pytest
from pydantic import ValidationError

from services.notifications.app import smtp_mailer
from services.notifications.mailer import SmtpMailer
from services.notifications.settings import Settings
from tests.unit.notifications.test_settings import BASE


@pytest.fixture(autouse=True)
def _no_portal_environment(monkeypatch):
    import os

    for name in [n for n in os.environ if n.startswith("PORTAL_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def settings(keypair):
    def make(**smtp) -> Settings:
        public, private = keypair
        return Settings(**BASE, notifications_public_key=public, notifications_private_key=private, **smtp)

    return make


def test_starttls_when_offered_is_the_default(settings) -> None:
    chosen = settings()
    assert (chosen.smtp_tls, chosen.smtp_starttls, chosen.smtp_ca) == (False, "auto", None)
    assert smtp_mailer(chosen).starttls == "auto"


@pytest.mark.parametrize(
    ("given", "meant"),
    [
        ("auto", "auto"),
        ("Required", "required"),
        ("off", "off"),
        ("true", "required"),
        ("false", "off"),
        (False, "off"),
    ],
)
def test_starttls_words_and_the_old_booleans(settings, given, meant) -> None:
    assert settings(smtp_starttls=given).smtp_starttls == meant


def test_an_unknown_starttls_word_is_refused(settings) -> None:
    with pytest.raises(ValidationError, match="smtp_starttls"):
        settings(smtp_starttls="maybe")


def test_implicit_tls_and_required_starttls_exclude_each_other(settings) -> None:
    with pytest.raises(ValidationError, match="exclude each other"):
        settings(smtp_tls=True, smtp_starttls="required")
    mailer = smtp_mailer(settings(smtp_tls=True))  # "auto" has nothing to upgrade on a TLS connection
    assert mailer.tls and mailer.starttls == "off"


def test_a_missing_ca_file_is_refused_at_start(settings, tmp_path) -> None:
    with pytest.raises(ValidationError, match="smtp_ca"):
        settings(smtp_ca=tmp_path / "nowhere.pem")


def test_a_ca_file_that_is_no_certificate_is_refused(settings, tmp_path) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("no certificate\n")
    with pytest.raises(ssl.SSLError):  # ssl refuses it while the service starts, not at the first mail
        smtp_mailer(settings(smtp_ca=junk))


def test_the_mailer_refuses_both_kinds_of_tls() -> None:
    with pytest.raises(ValueError, match="exclude each other"):
        SmtpMailer("localhost", 465, tls=True, starttls="required")
