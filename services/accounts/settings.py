from pydantic import Field, field_validator

from runtime.crypto import check_public_key
from runtime.settings import DatabaseServiceSettings


class Settings(DatabaseServiceSettings):
    http_port: int = Field(default=8001, ge=0, le=65535)
    notifications_public_key: str = Field(description="base64; mailed secrets are sealed to it")
    # A confirmation link lives two days: greylisted mail can arrive hours late.
    confirmation_link_hours: int = Field(default=48, ge=24, le=24 * 14)
    # The initial password travelled by e-mail: it must be replaced, and expires unused.
    initial_password_days: int = Field(default=14, ge=1, le=60)
    # Argon2id runs in threads (it releases the GIL); more than the cores only queues.
    hash_workers: int = Field(default=2, ge=1, le=64)

    @field_validator("notifications_public_key")
    @classmethod
    def _key(cls, value: str) -> str:
        return check_public_key(value)
