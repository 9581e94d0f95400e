"""The mails: which event makes which mails, and who a user id is. When they go out is
`schedule`'s.

Pure: no I/O. Who a member is comes in as a `Recipient`, looked up by the handler in the
recipients projection.
"""

from datetime import date, datetime, time, timedelta
from uuid import UUID

from contracts import (
    Event,
    PinLinkedV1,
    PinRequestedV1,
    PinUnlinkedV1,
    UserChangedByStaffV1,
    UserConfirmedV1,
    UserPasswordChangedV1,
    UserPasswordResetRequestedV1,
    UserRegisteredV1,
    UserRegistrationRepeatedV1,
)
from runtime.german import BERLIN
from services.notifications import news
from services.notifications.records import NewMail, QueuedMail, Recipient

__all__ = ["NewMail", "QueuedMail", "Recipient"]  # where the rest of the service has always found them

REGISTRATION_CONFIRMATION = "registration_confirmation"
ALREADY_REGISTERED = "already_registered"
INITIAL_PASSWORD = "initial_password"
PASSWORD_RESET = "password_reset"
PASSWORD_CHANGED = "password_changed"
PIN_LETTER_ON_ITS_WAY = "pin_letter_on_its_way"
BUSINESS_LINKED = "business_linked"
MEMBER_LINKED = "member_linked"
CONTACT_REQUEST = "contact_request"  # the contact form, to the chamber's support
CONTACT_COPY = "contact_copy"  # its copy, to the sender

SUBJECTS = {
    REGISTRATION_CONFIRMATION: "Bitte bestätigen Sie Ihre E-Mail-Adresse",
    ALREADY_REGISTERED: "Sie sind bereits registriert",
    INITIAL_PASSWORD: "Ihr Passwort für das Kundenportal",
    PASSWORD_RESET: "Passwort zurücksetzen",
    PASSWORD_CHANGED: "Ihr Passwort wurde geändert",
    PIN_LETTER_ON_ITS_WAY: "Ihr PIN-Brief ist unterwegs",
    BUSINESS_LINKED: "Neuer Zugang zum Kundenportal für Ihren Betrieb",
    MEMBER_LINKED: "Ihr Konto ist mit Ihrem Betrieb verknüpft",
    CONTACT_REQUEST: "Kontaktanfrage aus dem Kundenportal",
    CONTACT_COPY: "Ihre Nachricht an die Handwerkskammer",
    **news.SUBJECTS,
}

# The user events that say who an account is (user id, e-mail, name): each one updates the
# recipients projection, so a pin event, which names the member by user id only, finds them.
PERSON_EVENTS: tuple[type[Event], ...] = (
    UserRegisteredV1,
    UserRegistrationRepeatedV1,
    UserConfirmedV1,
    UserPasswordResetRequestedV1,
    UserPasswordChangedV1,
)

# How a password was changed (UserPasswordChangedV1.how), as the security notice names it.
PASSWORD_ROUTES = {
    "changed": "über „Passwort ändern“",
    "reset": "über „Passwort vergessen“",
}


def recipient_from(event: Event) -> Recipient | None:
    """What a user event tells the recipients projection; None for any other event."""
    if not isinstance(event, PERSON_EVENTS):
        return None
    return Recipient(event.user_id, event.email, event.first_name, event.last_name, event.occurred_at)


def recipient_needed(event: Event) -> UUID | None:
    """The member a pin event's mail goes to, to be looked up; None when no member is mailed."""
    if isinstance(event, PinRequestedV1):
        # The yearly issue goes with the Beitragsbescheid: nobody asked, nobody is mailed.
        if event.reason == "user_request" and event.requested_by_user_id is not None:
            return event.requested_by_user_id
        return None
    if isinstance(event, PinLinkedV1 | PinUnlinkedV1 | UserChangedByStaffV1):
        return event.user_id
    return None


def mails_for(event: Event, recipient: Recipient | None = None) -> list[NewMail]:
    """Every mail one event asks for: none, one or (pin.linked.v1) two.

    `recipient` is who `recipient_needed(event)` names, or None if the projection does not know
    them; a member mail then cannot go out and is left out (the handler logs it).
    """
    if isinstance(event, PinRequestedV1):
        return _pin_requested(event, recipient)
    if isinstance(event, PinLinkedV1):
        return _pin_linked(event, recipient)
    if isinstance(event, PinUnlinkedV1):
        return news.unlinked(event, recipient)
    if isinstance(event, UserChangedByStaffV1):
        return news.changed_by_staff(event, recipient)
    return [_user_mail(event)]


