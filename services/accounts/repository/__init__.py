"""Every SQL statement of accounts, raw and parameterised, against the `accounts` schema: one
place, a module per responsibility. Use cases call `repository.<function>`."""

from services.accounts.repository.attempts import (
    clear_failures,
    drop_attempt,
    reserve_attempt,
    reserve_login,
)
from services.accounts.repository.housekeeping import purge
from services.accounts.repository.memberships import add_membership, memberships, remove_membership
from services.accounts.repository.passwords import insert_reset, reset, resets_since, set_password, use_resets
from services.accounts.repository.sessions import (
    delete_session,
    delete_sessions_of,
    delete_sessions_started_before,
    device_trusted,
    profile_in_session,
    save_device,
    session_by_token,
    session_times,
    start_session,
    touch_session,
)
from services.accounts.repository.users import (
    NEW_USER,
    NEW_USER_WRITTEN,
    activate_user,
    confirmation,
    confirmations_since,
    insert_confirmation,
    last_registration,
    mark_repeat_notice,
    user_by_email_for_update,
    user_by_id,
)

__all__ = [
    "activate_user",
    "add_membership",
    "clear_failures",
    "confirmation",
    "confirmations_since",
    "delete_session",
    "delete_sessions_of",
    "delete_sessions_started_before",
    "device_trusted",
    "drop_attempt",
    "insert_confirmation",
    "NEW_USER",
    "NEW_USER_WRITTEN",
    "insert_reset",
    "last_registration",
    "mark_repeat_notice",
    "memberships",
    "purge",
    "remove_membership",
    "reserve_attempt",
    "reserve_login",
    "reset",
    "resets_since",
    "save_device",
    "session_by_token",
    "start_session",
    "profile_in_session",
    "session_times",
    "set_password",
    "touch_session",
    "use_resets",
    "user_by_email_for_update",
    "user_by_id",
]
