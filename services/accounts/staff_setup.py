"""A staff account created, with its setup link: the reset link machinery of "Passwort
vergessen" (same table, same page), living 72 hours, and the mail's event in one transaction."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg
from pydantic import Field

from contracts import UserPasswordResetRequestedV1
from runtime.crypto import keyed_hash, random_token, seal
from services.accounts import domain, otp
from services.accounts import repository as repo
from services.accounts.context import emit
from services.accounts.forms import EmailIn
from services.accounts.repository import staff as staff_repo


class NewStaff(EmailIn):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)


class StaffExists(Exception):
    pass


@dataclass(frozen=True)
class Created:
    user_id: UUID
    link_expires_at: datetime


async def create_staff(
    pool: asyncpg.Pool, person: NewStaff, now: datetime, token_key: bytes, notifications_key: str, public_url: str
) -> Created:
    """An address with an account of any kind is refused: a member is never promoted silently."""
    user_id, token = uuid4(), random_token()
    expires_at = now + otp.STAFF_SETUP_LINK
    async with pool.acquire() as conn, conn.transaction():
        key = domain.email_key(person.email)
        if not await staff_repo.insert_staff_user(
            conn, user_id, person.email, key, person.first_name, person.last_name, now
        ):
            raise StaffExists(person.email)
        await repo.insert_reset(conn, keyed_hash(token_key, token), user_id, now, expires_at)
        await emit(
            conn,
            UserPasswordResetRequestedV1(
                user_id=user_id,
                email=person.email,
                first_name=person.first_name,
                last_name=person.last_name,
                reset_link=seal(notifications_key, f"{public_url}/passwort-zuruecksetzen?token={token}"),
                link_expires_at=expires_at,
                purpose="staff_setup",
            ),
        )
    return Created(user_id, expires_at)
