"""Settings of pins. The command line reads only what its command needs: importing the register
needs the database alone, the yearly issue also the keys; the server needs everything."""

from pydantic import Field, SecretStr, field_validator

from runtime.crypto import check_public_key, check_secret
from runtime.settings import DatabaseServiceSettings, DatabaseUrlSettings


class RegisterSettings(DatabaseUrlSettings):
    """`import-businesses`: PORTAL_DATABASE_URL only."""


class LetterSettings(RegisterSettings):
    """`issue-annual-pins`: also the key PINs are hashed with and the print shop's key."""

    # Keys the PIN hashes; pins alone holds it, so a dump of its tables opens no PIN.
    pins_secret: SecretStr = Field(description="base64 of at least 32 random bytes")
    printshop_public_key: str = Field(description="base64; PINs are sealed to it")
    # 30 days, as Google's verification postcard: a letter takes a few days (ELSTER allows up to
    # 14 in the post), and a PIN that lies around in a mailroom for months should be worthless.
    pin_valid_days: int = Field(default=30, ge=7, le=90)
    # The yearly PIN travels with the Beitragsbescheid, which people read later than a letter
    # they asked for: 60 days.
    annual_pin_valid_days: int = Field(default=60, ge=14, le=180)

    @field_validator("printshop_public_key")
    @classmethod
    def _key(cls, value: str) -> str:
        return check_public_key(value)

    @field_validator("pins_secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        check_secret(value.get_secret_value())
        return value


class Settings(DatabaseServiceSettings, LetterSettings):
    http_port: int = Field(default=8002, ge=0, le=65535)
    metrics_port: int = Field(default=9002, ge=0, le=65535)
    # Letters on request (limits.py explains the numbers).
    pin_requests_per_business_week: int = Field(default=1, ge=1, le=10)
    pin_requests_per_business_month: int = Field(default=2, ge=1, le=30)
    pin_requests_per_member_month: int = Field(default=3, ge=1, le=30)
    # Failed links (throttle.py shows the arithmetic).
    link_failures_per_member_hour: int = Field(default=5, ge=1, le=100)
    link_failures_per_member_day: int = Field(default=20, ge=1, le=1000)
    link_failures_per_client_hour: int = Field(default=20, ge=1, le=1000)
    link_failures_per_client_day: int = Field(default=100, ge=1, le=10_000)
    link_failures_per_business_day: int = Field(default=50, ge=1, le=10_000)
