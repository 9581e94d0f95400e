from datetime import date

from aiohttp import web
from pydantic import Field, SecretStr, field_validator

from runtime.crypto import check_key
from runtime.german import SUPPORT_EMAIL, SUPPORT_PHONE
from runtime.settings import ServiceSettings
from services.gateway.client_address import parse_networks


class Settings(ServiceSettings):
    """The gateway keeps no database; NATS brings session.revoke.v1."""

    http_port: int = Field(default=8000, ge=0, le=65535)
    metrics_port: int = Field(default=9000, ge=0, le=65535)
    # Signs the identity passed to the services; only the gateway holds it.
    identity_private_key: SecretStr = Field(description="base64 Ed25519 private key (32 bytes)")
    # The TLS terminator / ingress in front: only their X-Forwarded-For is believed.
    trusted_proxies: str = Field(default="", description="Comma-separated CIDRs, e.g. 10.0.0.0/8")
    # Each may name several replicas, comma-separated: services/gateway/replicas.py.
    accounts_url: str = Field(description="e.g. http://127.0.0.1:8001,http://127.0.0.1:8011")
    pins_url: str = Field(description="e.g. http://127.0.0.1:8002")
    notifications_url: str = Field(description="e.g. http://127.0.0.1:8003")
    upstream_timeout: float = Field(default=10, gt=0, description="Seconds for a whole upstream call.")
    upstream_connections: int = Field(default=100, ge=1, description="Pooled connections per service.")
    session_cache_seconds: float = Field(
        default=10, ge=0, le=60, description="Seconds a resolved session is trusted without asking accounts again."
    )
    session_cache_size: int = Field(default=100_000, ge=1, description="Cached sessions per process.")
    max_body_size: int = Field(default=64 * 1024, ge=1024)
    dev_mode: bool = False
    mail_inbox_url: str | None = Field(default=None, description="The local mail catcher (dev only).")
    letters_url: str | None = Field(
        default=None, description="The local print shop's letters (dev only), e.g. http://127.0.0.1:8025/briefe."
    )
    support_email: str = SUPPORT_EMAIL
    support_phone: str = SUPPORT_PHONE
    # The chamber's own texts for Impressum, Datenschutzerklärung and Barrierefreiheit
    # (services/gateway/legal.py): unset, the pages show a visible placeholder naming the variable.
    legal_name: str | None = Field(default=None, description="e.g. Handwerkskammer Wiesbaden")
    legal_address: str | None = Field(default=None, description="Postal address; lines separated by '|'.")
    legal_represented_by: str | None = Field(default=None, description="Präsident/in and Hauptgeschäftsführer/in.")
    legal_supervisory_authority: str | None = Field(default=None, description="The chamber's Aufsichtsbehörde.")
    legal_vat_id: str | None = Field(default=None, description="USt-IdNr.; empty: the chamber has none.")
    legal_content_responsible: str | None = Field(default=None, description="Name and address per § 18 Abs. 2 MStV.")
    legal_privacy_officer: str | None = Field(default=None, description="The data protection officer's contact.")
    legal_privacy_authority: str | None = Field(default=None, description="The data protection supervisory authority.")
    legal_log_days: int | None = Field(default=None, ge=1, le=365, description="Days the operators keep logs.")
    legal_accessibility_contact: str | None = Field(
        default=None, description="Feedback contact for barriers; unset: the support e-mail and phone."
    )
    legal_accessibility_date: date | None = Field(default=None, description="When the statement was made.")
    legal_enforcement_body: str | None = Field(
        default=None, description="The state's Durchsetzungs-/Schlichtungsstelle for accessibility (BITV 2.0)."
    )

    @field_validator("identity_private_key")
    @classmethod
    def _identity_key(cls, value: SecretStr) -> SecretStr:
        check_key(value.get_secret_value(), "Ed25519 private key")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # a typo must stop the start, not silently trust nobody
        return value

    @field_validator("accounts_url", "pins_url", "notifications_url")
    @classmethod
    def _base_urls(cls, value: str) -> str:
        """One URL per replica, comma-separated."""
        urls = [url.strip().rstrip("/") for url in value.split(",") if url.strip()]
        if not urls or not all(url.startswith(("http://", "https://")) for url in urls):
            raise ValueError("must be one or more comma-separated URLs starting with http:// or https://")
        return ",".join(urls)

    @property
    def upstreams(self) -> dict[str, list[str]]:
        """Each service's replicas, by the name in /api/v1/<service>/…."""
        return {
            "accounts": self.accounts_url.split(","),
            "pins": self.pins_url.split(","),
            "notifications": self.notifications_url.split(","),
        }


SETTINGS = web.AppKey("settings", Settings)
