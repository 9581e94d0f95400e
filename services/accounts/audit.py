"""The staff audit's actions and their German labels (the same shape in pins: api.md AuditEntry).

Rows name ids only, never an address or a name: an erased member must leave no trace, and the
audit still says who did what to which account id."""

from runtime.retention import STAFF_AUDIT

# runtime.retention.STAFF_AUDIT: three years, then the housekeeping sweep deletes a line; a
# database trigger refuses every earlier delete and every update.
RETENTION = STAFF_AUDIT

LABELS = {
    "member_viewed": "Mitgliedskonto angesehen",
    "confirmation_resent": "Bestätigungs-E-Mail erneut gesendet",
    "initial_password_sent": "Neues Erstpasswort gesendet",
    "throttle_lifted": "Anmeldesperre aufgehoben",
    "deactivated": "Konto gesperrt",
    "reactivated": "Konto entsperrt",
    "erased": "Konto gelöscht",
}


def label(action: str) -> str:
    return LABELS.get(action, action)
