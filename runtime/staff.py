"""Who may call a service's staff routes (`/api/v1/<service>/staff/…`) and who may not call a
member's: checked by each service from the signed identity, not only by the gateway's gate."""

from aiohttp import web
from pydantic import BaseModel, Field

from runtime.errors import ApiError
from runtime.sessions import SessionUser
from runtime.web import current_identity

NOT_LOGGED_IN = "Bitte melden Sie sich an."
STAFF_ONLY = "Dieser Bereich ist den Mitarbeiterinnen und Mitarbeitern der Handwerkskammer vorbehalten."
SECOND_FACTOR_REQUIRED = "Bitte bestätigen Sie Ihre Anmeldung zuerst mit dem Code aus Ihrer Authenticator-App."
MEMBERS_ONLY = "Diese Funktion steht nur Mitgliedskonten zur Verfügung, nicht Mitarbeiterkonten."


def staff_user(request: web.Request) -> SessionUser:
    """The staff member calling, past the second factor; 401 anonymous, 403 everyone else."""
    user = SessionUser.parse(current_identity(request).user)
    if user is None:
        raise ApiError(401, "unauthenticated", NOT_LOGGED_IN)
    if user.role == "staff_pending":
        raise ApiError(403, "second_factor_required", SECOND_FACTOR_REQUIRED)
    if not user.is_staff:
        raise ApiError(403, "staff_only", STAFF_ONLY)
    return user


def refuse_staff(user: SessionUser) -> None:
    """Staff accounts act for the chamber, never for a business: no PIN requests, no links."""
    if not user.is_member:
        raise ApiError(403, "members_only", MEMBERS_ONLY)


class AuditPage(BaseModel):
    """`?before=<id>&limit=<n>` of a service's GET …/staff/audit: newest first, `before` an entry's id."""

    before: int | None = Field(default=None, ge=1, le=2**63 - 1)
    limit: int = Field(default=50, ge=1, le=200)


class EmailQuery(BaseModel):
    """`?email=` of a staff lookup by address."""

    email: str = Field(min_length=1, max_length=320)
