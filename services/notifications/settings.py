import base64

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator

from runtime.crypto import check_public_key, seal, unseal
from runtime.german import SUPPORT_EMAIL, SUPPORT_PHONE
from runtime.settings import DatabaseServiceSettings
from services.notifications.mailer import StartTls


class Settings(DatabaseServiceSettings):
    http_port: int = Field(default=8003, ge=0, le=65535)
    metrics_port: int = Field(default=9003, ge=0, le=65535)
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: bool = Field(default=False, description="TLS from the first byte (port 465 style)")
    smtp_starttls: StartTls = Field(default="auto", description="auto (when offered), required or off")
    smtp_ca: FilePath | None = Field(default=None, description="CA file of a private CA for the SMTP server")
    smtp_timeout: float = Field(default=20.0, gt=0)
    mail_from: str = Field(
        min_length=3,
        description='e.g. "Kundenportal der Handwerkskammer <kundenportal@hwk-wiesbaden.de>"',
    )
    notifications_public_key: str = Field(description="base64; secrets in events are sealed to it")
    notifications_private_key: SecretStr = Field(description="base64; opens those sealed boxes")
    # The first wait after a failed send; it doubles each time, up to an hour.
    mail_first_retry_seconds: float = Field(default=30.0, gt=0, le=3600)
    support_email: str = SUPPORT_EMAIL
    support_phone: str = SUPPORT_PHONE
    # The contact form: requests per hour from one client address, naming one sender address, and
    # from everyone together (the chamber's mail reputation; over it, the phone and address above).
    contact_per_client_per_hour: int = Field(default=5, ge=1)
    contact_per_address_per_hour: int = Field(default=5, ge=1)
    contact_per_hour: int = Field(default=100, ge=1, le=10_000)

    @field_validator("smtp_starttls", mode="before")
    @classmethod
    def _starttls(cls, value: object) -> object:
        # true/false as before: true always insisted on STARTTLS, false never tried it
        words = {"true": "required", "1": "required", "yes": "required", "false": "off", "0": "off", "no": "off"}
        if isinstance(value, bool):
            return "required" if value else "off"
        return words.get(value.strip().lower(), value.strip().lower()) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_kind_of_tls(self) -> "Settings":
        if self.smtp_tls and self.smtp_starttls == "required":
            raise ValueError("PORTAL_SMTP_TLS=true (implicit TLS) and PORTAL_SMTP_STARTTLS=required exclude each other")
        return self

    @field_validator("notifications_public_key")
    @classmethod
    def _public_key(cls, value: str) -> str:
        return check_public_key(value)

    @field_validator("notifications_private_key")
    @classmethod
    def _private_key(cls, value: SecretStr) -> SecretStr:
        try:
            raw = base64.b64decode(value.get_secret_value(), validate=True)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise ValueError("must be a base64 Curve25519 private key (32 bytes)")
        return value

    @model_validator(mode="after")
    def _keys_match(self) -> "Settings":
        # A mismatched pair would queue every mail and then fail each one at send time.
        probe = seal(self.notifications_public_key, "probe")
        try:
            unseal(self.notifications_private_key.get_secret_value(), probe)
        except Exception:
            raise ValueError("notifications private key does not belong to the public key") from None
        return self
