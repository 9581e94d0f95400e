"""The staff's second factor: set up a TOTP app, confirm it (recovery codes shown once), and pass
it at each login with a code from the app or a recovery code.

The TOTP secret is stored encrypted (SecretBox, a key derived from the accounts secret for this
purpose alone): a copy of the database is no authenticator. Recovery codes are stored as keyed
hashes. Each check runs under the account's second-factor row lock and an advisory lock, so two
requests with the same code cannot both pass, and five wrong codes in 15 minutes are all anyone
gets (the window slides: 429 with Retry-After until the oldest is out of it)."""

import logging
from dataclasses import dataclass
from uuid import UUID

import asyncpg
from nacl.secret import SecretBox

from runtime.crypto import keyed_hash
from runtime.errors import INVALID_INPUT, ApiError
from runtime.sessions import SessionUser
from services.accounts import otp
from services.accounts import repository as repo
from services.accounts.context import Context
from services.accounts.repository import staff as staff_repo
from services.accounts.throttle import retry_after

log = logging.getLogger(__name__)

WRONG_CODE = "Der Code ist nicht korrekt oder bereits verwendet. Bitte geben Sie den aktuellen Code ein."
TOO_MANY = "Zu viele falsche Codes. Bitte warten Sie einige Minuten und versuchen Sie es dann erneut."
ALREADY_ENROLLED = "Die Zwei-Faktor-Anmeldung ist bereits eingerichtet."
NOT_SET_UP = "Bitte richten Sie die Zwei-Faktor-Anmeldung zuerst ein."


@dataclass(frozen=True)
class Setup:
    secret: str
    otpauth_uri: str


class SecondFactors:
    def __init__(self, context: Context) -> None:
        self.context = context
        self.pool = context.pool
        self.box = SecretBox(context.second_factor_key)

    async def enrolled(self, user: SessionUser) -> bool:
        async with self.pool.acquire() as conn:
            row = await staff_repo.second_factor(conn, user.user_id)
        return row is not None and row["enrolled_at"] is not None

    async def setup(self, user: SessionUser) -> Setup:
        """The secret to scan until one is confirmed: asking again (the setup page reloaded)
        gives the same one, so an app that scanned it already keeps working."""
        async with self.pool.acquire() as conn, conn.transaction():
            account = await repo.user_by_id(conn, user.user_id)
            await staff_repo.add_pending_secret(conn, user.user_id, self.box.encrypt(otp.new_secret().encode()))
            row = await staff_repo.second_factor(conn, user.user_id, lock=True)
            if row["enrolled_at"] is not None:
                raise ApiError(409, "second_factor_enrolled", ALREADY_ENROLLED)
            secret = self._secret(row)
        return Setup(secret, otp.provisioning_uri(secret, account["email"]))

    async def confirm_setup(self, user: SessionUser, code: str) -> list[str]:
        """Enrolled with a first right code from the app; this session has passed the second
        factor, and the recovery codes are returned, the only time they are readable."""
        codes = otp.new_recovery_codes()
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._checked_row(conn, user.user_id)
            if row["enrolled_at"] is not None:
                raise ApiError(409, "second_factor_enrolled", ALREADY_ENROLLED)
            now = self.context.clock()
            step = otp.matching_step(self._secret(row), code, now, row["last_step"])
            if step is not None:
                await staff_repo.use_step(conn, user.user_id, step, enrolled_at=now)
                await staff_repo.insert_recovery_codes(conn, user.user_id, [self._code_hash(c) for c in codes])
                await staff_repo.pass_second_factor(conn, user.session_id, now)
            else:  # committed with the transaction: a wrong code counts
                await staff_repo.add_second_factor_failure(conn, user.user_id, now)
        if step is None:
            raise ApiError(422, "invalid_input", INVALID_INPUT, {"code": WRONG_CODE})
        log.info("second factor enrolled", extra={"user_id": str(user.user_id)})
        return codes

    async def verify(self, user: SessionUser, code: str) -> None:
        """A code from the app or an unused recovery code: this session has passed."""
        async with self.pool.acquire() as conn, conn.transaction():
            row = await self._checked_row(conn, user.user_id)
            if row["enrolled_at"] is None:
                raise ApiError(409, "second_factor_not_set_up", NOT_SET_UP)
            now = self.context.clock()
            if otp.is_totp_format(code):
                step = otp.matching_step(self._secret(row), code, now, row["last_step"])
                if step is not None:
                    await staff_repo.use_step(conn, user.user_id, step)
                right = step is not None
            else:
                right = await staff_repo.use_recovery_code(conn, user.user_id, self._code_hash(code), now)
                if right:
                    log.warning("recovery code used", extra={"user_id": str(user.user_id)})
            if right:
                await staff_repo.pass_second_factor(conn, user.session_id, now)
            else:  # committed with the transaction: a wrong code counts
                await staff_repo.add_second_factor_failure(conn, user.user_id, now)
        if not right:
            raise ApiError(422, "invalid_input", INVALID_INPUT, {"code": WRONG_CODE})

    async def _checked_row(self, conn: asyncpg.Connection, user_id: UUID) -> asyncpg.Record:
        """The account's second factor, locked; 429 while too many wrong codes are recent."""
        await staff_repo.lock_second_factor_attempts(conn, user_id)
        now = self.context.clock()
        wait = otp.wait(await staff_repo.second_factor_failures(conn, user_id, now - otp.FAILURE_WINDOW), now)
        if wait is not None:
            raise ApiError(429, "second_factor_throttled", TOO_MANY, headers={"Retry-After": retry_after(wait)})
        row = await staff_repo.second_factor(conn, user_id, lock=True)
        if row is None:
            raise ApiError(409, "second_factor_not_set_up", NOT_SET_UP)
        return row

    def _secret(self, row: asyncpg.Record) -> str:
        return self.box.decrypt(bytes(row["secret"])).decode()

    def _code_hash(self, code: str) -> bytes:
        return keyed_hash(self.context.second_factor_key, "recovery:" + otp.normalize_recovery(code))
