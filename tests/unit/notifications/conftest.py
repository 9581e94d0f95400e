from datetime import timedelta

import pytest

from contracts import (
    UserConfirmedV1,
    UserPasswordChangedV1,
    UserPasswordResetRequestedV1,
    UserRegisteredV1,
    UserRegistrationRepeatedV1,
)
from runtime.crypto import generate_keypair, random_token, seal
from services.notifications.rendering import Composer, Letterhead
from tests.unit.notifications.sample import NOW, PUBLIC_URL, person


@pytest.fixture
def keypair() -> tuple[str, str]:
    return generate_keypair()


@pytest.fixture
def composer(keypair) -> Composer:
    letterhead = Letterhead(
        "Kundenportal der Handwerkskammer <kundenportal@hwk-wiesbaden.de>",
        PUBLIC_URL,
        "kundenportal@hwk-wiesbaden.de",
        "0611 136-444",
    )
    return Composer(letterhead, keypair[1])


@pytest.fixture
def events(keypair):
    """One event of each subscribed kind, with its secrets sealed, and the plain secrets."""
    public = keypair[0]
    confirm = f"{PUBLIC_URL}/registrierung/bestaetigen?token={random_token()}"
    reset = f"{PUBLIC_URL}/passwort-zuruecksetzen?token={random_token()}"
    password = "Xy7kPq3mZt9R"
    later = NOW + timedelta(hours=24)
    return {
        "registered": UserRegisteredV1(**person(), confirmation_link=seal(public, confirm),
                                       link_expires_at=later),
        "repeated": UserRegistrationRepeatedV1(**person()),
        "confirmed": UserConfirmedV1(**person(), initial_password=seal(public, password),
                                     initial_password_expires_at=NOW + timedelta(days=14)),
        "reset": UserPasswordResetRequestedV1(**person(), reset_link=seal(public, reset),
                                              link_expires_at=NOW + timedelta(hours=2)),
        "changed": UserPasswordChangedV1(**person(), changed_at=NOW, how="changed"),
        "changed_by_reset": UserPasswordChangedV1(**person(), changed_at=NOW, how="reset"),
        "secrets": {"confirm": confirm, "reset": reset, "password": password},
    }
