"""Published event contracts of the Kundenportal: one module per event and major version.

Nothing but message schemas lives here; services and outside integrations (the print shop)
share these and nothing else.
"""

from contracts.base import Event, PostalAddress, Sealed
from contracts.pin_linked_v1 import PinLinkedV1
from contracts.pin_requested_v1 import PinRequestedV1
from contracts.pin_unlinked_v1 import PinUnlinkedV1
from contracts.session_revoke_v1 import SessionRevokeV1
from contracts.user_changed_by_staff_v1 import UserChangedByStaffV1
from contracts.user_confirmed_v1 import UserConfirmedV1
from contracts.user_deleted_v1 import UserDeletedV1
from contracts.user_password_changed_v1 import UserPasswordChangedV1
from contracts.user_password_reset_requested_v1 import UserPasswordResetRequestedV1
from contracts.user_registered_v1 import UserRegisteredV1
from contracts.user_registration_repeated_v1 import UserRegistrationRepeatedV1

ALL_EVENTS: tuple[type[Event], ...] = (
    UserRegisteredV1,
    UserRegistrationRepeatedV1,
    UserConfirmedV1,
    UserPasswordResetRequestedV1,
    UserPasswordChangedV1,
    UserDeletedV1,
    UserChangedByStaffV1,
    PinRequestedV1,
    PinLinkedV1,
    PinUnlinkedV1,
    SessionRevokeV1,
)

# JetStream streams and the subjects each one captures. A stream per domain keeps the print
# shop's permissions narrow (it reads PORTAL_PINS only) and lets session revocations age out fast.
STREAMS: dict[str, dict] = {
    "PORTAL_USERS": {"subjects": ["user.>"], "max_age_days": 30},
    "PORTAL_PINS": {"subjects": ["pin.>"], "max_age_days": 30},
    "PORTAL_SESSIONS": {"subjects": ["session.>"], "max_age_days": 1},
}

EVENTS_BY_SUBJECT: dict[str, type[Event]] = {e.SUBJECT: e for e in ALL_EVENTS}

__all__ = [
    "ALL_EVENTS",
    "EVENTS_BY_SUBJECT",
    "STREAMS",
    "Event",
    "PinLinkedV1",
    "PinRequestedV1",
    "PinUnlinkedV1",
    "PostalAddress",
    "Sealed",
    "SessionRevokeV1",
    "UserChangedByStaffV1",
    "UserConfirmedV1",
    "UserDeletedV1",
    "UserPasswordChangedV1",
    "UserPasswordResetRequestedV1",
    "UserRegisteredV1",
    "UserRegistrationRepeatedV1",
]
