from pydantic import Field, SecretStr, field_validator

from runtime.crypto import check_public_key, check_secret
from runtime.settings import DatabaseServiceSettings


class Settings(DatabaseServiceSettings):
    http_port: int = Field(default=8001, ge=0, le=65535)
    metrics_port: int = Field(default=9001, ge=0, le=65535)
    notifications_public_key: str = Field(description="base64; mailed secrets are sealed to it")
    # Keys the session, device and link hashes; accounts alone holds it.
    accounts_secret: SecretStr = Field(description="base64 of at least 32 random bytes")
    # A confirmation link lives two days: greylisted mail can arrive hours late.
    confirmation_link_hours: int = Field(default=48, ge=24, le=24 * 14)
    # The initial password travelled by e-mail: it must be replaced, and expires unused.
    initial_password_days: int = Field(default=14, ge=1, le=60)
    reset_link_minutes: int = Field(default=60, ge=10, le=24 * 60)
    # Sessions end after 30 idle minutes and at the latest 12 hours after login.
    session_idle_minutes: int = Field(default=30, ge=5, le=24 * 60)
    session_absolute_hours: int = Field(default=12, ge=1, le=24 * 30)
    device_days: int = Field(default=365, ge=1, le=3650)
    # Registrations never confirmed are deleted after this many days.
    unconfirmed_days: int = Field(default=30, ge=2, le=365)
    # Argon2id runs in threads (it releases the GIL); more than the cores only queues.
    hash_workers: int = Field(default=2, ge=1, le=64)
    # Hashes allowed to wait behind the workers; beyond that a request that hashes is answered 503 at once.
    hash_max_pending: int = Field(default=64, ge=1, le=10_000)

    @field_validator("notifications_public_key")
    @classmethod
    def _key(cls, value: str) -> str:
        return check_public_key(value)

    @field_validator("accounts_secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        check_secret(value.get_secret_value())
        return value