def _person(who: Event | Recipient) -> dict[str, str]:
    return {"first_name": who.first_name, "last_name": who.last_name}


def _user_mail(event: Event) -> NewMail:
    if isinstance(event, UserRegisteredV1):
        return NewMail(
            event.event_id,
            REGISTRATION_CONFIRMATION,
            event.email,
            {**_person(event), "link_expires_at": event.link_expires_at.isoformat()},
            {"confirmation_link": event.confirmation_link},
            made_at=event.occurred_at,
            expires_at=event.link_expires_at,
        )
    if isinstance(event, UserRegistrationRepeatedV1):
        return NewMail(event.event_id, ALREADY_REGISTERED, event.email, _person(event), made_at=event.occurred_at)
    if isinstance(event, UserConfirmedV1):
        expires = event.initial_password_expires_at.isoformat()
        # Sent again by staff on the member's call: same kind (support reads it as the initial
        # password), its own subject and wording.
        reissued = (
            {"reissued_by_staff": True, "subject": news.REISSUED_PASSWORD_SUBJECT} if event.reissued_by_staff else {}
        )
        return NewMail(
            event.event_id,
            INITIAL_PASSWORD,
            event.email,
            {**_person(event), "initial_password_expires_at": expires, **reissued},
            {"initial_password": event.initial_password},
            made_at=event.occurred_at,
            expires_at=event.initial_password_expires_at,
        )
    if isinstance(event, UserPasswordResetRequestedV1):
        if event.purpose == "staff_setup":
            return news.staff_setup(event)
        return NewMail(
            event.event_id,
            PASSWORD_RESET,
            event.email,
            {**_person(event), "link_expires_at": event.link_expires_at.isoformat()},
            {"reset_link": event.reset_link},
            made_at=event.occurred_at,
            expires_at=event.link_expires_at,
        )
    if isinstance(event, UserPasswordChangedV1):
        return NewMail(
            event.event_id,
            PASSWORD_CHANGED,
            event.email,
            {**_person(event), "changed_at": event.changed_at.isoformat(), "how": event.how},
            made_at=event.occurred_at,
        )
    raise ValueError(f"no mail for {event.SUBJECT}")


def _pin_requested(event: PinRequestedV1, member: Recipient | None) -> list[NewMail]:
    wanted = recipient_needed(event)
    if wanted is None or member is None or member.user_id != wanted:
        return []
    # The PIN itself is sealed to the print shop and goes by post only: it is never read here.
    address = event.address
    context = {
        **_person(member),
        "betriebsnummer": event.betriebsnummer,
        "business_name": event.business_name,
        "street": address.street,
        "postal_code": address.postal_code,
        "city": address.city,
        "country": "" if address.country == "DE" else address.country,
        "valid_until": event.valid_until.isoformat(),
    }
    mail = NewMail(
        event.event_id,
        PIN_LETTER_ON_ITS_WAY,
        member.email,
        context,
        made_at=event.occurred_at,
        expires_at=end_of_day(event.valid_until),
    )
    return [mail]


def _pin_linked(event: PinLinkedV1, member: Recipient | None) -> list[NewMail]:
    known = member is not None and member.user_id == event.user_id
    business = {
        "betriebsnummer": event.betriebsnummer,
        "business_name": event.business_name,
        "linked_at": event.linked_at.isoformat(),
    }
    mails = []
    if event.business_email:
        # The business's address of record hears of every new account with access to its data;
        # it is told who, if the projection knows, and in any case which business and when.
        mails.append(
            NewMail(
                event.event_id,
                BUSINESS_LINKED,
                event.business_email,
                {
                    **business,
                    "member_name": f"{member.first_name} {member.last_name}".strip() if known else "",
                    "member_email": member.email if known else "",
                },
                made_at=event.occurred_at,
            )
        )
    if known:
        context = {**_person(member), **business}
        mails.append(NewMail(event.event_id, MEMBER_LINKED, member.email, context, made_at=event.occurred_at))
    return mails


def end_of_day(day: date) -> datetime:
    """A PIN valid until a day is valid all of that day, in Wiesbaden."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=BERLIN)


def forgotten_when_settled(kind: str) -> bool:
    """The mail's row forgets its recipient once sent, failed or expired (the queue enforces it)."""
    return kind in news.FORGOTTEN_WHEN_SETTLED


def message_id(mail_id: UUID) -> str:
    """The same for every resend of one mail, so a receiver can spot a duplicate."""
    return f"<{mail_id}@kundenportal>"


def password_route(how: str) -> str:
    """'über „Passwort ändern“' and the like; a KeyError for an unknown way (no guessing)."""
    return PASSWORD_ROUTES[how]
