from datetime import date, timedelta
from uuid import uuid4

import pytest

from contracts import (
    PinLinkedV1,
    PinRequestedV1,
    PinUnlinkedV1,
    PostalAddress,
    UserChangedByStaffV1,
    UserConfirmedV1,
    UserDeletedV1,
    UserPasswordChangedV1,
    UserPasswordResetRequestedV1,
    UserRegisteredV1,
    UserRegistrationRepeatedV1,
)
from runtime.crypto import generate_keypair, random_token, seal
from services.notifications import domain
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
    setup = f"{PUBLIC_URL}/passwort-zuruecksetzen?token={random_token()}"
    password = "Xy7kPq3mZt9R"
    pin = "K7QM-4XPA"
    printshop = generate_keypair()[0]  # the PIN is sealed to the print shop, not to us
    later = NOW + timedelta(hours=24)
    member = domain.Recipient(uuid4(), "erika@example.de", "Erika", "Müller", NOW)
    letter = {
        "request_id": uuid4(),
        "betriebsnummer": "1234567",
        "business_name": "Müller Elektro GmbH",
        "address": PostalAddress(street="Bahnhofstraße 12", postal_code="65185", city="Wiesbaden"),
        "pin": seal(printshop, pin),
        "valid_until": date(2025, 4, 30),
    }
    linked = {
        "user_id": member.user_id,
        "betriebsnummer": "1234567",
        "business_name": "Müller Elektro GmbH",
        "linked_at": NOW,
    }
    return {
        "registered": UserRegisteredV1(**person(), confirmation_link=seal(public, confirm), link_expires_at=later),
        "repeated": UserRegistrationRepeatedV1(**person()),
        "confirmed": UserConfirmedV1(
            **person(), initial_password=seal(public, password), initial_password_expires_at=NOW + timedelta(days=14)
        ),
        "reset": UserPasswordResetRequestedV1(
            **person(), reset_link=seal(public, reset), link_expires_at=NOW + timedelta(hours=2)
        ),
        "changed": UserPasswordChangedV1(**person(), changed_at=NOW, how="changed"),
        "changed_by_reset": UserPasswordChangedV1(**person(), changed_at=NOW, how="reset"),
        "pin_requested": PinRequestedV1(**letter, reason="user_request", requested_by_user_id=member.user_id),
        "pin_annual": PinRequestedV1(**letter, reason="annual_notice"),
        "pin_linked": PinLinkedV1(**linked, business_email="info@mueller-elektro.de"),
        "pin_linked_quietly": PinLinkedV1(**linked),
        "pin_staff_request": PinRequestedV1(**letter, reason="staff_request"),
        "pin_unlinked": PinUnlinkedV1(
            user_id=member.user_id,
            betriebsnummer="1234567",
            business_name="Müller Elektro GmbH",
            unlinked_by="staff",
            unlinked_at=NOW,
            business_email="info@mueller-elektro.de",
        ),
        "changed_by_staff": UserChangedByStaffV1(user_id=member.user_id, change="deactivated", changed_at=NOW),
        "staff_setup": UserPasswordResetRequestedV1(
            **person(), reset_link=seal(public, setup), link_expires_at=NOW + timedelta(hours=72), purpose="staff_setup"
        ),
        "reissued": UserConfirmedV1(
            **person(),
            initial_password=seal(public, password),
            initial_password_expires_at=NOW + timedelta(days=14),
            reissued_by_staff=True,
        ),
        "deleted_by_staff": UserDeletedV1(user_id=member.user_id, deleted_at=NOW, deleted_by="staff"),
        "member": member,
        "secrets": {"confirm": confirm, "reset": reset, "setup": setup, "password": password, "pin": pin},
    }
