import pytest
from pydantic import ValidationError

from runtime.crypto import generate_keypair
from services.notifications.settings import Settings

BASE = {
    "nats_url": "nats://127.0.0.1:4222",
    "public_url": "https://portal.example/",
    "identity_public_key": generate_keypair()[0],
    "database_url": "postgresql://localhost/portal",
    "mail_from": "Kundenportal der Handwerkskammer <kundenportal@hwk-wiesbaden.de>",
}


@pytest.fixture(autouse=True)
def _no_portal_environment(monkeypatch):
    import os

    for name in [n for n in os.environ if n.startswith("PORTAL_")]:
        monkeypatch.delenv(name)


def test_defaults_and_keys(keypair):
    public, private = keypair
    settings = Settings(**BASE, notifications_public_key=public, notifications_private_key=private)
    assert settings.http_port == 8003
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == ("localhost", 25, "auto")
    assert settings.support_email == "kundenportal@hwk-wiesbaden.de"
    assert settings.support_phone == "0611 136-444"
    assert private not in repr(settings)


def test_secrets_have_no_default():
    with pytest.raises(ValidationError) as error:
        Settings(**{k: v for k, v in BASE.items() if k != "mail_from"})
    missing = {e["loc"][0] for e in error.value.errors() if e["type"] == "missing"}
    assert missing == {"mail_from", "notifications_public_key", "notifications_private_key"}


@pytest.mark.parametrize("bad", ["", "bm90IGEga2V5", "!!!"])
def test_malformed_keys_are_refused(keypair, bad):
    public, private = keypair
    with pytest.raises(ValidationError):
        Settings(**BASE, notifications_public_key=public, notifications_private_key=bad)
    with pytest.raises(ValidationError):
        Settings(**BASE, notifications_public_key=bad, notifications_private_key=private)


def test_keys_of_two_pairs_are_refused(keypair):
    with pytest.raises(ValidationError, match="does not belong"):
        Settings(**BASE, notifications_public_key=keypair[0], notifications_private_key=generate_keypair()[1])
