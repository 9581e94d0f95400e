"""The mails of what others did to a member's account: a link that ended (by the member, the
chamber, or the register), a change by chamber staff, a staff account's setup link, and the
last word to someone whose account the chamber erased.

Pure: no I/O. Who the member is comes in as a `Recipient` from the recipients projection.
"""

from contracts import PinUnlinkedV1, UserChangedByStaffV1, UserDeletedV1, UserPasswordResetRequestedV1
from services.notifications.records import NewMail, Recipient

MEMBER_UNLINKED = "member_unlinked"
BUSINESS_UNLINKED = "business_unlinked"
THROTTLE_LIFTED = "throttle_lifted"
ACCOUNT_DEACTIVATED = "account_deactivated"
ACCOUNT_REACTIVATED = "account_reactivated"
STAFF_SETUP = "staff_setup"
ACCOUNT_ERASED = "account_erased"

SUBJECTS = {
    MEMBER_UNLINKED: "Die Verknüpfung mit Ihrem Betrieb wurde gelöst",
    BUSINESS_UNLINKED: "Ein Zugang zum Kundenportal für Ihren Betrieb wurde beendet",
    THROTTLE_LIFTED: "Ihre Anmeldung ist wieder freigegeben",
    ACCOUNT_DEACTIVATED: "Ihr Konto im Kundenportal wurde gesperrt",
    ACCOUNT_REACTIVATED: "Ihr Konto im Kundenportal ist wieder freigeschaltet",
    STAFF_SETUP: "Ihr Mitarbeiterkonto im Kundenportal",
    ACCOUNT_ERASED: "Ihr Konto wurde von der Handwerkskammer gelöscht",
}

CHANGES = {
    "throttle_lifted": THROTTLE_LIFTED,
    "deactivated": ACCOUNT_DEACTIVATED,
    "reactivated": ACCOUNT_REACTIVATED,
}

# Mails to a person who is gone once they are settled: sent, failed or expired, the row keeps
# neither address nor name (member_data.erase ran before this mail was queued).
FORGOTTEN_WHEN_SETTLED = (ACCOUNT_ERASED,)

# The subject of the initial-password mail that staff sent on request, instead of the kind's.
REISSUED_PASSWORD_SUBJECT = "Ihr neues Passwort für das Kundenportal"


def _person(who: Recipient) -> dict[str, str]:
    return {"first_name": who.first_name, "last_name": who.last_name}


def unlinked(event: PinUnlinkedV1, member: Recipient | None) -> list[NewMail]:
    """The member (if the projection knows them) and the business's address of record (if it
    has one) hear that the link ended, worded by who ended it. The business's mail names the
    member but not their address; it keeps their user id, so erasing them finds it."""
    business = {
        "betriebsnummer": event.betriebsnummer,
        "business_name": event.business_name,
        "unlinked_at": event.unlinked_at.isoformat(),
        "unlinked_by": event.unlinked_by,
    }
    known = member is not None and member.user_id == event.user_id
    mails = []
    if known:
        mails.append(
            NewMail(
                event.event_id,
                MEMBER_UNLINKED,
                member.email,
                {**_person(member), **business},
                made_at=event.occurred_at,
            )
        )
    if event.business_email:
        name = f"{member.first_name} {member.last_name}".strip() if known else ""
        context = {**business, "member_name": name, "member_user_id": str(event.user_id)}
        mails.append(
            NewMail(event.event_id, BUSINESS_UNLINKED, event.business_email, context, made_at=event.occurred_at)
        )
    return mails


def changed_by_staff(event: UserChangedByStaffV1, member: Recipient | None) -> list[NewMail]:
    if member is None or member.user_id != event.user_id:
        return []
    context = {**_person(member), "changed_at": event.changed_at.isoformat()}
    return [NewMail(event.event_id, CHANGES[event.change], member.email, context, made_at=event.occurred_at)]


def staff_setup(event: UserPasswordResetRequestedV1) -> NewMail:
    """A new staff account's first password: the link is sealed like a reset link, and stays the
    mail's only link with `token=`."""
    return NewMail(
        event.event_id,
        STAFF_SETUP,
        event.email,
        {
            "first_name": event.first_name,
            "last_name": event.last_name,
            "link_expires_at": event.link_expires_at.isoformat(),
        },
        {"setup_link": event.reset_link},
        made_at=event.occurred_at,
        expires_at=event.link_expires_at,
    )


def erased_by_staff(event: UserDeletedV1, member: Recipient | None) -> list[NewMail]:
    """The last mail to someone the chamber erased; none when they erased themselves (they know)
    or notifications never knew them."""
    if event.deleted_by != "staff" or member is None:
        return []
    context = {**_person(member), "deleted_at": event.deleted_at.isoformat()}
    return [NewMail(event.event_id, ACCOUNT_ERASED, member.email, context, made_at=event.occurred_at)]
